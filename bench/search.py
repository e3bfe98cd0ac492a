"""How long answering takes, as ratios to a baseline measured in the same run (machines are noisy).

Baseline: embedding one question with the model, which any dense search must do. The script prints
how many times that the full hybrid search, the dense-only and lexical-only searches and the
lexical query processing take, over the shipped eval questions.

Each round measures the baseline and every search back to back, and a ratio is taken within the
round: a shared machine's speed drifts over minutes, so a baseline measured once, before everything
else, made the same code read 1.5× in one run and 2.9× in the next. The median ratio over the rounds
is printed with the lowest and highest.

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


def seconds_per_question(fn: Callable[[str], object], questions: list[str]) -> float:
    """Mean seconds per question over one pass."""
    start = time.perf_counter()
    for q in questions:
        fn(q)
    return (time.perf_counter() - start) / len(questions)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    settings = Settings.load(None, {}, cwd=REPO)
    retriever, _ = open_retriever(settings, build_if_missing=True)
    questions = [i.question for i in load_items(sorted((REPO / "knowledge" / "eval").glob("*.yaml")))]
    retriever.search(questions[0])  # warm up

    def baseline(q: str) -> object:
        return retriever.embedder.encode_queries([q])

    rows: dict[str, Callable[[str], object]] = {
        "hybrid search": lambda q: retriever.search(q, mode="hybrid"),
        "dense-only search": lambda q: retriever.search(q, mode="dense"),
        "lexical-only search": lambda q: retriever.search(q, mode="lexical"),
        "lexical query processing": retriever.index.lexical.query_tokens,
    }
    ratios: dict[str, list[float]] = {name: [] for name in rows}
    floors = []
    for _ in range(args.rounds):
        for name, fn in rows.items():
            floor = seconds_per_question(baseline, questions)  # right before each, in the same round
            ratios[name].append(seconds_per_question(fn, questions) / floor)
            floors.append(floor)
    print(f"{len(questions)} questions, {args.rounds} rounds; baseline = embedding one question "
          f"({statistics.median(floors) * 1000:.2f} ms here, for scale only)")
    for name, values in ratios.items():
        print(f"{name:<28} {statistics.median(values):6.2f} × baseline   "
              f"(rounds {min(values):.2f}–{max(values):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
