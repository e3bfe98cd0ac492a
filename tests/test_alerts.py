"""Alert logic without Telegram: measure events, who wants them, reminders, quiet and office hours,
and the outbox's exactly-once rules in the database."""

from __future__ import annotations

import datetime as dt
import sqlite3
from zoneinfo import ZoneInfo

import pytest

from bot.alert_store import Queued, Subscriber
from bot.alerts import (
    OfficeHours,
    QuietHours,
    alerts_for,
    measure_events,
    open_key,
    reminders,
    wants,
)
from bot.measures.schema import Measure
from bot.storage import Storage

ROME = ZoneInfo("Europe/Rome")
TODAY = dt.date(2026, 11, 25)
KEY = b"k"


def measure(measure_id: str = "m1", opens: str | None = "2026-11-01", closes: str | None = "2027-01-31",
            regions: tuple[str, ...] = ("Toscana",), areas: tuple[str, ...] = ("innovazione",),
            sizes: tuple[str, ...] = ()) -> Measure:
    return Measure.model_validate({
        "id": measure_id, "title": f"Misura {measure_id}", "summary": "Contributi.", "open_date": opens,
        "close_date": closes, "regions": list(regions), "areas": list(areas), "sizes": list(sizes),
        "provenance": {"source": "test"}})


def dates(m: Measure) -> tuple[dt.date | None, dt.date | None]:
    return m.open_date, m.close_date


# --- measure events -------------------------------------------------------------------------------

def test_the_first_check_is_a_baseline():
    assert measure_events({}, None, {"m1": measure()}, TODAY) == []


def test_a_new_open_measure_is_an_event_and_an_old_one_is_not():
    old, new = measure("m1"), measure("m2")
    events = measure_events({"m1": dates(old)}, TODAY, {"m1": old, "m2": new}, TODAY)
    assert [e.key for e in events] == [open_key("m2", new.open_date, new.close_date)]


def test_new_but_closed_or_upcoming_or_undated_measures_are_not_events():
    current = {"c": measure("c", "2024-01-01", "2024-12-31"), "u": measure("u", "2027-03-01", None),
               "x": measure("x", None, None)}
    assert measure_events({}, TODAY - dt.timedelta(days=1), current, TODAY) == []


def test_a_reopened_measure_and_an_opening_day_are_events():
    closed = measure("r", "2024-01-01", "2024-12-31")
    reopened = measure("r", "2026-11-20", "2027-02-28")
    events = measure_events({"r": dates(closed)}, TODAY, {"r": reopened}, TODAY)
    assert [e.key for e in events] == ["open:r:2026-11-20:2027-02-28"]
    upcoming = measure("u", "2026-11-25", "2027-01-31")  # seen yesterday, opens today
    assert len(measure_events({"u": dates(upcoming)}, TODAY - dt.timedelta(days=1), {"u": upcoming}, TODAY)) == 1
    # An extension of a measure that was already open is no event.
    extended = measure("m1", "2026-11-01", "2027-06-30")
    assert measure_events({"m1": dates(measure())}, TODAY, {"m1": extended}, TODAY) == []


# --- who wants what -------------------------------------------------------------------------------

def test_wants_areas_and_profile():
    tuscan = measure(regions=("Toscana",), areas=("innovazione",), sizes=("micro",))
    area_fan = Subscriber("a", frozenset({"innovazione"}), None)
    other_area = Subscriber("b", frozenset({"internazionalizzazione"}), None)
    profile_tuscan = Subscriber("c", frozenset({"profile"}), {"region": "Toscana", "size": None, "sector": None})
    profile_puglia = Subscriber("d", frozenset({"profile"}), {"region": "Puglia", "size": None, "sector": None})
    big_firm = Subscriber("e", frozenset({"innovazione"}), {"region": None, "size": "grande", "sector": None})
    assert [wants(s, tuscan) for s in (area_fan, other_area, profile_tuscan, profile_puglia, big_firm)] == \
        [True, False, True, False, False]
    events = measure_events({}, TODAY, {"m1": tuscan}, TODAY)
    assert [q.user for q in alerts_for([area_fan, other_area, profile_tuscan], events)] == ["a", "c"]


# --- reminders ------------------------------------------------------------------------------------

