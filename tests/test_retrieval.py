"""Hybrid retrieval over the shipped knowledge with the real model: fusion, dedupe, abstention."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bot.config import RetrievalSettings
from bot.search import analyzer
from bot.search.embedding import Embedder
from bot.search.retriever import Retriever, calibration_drift, clean_question, features, ranking_settings

INTERNATIONAL = re.compile(r"internazionalizz|export|estero", re.I)


@pytest.fixture
def tuned(retriever: Retriever) -> Retriever:
    """The session retriever with its own copy of the settings, free to change."""
    return Retriever(retriever.index, retriever.embedder, retriever.settings.model_copy(deep=True))


def _ids(result) -> list[str]:
    return [h.passage.id for h in result.ranking]


@pytest.mark.parametrize("question", ["vendere all estero", "chi ha firmato l'accordo", "startup innovative"])
def test_weighted_fusion_weight_moves_the_ranking_between_its_two_parts(tuned: Retriever, question: str) -> None:
    tuned.settings.fusion = "weighted"
    dense = tuned.search(question, mode="dense").ranking
    tuned.settings.dense_weight = 1.0
    assert [h.passage.id for h in tuned.search(question).ranking][:5] == [h.passage.id for h in dense][:5]
    lexical = tuned.search(question, mode="lexical")
    tuned.settings.dense_weight = 0.0
    hybrid = tuned.search(question)
    assert _ids(hybrid) == _ids(lexical)


def test_rrf_fusion_ranks_first_what_both_retrievers_rank_first(tuned: Retriever) -> None:
    tuned.settings.fusion = "rrf"
    question = "Ci sono aiuti per l'internazionalizzazione delle imprese?"
    dense, lexical = tuned.search(question, mode="dense"), tuned.search(question, mode="lexical")
    hybrid = tuned.search(question)
    if dense.ranking[0].passage.id == lexical.ranking[0].passage.id:
        assert hybrid.ranking[0].passage.id == dense.ranking[0].passage.id
    assert hybrid.ranking[0].passage.id in {dense.ranking[0].passage.id, lexical.ranking[0].passage.id}


def test_answers_internationalisation_with_source(retriever: Retriever) -> None:
    result = retriever.search("Ci sono aiuti per l'internazionalizzazione delle imprese?")
    assert result.answered
    assert INTERNATIONAL.search(result.answers[0].text)
    titles = {p.title for p in retriever.index.passages if p.kind == "passage"}
    assert any(result.answers[0].source.startswith(f"{t}, «") for t in titles)
    scores = [h.score for h in result.answers]
    assert scores == sorted(scores, reverse=True)
    assert 0.0 <= result.confidence <= 1.0


@pytest.mark.parametrize(
    "question, expected",
    [
        ("vendere all estero", INTERNATIONAL),
        ("internazionalizazione pmi", INTERNATIONAL),            # typo + acronym
        ("is there support for exporting?", INTERNATIONAL),       # English
        ("chi ha firmato l'accordo", re.compile(r"Regione Toscana e Unioncamere", re.I)),
        ("quanto dura", re.compile(r"triennal|tre anni", re.I)),
        ("aiuti per le start up innovative", re.compile(r"start ?up", re.I)),
        ("trasferimento tecnologico", re.compile(r"trasferimento tecnologico", re.I)),
    ],
)
def test_everyday_questions_find_the_right_passage(retriever: Retriever, question: str, expected: re.Pattern) -> None:
    result = retriever.search(question)
    assert result.answered, result.signals
    assert expected.search(result.answers[0].text)


@pytest.mark.parametrize(
    "question",
    ["Qual è la capitale dell'Australia?", "Come si calcola l'IMU sulla seconda casa?", "ricetta della ribollita"],
)
def test_out_of_scope_questions_are_declined(retriever: Retriever, question: str) -> None:
    result = retriever.search(question)
    assert not result.answered
    assert result.answers == []
    assert result.confidence < retriever.settings.answer_threshold


def test_empty_or_stop_word_questions_are_declined_without_search(retriever: Retriever) -> None:
    for question in ["", "   ", "?!", "ciao, ci sono?"]:
        result = retriever.search(question)
        assert result.decision == "decline" and result.ranking == []


def test_thresholds_come_from_settings(tuned: Retriever) -> None:
    question = "ci sono aiuti per vendere all'estero"
    tuned.settings.answer_threshold = 1.0
    tuned.settings.suggest_threshold = 0.0
    result = tuned.search(question)
    assert result.decision == "suggest"
    assert result.suggestions and all(h.passage.kind == "faq" or h.measure is not None for h in result.suggestions)
    # A measure is offered only from the first top_k of the ranking; FAQ entries from anywhere.
    head = [h.passage.id for h in result.ranking[: tuned.settings.top_k]]
    assert all(h.passage.kind == "faq" or h.passage.id in head for h in result.suggestions)
    tuned.settings.suggest_threshold = 1.0
    assert tuned.search(question).decision == "decline"
    tuned.settings.answer_threshold = 0.0
    assert tuned.search(question).decision == "answer"


def test_a_measure_ranked_first_below_the_threshold_is_suggested(tuned: Retriever) -> None:
    """"Forse cercavi" offers the measure that came first, not only FAQ questions further down."""
    tuned.settings.answer_threshold = 1.0
    tuned.settings.suggest_threshold = 0.0
    result = tuned.search("contributi per brevettare un'invenzione", today=dt.date(2026, 11, 25))
    assert result.decision == "suggest"
    first = result.suggestions[0]
    assert first.measure is not None and first.measure.id == "3265-voucher-3i-investire-in-innovazione"
    assert first.passage.id == result.ranking[0].passage.id
    ids = [h.measure.id for h in result.suggestions if h.measure is not None]
    assert len(ids) == len(set(ids))  # each measure once, whatever its passages


def test_confidence_follows_the_calibration(tuned: Retriever) -> None:
    question = "quali sono gli ambiti del protocollo"
    base = tuned.search(question).confidence
    assert 0.0 < base < 1.0
    tuned.settings.calibration.bias += 1.0  # more prior belief: more confident, same ranking
    assert tuned.search(question).confidence > base
    tuned.settings.calibration.bias -= 1.0
    tuned.settings.calibration.lexical_half = 1000.0  # BM25 evidence squashed to nothing
    assert tuned.search(question).confidence < base
    # The features are squashed to 0..1 whatever the raw scores.
    f = features({"lexical": 1e6, "dense": 2.0, "coverage": 1.0}, 2.0)
    assert 0.99 < f["lexical"] <= 1.0 and f["coverage"] == 1.0


def test_the_calibration_records_the_ranking_it_was_fitted_on(built_settings, retriever: Retriever,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """The weights that shape the ranking are stored with the fitted calibration; opening the index
    with others warns that the confidence needs a build to be fitted again."""
    meta = retriever.index.meta
    assert meta["calibration"]["ranking"] == ranking_settings(built_settings.retrieval)
    assert calibration_drift(built_settings.retrieval, meta) == []
    with caplog.at_level("WARNING", logger="bot.search.retriever"):
        Retriever(retriever.index, None, built_settings.retrieval)
        assert not caplog.records
        changed = built_settings.retrieval.model_copy(update={"dense_weight": 0.5, "asks_weight": 0.0})
        Retriever(retriever.index, None, changed)
    assert calibration_drift(changed, meta) == ["retrieval.dense_weight: fitted with 0.6, now 0.5",
                                                "retrieval.asks_weight: fitted with 0.1, now 0.0"]
    assert "run `sportello build`" in caplog.text and "retrieval.asks_weight" in caplog.text


def test_a_measure_is_named_by_words_no_other_text_has(retriever: Retriever) -> None:
    """A pair of title words names a measure when one of them is its own: in no other title and no
    other text. "processi" is in one title only but in other texts too, so "digitalizzare i processi"
    names nothing; "Terre Tagliamento" and "Voucher 3I" still name theirs."""
    from tests.test_candidates import owners_of_stems
    owners = owners_of_stems(retriever.index.passages)
    for measure in retriever.index.measures.values():
        for stem in {analyzer.stem(w) for w in analyzer.content_words(measure.title)}:
            assert retriever._elsewhere(stem, measure.id) == bool(owners.get(stem, set()) - {measure.id}), stem
    names = retriever._names
    assert names.named_in("contributo per digitalizzare i processi") == set()
    # Each Villafranca record's text cites both lines' codes; its title names one line only.
    assert names.named_in("bando D.1.1.b villafranca quanto danno") == {
        "1305-bando-per-l-innovazione-gestionale-delle-imprese-del-commercio"}
    assert names.named_in("linea D.1.1.a") == {"1304-bando-pubblico-per-l-innovazione-gestionale-delle-imprese"}
    assert names.named_in("il bando terre tagliamento è aperto?") == {
        "8141-distretto-del-commercio-terre-tagliamento-contributi-alle-imprese"}
    assert names.named_in("scadenza voucher 3i") == {"3265-voucher-3i-investire-in-innovazione"}


def test_a_headcount_decides_whether_a_micro_enterprise_call_is_offered(retriever: Retriever) -> None:
    """The Bolzano call is for micro-enterprises only: offered first to a firm of 4, not at all to one of 80."""
    bolzano = "measure:1155-interventi-per-la-promozione-della-digitalizzazione-delle-microimprese"
    small = retriever.search("ho 4 dipendenti in Alto Adige, ci sono contributi per la digitalizzazione?")
    assert small.ranking[0].passage.id.startswith(bolzano)
    larger = retriever.search("ho 80 dipendenti in Alto Adige, ci sono contributi per la digitalizzazione?")
    assert not any(h.passage.id.startswith(bolzano) for h in larger.ranking)


def test_a_line_code_tells_the_lines_of_one_call_apart(retriever: Retriever) -> None:
    """The two Villafranca Padovana records share their text, which describes both lines; only the
    title names each one's line. By words alone, the code asked for decides which comes first."""
    line = {"a": "measure:1304-bando-pubblico-per-l-innovazione-gestionale-delle-imprese#",
            "b": "measure:1305-bando-per-l-innovazione-gestionale-delle-imprese-del-commercio#"}
    for letter, wanted in line.items():
        found = retriever.search(f"bando D.1.1.{letter} villafranca padovana", mode="lexical")
        assert found.ranking[0].passage.id.startswith(wanted), letter


