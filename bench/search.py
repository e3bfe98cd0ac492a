"""How long answering takes, as ratios to a baseline measured in the same run (machines are noisy).

Baseline: embedding one question with the model, which any dense search must do. The script prints
how many times that the full hybrid search, the dense-only and lexical-only searches and the
lexical query processing take, over the shipped eval questions.

    python bench/search.py [--rounds N]

Run it by hand from the repository folder (it builds the index if there is none); it is not part
of the test suite.
"""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bot.search.service import open_retriever
from bot.config import Settings
from bot.evaluation import load_items

REPO = Path(__file__).resolve().parent.parent


def per_call(fn: Callable[[str], object], questions: list[str], rounds: int) -> float:
    """Median over rounds of the mean seconds per question."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for q in questions:
            fn(q)
        samples.append((time.perf_counter() - start) / len(questions))
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    settings = Settings.load(None, {}, cwd=REPO)
    retriever, _ = open_retriever(settings, build_if_missing=True)
    questions = [i.question for i in load_items(sorted((REPO / "knowledge" / "eval").glob("*.yaml")))]
    retriever.search(questions[0])  # warm up

    baseline = per_call(lambda q: retriever.embedder.encode_queries([q]), questions, args.rounds)
    rows = {
        "hybrid search": per_call(lambda q: retriever.search(q, mode="hybrid"), questions, args.rounds),
        "dense-only search": per_call(lambda q: retriever.search(q, mode="dense"), questions, args.rounds),
        "lexical-only search": per_call(lambda q: retriever.search(q, mode="lexical"), questions, args.rounds),
        "lexical query processing": per_call(retriever.index.lexical.query_tokens, questions, args.rounds),
    }
    print(f"{len(questions)} questions, {args.rounds} rounds; baseline = embedding one question "
          f"({baseline * 1000:.2f} ms here, for scale only)")
    for name, seconds in rows.items():
        print(f"{name:<28} {seconds / baseline:6.2f} × baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
