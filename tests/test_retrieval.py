"""Hybrid retrieval over the shipped knowledge with the real model: fusion, dedupe, abstention."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bot.config import RetrievalSettings
from bot.retrieval import Retriever, features

INTERNATIONAL = re.compile(r"internazionalizz|export|estero", re.I)


@pytest.fixture
def tuned(retriever: Retriever) -> Retriever:
    """The session retriever with its own copy of the settings, free to change."""
    return Retriever(retriever.index, retriever.embedder, retriever.settings.model_copy(deep=True))


def test_fusion_weighted_combines_cosine_and_scaled_bm25(tuned: Retriever) -> None:
    tuned.settings.fusion = "weighted"
    tuned.settings.dense_weight = 0.6
    dense = np.array([0.9, 0.2, 0.5], dtype=np.float32)
    lexical = np.array([0.0, 8.0, 4.0], dtype=np.float32)
    fused = tuned._fuse(dense, lexical, "hybrid")
    assert fused == pytest.approx([0.54, 0.12 + 0.4, 0.30 + 0.2])
    assert tuned._fuse(dense, lexical, "lexical") == pytest.approx([0.0, 1.0, 0.5])
    assert tuned._fuse(dense, lexical, "dense") == pytest.approx(dense)


def test_fusion_rrf_gives_one_to_a_passage_first_in_both(tuned: Retriever) -> None:
    tuned.settings.fusion = "rrf"
    dense = np.array([0.9, 0.2, 0.5], dtype=np.float32)
    lexical = np.array([6.0, 0.0, 4.0], dtype=np.float32)
    fused = tuned._fuse(dense, lexical, "hybrid")
    assert fused[0] == pytest.approx(1.0)
    assert fused[0] > fused[2] > fused[1] > 0  # passage 1 only counts for its dense rank


def test_answers_internationalisation_with_source(retriever: Retriever) -> None:
    result = retriever.search("Ci sono aiuti per l'internazionalizzazione delle imprese?")
    assert result.answered
    assert INTERNATIONAL.search(result.answers[0].text)
    assert "Protocollo" in result.answers[0].source
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
    ["Qual è la capitale dell'Australia?", "Come si apre una partita IVA?", "ricetta della ribollita"],
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
    assert result.suggestions and all(h.passage.kind == "faq" for h in result.suggestions)
    tuned.settings.suggest_threshold = 1.0
    assert tuned.search(question).decision == "decline"
    tuned.settings.answer_threshold = 0.0
    assert tuned.search(question).decision == "answer"


def test_confidence_is_the_calibrated_logistic_of_the_signals(retriever: Retriever) -> None:
    result = retriever.search("quali sono gli ambiti del protocollo")
    f = features(result.signals)
    c = retriever.settings.calibration
    z = c.bias + c.coverage * f["coverage"] + c.dense * f["dense"] + c.lexical * f["lexical"]
    assert result.confidence == pytest.approx(1 / (1 + np.exp(-z)), rel=1e-5)


def test_unknown_words_lower_coverage(retriever: Retriever) -> None:
    known = retriever.search("innovazione e trasferimento tecnologico").signals["coverage"]
    unknown = retriever.search("innovazione superbonus ecobonus").signals["coverage"]
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