@pytest.mark.parametrize("question, line", [
    ("villafranca padovana: contributo per ristrutturare i locali del negozio", "a"),
    ("a Limena c'è un contributo per modernizzare le strutture del mio bar?", "a"),
    ("comune di villafranca, bando per la gestione digitale dell'azienda", "b"),
    ("Limena: aiuti per digitalizzare la gestione del negozio", "b"),
])
def test_a_question_about_one_line_of_a_call_finds_that_line(retriever: Retriever, question: str, line: str) -> None:
    """Each Villafranca Padovana record is searched with what the text says of its own line
    (`passages.own_line`), so a question naming no code still tells the two apart."""
    wanted = {"a": "1304-bando-pubblico-per-l-innovazione-gestionale-delle-imprese",
              "b": "1305-bando-per-l-innovazione-gestionale-delle-imprese-del-commercio"}[line]
    assert retriever.search(question, today=dt.date(2026, 11, 25)).ranking[0].passage.measure_id == wanted


def test_unknown_words_lower_coverage(retriever: Retriever) -> None:
    known = retriever.search("innovazione e trasferimento tecnologico").signals["coverage"]
    # Italian function words ("con", "ed"): a bare "innovazione superbonus ecobonus" reads as English
    # (two of three words end in a consonant) and would go through the word bridge (bridge.py).
    unknown = retriever.search("innovazione con superbonus ed ecobonus").signals["coverage"]
    assert known == 1.0
    assert unknown == pytest.approx(1 / 3)


