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
from bot.search.embedding import Embedder
from bot.search.index import SearchIndex, load
from bot.search.lexical import top_k as lexical_top_k
from bot.knowledge.schema import Area
from bot.search.passages import Passage

logger = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "lexical"]
Decision = Literal["answer", "suggest", "decline"]
MAX_QUESTION_CHARS = 1000  # longer messages are cut: nobody asks one question in a page of text
# The head of a ranking that search guarantees equal to a full scoring of every passage: more than
# the answers, related and suggested questions it shows, and the first 10 that `sportello eval` reads.
EXACT_HEAD = 20


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
    suggestions: list[Hit] = field(default_factory=list)   # close FAQ questions ("Forse cercavi")
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


@dataclass(frozen=True)
class _Ranked:
    """The candidates of one search: arrays over the candidates (ascending passage numbers), and the
    ranking as positions into them."""

    ids: np.ndarray       # passage numbers
    dense: np.ndarray     # cosine (best row)
    lexical: np.ndarray   # BM25 (with synonyms)
    fused: np.ndarray
    order: list[int]      # positions, best first, after dedupe and the offer rules
    exact: int            # how many of `order`, from the first, a full scoring would rank the same
    bound: float          # no passage outside the candidates fuses higher than this


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
        self._synonym_groups = [(set(terms), group_words(terms)) for terms in
                                ([analyzer.normalise(t) for t in group] for group in index.synonyms)]
        self.synonyms = analyzer.Synonyms(index.synonyms)
        self._measure_of = {n: index.measures[p.measure_id] for n, p in enumerate(index.passages)
                            if p.measure_id is not None and p.measure_id in index.measures}
        self._names = offer.Names(list(index.measures.values()))

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
        # Synonyms feed the lexical side only: appended to the embedded question they measured worse.
        stems, coverage = self.index.lexical.query_tokens(question)
        extra_stems: list[str] = []
        if mode != "dense":
            extra, _ = self.index.lexical.query_tokens(" ".join(self.synonyms.extra_terms(question)))
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
            "local": self._local_coverage(question, int(ranked.ids[best])),
            "fused": float(fused[best]),
        }
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
        suggestions = faq_hits[: self.settings.suggestions] if decision == "suggest" else []
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
                stems: list[str], extra_stems: list[str]) -> _Ranked:
        """The candidates' ranking, widened until its head is certain to be that of a full scoring.

        Candidates are the `search_depth` best passages by cosine and by BM25. A passage outside
        both lists scores no higher on either side than the last one in each list, so no higher
        than that pair fused (`_fuse` grows with each side): every candidate fused above that bound
        is where a full scoring would put it. Should fewer than EXACT_HEAD of the ranking shown be
        above it, a list is made four times longer (BM25's first) and the ranking made again."""
        n = len(self.index.passages)
        lexical: np.ndarray | None = None
        if mode != "dense":
            # BM25 of every passage costs a pass over the query words' postings, not the passages.
            lexical = self.index.lexical.scores(stems)
            if extra_stems:
                # Synonyms widen the net but weigh less than the words the user actually wrote.
                lexical = lexical + self.settings.synonym_weight * self.index.lexical.scores(extra_stems)
        depth = self.settings.search_depth
        if mode == "hybrid" and self.settings.fusion == "rrf":
            depth = max(depth, self.settings.candidates)  # RRF counts that many of each ranking
        k_dense = k_lexical = min(n, depth)
        dense_top = lexical_top = None
        while True:
            if mode != "lexical" and (dense_top is None or len(dense_top[0]) < k_dense):
                dense_top = self.index.dense.top_k(np.asarray(vector, dtype=np.float32), k_dense)
            if lexical is not None and (lexical_top is None or len(lexical_top[0]) < k_lexical):
                lexical_top = lexical_top_k(lexical, k_lexical)
            # A list shorter than asked holds every passage it can (BM25: every one scoring above 0;
            # IVF: every one in the cells searched, the others score -1 as in a full search).
            dense_whole = dense_top is None or len(dense_top[0]) < k_dense or k_dense >= n
            lexical_whole = lexical_top is None or len(lexical_top[0]) < k_lexical or k_lexical >= n
            # What a passage outside both lists can score at most on each side; None: there is none.
            outside: tuple[float, float] | None = (
                -1.0 if dense_whole else float(dense_top[1][-1]),  # type: ignore[index]
                0.0 if lexical_whole else float(lexical_top[1][-1]),  # type: ignore[index]
            )
            if dense_top is not None and len(dense_top[0]) >= n:
                outside = None
            ranked = self._rank_candidates(question, mode, wanted, vector, lexical, dense_top, lexical_top, outside)
            # bound <= 0: nothing outside the candidates can join the ranking.
            if ranked.bound <= 0 or ranked.exact >= EXACT_HEAD:
                return ranked
            # BM25's list is cheap to lengthen (every score is at hand); FAISS's needs a new search.
            if not lexical_whole:
                k_lexical = min(n, 4 * k_lexical)
            elif not dense_whole:
                k_dense = min(n, 4 * k_dense)
            else:
                return ranked

    def _rank_candidates(self, question: str, mode: Mode, wanted: offer.Criteria, vector: np.ndarray | None,
                         lexical_all: np.ndarray | None, dense_top: tuple[np.ndarray, np.ndarray] | None,
                         lexical_top: tuple[np.ndarray, np.ndarray] | None,
                         outside: tuple[float, float] | None) -> _Ranked:
        """Fuse, order, dedupe and offer the union of the best by cosine and by BM25. `outside`: the
        highest cosine and BM25 a passage in neither list can have (None: every passage is in one)."""
        empty_ids = np.empty(0, dtype=np.int64)
        empty = np.empty(0, dtype=np.float32)
        d_ids, d_cos = dense_top if dense_top is not None else (empty_ids, empty)
        l_ids, l_vals = lexical_top if lexical_top is not None else (empty_ids, empty)
        # Ascending passage numbers, so ties in the stable sort below fall as in a full scoring.
        ids = np.union1d(d_ids, l_ids).astype(np.int64)
        if ids.size == 0:  # no passage shares a word with a lexical-only question
            return _Ranked(ids, empty, empty, empty.astype(np.float64), [], 0, -np.inf)
        zeros = np.zeros(len(ids), dtype=np.float32)
        dense = self._dense_scores(vector, ids, d_ids, d_cos) if mode != "lexical" else zeros
        lexical = lexical_all[ids] if lexical_all is not None else zeros
        fused = self._fuse(dense, lexical, mode)

        bound = -np.inf
        if outside is not None:
            if mode == "hybrid" and self.settings.fusion == "rrf":
                bound = 0.0  # both lists ≥ rrf candidates: a passage outside them gets no RRF points
            else:
                d_bound = outside[0] if mode != "lexical" else 0.0
                l_bound = outside[1] if mode != "dense" else 0.0
                bound = float(self._fuse(np.append(dense, np.float32(d_bound)),
                                         np.append(lexical, np.float32(l_bound)), mode)[-1])

        # Only passages that fuse above 0 are ranked: in dense mode the others (below the model's
        # floor) all tie at 0, in no meaningful order. Below the bound nothing is shown, but the
        # offer rules look a little further (a closed measure gives way to a close available one).
        cut = max(0.0, bound * offer.CLOSED_GIVES_WAY)
        positions = np.flatnonzero(fused > cut)
        positions = positions[np.argsort(-fused[positions], kind="stable")]
        order = self._dedupe(ids[positions].tolist())
        fused_of = dict(zip(order, fused[np.searchsorted(ids, order)].tolist())) if order else {}
        order = offer.offer(order, self._measure_of, fused_of, question, wanted, self._names)  # type: ignore[arg-type]
        order_positions = np.searchsorted(ids, order).tolist() if order else []
        exact = 0
        while exact < len(order_positions) and fused[order_positions[exact]] > bound:
            exact += 1
        return _Ranked(ids, dense, lexical, fused, order_positions, exact, bound)

    def _shown(self, ranked: _Ranked) -> list[int]:
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

    def _dense_scores(self, vector: np.ndarray | None, ids: np.ndarray, found: np.ndarray,
                      cosines: np.ndarray) -> np.ndarray:
        """Cosine of the question with each candidate `ids` (a FAQ scores its best phrasing): FAISS's
        own figure for those its top-k `found`, an exact one read from the index for the others."""
        out = np.full(len(ids), np.nan, dtype=np.float32)
        out[np.searchsorted(ids, found)] = cosines
        missing = np.isnan(out)
        if missing.any():
            out[missing] = self.index.dense.passage_scores(np.asarray(vector, dtype=np.float32), ids[missing])
        return out

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
        present = {term for term, parts in self._synonym_stems if parts and all(p & stems for p in parts)}
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
             + c.lexical * f["lexical"])
        return float(1.0 / (1.0 + np.exp(-z)))


