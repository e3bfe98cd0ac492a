"""The candidate path (bot/search/candidates.py) without the model: a knowledge of 3,000 passages made
from the shipped texts, real BM25, real FAISS over seeded vectors, and every eval question. Search on
short candidate lists, widened by the bound, must give what a full scoring of every passage gives;
the faster pieces (BM25 sums, the names index) must give the very values of the plain ones."""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import dataclasses
import datetime as dt
import random
import zlib
from pathlib import Path

import numpy as np
import pytest

from bot.config import RetrievalSettings
from bot.evaluation import load_items
from bot.knowledge.load import load_knowledge
from bot.measures.eligibility import Profile, fits_applicants, fits_sectors
from bot.search import analyzer, offer
from bot.search.dense import DenseIndex
from bot.search.index import SearchIndex
from bot.search.lexical import LexicalIndex
from bot.search.passages import Passage, passages
from bot.search.retriever import EXACT_HEAD, Retriever, clean_question
from tests.conftest import KNOWLEDGE
from tests.test_search_topk import full_scoring

DIMENSION = 48


def grown_passages(seed: int = 5, copies: int = 3000) -> list[Passage]:
    """The shipped passages, then `copies` more: each a mix of sentences from shipped passages, in
    sections of one to three chunks (so dedupe has work), one in five a FAQ entry."""
    knowledge = load_knowledge(KNOWLEDGE)
    shipped = passages(knowledge)
    sentences = [s for p in shipped for s in p.text.split(". ") if len(s) > 20]
    rng = random.Random(seed)
    out = list(shipped)
    section = 0
    while len(out) < len(shipped) + copies:
        section += 1
        for chunk in range(rng.randint(1, 3)):
            text = ". ".join(rng.sample(sentences, rng.randint(2, 5)))
            if rng.random() < 0.2:
                out.append(Passage(f"faq:grown-{section}-{chunk}", "faq", text, "Cresciuto", "Sezione", "area",
                                   f"grown#{section}", question=". ".join(rng.sample(sentences, 1)),
                                   phrasings=(rng.choice(sentences),)))
            else:
                out.append(Passage(f"grown#{section}/{chunk}", "passage", text, "Cresciuto", "Sezione", "area",
                                   f"grown#{section}"))
    return out


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    """Real BM25 over the grown passages, real FAISS over seeded unit vectors (one per embedding
    text), near each other in a few topics as sentence embeddings are."""
    knowledge = load_knowledge(KNOWLEDGE)
    items = grown_passages()
    rng = np.random.default_rng(11)
    rows = [n for n, p in enumerate(items) for _ in p.embedding_texts()]
    centres = rng.standard_normal((12, DIMENSION))
    vectors = centres[rng.integers(0, 12, len(rows))] + rng.standard_normal((len(rows), DIMENSION)) * 0.8
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    lexical = LexicalIndex.build([p.lexical_text() for p in items])
    return SearchIndex(folder=Path("."), meta={}, passages=items, areas=knowledge.areas, synonyms=knowledge.synonyms,
                       dense=DenseIndex.build(vectors, rows), measures={m.id: m for m in knowledge.measures},
                       lexical=lexical)


def questions() -> list[tuple[str, dt.date]]:
    out = []
    for item in load_items(sorted((KNOWLEDGE / "eval").glob("*.yaml"))):
        today = item.today or dt.date(2025, 6, 1)
        if not offer.criteria(clean_question(item.question), today, 14, None).listing:
            out.append((clean_question(item.question), today))
    return out


def query_vector(question: str, variant: int = 0) -> np.ndarray:
    """A seeded vector per question (no model here): what matters is that both searches share it.
    Seeded from the text's CRC, not `hash()`, which changes with every Python process."""
    rng = np.random.default_rng([zlib.crc32(question.encode()), variant])
    v = rng.standard_normal(DIMENSION)
    return (v / np.linalg.norm(v)).astype(np.float32)


@pytest.mark.parametrize("mode, depth", [("hybrid", 5), ("lexical", 5), ("dense", 5), ("hybrid", 100)])
def test_candidates_rank_every_eval_question_as_a_full_scoring(index: SearchIndex, mode: str, depth: int) -> None:
    settings = RetrievalSettings(search_depth=depth, dense_floor=0.0, calibration_from="settings")
    r = Retriever(index, None, settings)
    widened = 0
    for question, today in questions():
        vector = query_vector(question)
        got = r.search(question, mode=mode, today=today, vector=vector)  # type: ignore[arg-type]
        want = full_scoring(r, question, mode, today, vector)  # type: ignore[arg-type]
        where = f"{mode}, depth {depth}: {question!r}"
        if mode == "dense" and want.ranking and not want.positive:
            # A full scoring in dense mode ranks passages that fuse to 0 too, and puts a measure the
            # question names first even then; search ranks only those above 0 (see test_search_topk).
            continue
        ranked = set(want.ranking[: want.positive])
        assert got.decision == want.decision, where
        assert got.confidence == pytest.approx(want.confidence, abs=1e-5), where
        assert [h.passage.id for h in got.answers] == [i for i in want.answers if i in ranked], where
        assert [h.passage.id for h in got.suggestions] == [i for i in want.suggestions if i in ranked], where
        head = min(EXACT_HEAD, want.positive)
        assert [h.passage.id for h in got.ranking][:head] == want.ranking[:head], where
        widened += len(got.ranking) > 2 * depth  # more than both first lists could hold
    assert widened > 0 or depth >= EXACT_HEAD


