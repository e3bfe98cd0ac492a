"""The alerts' tables in the Storage database: contacts, subscriptions, saved measures, the outbox and
the measures as last seen. A mixin of `bot.storage.Storage` (which owns the connection and the lock).

The outbox is the record of every alert and reminder: one row per (user, event), UNIQUE, so an event
is queued for a user at most once whatever runs twice. A row goes pending -> sending -> sent; a row
found `sending` after a crash may or may not have reached Telegram, so it is never sent again
(`uncertain`): a lost alert is better than a repeated one.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

ALERT_SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    user TEXT PRIMARY KEY,       -- pseudonym, as in questions
    chat_id INTEGER NOT NULL,    -- where alerts, reminders and staff replies go (the private chat)
    language TEXT NOT NULL,      -- 'it' | 'en'
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
    user TEXT NOT NULL,
    topic TEXT NOT NULL,         -- an area id, or 'profile' (what matches the user's profile)
    since REAL NOT NULL,
    PRIMARY KEY (user, topic)
);
CREATE TABLE IF NOT EXISTS saved (
    user TEXT NOT NULL,
    measure_id TEXT NOT NULL,
    saved_on TEXT NOT NULL,      -- ISO date (local time zone), for "remind me when it opens"
    PRIMARY KEY (user, measure_id)
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    event TEXT NOT NULL,         -- e.g. 'open:<measure>:<open>:<close>', 'closing:<measure>:<close>'
    kind TEXT NOT NULL,          -- 'open' | 'closing' | 'opening'
    measure_id TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',  -- pending | sending | sent | blocked | failed | uncertain
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,     -- unix time: retry back-off
    created_at REAL NOT NULL,
    sent_at REAL,
    error TEXT,
    UNIQUE (user, event)
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox(state, not_before);
CREATE TABLE IF NOT EXISTS measure_seen (
    measure_id TEXT PRIMARY KEY, -- the measures of the index at the last check, with their dates
    open_date TEXT,
    close_date TEXT
);
CREATE TABLE IF NOT EXISTS measure_openings (
    event TEXT PRIMARY KEY,      -- 'open:<measure>:<open>:<close>': every opening ever seen available
    close_date TEXT,             -- after it the key can never be an event again (then it is dropped)
    first_seen REAL NOT NULL     -- unix time: when it happened (no user in this table)
);
CREATE TABLE IF NOT EXISTS alert_state (
    key TEXT PRIMARY KEY,        -- 'checked_on': the day of the last check; 'reminded_on'
    value TEXT NOT NULL
);
"""
PROFILE_TOPIC = "profile"
FINAL_STATES = ("sent", "blocked", "failed", "uncertain")


@dataclass(frozen=True)
class Subscriber:
    """A subscribed user as alert matching needs them: topics and profile (None: not set)."""

    user: str
    topics: frozenset[str]
    profile: dict[str, str | None] | None


@dataclass(frozen=True)
class Queued:
    """An alert or reminder to queue: for `user` (pseudonym), about one event of one measure."""

    user: str
    event: str
    kind: str
    measure_id: str


@dataclass(frozen=True)
class OutboxItem:
    """A claimed outbox row, with where to send it."""

    id: int
    user: str
    chat_id: int
    language: str
    kind: str
    measure_id: str
    attempts: int


