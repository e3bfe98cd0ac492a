"""The question and feedback log and the users' profiles, in SQLite, with pseudonymised user ids.

What is stored, per question: a keyed hash of the Telegram user id (HMAC-SHA256; without the key it
cannot be linked back to the account), the time, the language, the question text, how it was asked,
the decision, the confidence, the ids and scores of the answers given, and the user's 👍/👎.
No names, usernames, chat ids or message ids. Rows older than the retention period are deleted.
A profile (region, firm size, sector: each optional, chosen by the user) is kept under the same
pseudonym until the user changes or erases it (/forget). Alerts, saved measures and handed-over
questions have their own tables (`bot/alert_store.py`, `bot/case_store.py`); only for those is the
private chat id kept, because the bot must know where to write. Updates from Telegram wait in the
inbox (`bot/inbox_store.py`) only until they are handled; then only their ids are kept, for two days.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.alert_store import ALERT_SCHEMA, AlertStore
from bot.case_store import CASE_SCHEMA, CaseStore
from bot.errors import ConfigError, SportelloError
from bot.inbox_store import INBOX_SCHEMA, InboxStore

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,          -- HMAC-SHA256 of the Telegram user id, hex
    asked_at REAL NOT NULL,      -- unix time
    language TEXT NOT NULL,      -- 'it' | 'en'
    question TEXT NOT NULL,
    via TEXT NOT NULL,           -- 'text' (typed) | 'button' (a known question tapped)
    asked_id TEXT,               -- the FAQ id when asked with a button
    decision TEXT NOT NULL,      -- 'answer' | 'suggest' | 'decline'
    confidence REAL NOT NULL,
    answers TEXT NOT NULL,       -- JSON [[passage id, score], ...] as shown, best first
    feedback INTEGER             -- 1 (👍), -1 (👎) or NULL
);
CREATE INDEX IF NOT EXISTS questions_user ON questions(user);
CREATE INDEX IF NOT EXISTS questions_asked_at ON questions(asked_at);
CREATE TABLE IF NOT EXISTS profiles (
    user TEXT PRIMARY KEY,       -- HMAC-SHA256 of the Telegram user id, hex
    region TEXT,                 -- a region name as the catalogue writes it, or NULL (not said)
    size TEXT,                   -- a firm size id (micro, piccola, media, grande), or NULL
    sector TEXT,                 -- a sector as the catalogue writes it, or NULL
    updated_at REAL NOT NULL
);
"""
PROFILE_FIELDS = ("region", "size", "sector")
PURGE_EVERY = 3600.0  # seconds between retention clean-ups while the bot runs
INBOX_KEEP = 48 * 3600.0  # seconds handled update ids are kept (Telegram re-delivers for up to 24 hours)
UNLOGGED_IDS = 10**12  # ids given to questions the database could not record (disk full, locked)

KEY_HELP = (
    "no pseudonym key: the bot stores user ids only as keyed hashes and needs a secret key for them. "
    "Set SPORTELLO_PRIVACY__PSEUDONYM_KEY (or privacy.pseudonym_key in sportello.yaml) to a long random "
    "value, e.g. the output of: python3 -c 'import secrets; print(secrets.token_hex(32))' — and keep it: "
    "a new key makes /forget and /privacy blind to older questions."
)


@dataclass(frozen=True)
class Logged:
    """One logged question, as read back."""

    id: int
    user: str
    asked_at: float
    language: str
    question: str
    via: str
    asked_id: str | None
    decision: str
    confidence: float
    answers: list[tuple[str, float]]
    feedback: int | None


@dataclass(frozen=True)
class Stats:
    """Counts for the admins' /stats."""

    total: int
    answered: int
    suggested: int
    declined: int
    up: int
    down: int
    users: int

    @property
    def answered_rate(self) -> float:
        return self.answered / self.total if self.total else 0.0


class StorageError(SportelloError):
    """The database cannot be opened (a folder in its place, no permission, not a database)."""


