"""The SQLite log: pseudonyms, feedback, forgetting, retention, statistics."""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import hashlib
import hmac
import sqlite3

import pytest

from bot.errors import ConfigError
from bot.storage import Storage
from conftest import make_settings

KEY = b"secret-key"


def _result(decision: str = "answer") -> tuple[str, float, list[tuple[str, float]]]:
    """(decision, confidence, shown) as the bot logs them."""
    return decision, 0.8 if decision == "answer" else 0.1, [("faq:x", 0.8)] if decision == "answer" else []


def all_questions(path) -> list[str]:
    """Every logged question, read straight from the database file."""
    return [q for (q,) in sqlite3.connect(path).execute("SELECT question FROM questions ORDER BY id")]


def test_user_ids_are_stored_only_as_keyed_hashes(tmp_path):
    db = Storage(tmp_path / "s.db", KEY, 180)
    db.log(123456789, "it", "aiuti export", *_result())
    raw = sqlite3.connect(tmp_path / "s.db").execute("SELECT * FROM questions").fetchall()
    assert "123456789" not in repr(raw)
    assert raw[0][1] == hmac.new(KEY, b"123456789", hashlib.sha256).hexdigest()
    assert Storage(tmp_path / "t.db", b"other", 180).pseudonym(123456789) != raw[0][1]


def test_feedback_only_on_own_question_and_forget_erases_only_that_user(tmp_path):
    db = Storage(tmp_path / "s.db", KEY, 180)
    mine = db.log(1, "it", "a", *_result())
    db.log(1, "it", "b", *_result("decline"))
    theirs = db.log(2, "en", "c", *_result())
    assert db.feedback(mine, 1, 1) and not db.feedback(theirs, 1, -1)
    assert db.get(mine).feedback == 1 and db.get(theirs).feedback is None
    assert db.forget(1) == 2
    assert all_questions(tmp_path / "s.db") == ["c"]
    assert db.user_questions(1) == []


def test_retention_deletes_old_questions(tmp_path):
    now = [1_000_000_000.0]
    db = Storage(tmp_path / "s.db", KEY, 30, clock=lambda: now[0])
    db.log(1, "it", "old", *_result())
    now[0] += 31 * 86400
    db.log(1, "it", "new", *_result())  # a write more than an hour later also purges
    assert all_questions(tmp_path / "s.db") == ["new"]


def test_stats_and_unanswered(tmp_path):
    db = Storage(tmp_path / "s.db", KEY, 180)
    q = db.log(1, "it", "a", *_result())
    db.feedback(q, 1, -1)
    db.log(2, "it", "Capitale Australia", *_result("decline"))
    db.log(3, "it", "capitale australia ", *_result("decline"))
    s = db.stats()
    assert (s.total, s.answered, s.declined, s.down, s.users) == (3, 1, 2, 1, 3)
    assert db.unanswered() == [("capitale australia", 2)]


def test_no_key_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="SPORTELLO_PRIVACY__PSEUDONYM_KEY"):
        Storage.from_settings(make_settings(tmp_path))


def test_report_command_lists_unanswered(tmp_path, capsys):
    from bot.cli import main

    env = {"SPORTELLO_PATHS__DATABASE": str(tmp_path / "s.db"), "SPORTELLO_PRIVACY__PSEUDONYM_KEY": "k"}
    db = Storage(tmp_path / "s.db", b"k", 180)
    db.log(1, "it", "dove sono i bandi", *_result("decline"))
    db.close()
    assert main(["report"], env) == 0
    out = capsys.readouterr().out
    assert "1 questions, 0 answered" in out and "    1  dove sono i bandi" in out


def _everything_about(path, user: str) -> dict[str, int]:
    """Rows about one pseudonym in every table that holds one."""
    db = sqlite3.connect(path)
    tables = ("questions", "profiles", "contacts", "subscriptions", "saved", "outbox", "cases")
    return {t: db.execute(f"SELECT COUNT(*) FROM {t} WHERE user = ?", (user,)).fetchone()[0] for t in tables}


def _fill(db: Storage, user_id: int) -> None:
    import datetime as dt

    from bot.alert_store import Queued

    db.log(user_id, "it", "domanda", *_result())
    db.set_profile(user_id, "region", "Toscana")
    db.remember_contact(user_id, user_id, "it")
    db.set_subscriptions(user_id, ["innovazione"])
    db.save_measure(user_id, "m1", dt.date(2026, 11, 25))
    db.queue([Queued(db.pseudonym(user_id), "open:m1::", "open", "m1")])
    case = db.open_case(user_id, "domanda", named=False)
    db.link_message(-100, 7 + user_id, case)


def test_forget_erases_alerts_saved_measures_and_cases_of_that_user_only(tmp_path):
    db = Storage(tmp_path / "s.db", KEY, 180)
    _fill(db, 1)
    _fill(db, 2)
    assert set(_everything_about(tmp_path / "s.db", db.pseudonym(1)).values()) == {1}
    db.forget(1)
    assert set(_everything_about(tmp_path / "s.db", db.pseudonym(1)).values()) == {0}
    assert set(_everything_about(tmp_path / "s.db", db.pseudonym(2)).values()) == {1}
    assert db.case_for_message(-100, 8) is None and db.case_for_message(-100, 9) is not None


def test_retention_covers_finished_alerts_and_cases(tmp_path):
    now = [1_000_000_000.0]
    db = Storage(tmp_path / "s.db", KEY, 30, clock=lambda: now[0])
    _fill(db, 1)
    [item] = db.claim(10)
    db.start(item.id)
    db.mark_sent(item.id)
    now[0] += 31 * 86400
    db.purge()
    left = _everything_about(tmp_path / "s.db", db.pseudonym(1))
    assert (left["questions"], left["outbox"], left["cases"]) == (0, 0, 0)
    assert left["subscriptions"] == 1 and left["saved"] == 1  # kept until changed or /forget
