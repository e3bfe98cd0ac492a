"""Search on candidates (FAISS top-k ∪ BM25 top-k) gives the answers a full scoring of every passage
gives: same decisions, same answers, suggestions and related questions, same head of the ranking, on
every eval question over the shipped knowledge, also with candidate lists too short to hold them."""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import datetime as dt
from dataclasses import dataclass
import numpy as np
import pytest

from bot.evaluation import load_items
from bot.search import analyzer, asks, offer
from bot.search.candidates import Factors
from bot.search.embedding import Embedder
from bot.search.retriever import EXACT_HEAD, Mode, Retriever, SearchResult, clean_question
from tests.conftest import KNOWLEDGE

EVAL_FILES = sorted((KNOWLEDGE / "eval").glob("*.yaml"))


@dataclass(frozen=True)
class Reference:
    """What a full scoring decides for one question."""

    decision: str
    confidence: float
    answers: list[str]
    suggestions: list[str]
    related: list[str]
    ranking: list[str]
    positive: int = 0   # how many of the ranking, from the first, fuse above 0 (the rest tie at 0)


def full_scoring(r: Retriever, question: str, mode: Mode, today: dt.date, vector: np.ndarray) -> Reference:
    """The search as it was before candidates: every passage scored by FAISS (all rows) and BM25,
    fused, sorted, deduped and offered whole. Uses the retriever's own fusion and confidence."""
    question = clean_question(question)
    wanted = offer.criteria(question, today, r.measures.closing_days, None)
    assert not wanted.listing, "listing questions do not rank passages"
    n = len(r.index.passages)
    if not analyzer.content_words(question):
        return Reference("decline", 0.0, [], [], [], [])
    words = r._bridged(question) if mode != "dense" else question  # an English question's Italian words
    extra = r.extra_terms(words)  # synonym groups, then the thesaurus
    dense = np.zeros(n, dtype=np.float32)
    if mode != "lexical":
        dense = r.index.dense.scores(vector.reshape(1, -1), n)
    lexical = np.zeros(n, dtype=np.float32)
    stems, coverage = r.index.lexical.query_tokens(words)
    if mode != "dense":
        lexical = r.index.lexical.scores(stems)
        extra_stems, _ = r.index.lexical.query_tokens(" ".join(extra))
        extra_stems = [s for s in extra_stems if s not in stems]
        if extra_stems:
            lexical = lexical + r.settings.synonym_weight * r.index.lexical.scores(extra_stems)
    fused = r._fuse(dense, lexical, mode)
    fused = fused * r._candidates.factors(np.arange(n), Factors(wanted, r.settings.other_region_factor,
                                                               r.settings.other_sector_factor,
                                                               r.settings.other_applicant_factor,
                                                               r.settings.described_firm_factor,
                                                               asks.bits([question]), r.settings.asks_weight))
    order = [int(i) for i in np.argsort(-fused, kind="stable") if fused[i] > 0 or mode == "dense"]
    order = offer.offer(r._dedupe(order), r._measure_of, fused, question, wanted, r._names)
    if not order:
        return Reference("decline", 0.0, [], [], [], [])
    best = order[0]
    signals = {"dense": float(dense[best]), "lexical": float(lexical[best]), "coverage": coverage,
               "local": r._local_coverage(words, best), "fused": float(fused[best])}
    if r.index.scope is not None:  # as search does (it is given the question's vector here)
        signals["scope"] = r.index.scope.signal(vector, question)
    confidence = r._confidence(signals, mode)
    ids = [r.index.passages[i].id for i in order]
    positive = next((n for n, i in enumerate(order) if fused[i] <= 0), len(order))
    faqs = [r.index.passages[i].id for i in order if r.index.passages[i].kind == "faq"]
    s = r.settings
    if confidence >= s.answer_threshold:
        answers = ids[: s.top_k]
        return Reference("answer", confidence, answers, [], [f for f in faqs if f not in answers][: s.related], ids,
                         positive)
    decision = "suggest" if confidence >= s.suggest_threshold else "decline"
    # "Forse cercavi": FAQ entries, and measures among the first top_k (each measure once), in order.
    offered: list[str] = []
    measures: set[str] = set()
    for rank, i in enumerate(order):
        measure = r._measure_of.get(i)
        if r.index.passages[i].kind == "faq":
            offered.append(r.index.passages[i].id)
        elif measure is not None and rank < s.top_k and measure.id not in measures:
            measures.add(measure.id)
            offered.append(r.index.passages[i].id)
    return Reference(decision, confidence, [], offered[: s.suggestions] if decision == "suggest" else [], [], ids,
                     positive)


