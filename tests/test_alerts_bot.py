"""End to end, alerts: 500 subscribers, a rebuild that adds one matching measure, /reload -> exactly one
alert each; also with 20% of Bot API calls failing, with the bot killed mid-broadcast and started
again, with users who blocked the bot, and across quiet hours; at once after /reload and at start-up,
not at the next periodic check. Then saved measures: a deadline reminder on the right day, once, and
a reminder on the day a saved measure opens, once.

The real Application and index (a small knowledge folder, rebuilt for real), the fake Bot API on
127.0.0.1, and an injected clock. Rate limits are raised by settings so 500 messages take seconds;
their defaults keep to Telegram's ~30 messages a second.
"""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import datetime as dt
import shutil
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.search.retriever import Retriever
from bot.search.service import build_index
from bot.storage import Storage
from bot.telegram.outbox import CONCURRENCY
from bot.telegram.outreach_texts import IT as OT
from bot.telegram.texts import IT
from bot_harness import ADMIN, PSEUDONYM_KEY, RunningBot, bot_settings
from conftest import KNOWLEDGE
from fake_bot_api import FakeBotApi

SUBSCRIBERS = 500
FIRST = 100_000                      # the subscribers' user ids (= their private chat ids)
ROME = ZoneInfo("Europe/Rome")
VOUCHER = "3265-voucher-3i-investire-in-innovazione"
NEW_ID = "9001-voucher-innovazione-toscana"
NEW_TITLE = "Voucher innovazione per le imprese toscane"
FAST = {  # rate limits raised for the test; the defaults respect Telegram's limits
    "SPORTELLO_TELEGRAM__MESSAGES_PER_SECOND": "3000",
    "SPORTELLO_ALERTS__MESSAGES_PER_SECOND": "3000",
    "SPORTELLO_ALERTS__CHECK_EVERY": "0.2",
}


class Clock:
    """An injectable clock: a fixed instant the test moves by hand."""

    def __init__(self, when: dt.datetime):
        self.now = when.timestamp()

    def set(self, when: dt.datetime) -> None:
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now


def rome(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ROME)


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    """The areas and one open measure (the Voucher 3I): a valid knowledge folder, quick to build."""
    target = tmp_path / "knowledge"
    (target / "measures").mkdir(parents=True)
    shutil.copy(KNOWLEDGE / "areas.yaml", target / "areas.yaml")
    shutil.copy(KNOWLEDGE / "measures" / f"{VOUCHER}.yaml", target / "measures")
    return target


def add_measure(knowledge: Path, measure_id: str = NEW_ID, title: str = NEW_TITLE,
                opens: str = "2026-11-20", closes: str = "2027-06-30", areas: str = "innovazione",
                regions: str = "Toscana") -> None:
    """A new measure file, as staff or `sportello import` would write it."""
    (knowledge / "measures" / f"{measure_id}.yaml").write_text(
        f"id: {measure_id}\n"
        f"title: {title}\n"
        "summary: Contributi a fondo perduto per servizi di innovazione delle micro e piccole imprese.\n"
        "issuer: Regione Toscana\n"
        f"open_date: {opens}\n"
        f"close_date: {closes}\n"
        f"regions: [{regions}]\n"
        "sizes: [micro, piccola]\n"
        f"areas: [{areas}]\n"
        "url: https://www.regione.toscana.it/bandi\n"
        "provenance:\n"
        "  source: Regione Toscana\n"
        "  captured: 2026-11-20\n",
        encoding="utf-8")


@pytest.fixture
def setup(tmp_path: Path, knowledge: Path, fake: FakeBotApi, embedder):
    """Settings over the small knowledge, its index built, and a retriever on it."""
    settings = bot_settings(tmp_path, None, fake, SPORTELLO_PATHS__KNOWLEDGE=str(knowledge), **FAST)
    build_index(settings, embedder)
    return settings, Retriever.open(settings, embedder)


def subscribe(settings, count: int = SUBSCRIBERS, topics: tuple[str, ...] = ("innovazione",)) -> Storage:
    """`count` users subscribed (half to an area, half to "what matches my profile", Tuscan)."""
    db = Storage(settings.paths.database, PSEUDONYM_KEY.encode(), 180)
    for n in range(count):
        user = FIRST + n
        db.remember_contact(user, user, "it")
        if n % 2:
            db.set_subscriptions(user, topics)
        else:
            db.set_subscriptions(user, ["profile"])
            db.set_profile(user, "region", "Toscana")
    return db


def alerts_per_chat(fake: FakeBotApi) -> dict[int, int]:
    counts: dict[int, int] = {}
    for m in fake.sent():
        if m.text.startswith(OT.alert_open):
            counts[m.chat_id] = counts.get(m.chat_id, 0) + 1
    return counts