class Storage(AlertStore, CaseStore, InboxStore):
    """The SQLite log. Thread-safe: handlers call it from worker threads, one statement at a time."""

    def __init__(self, path: Path, key: bytes, retention_days: int, clock: Callable[[], float] = time.time,
                 inbox_keep: float = INBOX_KEEP, busy_timeout: float = 5.0):
        if not key:
            raise ConfigError(KEY_HELP)
        self.path = Path(path)
        self._key = key
        self.retention_days = retention_days
        self.inbox_keep = inbox_keep
        self._clock = clock
        self._lock = threading.Lock()
        self._unlogged = UNLOGGED_IDS
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # busy_timeout: a writer in another process (a CLI command, a second bot) holding the
            # lock makes us wait this long before "database is locked".
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                       timeout=busy_timeout)
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL survives a crash of the process (a killed bot) without an
            # fsync per write; the writes that must also survive a power cut (an alert marked
            # 'sending' before its call, an update received, a reply about to leave) ask for FULL
            # themselves (AlertStore.start, InboxStore.receive and mark_sending).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA + ALERT_SCHEMA + CASE_SCHEMA + INBOX_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"{self.path}: cannot open the database: {exc}") from None
        self._last_purge = 0.0
        try:
            self.purge()
        except sqlite3.OperationalError as exc:  # e.g. a full disk: the bot still starts and answers
            logger.error("database %s: retention clean-up failed: %s", self.path.name, exc)

    @classmethod
    def from_settings(cls, settings) -> Storage:  # noqa: ANN001 - bot.config.Settings
        """Open the log where the settings say, refusing to run without a pseudonym key."""
        key = settings.privacy.pseudonym_key
        if key is None or not key.get_secret_value().strip():
            raise ConfigError(KEY_HELP)
        return cls(settings.paths.database, key.get_secret_value().encode(), settings.privacy.retention_days,
                   inbox_keep=settings.telegram.handled_keep_hours * 3600)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def pseudonym(self, user_id: int) -> str:
        """The keyed hash that stands for a Telegram user id."""
        return hmac.new(self._key, str(user_id).encode(), hashlib.sha256).hexdigest()

    # --- writing ----------------------------------------------------------------------------------

    def log(self, user_id: int, language: str, question: str, decision: str, confidence: float,
            shown: list[tuple[str, float]], via: str = "text", asked_id: str | None = None) -> int:
        """Record a question, the decision and the (passage id, score) pairs shown; return its id
        (used by the feedback buttons)."""
        answers = json.dumps([[pid, round(score, 4)] for pid, score in shown])
        now = self._clock()
        with self._lock:
            try:
                cursor = self._db.execute(
                    "INSERT INTO questions (user, asked_at, language, question, via, asked_id, decision, "
                    "confidence, answers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.pseudonym(user_id), now, language, question, via, asked_id, decision,
                     round(confidence, 4), answers),
                )
                row_id = int(cursor.lastrowid)
            except sqlite3.OperationalError as exc:
                # A full disk, a database locked too long or an I/O error must not cost the user
                # their answer: it is sent unrecorded (its buttons work while the bot runs).
                self._unlogged += 1
                logger.error("database %s: question not recorded (%s); answering anyway", self.path.name, exc)
                return self._unlogged
        if now - self._last_purge > PURGE_EVERY:
            try:
                self.purge()
            except sqlite3.OperationalError as exc:
                self._last_purge = now
                logger.error("database %s: retention clean-up failed: %s", self.path.name, exc)
        return row_id

    def feedback(self, question_id: int, user_id: int, value: int) -> bool:
        """Record 👍 (1) or 👎 (-1) on the user's own question; False if it is not theirs or gone."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE questions SET feedback = ? WHERE id = ? AND user = ?",
                (1 if value > 0 else -1, question_id, self.pseudonym(user_id)),
            )
            return cursor.rowcount == 1

    def forget(self, user_id: int) -> int:
        """Erase every record of this user (questions, profile, contact, subscriptions, saved measures,
        alerts, cases); return how many questions were deleted."""
        user = self.pseudonym(user_id)
        with self._lock:
            # One transaction: a crash or a full disk halfway erases all of it or nothing, never a part.
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM profiles WHERE user = ?", (user,))
                self._forget_alerts(user)
                self._forget_cases(user)
                self._forget_inbox(user)
                deleted = self._db.execute("DELETE FROM questions WHERE user = ?", (user,)).rowcount
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return deleted

    def set_profile(self, user_id: int, field: str, value: str | None) -> None:
        """Set one profile field (None: not said); the other fields stay as they were."""
        if field not in PROFILE_FIELDS:
            raise ValueError(f"unknown profile field {field!r}")
        with self._lock:
            self._db.execute(
                f"INSERT INTO profiles (user, {field}, updated_at) VALUES (?, ?, ?) "  # noqa: S608 - field is checked
                f"ON CONFLICT(user) DO UPDATE SET {field} = excluded.{field}, updated_at = excluded.updated_at",
                (self.pseudonym(user_id), value, self._clock()),
            )

    def profile(self, user_id: int) -> dict[str, str | None] | None:
        """The user's profile ({region, size, sector}), or None if they never set one."""
        with self._lock:
            row = self._db.execute(
                "SELECT region, size, sector FROM profiles WHERE user = ?", (self.pseudonym(user_id),)
            ).fetchone()
        return dict(zip(PROFILE_FIELDS, row)) if row else None

    def purge(self) -> int:
        """Delete questions older than the retention period."""
        now = self._clock()
        cutoff = now - self.retention_days * 86400
        with self._lock:
            deleted = self._db.execute("DELETE FROM questions WHERE asked_at < ?", (cutoff,)).rowcount
            self._purge_alerts(cutoff)
            self._purge_cases(cutoff)
            self._purge_inbox(now - self.inbox_keep)
        self._last_purge = now
        if deleted:
            logger.info("retention: deleted %d questions older than %d days", deleted, self.retention_days)
        return deleted

    # --- reading ----------------------------------------------------------------------------------

    def get(self, question_id: int) -> Logged | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM questions WHERE id = ?", (question_id,)).fetchone()
        return _logged(row) if row else None

    def user_questions(self, user_id: int) -> list[Logged]:
        """This user's questions, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM questions WHERE user = ? ORDER BY asked_at DESC, id DESC", (self.pseudonym(user_id),)
            ).fetchall()
        return [_logged(r) for r in rows]

    def stats(self) -> Stats:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*), "
                "COALESCE(SUM(decision = 'answer'), 0), COALESCE(SUM(decision = 'suggest'), 0), "
                "COALESCE(SUM(decision = 'decline'), 0), COALESCE(SUM(feedback = 1), 0), "
                "COALESCE(SUM(feedback = -1), 0), COUNT(DISTINCT user) FROM questions"
            ).fetchone()
        return Stats(*(int(v) for v in row))

    def unanswered(self, limit: int = 20) -> list[tuple[str, int]]:
        """Typed questions without a reliable answer, most frequent first (case and spaces ignored)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT lower(trim(question)) AS q, COUNT(*) AS n FROM questions "
                "WHERE decision != 'answer' AND via = 'text' GROUP BY q ORDER BY n DESC, q LIMIT ?",
                (limit,),
            ).fetchall()
        return [(q, int(n)) for q, n in rows]

    def questions_since(self, since: float | None = None) -> list[Logged]:
        """Every logged question asked at or after `since` (unix time; None: all), oldest first (`sportello report`)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, user, asked_at, language, question, via, asked_id, decision, confidence, answers, "
                "feedback FROM questions WHERE asked_at >= ? ORDER BY asked_at, id",
                (since if since is not None else float("-inf"),),
            ).fetchall()
        return [_logged(r) for r in rows]

    def handovers_since(self, since: float | None = None) -> list[tuple[float, float | None]] | None:
        """(asked_at, first staff reply or None) of each question handed to staff since `since`; None
        when this database has no handovers table (`sportello report`)."""
        with self._lock:
            try:
                rows = self._db.execute("SELECT asked_at, first_reply_at FROM cases WHERE asked_at >= ? "
                                        "ORDER BY asked_at", (since if since is not None else float("-inf"),)).fetchall()
            except sqlite3.OperationalError:
                return None
        return [(float(a), float(r) if r is not None else None) for a, r in rows]


def _logged(row: tuple) -> Logged:
    (id_, user, asked_at, language, question, via, asked_id, decision, confidence, answers, feedback) = row
    return Logged(id_, user, asked_at, language, question, via, asked_id, decision, confidence,
                  [(a, s) for a, s in json.loads(answers)], feedback)
