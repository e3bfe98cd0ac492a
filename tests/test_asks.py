"""What a question asks for (bot/search/asks.py), and how the ranking uses it."""

from __future__ import annotations

import pytest

from bot.search.asks import kinds


@pytest.mark.parametrize("text, expected", [
    ("Dove è stato firmato il protocollo?", {"place"}),
    ("in che città è stato firmato", {"place"}),
    ("where was it signed", {"place"}),
    ("Chi ha firmato il protocollo?", {"person"}),
    ("who is Ciuoffo?", {"person"}),
    ("Quanto dura il protocollo?", {"time"}),
    ("Da quanto tempo collaborano Regione e Unioncamere?", {"time"}),
    ("how long does the agreement last?", {"time"}),
    ("Quanti soldi ci sono?", {"amount"}),
    ("how much funding is available?", {"amount"}),
    ("Perché serve coordinare Regione e Camere di Commercio?", {"reason"}),
    ("why coordinate?", {"reason"}),
    ("chi firma e dove?", {"person", "place"}),
])
def test_a_question_asks_for_its_kinds(text: str, expected: set[str]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize("text", ["Cosa ha detto l'Assessore?", "export toscano", "Ci sono bandi o scadenze?",
                                  "chiedere informazioni", "dovere fiscale", "whoever", "quantità di export"])
def test_other_questions_and_words_that_only_contain_them_ask_for_none(text: str) -> None:
    assert kinds(text) == frozenset()


def test_bits_gather_the_kinds_of_several_texts() -> None:
    from bot.search.asks import KINDS, bits

    assert bits([]) == 0 and bits(["export toscano"]) == 0
    both = bits(["Chi ha firmato?", "where was it signed?"])
    assert both == (1 << KINDS.index("person")) | (1 << KINDS.index("place"))


# --- in the ranking, with the real model on the shipped knowledge -----------------------------------

def test_a_faq_entry_asking_the_same_kind_keeps_its_score_the_others_lose_a_little(retriever) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from bot.search.asks import bits

    number = {p.id: n for n, p in enumerate(retriever.index.passages)}
    ids = np.array([number["faq:protocollo-dove-firmato"], number["faq:protocollo-chi-firma"],
                    next(n for n, p in enumerate(retriever.index.passages) if p.kind != "faq")])
    candidates = retriever._candidates
    assert candidates.asks_factors(ids, bits(["dove?"]), 0.1).tolist() == pytest.approx([1.0, 0.9 / 1.1, 1 / 1.1])
    assert candidates.asks_factors(ids, bits(["chi?"]), 0.1).tolist() == pytest.approx([0.9 / 1.1, 1.0, 1 / 1.1])
    assert candidates.asks_factors(ids, bits(["cosa dice?"]), 0.1).tolist() == [1.0, 1.0, 1.0]
    assert candidates.asks_factors(ids, bits(["dove?"]), 0.0).tolist() == [1.0, 1.0, 1.0]


def test_asking_how_much_finds_the_entry_on_amounts_which_the_words_alone_miss(retriever) -> None:  # type: ignore[no-untyped-def]
    """Its words ("agreement", "worth") lean to other entries. Written for this test: the tuning
    question it replaces ("how much money does the agreement provide?") finds the entry on its
    words alone since that entry asks about the protocol itself ("Quanti soldi mette il protocollo?")."""
    from bot.search.retriever import Retriever

    question = "how much is the agreement worth?"
    off = Retriever(retriever.index, retriever.embedder, retriever.settings.model_copy(update={"asks_weight": 0.0}),
                    retriever.measures)
    assert off.search(question).ranking[0].passage.id != "faq:protocollo-quanti-soldi"
    assert retriever.search(question).ranking[0].passage.id == "faq:protocollo-quanti-soldi"