def test_closing_reminder_from_n_days_before_and_opening_reminder():
    closing = measure("c", "2026-01-01", "2026-12-02")       # closes in 7 days
    later = measure("l", "2026-01-01", "2026-12-03")         # in 8 days
    opening = measure("o", "2026-11-25", "2027-03-01")       # opens today
    measures = {m.id: m for m in (closing, later, opening)}
    saved = [("u", "c", dt.date(2026, 11, 1)), ("u", "l", dt.date(2026, 11, 1)), ("u", "o", dt.date(2026, 11, 10)),
             ("v", "o", dt.date(2026, 11, 25)), ("u", "gone", dt.date(2026, 11, 1))]
    due = reminders(saved, measures, TODAY, 7)
    # The opening reminder carries the opening event's own key: with an area alert, one message.
    assert due == [Queued("u", "closing:c:2026-12-02", "closing", "c"),
                   Queued("u", open_key("o", opening.open_date, opening.close_date), "opening", "o")]
    assert [q.event for q in reminders(saved, measures, TODAY + dt.timedelta(days=1), 7)][:1] == ["closing:c:2026-12-02"]
    assert reminders(saved, measures, dt.date(2026, 12, 3), 7)[0].event == "closing:l:2026-12-03"


# --- hours ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("hour, minute, quiet", [(20, 59, False), (21, 0, True), (23, 30, True), (0, 0, True),
                                                 (7, 59, True), (8, 0, False), (12, 0, False)])
def test_quiet_hours_across_midnight(hour, minute, quiet):
    assert QuietHours.parse("21:00-08:00").quiet(dt.datetime(2026, 11, 25, hour, minute, tzinfo=ROME)) is quiet


def test_quiet_hours_end_and_none():
    q = QuietHours.parse("21:00-08:00")
    assert q.ends(dt.datetime(2026, 11, 25, 22, 0, tzinfo=ROME)) == dt.datetime(2026, 11, 26, 8, 0, tzinfo=ROME)
    assert q.ends(dt.datetime(2026, 11, 26, 3, 0, tzinfo=ROME)) == dt.datetime(2026, 11, 26, 8, 0, tzinfo=ROME)
    assert not QuietHours.parse("").quiet(dt.datetime(2026, 11, 25, 23, 0, tzinfo=ROME))


def test_office_hours_next_opening():
    office = OfficeHours.parse("mon-fri 09:00-17:00")
    friday_evening = dt.datetime(2026, 11, 27, 18, 0, tzinfo=ROME)
    assert not office.open(friday_evening)
    assert office.next_opening(friday_evening) == dt.datetime(2026, 11, 30, 9, 0, tzinfo=ROME)  # Monday
    wednesday = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ROME)
    assert office.open(wednesday) and office.next_opening(wednesday) == wednesday


def test_bad_hours_in_settings_are_refused(tmp_path):
    from bot.config import Settings
    from bot.errors import ConfigError

    for name, value in (("QUIET_HOURS", "9pm-8am"), ("OFFICE_HOURS", "weekdays"), ("TIMEZONE", "Europe/Atlantis")):
        with pytest.raises(ConfigError, match=f"alerts.{name.lower()}"):
            Settings.load(None, {f"SPORTELLO_ALERTS__{name}": value}, cwd=tmp_path)


# --- the outbox -----------------------------------------------------------------------------------

def states(path) -> dict[str, int]:
    return dict(sqlite3.connect(path).execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())


def test_an_event_is_queued_once_whatever_runs_twice(tmp_path):
    db = Storage(tmp_path / "s.db", KEY, 180)
    db.remember_contact(1, 1, "it")
    rows = [Queued(db.pseudonym(1), "open:m:1:2", "open", "m")]
    assert db.queue(rows) == 1 and db.queue(rows) == 0
    [item] = db.claim(10)
    assert db.start(item.id) and not db.start(item.id)  # two senders: only one gets it
    db.mark_sent(item.id)
    assert db.queue(rows) == 0 and db.claim(10) == [] and states(tmp_path / "s.db") == {"sent": 1}


