"""The quality bar of the shipped knowledge on the held-back questions (issue: answer quality).

These numbers are what the README reports; a change to the knowledge, the retrieval or the
calibration that drops below them fails here instead of silently making the bot worse.
"""

from __future__ import annotations

from conftest import KNOWLEDGE

from bot.evaluation import evaluate, load_items
from bot.search.retriever import Retriever

HOLDOUT = KNOWLEDGE / "eval" / "holdout.yaml"


def test_hybrid_meets_the_bar_on_the_held_back_questions(retriever: Retriever) -> None:
    items = load_items([HOLDOUT])
    assert len(items) >= 45 and sum(not i.in_scope for i in items) >= 12
    m = evaluate(retriever, items, "hybrid").metrics()
    assert m["hit@1"] >= 0.85
    assert m["hit@3"] >= 0.95
    assert m["out_of_scope_declined"] >= 0.90
    assert m["in_scope_wrongly_declined"] <= 0.05


def test_hybrid_ranks_better_than_either_part(retriever: Retriever) -> None:
    items = load_items([HOLDOUT])
    hybrid, dense, lexical = (evaluate(retriever, items, mode).metrics() for mode in ("hybrid", "dense", "lexical"))
    for metric in ("hit@1", "mrr"):
        assert hybrid[metric] > dense[metric]
        assert hybrid[metric] > lexical[metric]
    assert hybrid["hit@3"] >= max(dense["hit@3"], lexical["hit@3"])