def rebuild_and_reload(fake: FakeBotApi, settings, embedder, knowledge: Path) -> None:
    add_measure(knowledge)
    build_index(settings, embedder)
    fake.message("/reload", user_id=ADMIN)


def wait_alerts(fake: FakeBotApi, chats: int, timeout: float = 120) -> None:
    fake.wait(lambda: len(alerts_per_chat(fake)) >= chats, timeout, f"alerts in {chats} chats")


def outbox(settings) -> dict[str, int]:
    with sqlite3.connect(settings.paths.database) as db:
        return dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())


def test_one_alert_each_after_a_rebuild_and_reload(fake, setup, embedder, knowledge):
    settings, retriever = setup
    db = subscribe(settings)
    blocked = {FIRST + 7, FIRST + 8, FIRST + 300}
    fake.blocked |= blocked
    clock = Clock(rome(2026, 11, 25, 10, 0))
    with RunningBot(settings, retriever, clock=clock):
        # Started on the index without the new measure: that is the baseline, nobody is alerted.
        fake.wait(lambda: db.state("checked_on") == "2026-11-25", what="the first check")
        rebuild_and_reload(fake, settings, embedder, knowledge)
        wait_alerts(fake, SUBSCRIBERS - len(blocked))
        fake.wait(lambda: outbox(settings).get("blocked") == len(blocked), what="blocked users settled")
    counts = alerts_per_chat(fake)
    assert set(counts) == {FIRST + n for n in range(SUBSCRIBERS)} - blocked
    assert set(counts.values()) == {1}
    alert = fake.sent(FIRST + 1)[0]
    assert NEW_TITLE in alert.text and "✅ Aperto fino al 30/06/2027" in alert.text and "/avvisi" in alert.text
    assert [t for t, _ in alert.buttons()] == [IT.go_to_call, OT.save]
    # Blocked users: unsubscribed, tried once, never again.
    assert all(db.subscriptions(u) == set() for u in blocked) and db.subscriptions(FIRST + 1) == {"innovazione"}
    forbidden = [c for c in fake.calls if c.status == 403]
    assert sorted(int(c.params["chat_id"]) for c in forbidden) == sorted(blocked)
    assert outbox(settings) == {"sent": SUBSCRIBERS - len(blocked), "blocked": len(blocked)}


def test_a_measure_that_does_not_match_alerts_nobody(fake, setup, embedder, knowledge):
    settings, retriever = setup
    db = subscribe(settings, 20)
    with RunningBot(settings, retriever, clock=Clock(rome(2026, 11, 25, 10, 0))):
        fake.wait(lambda: db.state("checked_on") == "2026-11-25", what="the first check")
        # Another region (the profile subscribers are Tuscan) and another area.
        add_measure(knowledge, "9002-bando-export-puglia", "Bando export Puglia", areas="internazionalizzazione",
                    regions="Puglia")
        build_index(settings, embedder)
        fake.message("/reload", user_id=ADMIN)
        fake.wait_sent(1, ADMIN)
        fake.wait(lambda: db._db.execute("SELECT COUNT(*) FROM measure_seen").fetchone()[0] == 2,
                  what="the new index checked")
    assert alerts_per_chat(fake) == {} and outbox(settings) == {}


def test_still_one_each_when_a_fifth_of_the_calls_fail(fake, setup, embedder, knowledge):
    settings, retriever = setup
    db = subscribe(settings)
    fake.flaky(0.2, seed=7)  # 429 with retry_after, 500, 502
    with RunningBot(settings, retriever, clock=Clock(rome(2026, 11, 25, 10, 0))):
        fake.wait(lambda: db.state("checked_on") == "2026-11-25", what="the first check")
        rebuild_and_reload(fake, settings, embedder, knowledge)
        wait_alerts(fake, SUBSCRIBERS, timeout=240)
        fake.wait(lambda: outbox(settings) == {"sent": SUBSCRIBERS}, what="every row sent")
    failed = [c for c in fake.calls if c.method == "sendMessage" and c.status != 200]
    assert len(failed) > 50 and {c.status for c in failed} == {429, 500, 502}  # the faults really happened
    counts = alerts_per_chat(fake)
    assert len(counts) == SUBSCRIBERS and set(counts.values()) == {1}