class AlertStore:
    """Contacts, subscriptions, saved measures and the outbox (mixed into Storage)."""

    _db: sqlite3.Connection
    _lock: threading.Lock
    _clock: Callable[[], float]
    pseudonym: Callable[[int], str]

    # --- contacts and subscriptions -------------------------------------------------------------

    def remember_contact(self, user_id: int, chat_id: int, language: str) -> None:
        """Keep the private chat to write to (needed for alerts, reminders and staff replies)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO contacts (user, chat_id, language, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(user) DO UPDATE SET chat_id = excluded.chat_id, language = excluded.language, "
                "updated_at = excluded.updated_at",
                (self.pseudonym(user_id), chat_id, language, self._clock()),
            )

    def contact(self, user_id: int) -> tuple[int, str] | None:
        """(chat id, language) kept for this user, or None."""
        with self._lock:
            row = self._db.execute("SELECT chat_id, language FROM contacts WHERE user = ?",
                                   (self.pseudonym(user_id),)).fetchone()
        return (int(row[0]), row[1]) if row else None

    def set_subscriptions(self, user_id: int, topics: Iterable[str]) -> None:
        """Replace the user's subscriptions with `topics` (area ids and/or 'profile')."""
        user, now = self.pseudonym(user_id), self._clock()
        with self._lock, _transaction(self._db):
            self._db.execute("DELETE FROM subscriptions WHERE user = ?", (user,))
            self._db.executemany("INSERT INTO subscriptions (user, topic, since) VALUES (?, ?, ?)",
                                 [(user, topic, now) for topic in sorted(set(topics))])

    def subscriptions(self, user_id: int) -> set[str]:
        """The user's topics (empty: not subscribed)."""
        with self._lock:
            rows = self._db.execute("SELECT topic FROM subscriptions WHERE user = ?",
                                    (self.pseudonym(user_id),)).fetchall()
        return {t for (t,) in rows}

    def subscribers(self) -> list[Subscriber]:
        """Every subscriber with a contact, with their topics and profile."""
        with self._lock:
            rows = self._db.execute(
                "SELECT s.user, group_concat(s.topic, char(10)), p.region, p.size, p.sector, p.user "
                "FROM subscriptions s JOIN contacts c ON c.user = s.user "
                "LEFT JOIN profiles p ON p.user = s.user GROUP BY s.user ORDER BY s.user"
            ).fetchall()
        return [Subscriber(user, frozenset(topics.split("\n")),
                           {"region": region, "size": size, "sector": sector} if has_profile else None)
                for user, topics, region, size, sector, has_profile in rows]

    # --- saved measures -------------------------------------------------------------------------

    def save_measure(self, user_id: int, measure_id: str, today: dt.date) -> bool:
        """Save a measure for the user; False if it was already saved."""
        with self._lock:
            cursor = self._db.execute("INSERT OR IGNORE INTO saved (user, measure_id, saved_on) VALUES (?, ?, ?)",
                                      (self.pseudonym(user_id), measure_id, today.isoformat()))
            return cursor.rowcount == 1

    def unsave_measure(self, user_id: int, measure_id: str) -> bool:
        """Remove a saved measure; False if it was not saved."""
        with self._lock:
            return self._db.execute("DELETE FROM saved WHERE user = ? AND measure_id = ?",
                                    (self.pseudonym(user_id), measure_id)).rowcount == 1

    def saved_measures(self, user_id: int) -> list[str]:
        """The ids of the user's saved measures, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT measure_id FROM saved WHERE user = ? ORDER BY saved_on, rowid",
                                    (self.pseudonym(user_id),)).fetchall()
        return [m for (m,) in rows]

    def all_saved(self) -> list[tuple[str, str, dt.date]]:
        """(user, measure id, day saved) for every saved measure of a user with a contact."""
        with self._lock:
            rows = self._db.execute("SELECT s.user, s.measure_id, s.saved_on FROM saved s "
                                    "JOIN contacts c ON c.user = s.user ORDER BY s.user, s.measure_id").fetchall()
        return [(u, m, dt.date.fromisoformat(d)) for u, m, d in rows]

    # --- the measures as last seen, and queueing --------------------------------------------------

    def measures_seen(self) -> tuple[dict[str, tuple[dt.date | None, dt.date | None]], dt.date | None]:
        """The measures' dates at the last check and that check's day (None: never checked)."""
        with self._lock:
            rows = self._db.execute("SELECT measure_id, open_date, close_date FROM measure_seen").fetchall()
            day = self._db.execute("SELECT value FROM alert_state WHERE key = 'checked_on'").fetchone()
        seen = {m: (_day(o), _day(c)) for m, o, c in rows}
        return seen, dt.date.fromisoformat(day[0]) if day else None

    def state(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM alert_state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def known_openings(self, keys: Iterable[str]) -> set[str]:
        """The opening keys among `keys` that were seen available at an earlier check: not events."""
        wanted = list(keys)
        with self._lock:
            return {k for k in wanted
                    if self._db.execute("SELECT 1 FROM measure_openings WHERE event = ?", (k,)).fetchone()}

    def queue(self, items: Iterable[Queued],
              seen: dict[str, tuple[dt.date | None, dt.date | None]] | None = None,
              state: dict[str, str] | None = None,
              openings: dict[str, dt.date | None] | None = None, today: dt.date | None = None) -> int:
        """Queue alerts (each (user, event) at most once, ever) and, in the same transaction, record
        the measures as seen, the openings seen available (those closed before `today` are dropped)
        and state values: a crash leaves either all of it or none. Returns how many rows were new."""
        now = self._clock()
        with self._lock, _transaction(self._db):
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO outbox (user, event, kind, measure_id, created_at) VALUES (?, ?, ?, ?, ?)",
                [(q.user, q.event, q.kind, q.measure_id, now) for q in items])
            added = self._db.total_changes - before
            if openings is not None:
                self._db.executemany("INSERT OR IGNORE INTO measure_openings (event, close_date, first_seen) "
                                     "VALUES (?, ?, ?)", [(k, _iso(c), now) for k, c in openings.items()])
            if today is not None:
                self._db.execute("DELETE FROM measure_openings WHERE close_date < ?", (today.isoformat(),))
            if seen is not None:
                self._db.execute("DELETE FROM measure_seen")
                self._db.executemany("INSERT INTO measure_seen (measure_id, open_date, close_date) VALUES (?, ?, ?)",
                                     [(m, _iso(o), _iso(c)) for m, (o, c) in seen.items()])
            for key, value in (state or {}).items():
                self._db.execute("INSERT INTO alert_state (key, value) VALUES (?, ?) "
                                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
        return added

    # --- delivery -----------------------------------------------------------------------------------

    def recover_outbox(self) -> int:
        """At start-up: rows left `sending` by a crash may have reached Telegram; they become
        `uncertain` and are not sent again. Returns how many."""
        with self._lock:
            return self._db.execute("UPDATE outbox SET state = 'uncertain', error = 'interrupted while sending' "
                                    "WHERE state = 'sending'").rowcount

    def claim(self, limit: int) -> list[OutboxItem]:
        """Up to `limit` due pending rows, oldest first (not marked: `start` marks each just before
        its send, so a crash leaves undecided only the calls actually in flight)."""
        now = self._clock()
        with self._lock:
            rows = self._db.execute(
                "SELECT o.id, o.user, c.chat_id, c.language, o.kind, o.measure_id, o.attempts FROM outbox o "
                "JOIN contacts c ON c.user = o.user WHERE o.state = 'pending' AND o.not_before <= ? "
                "ORDER BY o.id LIMIT ?", (now, limit)).fetchall()
        return [OutboxItem(*r[:6], attempts=r[6] + 1) for r in rows]

    def start(self, item_id: int) -> bool:
        """Mark a row `sending` right before its Bot API call; False if it is no longer pending."""
        with self._lock:
            # Durable before the call even across a power cut: a row that reverted to 'pending' would
            # be sent twice. Losing a later 'sent' mark is harmless ('sending' is never repeated).
            self._db.execute("PRAGMA synchronous=FULL")
            try:
                return self._db.execute("UPDATE outbox SET state = 'sending', attempts = attempts + 1 "
                                        "WHERE id = ? AND state = 'pending'", (item_id,)).rowcount == 1
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")

    def mark_sent(self, item_id: int) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET state = 'sent', sent_at = ?, error = NULL WHERE id = ?",
                             (self._clock(), item_id))

    def mark_uncertain(self, item_id: int, error: str) -> None:
        """The call's outcome is unknown (a timeout): never send it again."""
        with self._lock:
            self._db.execute("UPDATE outbox SET state = 'uncertain', error = ? WHERE id = ?", (error[:200], item_id))

    def mark_retry(self, item_id: int, error: str, delay: float, max_attempts: int) -> bool:
        """Put a row whose send failed back in line after `delay` seconds, or give it up after
        `max_attempts` tries (False)."""
        with self._lock:
            row = self._db.execute("SELECT attempts FROM outbox WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                return False
            retry = row[0] < max_attempts
            self._db.execute("UPDATE outbox SET state = ?, not_before = ?, error = ? WHERE id = ?",
                             ("pending" if retry else "failed", self._clock() + delay, error[:200], item_id))
        return retry

    def mark_blocked(self, user: str) -> None:
        """The user blocked the bot (403): unsubscribe them and drop every alert not yet sent."""
        with self._lock, _transaction(self._db):
            self._db.execute("DELETE FROM subscriptions WHERE user = ?", (user,))
            self._db.execute("UPDATE outbox SET state = 'blocked', error = 'blocked by the user' "
                             "WHERE user = ? AND state IN ('pending', 'sending')", (user,))

    def outbox_counts(self) -> dict[str, int]:
        """How many outbox rows are in each state."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
        return {s: int(n) for s, n in rows}

    def pending_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0])

    def user_alerts(self, user_id: int) -> list[tuple[str, str, float | None]]:
        """(kind, measure id, sent at) of the alerts sent or queued to this user, newest first."""
        with self._lock:
            rows = self._db.execute("SELECT kind, measure_id, sent_at FROM outbox WHERE user = ? "
                                    "ORDER BY id DESC", (self.pseudonym(user_id),)).fetchall()
        return [(k, m, s) for k, m, s in rows]

    def _forget_alerts(self, user: str) -> None:
        """Erase the user's contact, subscriptions, saved measures and alerts (called under the lock)."""
        for table in ("contacts", "subscriptions", "saved", "outbox"):
            self._db.execute(f"DELETE FROM {table} WHERE user = ?", (user,))  # noqa: S608 - fixed names

    def _purge_alerts(self, cutoff: float) -> int:
        """Delete finished outbox rows older than the retention period (called under the lock)."""
        marks = ",".join("?" * len(FINAL_STATES))
        return self._db.execute(f"DELETE FROM outbox WHERE created_at < ? AND state IN ({marks})",  # noqa: S608
                                (cutoff, *FINAL_STATES)).rowcount


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *rest: object) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None
