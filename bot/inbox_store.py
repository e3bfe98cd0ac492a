"""The inbox: every update received from Telegram, kept durably before its offset is confirmed, and
the ids of the updates already handled. A mixin of `bot.storage.Storage` (which owns the connection
and the lock).

A row goes pending -> sending -> done. `pending`: received (its JSON is kept, so a restart can answer
it); `sending`: the first visible Bot API call for it (a reply) is about to leave; `done`: handled.
The JSON is erased as soon as a row is handled, so a handled row keeps only its update id and
times (no personal data). After a crash, `pending` rows are answered again; a `sending` row may or
may not have reached Telegram and is never answered again (a repeated answer is worse than a lost
one: the same choice as the alerts' outbox); at start it becomes `uncertain`, its JSON is erased,
the count is logged, and its sender is told the bot restarted while answering and asked to repeat
the question if no answer arrived (so a lost reply is never silent). Handled ids are kept for
`keep` seconds (Telegram keeps undelivered updates for 24 hours), so a re-delivered or duplicate
update is recognised and dropped.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass

INBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    update_id INTEGER PRIMARY KEY,  -- Telegram's update id
    state TEXT NOT NULL,            -- pending | sending | done | uncertain
    received_at REAL NOT NULL,      -- unix time
    sending_at REAL,                -- when the first reply call left (the window; see above)
    handled_at REAL,
    user TEXT,                      -- pseudonym of the sender while pending (for /forget), else NULL
    raw TEXT                        -- the update's JSON while pending, else NULL
);
CREATE INDEX IF NOT EXISTS inbox_state ON inbox(state, received_at);
"""
SETTLED = ("sending", "done", "uncertain")


@dataclass(frozen=True)
class Pending:
    """An update received but not handled: its id, when it arrived, and its JSON."""

    update_id: int
    received_at: float
    raw: dict


class InboxStore:
    """The inbox table (see the module docstring)."""

    _db: sqlite3.Connection
    _lock: threading.Lock
    _clock: Callable[[], float]
    pseudonym: Callable[[int], str]  # provided by Storage

    def receive(self, update_id: int, raw: dict, user_id: int | None) -> bool:
        """Keep an update durably (fsync'd even against a power cut) before Telegram is told it
        arrived; False if it was already here (a duplicate or a re-delivery)."""
        user = self.pseudonym(user_id) if user_id is not None else None
        with self._lock:
            self._db.execute("PRAGMA synchronous=FULL")
            try:
                return self._db.execute(
                    "INSERT OR IGNORE INTO inbox (update_id, state, received_at, user, raw) "
                    "VALUES (?, 'pending', ?, ?, ?)",
                    (update_id, self._clock(), user, json.dumps(raw, ensure_ascii=False))).rowcount == 1
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")

    def settled(self, update_id: int) -> bool:
        """True if this update was handled (or its reply may have left): it must not be answered again."""
        with self._lock:
            row = self._db.execute("SELECT state FROM inbox WHERE update_id = ?", (update_id,)).fetchone()
        return row is not None and row[0] in SETTLED

    def mark_sending(self, update_id: int) -> bool:
        """Mark an update `sending` right before its first reply call (fsync'd); False if it already was."""
        with self._lock:
            self._db.execute("PRAGMA synchronous=FULL")
            try:
                return self._db.execute(
                    "UPDATE inbox SET state = 'sending', sending_at = ? "
                    "WHERE update_id = ? AND state = 'pending'", (self._clock(), update_id)).rowcount == 1
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")

    def mark_done(self, update_id: int) -> None:
        """The update was handled: keep only its id and times."""
        with self._lock:
            self._db.execute("UPDATE inbox SET state = 'done', handled_at = ?, raw = NULL, user = NULL "
                             "WHERE update_id = ?", (self._clock(), update_id))

    def pending_updates(self) -> list[Pending]:
        """Updates received and not handled (by an earlier run that died), oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT update_id, received_at, raw FROM inbox "
                                    "WHERE state = 'pending' AND raw IS NOT NULL ORDER BY update_id").fetchall()
        return [Pending(int(u), float(r), json.loads(raw)) for u, r, raw in rows]

    def settle_interrupted(self) -> list[Pending]:
        """At start: updates an earlier run was replying to when it died become `uncertain` (their
        text erased, in the same transaction); return them as they were, to tell their senders."""
        with self._lock, self._db:
            rows = self._db.execute("SELECT update_id, received_at, raw FROM inbox WHERE state = 'sending' "
                                    "ORDER BY update_id").fetchall()
            self._db.execute("UPDATE inbox SET state = 'uncertain', raw = NULL, user = NULL WHERE state = 'sending'")
        return [Pending(int(u), float(r), json.loads(raw) if raw else {}) for u, r, raw in rows]

    def inbox_counts(self) -> dict[str, int]:
        """How many inbox rows are in each state."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM inbox GROUP BY state").fetchall()
        return {s: int(n) for s, n in rows}

    def prune_inbox(self, keep: float) -> int:
        """Forget handled ids older than `keep` seconds; return how many."""
        with self._lock:
            return self._purge_inbox(self._clock() - keep)

    def _purge_inbox(self, cutoff: float) -> int:
        """Delete settled rows received before `cutoff` (called under the lock)."""
        return self._db.execute("DELETE FROM inbox WHERE received_at < ? AND state IN ('sending', 'done', "
                                "'uncertain')", (cutoff,)).rowcount

    def _forget_inbox(self, user: str) -> None:
        """Erase the text of the user's updates still waiting (called under the lock): one already
        queued is still answered in this run, but not replayed after a crash."""
        self._db.execute("UPDATE inbox SET raw = NULL, user = NULL WHERE user = ?", (user,))