def test_killed_mid_broadcast_and_restarted_still_one_each(fake, setup, embedder, knowledge):
    settings, retriever = setup
    db = subscribe(settings)
    clock = Clock(rome(2026, 11, 25, 10, 0))
    first = RunningBot(settings, retriever, clock=clock).__enter__()
    fake.wait(lambda: db.state("checked_on") == "2026-11-25", what="the first check")
    fake.hold(after=150)  # the 150 first go through; the next ones stay in flight at the server
    rebuild_and_reload(fake, settings, embedder, knowledge)
    # Killed while a full window of sends is in flight (each marked 'sending', each received by the
    # server): the moment a crash is ambiguous. A call cut off before it reaches Telegram is the one
    # case that loses an alert (it is never repeated); see bot/alert_store.py.
    fake.wait(lambda: fake.held == CONCURRENCY == outbox(settings).get("sending"), what="a window in flight")
    first.kill()
    delivered, in_flight = len(fake.calls_to("sendMessage")), fake.held
    fake.release()  # what was in flight when the bot died arrives anyway, as it would at Telegram
    fake.wait(lambda: len(fake.calls_to("sendMessage")) == delivered + in_flight, what="the calls in flight")
    before = alerts_per_chat(fake)
    assert 140 <= len(before) < SUBSCRIBERS and set(before.values()) == {1}
    with RunningBot(settings, Retriever.open(settings, embedder), clock=clock):
        wait_alerts(fake, SUBSCRIBERS)
        fake.wait(lambda: outbox(settings).get("pending", 0) == 0 and outbox(settings).get("sending", 0) == 0,
                  what="the outbox drained")
    counts = alerts_per_chat(fake)
    assert len(counts) == SUBSCRIBERS and set(counts.values()) == {1}
    states = outbox(settings)
    # The calls in flight at the kill were delivered by the server, and are not sent again.
    assert states == {"sent": SUBSCRIBERS - in_flight, "uncertain": in_flight}


def test_nothing_in_quiet_hours_everything_after(fake, setup, embedder, knowledge):
    settings, retriever = setup
    db = subscribe(settings)
    clock = Clock(rome(2026, 11, 25, 22, 30))
    with RunningBot(settings, retriever, clock=clock):
        fake.wait(lambda: db.state("checked_on") == "2026-11-25", what="the first check")
        rebuild_and_reload(fake, settings, embedder, knowledge)
        fake.wait(lambda: outbox(settings).get("pending") == SUBSCRIBERS, what="alerts queued")
        calls = len(fake.calls)
        fake.wait(lambda: len([c for c in fake.calls[calls:] if c.method == "getUpdates"]) >= 3,
                  what="a few more polls")
        assert alerts_per_chat(fake) == {}  # 22:30 in Rome: quiet
        clock.set(rome(2026, 11, 26, 7, 59))
        fake.wait(lambda: len([c for c in fake.calls[calls:] if c.method == "getUpdates"]) >= 6, what="polls")
        assert alerts_per_chat(fake) == {}  # still quiet until 08:00
        clock.set(rome(2026, 11, 26, 8, 0))
        wait_alerts(fake, SUBSCRIBERS)
    counts = alerts_per_chat(fake)
    assert len(counts) == SUBSCRIBERS and set(counts.values()) == {1}


def test_save_list_and_a_deadline_reminder_on_the_right_day_once(fake, tmp_path, built_settings, retriever):
    settings = bot_settings(tmp_path, built_settings, fake, **FAST)
    settings.measures.today = None  # "today" comes from the injected clock
    clock = Clock(rome(2027, 12, 20, 10, 0))  # the Voucher 3I closes on 31/12/2027
    db = Storage(settings.paths.database, PSEUDONYM_KEY.encode(), 180)
    with RunningBot(settings, retriever, clock=clock):
        fake.message("Ci sono contributi per brevettare un'invenzione?")
        card = fake.wait_sent(1, 42)[0]
        save = next(d for t, d in card.buttons() if t == OT.save)
        fake.tap(card, save)
        fake.wait(lambda: db.saved_measures(42) == [VOUCHER], what="the measure saved")
        fake.tap(card, save)  # a second tap does not save twice
        fake.wait(lambda: len(fake.calls_to("answerCallbackQuery")) == 2, what="two answers")
        assert [c.params.get("text") for c in fake.calls_to("answerCallbackQuery")] == [OT.saved_ok, OT.saved_already]
        fake.message("/salvati")
        listing = fake.wait_sent(2, 42)[1]
        assert "Voucher 3I" in listing.text and "⏳ In scadenza: chiude il 31/12/2027" in listing.text
        for day in (23, 24, 25, 26):
            clock.set(rome(2027, 12, day, 10, 0))
            fake.wait(lambda: db.state("reminded_on") == f"2027-12-{day}", what=f"the check of the {day}th")
            # Queued in the same transaction as "reminded_on"; done once neither pending nor being sent.
            fake.wait(lambda: not {"pending", "sending"} & set(outbox(settings)), what="nothing left to send")
            reminders = [m for m in fake.sent(42) if m.text.startswith("⏰")]
            assert len(reminders) == (0 if day == 23 else 1), day
    reminder = reminders[0]
    assert reminder.text.startswith(OT.alert_closing.format(days=7)) and "Voucher 3I" in reminder.text
    assert outbox(settings) == {"sent": 1}