def test_one_passage_per_document_section(retriever: Retriever) -> None:
    result = retriever.search("Sereni sistema camerale ICE ministeri saper fare")
    refs = [h.passage.source_ref for h in result.ranking if h.passage.kind == "passage"]
    assert len(refs) == len(set(refs))


def test_related_questions_are_other_faq_entries(retriever: Retriever) -> None:
    result = retriever.search("ci sono aiuti per le start up innovative?")
    shown = {h.passage.id for h in result.answers}
    assert result.related
    assert all(h.passage.kind == "faq" and h.passage.id not in shown for h in result.related)


def test_same_question_same_answer(retriever: Retriever) -> None:
    first = retriever.search("chi è il presidente di unioncamere")
    second = retriever.search("chi è il presidente di unioncamere")
    assert [h.passage.id for h in first.ranking] == [h.passage.id for h in second.ranking]
    assert first.confidence == second.confidence


def test_modes_use_only_their_part(retriever: Retriever) -> None:
    dense = retriever.search("ambiti del protocollo", mode="dense")
    lexical = retriever.search("ambiti del protocollo", mode="lexical")
    assert all(h.lexical == 0 for h in dense.ranking)
    assert all(h.dense == 0 for h in lexical.ranking)


def test_very_long_messages_are_cut(retriever: Retriever) -> None:
    result = retriever.search("export " * 2000)
    assert len(result.question) <= 1000


def test_json_has_the_documented_fields(retriever: Retriever) -> None:
    data = retriever.search("quanto dura il protocollo").to_json()
    assert isinstance(data["answered"], bool)
    assert {"text", "source", "score"} <= set(data["answers"][0])


def test_default_settings_are_the_measured_ones() -> None:
    settings = RetrievalSettings()
    assert settings.suggest_threshold <= settings.answer_threshold
    assert settings.calibration.coverage > 0  # fitted, not left at zero


def test_a_vector_given_by_the_caller_gives_the_same_result(retriever: Retriever, embedder: Embedder) -> None:
    """The bot embeds questions in batches and passes the vector: the answer must not change."""
    for question in ("Ci sono aiuti per vendere   all'estero?", "Qual è la capitale dell'Australia?"):
        vector = embedder.encode_queries([clean_question(question)])[0]
        given, own = retriever.search(question, vector=vector), retriever.search(question)
        assert given.decision == own.decision and given.confidence == pytest.approx(own.confidence, abs=1e-6)
        assert [h.passage.id for h in given.ranking] == [h.passage.id for h in own.ranking]