def test_a_crash_while_sending_is_never_repeated(tmp_path):
    db = Storage(tmp_path / "s.db", KEY, 180)
    for user in (1, 2):
        db.remember_contact(user, user, "it")
    db.queue([Queued(db.pseudonym(u), "e", "open", "m") for u in (1, 2)])
    first = db.claim(1)[0]
    db.start(first.id)            # ... and the process dies here
    db.close()
    db = Storage(tmp_path / "s.db", KEY, 180)
    assert db.recover_outbox() == 1
    assert [i.user for i in db.claim(10)] == [db.pseudonym(2)]
    assert states(tmp_path / "s.db") == {"uncertain": 1, "pending": 1}


def test_retries_back_off_then_give_up(tmp_path):
    now = [1000.0]
    db = Storage(tmp_path / "s.db", KEY, 180, clock=lambda: now[0])
    db.remember_contact(1, 1, "it")
    db.queue([Queued(db.pseudonym(1), "e", "open", "m")])
    for attempt in (1, 2):
        [item] = db.claim(10)
        assert item.attempts == attempt and db.start(item.id)
        assert db.mark_retry(item.id, "502", 30.0, max_attempts=2) is (attempt < 2)
        assert db.claim(10) == []        # not before 30 s
        now[0] += 31
    assert states(tmp_path / "s.db") == {"failed": 1}


def test_blocked_user_is_unsubscribed_and_their_alerts_dropped(tmp_path):
    db = Storage(tmp_path / "s.db", KEY, 180)
    db.remember_contact(1, 1, "it")
    db.set_subscriptions(1, ["innovazione", "profile"])
    db.queue([Queued(db.pseudonym(1), e, "open", "m") for e in ("a", "b")])
    db.mark_blocked(db.pseudonym(1))
    assert db.subscriptions(1) == set() and db.claim(10) == [] and states(tmp_path / "s.db") == {"blocked": 2}


def test_subscribers_need_a_contact_and_carry_their_profile(tmp_path):
    db = Storage(tmp_path / "s.db", KEY, 180)
    db.set_subscriptions(1, ["innovazione"])       # no contact: cannot be written to
    db.remember_contact(2, 2, "en")
    db.set_subscriptions(2, ["profile", "innovazione"])
    db.set_profile(2, "region", "Toscana")
    [sub] = db.subscribers()
    assert sub == Subscriber(db.pseudonym(2), frozenset({"profile", "innovazione"}),
                             {"region": "Toscana", "size": None, "sector": None})


def test_queue_records_what_was_seen_in_the_same_transaction(tmp_path):
    db = Storage(tmp_path / "s.db", KEY, 180)
    seen = {"m": (dt.date(2026, 1, 1), None)}
    db.queue([], seen=seen, state={"checked_on": "2026-11-25"})
    assert db.measures_seen() == (seen, dt.date(2026, 11, 25))
    with pytest.raises(sqlite3.IntegrityError):  # a failing write rolls everything back
        db.queue([Queued("u", "e", "open", "m")], seen={}, state={"checked_on": None})  # type: ignore[dict-item]
    assert db.measures_seen() == (seen, dt.date(2026, 11, 25)) and states(tmp_path / "s.db") == {}


# --- checks: an event happens once, for whoever is subscribed then ---------------------------------------

def outreach_for(tmp_path, storage: Storage):
    from conftest import make_settings

    from bot.telegram.outbox import Outreach

    return Outreach(make_settings(tmp_path), storage, clock=lambda: 0.0)


def sent_all(db: Storage) -> list[tuple[str, str, str]]:
    """Claim and send every due row: (user, kind, measure id) of each."""
    out = []
    for item in db.claim(1000):
        assert db.start(item.id)
        db.mark_sent(item.id)
        out.append((item.user, item.kind, item.measure_id))
    return out


