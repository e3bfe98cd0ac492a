"""Micro-batching: questions arriving together reach the model in one call, each caller gets its own vector."""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import asyncio
import threading

import numpy as np
import pytest

from bot.search.batching import QueryBatcher
from bot.search.embedding import Embedder

QUESTIONS = [
    "Ci sono aiuti per vendere all'estero?", "contributi per startup innovative", "bando digitalizzazione pmi",
    "finanziamenti per l'efficienza energetica", "Is there support for exporting?", "voucher per fiere internazionali",
    "credito d'imposta ricerca e sviluppo", "aiuti per l'imprenditoria femminile", "cosa scade questo mese",
    "agevolazioni per assumere giovani", "sostegno alle filiere produttive", "trasferimento tecnologico",
]


def test_questions_arriving_together_share_one_model_call(embedder: Embedder) -> None:
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        assert threading.current_thread() is not threading.main_thread()  # never on the event loop
        return embedder.encode_queries(texts)

    async def ask_all() -> list[np.ndarray]:
        batcher = QueryBatcher(encode, window_seconds=0.05, max_batch=8)
        try:
            return await asyncio.gather(*(batcher.encode(q) for q in QUESTIONS))
        finally:
            batcher.close()

    vectors = asyncio.run(ask_all())
    # 12 questions at once, at most 8 per call: two calls, the second with the four that waited.
    assert [len(c) for c in calls] == [8, 4]
    assert sorted(q for c in calls for q in c) == sorted(QUESTIONS)
    alone = embedder.encode_queries(QUESTIONS)
    for question, vector, single in zip(QUESTIONS, vectors, alone):
        assert vector.shape == (embedder.dimension,)
        np.testing.assert_allclose(vector, single, atol=1e-5, err_msg=question)


def test_a_lone_question_waits_only_the_window_and_errors_reach_every_caller() -> None:
    seen: list[int] = []

    def encode(texts: list[str]) -> np.ndarray:
        seen.append(len(texts))
        if any(t == "boom" for t in texts):
            raise ValueError("bad batch")
        return np.stack([np.full(4, len(t), dtype=np.float32) for t in texts])

    async def scenario() -> None:
        batcher = QueryBatcher(encode, window_seconds=0.001, max_batch=4)
        loop = asyncio.get_running_loop()
        start = loop.time()
        vector = await batcher.encode("abc")
        assert vector.tolist() == [3.0] * 4 and loop.time() - start < 1.0
        results = await asyncio.gather(batcher.encode("boom"), batcher.encode("x"), return_exceptions=True)
        assert all(isinstance(r, ValueError) for r in results)
        assert (await batcher.encode("hello")).tolist() == [5.0] * 4  # the batcher still works afterwards
        # A caller that gives up does not take a place in the model call.
        task = asyncio.create_task(batcher.encode("never"))
        await asyncio.sleep(0)
        task.cancel()
        assert (await batcher.encode("ok")).tolist() == [2.0] * 4
        batcher.close()

    asyncio.run(scenario())
    assert seen == [1, 2, 1, 1]


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError):
        QueryBatcher(lambda texts: np.zeros((len(texts), 2)), max_batch=0)