def test_the_faq_entries_shown_are_those_of_a_full_scoring_past_the_head(index: SearchIndex) -> None:
    """Answers, related and suggested questions are FAQ entries taken from the ranking past its first
    20 when those hold too few: search widens until it is certain of enough of them. Each eval
    question with ten query vectors, on lists of 100 (long enough that the head alone is often
    certain early)."""
    r = Retriever(index, None, RetrievalSettings(search_depth=100, dense_floor=0.0, calibration_from="settings"))
    past_head = 0
    for variant in range(10):
        for question, today in questions():
            vector = query_vector(question, variant)
            got = r.search(question, mode="hybrid", today=today, vector=vector)
            want = full_scoring(r, question, "hybrid", today, vector)
            ranked = set(want.ranking[: want.positive])
            where = f"variant {variant}: {question!r}"
            assert [h.passage.id for h in got.answers] == [i for i in want.answers if i in ranked], where
            assert [h.passage.id for h in got.related] == [i for i in want.related if i in ranked], where
            assert [h.passage.id for h in got.suggestions] == [i for i in want.suggestions if i in ranked], where
            head = set(want.ranking[:EXACT_HEAD])
            past_head += any(i not in head for i in [*want.related, *want.suggestions])
    assert past_head > 0  # some came from past the head, the case under test


def test_a_named_measure_comes_first_even_when_neither_list_holds_it(index: SearchIndex) -> None:
    """Naming a measure puts it first (offer rules) whatever it scores: with lists of 3, its passages
    are candidates all the same, as a full scoring would rank them."""
    r = Retriever(index, None, RetrievalSettings(search_depth=3, dense_floor=0.0, calibration_from="settings"))
    today = dt.date(2025, 6, 1)
    checked = 0
    for measure in list(index.measures.values())[:6]:
        question = f"{measure.title} e poi parliamo di protocollo regione toscana unioncamere"
        vector = query_vector(question)
        want = full_scoring(r, question, "hybrid", today, vector)
        got = r.search(question, mode="hybrid", today=today, vector=vector)
        head = min(EXACT_HEAD, want.positive)
        assert [h.passage.id for h in got.ranking][:head] == want.ranking[:head], question
        checked += any(h.measure is not None and h.measure.id == measure.id for h in got.ranking[:1])
    assert checked > 0  # the named measure did come first somewhere


def test_bm25_sums_are_bit_for_bit_those_of_bm25s(index: SearchIndex) -> None:
    lexical = index.lexical
    assert lexical._csc is not None  # the direct path is the one under test
    synonyms = analyzer.Synonyms(index.synonyms)
    for question, _ in questions():
        stems, _ = lexical.query_tokens(question)
        extra, _ = lexical.query_tokens(" ".join(synonyms.extra_terms(question)))
        extra = [s for s in extra if s not in stems]
        plain = np.asarray(lexical.bm25.get_scores(stems), dtype=np.float32) if stems else np.zeros(
            len(index.passages), dtype=np.float32)
        assert np.array_equal(lexical.scores(stems), plain), question
        if extra:
            both = plain + 0.2 * np.asarray(lexical.bm25.get_scores(extra), dtype=np.float32)
            assert np.array_equal(lexical.weighted_scores(stems, extra, 0.2), both), question


def test_query_words_are_what_the_analyzer_makes_of_them(index: SearchIndex) -> None:
    """The per-word memo and the last-question memo change nothing: same stems, same coverage."""
    lexical = index.lexical
    for question, _ in questions() * 2:
        fixed = lexical.speller.correct(analyzer.content_words(question))
        stems, coverage = lexical.query_tokens(question)
        assert lexical.corrected(question) == fixed
        if fixed:
            known = sum(bool(analyzer.stems(w) & lexical.known_stems) for w in fixed)
            assert stems == [analyzer.stem(w) for w in fixed if analyzer.stem(w) in lexical.stems], question
            assert coverage == known / len(fixed), question


