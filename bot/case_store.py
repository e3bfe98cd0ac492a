"""Handed-over questions ("cases") in the Storage database: a mixin of `bot.storage.Storage`.

A case keeps the user's pseudonym, the question, whether the user agreed to show their Telegram
name to staff, its times (asked, first staff reply, closed) and outcome. `case_messages` maps the
bot's messages that belong to a case (in the staff group and in the user's chat) to it, so a reply
to one of them goes to the right case; nothing else (no case number typed anywhere) reaches a case.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass

CASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY,      -- the case number staff see
    user TEXT NOT NULL,          -- pseudonym
    question TEXT NOT NULL,
    named INTEGER NOT NULL,      -- 1: the user agreed to show staff their Telegram name
    state TEXT NOT NULL DEFAULT 'open',   -- open | closed
    asked_at REAL NOT NULL,
    first_reply_at REAL,
    closed_at REAL,
    outcome TEXT                 -- 'closed by staff'
);
CREATE INDEX IF NOT EXISTS cases_user ON cases(user);
CREATE TABLE IF NOT EXISTS case_messages (
    chat_id INTEGER NOT NULL,    -- the staff group, or the user's chat
    message_id INTEGER NOT NULL, -- a message the bot sent there for the case
    case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    PRIMARY KEY (chat_id, message_id)
);
"""


@dataclass(frozen=True)
class Case:
    """One handed-over question, with where its user is (None once the user asked to be forgotten)."""

    id: int
    user: str
    question: str
    named: bool
    state: str
    asked_at: float
    first_reply_at: float | None
    closed_at: float | None
    chat_id: int | None
    language: str

    @property
    def open(self) -> bool:
        return self.state == "open"


_SELECT = ("SELECT k.id, k.user, k.question, k.named, k.state, k.asked_at, k.first_reply_at, k.closed_at, "
           "c.chat_id, COALESCE(c.language, 'it') FROM cases k LEFT JOIN contacts c ON c.user = k.user ")


class CaseStore:
    """Cases and their messages (mixed into Storage)."""

    _db: sqlite3.Connection
    _lock: threading.Lock
    _clock: Callable[[], float]
    pseudonym: Callable[[int], str]

    def open_case(self, user_id: int, question: str, named: bool) -> int:
        """Record a question handed to staff; return its case number."""
        with self._lock:
            cursor = self._db.execute("INSERT INTO cases (user, question, named, asked_at) VALUES (?, ?, ?, ?)",
                                      (self.pseudonym(user_id), question, int(named), self._clock()))
            return int(cursor.lastrowid)

    def link_message(self, chat_id: int, message_id: int, case_id: int) -> None:
        """Remember that a bot message in `chat_id` belongs to a case (replies to it go there)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO case_messages (chat_id, message_id, case_id) VALUES (?, ?, ?)",
                             (chat_id, message_id, case_id))

    def case(self, case_id: int) -> Case | None:
        with self._lock:
            row = self._db.execute(_SELECT + "WHERE k.id = ?", (case_id,)).fetchone()
        return _case(row) if row else None

    def case_for_message(self, chat_id: int, message_id: int) -> Case | None:
        """The case a bot message in this chat belongs to, or None."""
        with self._lock:
            row = self._db.execute(_SELECT + "JOIN case_messages m ON m.case_id = k.id "
                                   "WHERE m.chat_id = ? AND m.message_id = ?", (chat_id, message_id)).fetchone()
        return _case(row) if row else None

    def staff_replied(self, case_id: int) -> None:
        """Record the time of the first staff reply."""
        with self._lock:
            self._db.execute("UPDATE cases SET first_reply_at = COALESCE(first_reply_at, ?) WHERE id = ?",
                             (self._clock(), case_id))

    def close_case(self, case_id: int, outcome: str = "closed by staff") -> bool:
        """Close an open case; False if it was not open."""
        with self._lock:
            return self._db.execute("UPDATE cases SET state = 'closed', closed_at = ?, outcome = ? "
                                    "WHERE id = ? AND state = 'open'", (self._clock(), outcome, case_id)).rowcount == 1

    def user_cases(self, user_id: int) -> list[Case]:
        """This user's cases, newest first."""
        with self._lock:
            rows = self._db.execute(_SELECT + "WHERE k.user = ? ORDER BY k.id DESC",
                                    (self.pseudonym(user_id),)).fetchall()
        return [_case(r) for r in rows]

    def _forget_cases(self, user: str) -> None:
        """Erase the user's cases and their message links (called under the lock)."""
        self._db.execute("DELETE FROM case_messages WHERE case_id IN (SELECT id FROM cases WHERE user = ?)", (user,))
        self._db.execute("DELETE FROM cases WHERE user = ?", (user,))

    def _purge_cases(self, cutoff: float) -> int:
        """Delete cases asked before the cutoff (called under the lock)."""
        self._db.execute("DELETE FROM case_messages WHERE case_id IN (SELECT id FROM cases WHERE asked_at < ?)",
                         (cutoff,))
        return self._db.execute("DELETE FROM cases WHERE asked_at < ?", (cutoff,)).rowcount


def _case(row: tuple) -> Case:
    id_, user, question, named, state, asked, first, closed, chat_id, language = row
    return Case(id_, user, question, bool(named), state, asked, first, closed,
                int(chat_id) if chat_id is not None else None, language)