def same_as_full(r: Retriever, question: str, mode: Mode, today: dt.date,
                 vectors: dict[str, np.ndarray]) -> tuple[SearchResult, Reference]:
    """Run both (on the same question vector) and check they agree; return them for further checks."""
    vector = vectors[clean_question(question)]
    got = r.search(question, mode=mode, today=today, vector=vector)
    want = full_scoring(r, question, mode, today, vector)
    where = f"{mode}: {question!r}"
    # Dense mode ranks every passage; those below the model's floor all fuse to 0 and tie, listed
    # in file order by a full scoring. Search on candidates leaves those out: only passages that
    # fuse above 0 are compared (in hybrid and lexical mode there are no others).
    ranked = set(want.ranking[: want.positive])

    def kept(ids: list[str]) -> list[str]:
        return [i for i in ids if i in ranked]

    assert got.decision == want.decision, where
    assert got.confidence == pytest.approx(want.confidence, abs=1e-5), where
    assert [h.passage.id for h in got.answers] == kept(want.answers), where
    assert [h.passage.id for h in got.suggestions] == kept(want.suggestions), where
    assert [h.passage.id for h in got.related] == kept(want.related), where
    head = min(EXACT_HEAD, want.positive)
    assert [h.passage.id for h in got.ranking][:head] == want.ranking[:head], where
    return got, want


def eval_questions() -> list[tuple[str, dt.date]]:
    """Every eval question that ranks passages (not "what closes this month"), with its set's day."""
    out = []
    for item in load_items(EVAL_FILES):
        today = item.today or dt.date(2025, 6, 1)
        if not offer.criteria(clean_question(item.question), today, 14, None).listing:
            out.append((item.question, today))
    return out


@pytest.fixture(scope="module")
def vectors(embedder: Embedder) -> dict[str, np.ndarray]:
    """Every eval question's vector, embedded once (as the bot's micro-batcher does)."""
    questions = sorted({clean_question(q) for q, _ in eval_questions()})
    return dict(zip(questions, embedder.encode_queries(questions)))


@pytest.fixture
def shallow(retriever: Retriever) -> Retriever:
    """The session retriever searching only 3 passages deep per retriever at first: most questions
    then need the widening to be right."""
    return Retriever(retriever.index, retriever.embedder,
                     retriever.settings.model_copy(update={"search_depth": 3}, deep=True))


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_every_eval_question_gets_the_answers_of_a_full_scoring(retriever: Retriever, mode: Mode,
                                                                vectors: dict[str, np.ndarray]) -> None:
    questions = eval_questions()
    assert len(questions) > 100
    for question, today in questions:
        same_as_full(retriever, question, mode, today, vectors)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_short_candidate_lists_are_widened_until_the_answers_are_those_of_a_full_scoring(
        shallow: Retriever, mode: Mode, vectors: dict[str, np.ndarray]) -> None:
    n = len(shallow.index.passages)
    assert n > 4 * 3, "the shipped knowledge must be larger than the first candidate lists"
    widened = 0
    for question, today in eval_questions():
        got, _ = same_as_full(shallow, question, mode, today, vectors)
        widened += len(got.ranking) > 2 * 3
    assert widened > 0  # the lists did grow past their first length


def test_rrf_fusion_on_candidates_matches_a_full_scoring(retriever: Retriever, vectors: dict[str, np.ndarray]) -> None:
    rrf = Retriever(retriever.index, retriever.embedder,
                    retriever.settings.model_copy(update={"fusion": "rrf", "candidates": 10, "search_depth": 4},
                                                  deep=True))
    for question, today in eval_questions()[::3]:
        same_as_full(rrf, question, "hybrid", today, vectors)


def test_search_depth_is_a_setting_with_a_sound_default() -> None:
    from bot.config import RetrievalSettings

    assert RetrievalSettings().search_depth >= 10
    with pytest.raises(ValueError):
        RetrievalSettings(search_depth=0)