def above_floor(cosine: np.ndarray | float, floor: float) -> np.ndarray | float:
    """A cosine as the share of the way from the model's floor (unrelated text) to 1, at least 0."""
    return np.clip((np.asarray(cosine) - floor) / (1.0 - floor), 0.0, None)


def features(signals: dict[str, float], lexical_half: float, dense_floor: float = 0.0) -> dict[str, float]:
    """The calibrated model's inputs, each in 0..1."""
    bm25 = max(0.0, signals.get("lexical", 0.0))
    return {
        "coverage": signals.get("coverage", 0.0),
        "local": signals.get("local", 0.0),
        "dense": float(above_floor(signals.get("dense", 0.0), dense_floor)),
        # BM25 grows with the number of matching words; squash it to 0..1.
        "lexical": bm25 / (bm25 + lexical_half),
    }


def group_words(group: list[str]) -> set[str]:
    """The single words of a synonym group's terms ("piccole e medie imprese" -> its words)."""
    return {w for term in group for w in term.split()}


def _with_index_calibration(settings: RetrievalSettings, meta: dict) -> RetrievalSettings:
    """The settings with the calibration and thresholds fitted at build time, when the index has
    them and the settings ask for them (retrieval.calibration_from: index)."""
    fitted = meta.get("calibration")
    if settings.calibration_from != "index" or not fitted:
        return settings
    return settings.model_copy(update={
        "calibration": settings.calibration.model_copy(update=fitted["calibration"]),
        "answer_threshold": fitted["answer_threshold"],
        "suggest_threshold": fitted["suggest_threshold"],
        "dense_floor": fitted.get("dense_floor", settings.dense_floor),
    }, deep=True)
