"""Micro-batching for the bot: questions arriving together are embedded in one model call.

A model call costs much the same for one question as for a handful (the fixed cost of a forward pass
dominates short texts), so when many users ask at once, gathering the questions that arrive within a
short window (`embedding.batch_window_ms`, at most `embedding.batch_max` of them) into one call gives
more answers per second. The model runs in a thread of its own, never on the event loop; questions
that arrive while it runs form the next batch at once (they have already waited).

No Telegram here: the bot's handlers await `QueryBatcher.encode(question)` and pass the vector on
to the search, which they also run off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

logger = logging.getLogger(__name__)

Encode = Callable[[list[str]], np.ndarray]


class QueryBatcher:
    """Embeds questions in batches gathered over a short window, off the event loop."""

    def __init__(self, encode: Encode, window_seconds: float = 0.010, max_batch: int = 16,
                 executor: ThreadPoolExecutor | None = None):
        """`encode` turns a list of questions into one normalised vector per question (e.g.
        `Embedder.encode_queries`); it runs in `executor` (default: one thread of its own)."""
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.encode_batch = encode
        self.window = max(0.0, window_seconds)
        self.max_batch = max_batch
        self._own_executor = executor is None
        self.executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._pending: list[tuple[str, asyncio.Future[np.ndarray]]] = []
        self._full = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self.batch_sizes: list[int] = []  # one entry per model call, for logs and benchmarks

    async def encode(self, question: str) -> np.ndarray:
        """The question's vector (shape d), computed in a batch with the questions around it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._pending.append((question, future))
        if len(self._pending) >= self.max_batch:
            self._full.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())
        return await future

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        backlog = False  # questions that waited through the previous model call go without a window
        while self._pending:
            if not backlog and len(self._pending) < self.max_batch and self.window > 0:
                try:
                    await asyncio.wait_for(self._full.wait(), self.window)
                except asyncio.TimeoutError:
                    pass
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            self._full.clear()
            if len(self._pending) >= self.max_batch:
                self._full.set()
            live = [(q, f) for q, f in batch if not f.done()]  # a caller may have given up (cancelled)
            if live:
                self.batch_sizes.append(len(live))
                try:
                    vectors = await loop.run_in_executor(self.executor, self.encode_batch, [q for q, _ in live])
                except Exception as exc:  # every caller of this batch hears of it; later batches still run
                    logger.exception("embedding a batch of %d questions failed", len(live))
                    for _, future in live:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for (_, future), vector in zip(live, vectors):
                        if not future.done():
                            future.set_result(np.asarray(vector, dtype=np.float32))
            backlog = bool(self._pending)

    def close(self) -> None:
        """Stop the model thread (if this batcher made it); pending callers should be awaited first."""
        if self._own_executor:
            self.executor.shutdown(wait=False, cancel_futures=True)
