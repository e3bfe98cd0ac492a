"""Bot throughput: 64 users asking at once vs the same 64 questions one by one (ratio, same run).

The real bot (bot/telegram/app.py: handlers, the micro-batcher, the search worker, the database)
runs against the fake Bot API on 127.0.0.1 (tests/fake_bot_api.py, tests/bot_harness.py: the same
harness as the end-to-end tests), over an index of the shipped knowledge built for the run.
One by one: each user sends a question and the next one writes when the answer has arrived.
At once: all 64 send their question together and the clock stops when every one has an answer.
The questions are the first 64 of knowledge/eval/*.yaml. The Bot API rate limit
(telegram.messages_per_second, Telegram's ~30 a second) is lifted for both runs, since it would
measure Telegram's limit, not the bot; the fake server shares the process (and the GIL) with the bot.

    python bench/throughput.py [--users 64] [--index DIR]
"""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from bot.evaluation import load_items  # noqa: E402
from bot.search.service import open_retriever  # noqa: E402
from bot_harness import TOKEN, RunningBot, bot_settings  # noqa: E402
from fake_bot_api import FakeBotApi  # noqa: E402

TARGET = 2.0


def answered(fake: FakeBotApi, users: list[int]) -> bool:
    return all(fake.sent(u) for u in users)


def one_by_one(fake: FakeBotApi, questions: list[str], first_user: int) -> float:
    users = list(range(first_user, first_user + len(questions)))
    start = time.perf_counter()
    for user, question in zip(users, questions):
        fake.message(question, user_id=user)
        fake.wait(lambda: fake.sent(user), timeout=120, what=f"an answer to user {user}")
    return time.perf_counter() - start


def at_once(fake: FakeBotApi, questions: list[str], first_user: int) -> float:
    users = list(range(first_user, first_user + len(questions)))
    start = time.perf_counter()
    for user, question in zip(users, questions):
        fake.message(question, user_id=user)
    fake.wait(lambda: answered(fake, users), timeout=600, what="an answer to every user")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--index", type=Path, help="an index folder of the shipped knowledge to reuse "
                        "(default: build one in a temporary folder)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    questions = [i.question for i in load_items(sorted((REPO / "knowledge" / "eval").glob("*.yaml")))][: args.users]
    with tempfile.TemporaryDirectory(prefix="sportello-throughput-") as tmp, FakeBotApi(TOKEN) as fake:
        root = Path(tmp)
        env = {"SPORTELLO_PATHS__INDEX": str(args.index or root / "index"),
               "SPORTELLO_TELEGRAM__MESSAGES_PER_SECOND": "100000",
               "SPORTELLO_TELEGRAM__QUESTIONS_PER_MINUTE": "1000"}
        settings = bot_settings(root, None, fake, **env)
        retriever, _ = open_retriever(settings, build_if_missing=True)
        with RunningBot(settings, retriever):
            # Warm up: the first answer of a run pays for lazy loading in PTB and SQLite.
            one_by_one(fake, questions[:4], first_user=10_000)
            alone = one_by_one(fake, questions, first_user=20_000)
            together = at_once(fake, questions, first_user=30_000)
    n = len(questions)
    print(f"{n} questions, backend {settings.embedding.backend}, batch window "
          f"{settings.embedding.batch_window_ms} ms, batch_max {settings.embedding.batch_max}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"one by one:  {alone:7.2f} s  ({n / alone:5.1f} answers/s)")
    print(f"{n} at once: {together:7.2f} s  ({n / together:5.1f} answers/s)")
    print(f"throughput at once / one by one: {alone / together:.2f}×   target >= {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
