"""Question -> ranked, scored passages, and the decision to answer, suggest or decline. No Telegram."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from bot.search import analyzer
from bot.config import MeasuresSettings, RetrievalSettings, Settings
from bot.measures.card import card
from bot.measures.status import status as measure_status
from bot.measures.eligibility import Profile
from bot.measures.schema import Measure
from bot.search import offer
from bot.search.bridge import min_cosine as bridge_min_cosine
from bot.search.candidates import EXACT_HEAD, Candidates, Ranked
from bot.search.embedding import Embedder
from bot.search.index import SearchIndex, load
from bot.knowledge.schema import Area
from bot.search.passages import Passage

logger = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "lexical"]
Decision = Literal["answer", "suggest", "decline"]
MAX_QUESTION_CHARS = 1000  # longer messages are cut: nobody asks one question in a page of text


def clean_question(question: str) -> str:
    """The question as searched: single spaces, cut at MAX_QUESTION_CHARS. A caller that embeds the
    question itself (the bot's micro-batcher) embeds this form, so its vector is the one search would make."""
    return " ".join(question.split())[:MAX_QUESTION_CHARS]


@dataclass(frozen=True)
class Hit:
    """One passage and how strongly it matched."""

    passage: Passage
    score: float        # confidence-scaled score in 0..1, comparable across questions
    dense: float        # cosine similarity (best phrasing for a FAQ)
    lexical: float      # BM25 score
    measure: Measure | None = None   # the whole measure, for a measure's passage
    today: dt.date | None = None     # the day its status is computed for
    closing_days: int = 14           # "closing" when the close date is this near

    @property
    def text(self) -> str:
        """What the user reads: the passage, or the measure's card (in Italian) for a measure."""
        if self.measure is not None and self.today is not None:
            return "\n".join(card(self.measure, self.today, closing_days=self.closing_days).lines())
        return self.passage.text

    @property
    def status(self) -> str | None:
        """A measure's status on `today` (open, closing, upcoming, closed, unknown); None otherwise."""
        if self.measure is None or self.today is None:
            return None
        return measure_status(self.measure, self.today, self.closing_days)

    @property
    def source(self) -> str:
        return self.passage.source


@dataclass(frozen=True)
class SearchResult:
    """The answer to one question: what to show and whether to trust it."""

    question: str
    decision: Decision
    confidence: float
    answers: list[Hit]                                     # best first; empty when declined
    # Close FAQ questions and measures ("Forse cercavi"): see `suggested`.
    suggestions: list[Hit] = field(default_factory=list)
    related: list[Hit] = field(default_factory=list)       # other FAQ questions near the answer
    # The head of the ranking, whatever the decision: its first 20 (as a full scoring of every
    # passage ranks them), then FAQ entries further down as related/suggested questions need them.
    ranking: list[Hit] = field(default_factory=list)
    signals: dict[str, float] = field(default_factory=dict)
    today: dt.date | None = None                           # the day measure status was computed for

    @property
    def answered(self) -> bool:
        return self.decision == "answer"

    def to_json(self) -> dict:
        """The machine-readable result of `sportello ask --json`."""

        def hit(h: Hit) -> dict:
            p = h.passage
            out = {"text": h.text, "source": h.source, "score": round(h.score, 4), "id": p.id, "kind": p.kind,
                   "area": p.area}
            if p.question:
                out["question"] = p.question
            if p.url:
                out["url"] = p.url
            if h.measure is not None:
                m = h.measure
                out.update(title=m.title, status=h.status, regions=list(m.regions), url=m.url,
                           open_date=m.open_date.isoformat() if m.open_date else None,
                           close_date=m.close_date.isoformat() if m.close_date else None)
            return out

        return {
            "question": self.question,
            "answered": self.answered,
            "decision": self.decision,
            "confidence": round(self.confidence, 4),
            "answers": [hit(h) for h in self.answers],
            "suggestions": [hit(h) for h in self.suggestions],
            "related": [hit(h) for h in self.related],
            "signals": {k: round(v, 4) for k, v in self.signals.items()},
        }


class Retriever:
    """Hybrid search (FAISS + BM25) over a loaded index."""

    def __init__(self, index: SearchIndex, embedder: Embedder | None, settings: RetrievalSettings,
                 measures: MeasuresSettings | None = None):
        self.index = index
        self.embedder = embedder
        self.settings = _with_index_calibration(settings, index.meta)
        self.measures = measures or MeasuresSettings()
        self._passage_stems: dict[int, frozenset[str]] = {}
        self._synonym_stems = [(analyzer.normalise(term), [frozenset(analyzer.stems(w)) for w in
                                analyzer.content_words(term)]) for group in index.synonyms for term in group]
        # Synonym terms by a stem of their first word: a passage can hold a term whole only if it
        # holds that word, so the check below looks at those terms only, not at every term.
        self._synonym_first: dict[str, list[int]] = {}
        for number, (_, parts) in enumerate(self._synonym_stems):
            for s in parts[0] if parts else ():
                self._synonym_first.setdefault(s, []).append(number)
        self._synonym_groups = [(set(terms), group_words(terms)) for terms in
                                ([analyzer.normalise(t) for t in group] for group in index.synonyms)]
        self.synonyms = analyzer.Synonyms(index.synonyms)
        self._measure_of = {n: index.measures[p.measure_id] for n, p in enumerate(index.passages)
                            if p.measure_id is not None and p.measure_id in index.measures}
        self._names = offer.Names(list(index.measures.values()), self._elsewhere)
        self._candidates = Candidates(index, self._measure_of, self._names)
        backend = (index.meta.get("model") or {}).get("backend", "")
        self._bridge_cosine = (bridge_min_cosine(backend, self.settings.bridge_min_cosine)
                               if self.settings.bridge else None)

    def _elsewhere(self, stem: str, measure_id: str) -> bool:
        """Whether a passage that is not one of measure `measure_id`'s holds `stem` (for offer.Names)."""
        passages = self.index.passages
        return any(passages[int(n)].measure_id != measure_id for n in self.index.lexical.passages_with(stem))

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Retriever:
        """Load the index in use for these settings (checking model and knowledge)."""
        embedder = embedder or Embedder(settings.embedding)
        return cls(load(settings, embedder), embedder, settings.retrieval, settings.measures)

    def today(self) -> dt.date:
        """The reference date when a search is not given one: the settings' fixed day, or the clock."""
        return self.measures.today or dt.date.today()

    # --- browsing ---------------------------------------------------------------------------------

    @property
    def areas(self) -> list[Area]:
        return self.index.areas

    def faqs(self, area: str | None = None) -> list[Passage]:
        """FAQ entries, optionally of one area, in the order of the knowledge files."""
        return [p for p in self.index.passages if p.kind == "faq" and (area is None or p.area == area)]

    def passage(self, passage_id: str) -> Passage | None:
        return next((p for p in self.index.passages if p.id == passage_id), None)

    # --- search -----------------------------------------------------------------------------------

    def search(self, question: str, mode: Mode | None = None, today: dt.date | None = None,
               profile: Profile | None = None, *, vector: np.ndarray | None = None) -> SearchResult:
        """Rank passages for `question` and decide whether the best one is a reliable answer.

        Measures are offered as of `today` (default: `self.today()`) and filtered by what the
        question and the user's `profile` say (see `offer`). `vector` is the question's embedding
        when the caller already has it (of `clean_question(question)`, by this retriever's model)."""
        mode = mode or self.settings.mode
        today = today or self.today()
        question = clean_question(question)
        wanted = offer.criteria(question, today, self.measures.closing_days, profile)
        if wanted.listing and self.index.measures:
            return self._closing_soon(question, wanted)
        n = len(self.index.passages)
        if not analyzer.content_words(question) or n == 0:
            return SearchResult(question, "decline", 0.0, [], today=today)
        # An English question's words the knowledge lacks are searched as the knowledge's own
        # (bridge.py): for BM25 and the word-overlap signals only; dense search reads the question.
        words = self._bridged(question) if mode != "dense" else question
        # Synonyms feed the lexical side only: appended to the embedded question they measured worse.
        stems, coverage = self.index.lexical.query_tokens(words)
        extra_stems: list[str] = []
        if mode != "dense":
            extra, _ = self.index.lexical.query_tokens(" ".join(self.extra_terms(words)))
            extra_stems = [s for s in extra if s not in stems]
        if mode != "lexical" and vector is None:
            assert self.embedder is not None, "dense search needs the embedding model"
            vector = self.embedder.encode_queries([question])
        ranked = self._ranked(question, mode, wanted, vector, stems, extra_stems)
        if not ranked.order:
            return SearchResult(question, "decline", 0.0, [], signals={"coverage": coverage}, today=today)

        order, dense, lexical, fused = ranked.order, ranked.dense, ranked.lexical, ranked.fused
        best = order[0]
        signals = {
            "dense": float(dense[best]),
            "lexical": float(lexical[best]),
            "coverage": coverage,
            "local": self._local_coverage(words, int(ranked.ids[best])),
            "fused": float(fused[best]),
        }
        if vector is not None and self.index.scope is not None:
            signals["scope"] = self.index.scope.signal(vector, question)
        confidence = self._confidence(signals, mode)
        signals["confidence"] = confidence
        scale = confidence / fused[best] if fused[best] > 0 else 0.0
        hits = [Hit(self.index.passages[int(ranked.ids[i])], float(fused[i] * scale), float(dense[i]),
                    float(lexical[i]), self._measure_of.get(int(ranked.ids[i])), today, self.measures.closing_days)
                for i in self._shown(ranked)]

        top_k = self.settings.top_k
        faq_hits = [h for h in hits if h.passage.kind == "faq"]
        if confidence >= self.settings.answer_threshold:
            answers = hits[:top_k]
            shown = {h.passage.id for h in answers}
            related = [h for h in faq_hits if h.passage.id not in shown][: self.settings.related]
            return SearchResult(question, "answer", confidence, answers, related=related, ranking=hits,
                                signals=signals, today=today)
        decision: Decision = "suggest" if confidence >= self.settings.suggest_threshold else "decline"
        suggestions = suggested(hits, top_k, self.settings.suggestions) if decision == "suggest" else []
        return SearchResult(question, decision, confidence, [], suggestions=suggestions, ranking=hits,
                            signals=signals, today=today)

    def _closing_soon(self, question: str, wanted: offer.Criteria) -> SearchResult:
        """The answer to "cosa scade questo mese": the fitting measures that close within the period,
        soonest first, or a decline when none does (the reply says so)."""
        first = {}
        for n, p in enumerate(self.index.passages):
            if p.measure_id is not None and p.measure_id not in first:
                first[p.measure_id] = n
        found = offer.closing_soon(list(self.index.measures.values()), wanted)
        hits = [Hit(self.index.passages[first[m.id]], 1.0, 0.0, 0.0, m, wanted.today, wanted.closing_days)
                for m in found if m.id in first]
        signals = {"listing": 1.0, "closing_within_days": float(wanted.filters.closing_within_days or 0)}
        if not hits:
            return SearchResult(question, "decline", 0.0, [], signals=signals, today=wanted.today)
        return SearchResult(question, "answer", 1.0, hits, ranking=hits, signals=signals, today=wanted.today)

    def _ranked(self, question: str, mode: Mode, wanted: offer.Criteria, vector: np.ndarray | None,
                stems: list[str], extra_stems: list[str]) -> Ranked:
        """The candidates' ranking, its head certain to be that of a full scoring (see `candidates`)."""
        lexical: np.ndarray | None = None
        if mode != "dense":
            # BM25 of every passage costs a pass over the query words' postings, not the passages.
            # Synonyms widen the net but weigh less than the words the user actually wrote.
            lexical = self.index.lexical.weighted_scores(stems, extra_stems, self.settings.synonym_weight)
        return self._candidates.rank(question, mode, wanted, vector, lexical, self.settings, self._fuse)

    def _shown(self, ranked: Ranked) -> list[int]:
        """The part of the ranking a result carries: its first EXACT_HEAD, then FAQ entries further
        down until there are enough for the answers plus related or suggested questions."""
        certain = ranked.order[: ranked.exact]
        keep = certain[:EXACT_HEAD]
        passages = self.index.passages
        faqs = sum(passages[int(ranked.ids[i])].kind == "faq" for i in keep)
        need = self.settings.top_k + max(self.settings.related, self.settings.suggestions)
        for i in certain[EXACT_HEAD:]:
            if faqs >= need:
                break
            if passages[int(ranked.ids[i])].kind == "faq":
                keep.append(i)
                faqs += 1
        return keep

    def _fuse(self, dense: np.ndarray, lexical: np.ndarray, mode: Mode) -> np.ndarray:
        """One ranking score per passage from the dense and lexical scores."""
        if mode == "dense":
            return above_floor(dense, self.settings.dense_floor).astype(np.float64)
        top = float(lexical.max())
        lex = lexical / top if top > 0 else np.zeros_like(lexical)
        if mode == "lexical":
            return lex.astype(np.float64)
        if self.settings.fusion == "rrf":
            return self._rrf(dense, lexical)
        # Weighted: cosine above the model's floor plus BM25 scaled by this query's best.
        w = self.settings.dense_weight
        return (w * above_floor(dense, self.settings.dense_floor) + (1 - w) * lex).astype(np.float64)

    def _rrf(self, dense: np.ndarray, lexical: np.ndarray) -> np.ndarray:
        """Reciprocal rank fusion, scaled to 0..1 (1 = ranked first by both retrievers)."""
        k = self.settings.rrf_k
        fused = np.zeros(len(dense), dtype=np.float64)
        for scores in (dense, lexical):
            order = np.argsort(-scores, kind="stable")[: self.settings.candidates]
            for rank, i in enumerate(order):
                if scores[i] > 0:
                    fused[i] += 1.0 / (k + rank + 1)
        return fused / (2 / (k + 1))

    def _dedupe(self, order: list[int]) -> list[int]:
        """Keep the best chunk of each document section (FAQ entries are kept as they are)."""
        seen: set[str] = set()
        out = []
        for i in order:
            p = self.index.passages[i]
            key = p.id if p.kind == "faq" else p.source_ref
            if key not in seen:
                seen.add(key)
                out.append(i)
        return out

    def extra_terms(self, words: str) -> list[str]:
        """What widens a question's words for BM25: its synonym groups' other terms, then the thesaurus'
        synonyms of its everyday words (thesaurus.py); both weigh `synonym_weight`. A word inside
        a group's term of several words keeps the term's meaning: in "camera di commercio", "camera"
        is not widened to "stanza"."""
        terms = self.synonyms.extra_terms(words)
        if self.index.thesaurus is not None:
            covered = self.synonyms.covered(words)
            terms += [t for t in self.index.thesaurus.extra_terms(words, skip=covered) if t not in terms]
        return terms

    def _bridged(self, question: str) -> str:
        """The question in the knowledge's words when it is English (see bridge.py), else itself."""
        bridge = self.index.bridge
        if bridge is None or self.embedder is None or self._bridge_cosine is None:
            return question
        return bridge.rewrite(question, self.index.lexical.stems, self.embedder, self._bridge_cosine)

    def _local_coverage(self, question: str, passage: int) -> float:
        """Share of the question's words that the best passage itself contains (as a stem in either
        language, or through a synonym group one of whose terms it contains whole). Unlike coverage
        over the whole knowledge, this does not grow as the knowledge grows."""
        words = self.index.lexical.corrected(question)
        if not words:
            return 0.0
        stems = self._passage_stems.get(passage)
        if stems is None:
            text = self.index.passages[passage].lexical_text()
            stems = frozenset(s for w in analyzer.content_words(text) for s in analyzer.stems(w))
            self._passage_stems[passage] = stems
        maybe = {n for s in self._synonym_first.keys() & stems for n in self._synonym_first[s]}
        present = {self._synonym_stems[n][0] for n in maybe if all(p & stems for p in self._synonym_stems[n][1])}
        found = 0
        for word in words:
            if analyzer.stems(word) & stems:
                found += 1
            elif any(word in words_of for terms, words_of in self._synonym_groups if present & terms):
                found += 1
        return found / len(words)

    def _confidence(self, signals: dict[str, float], mode: Mode) -> float:
        """One number in 0..1 that means the same across questions (see the README: calibration)."""
        f = features(signals, self.settings.calibration.lexical_half, self.settings.dense_floor)
        if mode == "dense":
            return f["dense"]
        if mode == "lexical":
            return f["coverage"] * f["lexical"] ** 0.5
        c = self.settings.calibration
        z = (c.bias + c.coverage * f["coverage"] + c.local * f["local"] + c.dense * f["dense"]
             + c.lexical * f["lexical"] + c.scope * f["scope"])
        return float(1.0 / (1.0 + np.exp(-z)))


def suggested(hits: list[Hit], top: int, limit: int) -> list[Hit]:
    """What "Forse cercavi" offers: in ranking order, FAQ entries (their questions) and the measures
    among the first `top` (their cards, each once), at most `limit`. A measure that ranks first
    below the answer threshold is the likeliest thing the user meant; one further down is not offered."""
    out: list[Hit] = []
    measures: set[str] = set()
    for rank, hit in enumerate(hits):
        if len(out) >= limit:
            break
        if hit.passage.kind == "faq":
            out.append(hit)
        elif hit.measure is not None and rank < top and hit.measure.id not in measures:
            measures.add(hit.measure.id)
            out.append(hit)
    return out


def above_floor(cosine: np.ndarray | float, floor: float) -> np.ndarray | float:
    """A cosine as the share of the way from the model's floor (unrelated text) to 1, at least 0."""
    return np.clip((np.asarray(cosine) - floor) / (1.0 - floor), 0.0, None)


def features(signals: dict[str, float], lexical_half: float, dense_floor: float = 0.0) -> dict[str, float]:
    """The calibrated model's inputs, each in 0..1 but the scope signal (-1..1; 0 without examples)."""
    bm25 = max(0.0, signals.get("lexical", 0.0))
    return {
        "coverage": signals.get("coverage", 0.0),
        "local": signals.get("local", 0.0),
        "dense": float(above_floor(signals.get("dense", 0.0), dense_floor)),
        # BM25 grows with the number of matching words; squash it to 0..1.
        "lexical": bm25 / (bm25 + lexical_half),
        # Resemblance to the judged out-of-scope examples rather than the in-scope ones (scope.py).
        "scope": signals.get("scope", 0.0),
    }


def group_words(group: list[str]) -> set[str]:
    """The single words of a synonym group's terms ("piccole e medie imprese" -> its words)."""
    return {w for term in group for w in term.split()}


# The settings that shape the ranking the calibration is fitted on: changed after a build, they leave
# the fitted confidence slightly off until the next build refits it.
RANKING_SETTINGS = ("fusion", "dense_weight", "rrf_k", "candidates", "synonym_weight", "other_region_factor",
                    "other_sector_factor", "other_applicant_factor", "described_firm_factor",
                    "asks_weight", "bridge", "bridge_min_cosine")


def ranking_settings(settings: RetrievalSettings) -> dict[str, object]:
    """The values of RANKING_SETTINGS, as `sportello build` records them with the calibration."""
    return {name: getattr(settings, name) for name in RANKING_SETTINGS}


def calibration_drift(settings: RetrievalSettings, meta: dict) -> list[str]:
    """The ranking settings that differ from those the index's calibration was fitted with, as
    "retrieval.name: fitted with X, now Y" (none when the index records none)."""
    fitted = (meta.get("calibration") or {}).get("ranking") or {}
    now = ranking_settings(settings)
    return [f"retrieval.{name}: fitted with {fitted[name]!r}, now {now[name]!r}"
            for name in RANKING_SETTINGS if name in fitted and fitted[name] != now[name]]


def _with_index_calibration(settings: RetrievalSettings, meta: dict) -> RetrievalSettings:
    """The settings with the calibration and thresholds fitted at build time, when the index has
    them and the settings ask for them (retrieval.calibration_from: index)."""
    fitted = meta.get("calibration")
    if settings.calibration_from != "index" or not fitted:
        return settings
    drift = calibration_drift(settings, meta)
    if drift:
        logger.warning("the index's calibration was fitted with other ranking settings (%s): run `sportello build` "
                       "to fit it again", "; ".join(drift))
    return settings.model_copy(update={
        "calibration": settings.calibration.model_copy(update=fitted["calibration"]),
        "answer_threshold": fitted["answer_threshold"],
        "suggest_threshold": fitted["suggest_threshold"],
        "dense_floor": fitted.get("dense_floor", settings.dense_floor),
    }, deep=True)
