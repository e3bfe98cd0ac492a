"""Micro-batched question embedding (bot/search/batching.py) against one model call per question.

64 questions (the shipped eval questions) arrive at once; the floor embeds them one by one, as a bot
without batching would; then they go through QueryBatcher with the bot's settings
(embedding.batch_window_ms, embedding.batch_max). Printed: throughput as a ratio to the floor.
Then the thread setting: one FAISS search (top 10 of 20,000 vectors of the model's dimension)
with one thread (embedding.search_threads: 1) against two, p50 as a ratio to one thread.

    python bench/batching.py [--users 64] [--rounds 3]
"""

from __future__ import annotations

import faiss  # before torch

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import numpy as np

from bot.config import Settings
from bot.evaluation import load_items
from bot.search.batching import QueryBatcher
from bot.search.dense import DenseIndex
from bot.search.embedding import Embedder

REPO = Path(__file__).resolve().parent.parent


async def batched(embedder: Embedder, questions: list[str], window: float, max_batch: int) -> tuple[float, list[int]]:
    batcher = QueryBatcher(embedder.encode_queries, window, max_batch)
    start = time.perf_counter()
    await asyncio.gather(*(batcher.encode(q) for q in questions))
    elapsed = time.perf_counter() - start
    batcher.close()
    return elapsed, batcher.batch_sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = Settings.load(None, {}, cwd=REPO)
    embedder = Embedder(settings.embedding)
    questions = [i.question for i in load_items(sorted((REPO / "knowledge" / "eval").glob("*.yaml")))][: args.users]
    embedder.encode_queries(questions[:4])  # warm up
    window, max_batch = settings.embedding.batch_window_ms / 1000, settings.embedding.batch_max
    one_by_one, together, sizes = [], [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for q in questions:
            embedder.encode_queries([q])
        one_by_one.append(time.perf_counter() - start)
        elapsed, sizes = asyncio.run(batched(embedder, questions, window, max_batch))
        together.append(elapsed)
    floor, batch = statistics.median(one_by_one), statistics.median(together)
    print(f"{len(questions)} questions at once, {args.rounds} rounds; window {window * 1000:.0f} ms, batch_max "
          f"{max_batch}; model calls {len(sizes)} (sizes {sizes}); floor {len(questions) / floor:.0f} q/s here")
    print(f"{'one model call per question (floor)':38} 1.00")
    print(f"{'micro-batched':38} {floor / batch:.2f}x throughput")

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((20_000, embedder.dimension)).astype(np.float32)
    dense = DenseIndex.build(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), np.arange(20_000))
    queries = embedder.encode_queries(questions)
    p50 = {}
    for threads in (1, 2):
        faiss.omp_set_num_threads(threads)
        times = []
        for _ in range(5):
            for q in queries:
                start = time.perf_counter()
                dense.top_k(q, 10)
                times.append(time.perf_counter() - start)
        p50[threads] = statistics.median(times)
    faiss.omp_set_num_threads(settings.embedding.search_threads or 1)
    print(f"FAISS search p50, 1 thread (floor, {p50[1] * 1000:.2f} ms here) 1.00; 2 threads {p50[2] / p50[1]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
