"""A realistic question log for the report tests: a few thousand questions over a month, drawn from
the real eval questions (Zipf-like popularity, typos, case and spacing as people type), each answered
by the real retriever, with 👍/👎 given the way users give them, written through bot.storage.Storage."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.evaluation import load_items
from bot.search.retriever import Retriever, SearchResult
from bot.storage import Storage

REPO = Path(__file__).resolve().parent.parent
EVAL = sorted((REPO / "knowledge" / "eval").glob("*.yaml"))
KEY = b"report-test-key"
ROME = ZoneInfo("Europe/Rome")
_DECIDED: dict[tuple[int, dt.date], dict[str, SearchResult]] = {}


def _typed(question: str, rng: random.Random) -> str:
    """The same question as different people type it: case, trailing marks, a dropped letter."""
    q = question
    roll = rng.random()
    if roll < 0.3:
        q = q.lower().rstrip("?")
    elif roll < 0.4 and len(q) > 12:
        i = rng.randrange(3, len(q) - 3)
        q = q[:i] + q[i + 1:]
    elif roll < 0.5:
        q = q + " ?"
    return q


def write_log(db: Path, retriever: Retriever, *, today: dt.date, questions: int = 3000, days: int = 30,
              seed: int = 11) -> dict[str, int]:
    """Log `questions` questions over the `days` days before `today`; return counts by decision."""
    rng = random.Random(seed)
    items = load_items(EVAL)
    texts = list(dict.fromkeys(i.question for i in items))
    rng.shuffle(texts)
    # A few questions are asked very often, most rarely (weights 1/rank).
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(texts))]
    # The same retriever answers the same question the same way: tests that write several logs share
    # the answers instead of searching again.
    cache = _DECIDED.setdefault((id(retriever), today), {})
    for q in texts:
        if q not in cache:
            cache[q] = retriever.search(q, today=today)
    decided = cache
    clock = [0.0]
    storage = Storage(db, KEY, retention_days=180, clock=lambda: clock[0])
    start = dt.datetime.combine(today - dt.timedelta(days=days), dt.time(8), ROME)
    counts: dict[str, int] = {}
    try:
        for n in range(questions):
            day = min(int(rng.triangular(0, days, days)), days - 1)  # traffic grows over the month
            moment = start + dt.timedelta(days=day, seconds=rng.randrange(0, 12 * 3600))
            clock[0] = moment.timestamp()
            base = rng.choices(texts, weights)[0]
            result = decided[base]
            shown = [(h.passage.id, h.score) for h in (result.answers or result.suggestions)]
            user = rng.randrange(1, 400)
            language = "en" if any(w in base.lower().split() for w in ("the", "is", "what", "for")) else "it"
            row = storage.log(user, language, _typed(base, rng), result.decision, result.confidence, shown)
            counts[result.decision] = counts.get(result.decision, 0) + 1
            # One in six rate the answer; a wrong or missing answer is disliked more often.
            if rng.random() < 1 / 6:
                dislike = 0.6 if result.decision != "answer" else 0.15
                storage.feedback(row, user, -1 if rng.random() < dislike else 1)
    finally:
        storage.close()
    return counts