def owners_of_stems(items: list[Passage]) -> dict[str, set[str]]:
    """Plainly: each stem, and the measures whose passages hold it ("" for any other text)."""
    owners: dict[str, set[str]] = {}
    for p in items:
        for stem in {analyzer.stem(w) for w in analyzer.content_words(p.lexical_text())}:
            owners.setdefault(stem, set()).add(p.measure_id or "")
    return owners


@pytest.mark.parametrize("with_texts", [False, True])
def test_the_names_index_finds_the_measures_the_plain_rule_finds(with_texts: bool) -> None:
    knowledge = load_knowledge(KNOWLEDGE)
    measures = knowledge.measures
    owners = owners_of_stems(passages(knowledge))

    def elsewhere(stem: str, mid: str) -> bool:
        return bool(owners.get(stem, set()) - {mid})

    names = offer.Names(measures, elsewhere if with_texts else None)
    titles = {m.id: [analyzer.stem(w) for w in analyzer.content_words(m.title)] for m in measures}
    title_codes = {m.id: {analyzer.stem(c) for c in analyzer.codes(m.title)} for m in measures}
    count: dict[str, int] = {}
    for stems in titles.values():
        for s in set(stems):
            count[s] = count.get(s, 0) + 1

    def plain(mid: str, question: str) -> bool:
        title = titles[mid]
        if not title:
            return False
        asked = [analyzer.stem(w) for w in analyzer.content_words(question)]
        present = set(asked) & set(title)
        if len(present) >= 2 and len(present) / len(set(title)) >= 0.5:
            return True
        own = {s for s in title if count[s] == 1 and (s in title_codes[mid] or not (with_texts and elsewhere(s, mid)))}
        pairs = set(zip(title, title[1:]))
        return any(p in pairs and (p[0] in own or p[1] in own) for p in zip(asked, asked[1:]))

    asked = [q for q, _ in questions()] + [m.title for m in measures] + [
        " ".join(m.title.split()[1:3]) for m in measures]
    found = 0
    for question in asked:
        expected = {m.id for m in measures if plain(m.id, question)}
        assert names.named_in(question) == expected, question
        found += bool(expected)
    assert found > len(measures)  # the titles themselves at least name their measures


def test_the_offer_rules_keep_their_order_through_sift() -> None:
    """`offer` is `sift`'s kept candidates with the named ones first."""
    measures = load_knowledge(KNOWLEDGE).measures
    names = offer.Names(measures)
    measure_of = {n: m for n, m in enumerate(measures)}
    fused = [1.0 - n / 100 for n in range(len(measures) + 5)]
    today = dt.date(2025, 6, 1)
    for question in [measures[3].title, "bandi aperti in toscana", "contributi per le imprese"]:
        wanted = offer.criteria(question, today, 14)
        candidates = list(range(len(measures) + 5))
        sifted = offer.sift(candidates, measure_of, fused, question, wanted, names)
        result = offer.offer(candidates, measure_of, fused, question, wanted, names)
        assert result == sifted.named + [i for i in sifted.kept if i not in set(sifted.named)]
        assert set(range(len(measures), len(measures) + 5)) <= set(result)  # not measures: untouched
        assert dataclasses.is_dataclass(sifted)


def test_filters_skip_the_region_scan_only_when_it_would_find_nothing() -> None:
    """`filters_from_question` runs `mentions` only when one group-free expression finds something:
    the regions, sizes and sectors it reads are those `mentions` reads, on every eval question and
    on texts built from the vocabulary's own words (and "marche da bollo", which is no region)."""
    from bot.measures import eligibility, vocab

    rng = random.Random(3)
    words = [w.replace("\\", "") for w, _ in vocab._REGION_WORD_LIST] + [
        "pmi", "micro impresa", "marche da bollo", "farming", "b b", "settore alimentare", "ict", "moda"]
    asked = [q for q, _ in questions()]
    texts = asked + [" ".join(rng.sample(words, 2) + [rng.choice(asked)]) for _ in range(1500)]
    skipped = 0
    for text in texts:
        want = vocab.mentions(text)
        got = eligibility.filters_from_question(text, dt.date(2025, 6, 1))
        assert (got.regions, got.sizes, got.sectors) == (want.regions, want.sizes, want.sectors), text
        skipped += eligibility._MAYBE_MENTIONS.search(vocab.fold(text)) is None
    assert 0 < skipped < len(texts)