def test_an_opening_is_announced_once_to_those_subscribed_then_even_after_forget(tmp_path):
    db = Storage(tmp_path / "s.db", KEY, 180)
    reach = outreach_for(tmp_path, db)
    old, new = measure("m1"), measure("m2")
    for user in (1, 2):
        db.remember_contact(user, user, "it")
    db.set_subscriptions(1, ["innovazione"])
    assert reach.check({"m1": old}, TODAY) == 0                          # the baseline
    assert reach.check({"m1": old, "m2": new}, TODAY) == 1                # m2 is new and open
    assert sent_all(db) == [(db.pseudonym(1), "open", "m2")]
    # User 1 erases everything and subscribes again; user 2 subscribes for the first time.
    db.forget(1)
    db.remember_contact(1, 1, "it")
    db.set_subscriptions(1, ["innovazione"])
    db.set_subscriptions(2, ["profile"])
    # m2 leaves the index (a broken import, a removed file) and comes back with the same dates: the
    # same opening, which happened before they subscribed: nobody hears of it (again).
    assert reach.check({"m1": old}, TODAY) == 0
    assert reach.check({"m1": old, "m2": new}, TODAY) == 0
    assert reach.check({"m1": old, "m2": new}, TODAY + dt.timedelta(days=1)) == 0
    # What happens after subscribing does reach them: m2 closes early, then reopens with new dates.
    closed, reopened = measure("m2", "2026-11-01", "2026-11-26"), measure("m2", "2026-11-28", "2027-05-31")
    assert reach.check({"m1": old, "m2": closed}, dt.date(2026, 11, 27)) == 0
    assert reach.check({"m1": old, "m2": reopened}, dt.date(2026, 11, 28)) == 2
    assert sorted(sent_all(db)) == sorted([(db.pseudonym(1), "open", "m2"), (db.pseudonym(2), "open", "m2")])
    # The openings kept hold no user, and those that can no longer be events are dropped.
    with sqlite3.connect(tmp_path / "s.db") as raw:
        kept = [k for (k,) in raw.execute("SELECT event FROM measure_openings ORDER BY event")]
    assert kept == [open_key("m1", old.open_date, old.close_date), open_key("m2", new.open_date, new.close_date),
                    open_key("m2", reopened.open_date, reopened.close_date)]
    reach.check({"m1": old, "m2": reopened}, dt.date(2027, 2, 1))          # m1 and the first m2 have closed
    with sqlite3.connect(tmp_path / "s.db") as raw:
        kept = [k for (k,) in raw.execute("SELECT event FROM measure_openings")]
    assert kept == [open_key("m2", reopened.open_date, reopened.close_date)]


def test_a_saved_measure_opening_for_a_subscriber_is_one_message(tmp_path):
    db = Storage(tmp_path / "s.db", KEY, 180)
    reach = outreach_for(tmp_path, db)
    upcoming = measure("u", "2026-12-01", "2027-03-31")
    db.remember_contact(1, 1, "it")
    db.set_subscriptions(1, ["innovazione"])
    db.save_measure(1, "u", TODAY)
    assert reach.check({"u": upcoming}, TODAY) == 0
    assert reach.check({"u": upcoming}, dt.date(2026, 11, 30)) == 0
    assert reach.check({"u": upcoming}, dt.date(2026, 12, 1)) == 1       # the reminder, not also an alert
    assert sent_all(db) == [(db.pseudonym(1), "opening", "u")]
    assert reach.check({"u": upcoming}, dt.date(2026, 12, 2)) == 0


# --- replies ----------------------------------------------------------------------------------------

def test_saved_list_shows_status_now_and_measures_gone_from_the_catalogue():
    from bot.telegram.outreach_replies import saved_reply
    from bot.telegram.outreach_texts import IT as OT

    closed = measure("c", "2024-01-01", "2024-12-31")
    reply = saved_reply([("c", closed), ("gone", None)], TODAY, 14, 7, OT, "it")
    assert "⛔ Chiuso il 31/12/2024" in reply.text and f"<i>gone</i> — {OT.saved_gone}" in reply.text
    assert [b.data for row in reply.buttons for b in row] == ["ms:c", "us:c", "us:gone"]
    assert saved_reply([], TODAY, 14, 7, OT, "it").text == OT.saved_none


def test_reminder_text_counts_the_days_left():
    from bot.telegram.outreach_replies import alert_reply
    from bot.telegram.outreach_texts import EN as OT_EN
    from bot.telegram.texts import EN

    m = measure("c", "2026-01-01", "2026-12-02")
    assert alert_reply("closing", m, TODAY, 14, EN, OT_EN, "en").text.startswith(OT_EN.alert_closing.format(days=7))
    last_day = alert_reply("closing", m, dt.date(2026, 12, 2), 14, EN, OT_EN, "en")
    assert last_day.text.startswith(OT_EN.alert_closing_today) and "/alerts" in last_day.text
    assert [b.text for row in last_day.buttons for b in row] == [OT_EN.save]  # no URL in this record