def test_alerts_menu_privacy_and_forget(fake, tmp_path, built_settings, retriever):
    settings = bot_settings(tmp_path, built_settings, fake, **FAST)
    db = Storage(settings.paths.database, PSEUDONYM_KEY.encode(), 180)
    with RunningBot(settings, retriever, clock=Clock(rome(2026, 11, 25, 10, 0))):
        fake.message("/avvisi")
        menu = fake.wait_sent(1, 42)[0]
        assert OT.alerts_none in menu.text and "21:00 e le 08:00" in menu.text
        fake.tap(menu, "al:innovazione")
        fake.wait(lambda: menu.edits == 1, what="the toggle")
        fake.tap(menu, "al:profile")
        fake.wait(lambda: menu.edits == 2, what="the second toggle")
        assert "Ora ricevi avvisi su: Ciò che corrisponde al mio profilo, Innovazione" in menu.text
        assert db.subscriptions(42) == {"innovazione", "profile"}
        fake.tap(menu, "al:atlantide")  # not an area: refused
        fake.message("/privacy")
        privacy = fake.wait_sent(2, 42)[1]
        assert OT.privacy_alerts.format(topics="Ciò che corrisponde al mio profilo, Innovazione e trasferimento "
                                        "tecnologico") in privacy.text
        fake.message("/dimentica")
        fake.wait_sent(3, 42)
        fake.message("/avvisi", chat_id=-100555, chat_type="supergroup")  # alerts are private only
        fake.wait_sent(1, -100555)
    assert db.subscriptions(42) == set() and db.contact(42) is None
    assert fake.sent(-100555)[0].text == OT.alerts_private


def test_alerts_go_out_at_once_after_reload_and_at_start_up(fake, setup, embedder, knowledge):
    """With a check only once an hour, the alerts still go out as soon as an index is loaded."""
    settings, retriever = setup
    settings.alerts.check_every = 3600.0
    db = subscribe(settings, 20)
    clock = Clock(rome(2026, 11, 25, 10, 0))
    with RunningBot(settings, retriever, clock=clock):
        fake.wait(lambda: db.state("checked_on") == "2026-11-25", timeout=30, what="the check at start-up")
        rebuild_and_reload(fake, settings, embedder, knowledge)
        wait_alerts(fake, 20, timeout=60)  # not after the hour: /reload runs the check at once
    assert set(alerts_per_chat(fake).values()) == {1}
    # Another measure, built while the bot is stopped: the start-up check finds it.
    add_measure(knowledge, "9003-voucher-digitale-toscana", "Voucher digitale per le imprese toscane")
    build_index(settings, embedder)
    with RunningBot(settings, Retriever.open(settings, embedder), clock=clock):
        fake.wait(lambda: set(alerts_per_chat(fake).values()) == {2}, timeout=60, what="the second alert each")
    assert len(alerts_per_chat(fake)) == 20
    assert sum("Voucher digitale per le imprese toscane" in m.text for m in fake.sent()) == 20


def test_a_saved_measure_is_reminded_on_the_day_it_opens_once(fake, setup, embedder, knowledge):
    settings, _ = setup
    settings.measures.today = None  # "today" comes from the injected clock
    add_measure(knowledge, opens="2026-12-01")  # saved before it opens
    build_index(settings, embedder)
    clock = Clock(rome(2026, 11, 25, 10, 0))
    db = Storage(settings.paths.database, PSEUDONYM_KEY.encode(), 180)
    with RunningBot(settings, Retriever.open(settings, embedder), clock=clock):
        fake.message(NEW_TITLE)
        card = fake.wait_sent(1, 42)[0]
        assert NEW_TITLE in card.text and "🕒" in card.text, card.text  # not open yet
        fake.tap(card, next(d for t, d in card.buttons() if t == OT.save))
        fake.wait(lambda: db.saved_measures(42) == [NEW_ID], what="the measure saved")
        for day in (30, 1, 2, 3):
            month = 11 if day == 30 else 12
            clock.set(rome(2026, month, day, 10, 0))
            when = f"2026-{month}-{day:02d}"
            fake.wait(lambda: db.state("reminded_on") == when, what=f"the check of {when}")
            fake.wait(lambda: not {"pending", "sending"} & set(outbox(settings)), what="nothing left to send")
            reminders = [m for m in fake.sent(42) if m.text.startswith(OT.alert_opening)]
            assert len(reminders) == (0 if day == 30 else 1), when
    assert NEW_TITLE in reminders[0].text and "✅ Aperto fino al 30/06/2027" in reminders[0].text
    assert outbox(settings) == {"sent": 1}