def test_a_measure_tagged_with_other_sectors_ranks_lower_and_stays(index: SearchIndex) -> None:
    """Sectors rank, they do not filter: the catalogue tags the Villafranca Padovana calls for "imprese
    del commercio, dei pubblici esercizi e dei servizi" Commercio and Altri servizi only, so a bar
    (read as Ristorazione) must still be offered them, below a call that lists its sector."""
    retriever = Retriever(index, None, RetrievalSettings())
    candidates = retriever._candidates
    today = dt.date(2025, 6, 1)
    wanted = offer.criteria("ho un bar, ci sono contributi per rinnovare il locale?", today, 14)
    assert wanted.filters.sectors == {"Ristorazione"}
    first = {mid: int(numbers[0]) for mid, numbers in candidates._passages_of.items()}  # each measure's first passage
    commerce = first["1304-bando-pubblico-per-l-innovazione-gestionale-delle-imprese"]
    with_bars = first["8141-distretto-del-commercio-terre-tagliamento-contributi-alle-imprese"]
    faq = next(n for n, p in enumerate(index.passages) if p.kind == "faq")
    ids = np.asarray([commerce, with_bars, faq], dtype=np.int64)
    assert candidates.tag_factors(ids, wanted.filters.sectors, fits_sectors, 0.5).tolist() == [0.5, 1.0, 1.0]
    plain = offer.criteria("contributi per rinnovare il locale", today, 14)
    assert candidates.tag_factors(ids, plain.filters.sectors, fits_sectors,
                                  0.5).tolist() == [1.0, 1.0, 1.0]  # no sector named: nothing changes
    sifted = offer.sift([commerce, with_bars, faq], retriever._measure_of, {commerce: 1.0, with_bars: 0.5},
                        "ho un bar, ci sono contributi per rinnovare il locale?", wanted, retriever._names)
    assert commerce in sifted.kept and with_bars in sifted.kept


def test_a_measure_for_other_applicants_ranks_lower_and_stays(index: SearchIndex) -> None:
    """A network of firms applies as one: the Puglia call that lists "Rete d'impresa" keeps its score,
    Voucher 3I (firms only) ranks lower and is still offered; a plain firm's question changes nothing."""
    retriever = Retriever(index, None, RetrievalSettings())
    candidates = retriever._candidates
    today = dt.date(2025, 6, 1)
    question = "siamo una rete di 3 imprese pugliesi, aiuti per consulenze su brevetti?"
    wanted = offer.criteria(question, today, 14)
    assert wanted.filters.applicants == {"Rete d'impresa"}
    first = {mid: int(numbers[0]) for mid, numbers in candidates._passages_of.items()}  # each measure's first passage
    for_networks = first["1341-sostegno-per-l-acquisto-di-servizi-per-l-innovazione-tecnologica"]
    for_firms = first["3265-voucher-3i-investire-in-innovazione"]
    faq = next(n for n, p in enumerate(index.passages) if p.kind == "faq")
    ids = np.asarray([for_networks, for_firms, faq], dtype=np.int64)
    assert candidates.tag_factors(ids, wanted.filters.applicants, fits_applicants, 0.5).tolist() == [1.0, 0.5, 1.0]
    plain = offer.criteria("siamo un'impresa pugliese, aiuti per consulenze su brevetti?", today, 14)
    assert plain.filters.applicants == frozenset()
    assert candidates.tag_factors(ids, plain.filters.applicants, fits_applicants, 0.5).tolist() == [1.0, 1.0, 1.0]
    sifted = offer.sift([for_networks, for_firms, faq], retriever._measure_of, {for_networks: 1.0, for_firms: 0.5},
                        question, wanted, retriever._names)
    assert for_networks in sifted.kept and for_firms in sifted.kept


def test_a_question_describing_the_firm_ranks_measures_above_other_texts(index: SearchIndex) -> None:
    """"We're a tiny company" asks what that firm can get: FAQ entries and document passages have their
    score lowered (retrieval.described_firm_factor), measures keep theirs; a size from the profile alone
    does not count, since it comes with every question."""
    retriever = Retriever(index, None, RetrievalSettings())
    candidates = retriever._candidates
    today = dt.date(2025, 6, 1)
    measure_passage = next(iter(retriever._measure_of))
    faq = next(n for n, p in enumerate(index.passages) if p.kind == "faq")
    section = next(n for n, p in enumerate(index.passages) if p.kind == "passage")
    ids = np.asarray([measure_passage, faq, section], dtype=np.int64)
    for question in ("any grant to pay a patent attorney? we're a tiny company", "ho 4 dipendenti, aiuti per l'export?",
                     "sono libero professionista, ci sono contributi?"):
        wanted = offer.criteria(question, today, 14)
        assert wanted.describes_firm, question
        assert candidates.described_factors(ids, wanted, 0.8).tolist() == [1.0, 0.8, 0.8], question
    plain = offer.criteria("aiuti per l'export?", today, 14, Profile(size="micro", region="Toscana"))
    assert plain.filters.sizes == {"micro"} and not plain.describes_firm
    assert candidates.described_factors(ids, plain, 0.8).tolist() == [1.0, 1.0, 1.0]
