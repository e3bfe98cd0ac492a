"""What the handlers share, typed: settings, the retriever, the log, and the small in-memory helpers.

`app.py` creates one Services and keeps it in `bot_data`; handlers reach it through `services()`.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from bot.search.batching import QueryBatcher
from bot.search.retriever import Retriever, SearchResult
from bot.storage import Storage
from bot.telegram.buttons import CallbackData

KEY = "services"  # the one key in bot_data
RESULTS_KEPT = 1000


class QuestionLimit:
    """At most `per_minute` questions per user in any sliding minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self._clock = clock
        self._times: dict[int, deque[float]] = {}

    def allow(self, user_id: int) -> bool:
        now = self._clock()
        times = self._times.setdefault(user_id, deque())
        while times and now - times[0] >= 60.0:
            times.popleft()
        if len(times) >= self.per_minute:
            return False
        times.append(now)
        if len(self._times) > 10_000:  # forget users who have been quiet for a minute
            self._times = {u: t for u, t in self._times.items() if t and now - t[-1] < 60.0}
        return True


class ResultsCache:
    """The last results shown, by logged question id, for "Altre risposte" and "Continua" (LRU)."""

    def __init__(self, size: int = RESULTS_KEPT):
        self.size = size
        self._results: OrderedDict[int, SearchResult] = OrderedDict()

    def get(self, qid: int) -> SearchResult | None:
        result = self._results.get(qid)
        if result is not None:
            self._results.move_to_end(qid)
        return result

    def put(self, qid: int, result: SearchResult) -> None:
        self._results[qid] = result
        self._results.move_to_end(qid)
        while len(self._results) > self.size:
            self._results.popitem(last=False)


@dataclass
class Services:
    """Everything the handlers use. `retriever` is replaced as a whole by /reload; a question in
    flight keeps the reference it took."""

    settings: Settings
    storage: Storage
    executor: Executor          # one worker thread: searches are CPU-bound and the model is not shared
    retriever: Retriever | None = None
    results: ResultsCache = field(default_factory=ResultsCache)
    callbacks: CallbackData = field(default_factory=CallbackData)
    limit: QuestionLimit = field(default_factory=lambda: QuestionLimit(10))
    # Embeds questions that arrive together in one model call (set up in post_init).
    batcher: QueryBatcher | None = None
    # Held by /reload from loading the new index to the switch, so reloads never interleave.
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def search(self) -> Retriever:
        """The retriever in use (loaded in post_init, before any update is handled)."""
        assert self.retriever is not None, "the retriever is loaded before updates are handled"
        return self.retriever


def services(bot_data: dict[str, Any]) -> Services:
    """The Services kept in an Application's bot_data."""
    return bot_data[KEY]
