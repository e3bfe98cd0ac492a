"""End to end, a person when the bot cannot answer: user -> consent -> staff group -> staff reply ->
user -> user reply -> same case -> /chiudi; only members of the staff group can answer a case.

The real Application against the fake Bot API on 127.0.0.1 (a private chat and a supergroup), with an
injected clock for office hours.
"""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import datetime as dt
import logging
import sqlite3
from zoneinfo import ZoneInfo

import pytest

from bot.storage import Storage
from bot.telegram.outreach_texts import IT as OT
from bot.telegram.outreach_texts import STAFF_CLOSED, STAFF_USER_SAYS
from bot_harness import PSEUDONYM_KEY, TOKEN, RunningBot, bot_settings
from fake_bot_api import FakeBotApi

STAFF_CHAT = -1009000
STAFF = (501, 502)
OUTSIDER = 777
OUT_OF_SCOPE = "Qual è la capitale dell'Australia?"
ROME = ZoneInfo("Europe/Rome")


@pytest.fixture
def fake(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    with FakeBotApi(TOKEN) as server:
        server.members[STAFF_CHAT] = set(STAFF)
        yield server
    assert not [r for r in caplog.records if TOKEN in r.getMessage()]


@pytest.fixture
def settings(tmp_path, built_settings, fake):
    return bot_settings(tmp_path, built_settings, fake, SPORTELLO_TELEGRAM__STAFF_CHAT=str(STAFF_CHAT))


def clock_at(*args: int):
    when = dt.datetime(*args, tzinfo=ROME).timestamp()
    return lambda: when


def button(message, label: str) -> str:
    return next(data for text, data in message.buttons() if text == label)


def cases(settings) -> list[tuple]:
    with sqlite3.connect(settings.paths.database) as db:
        return db.execute("SELECT id, state, named, first_reply_at IS NOT NULL, closed_at IS NOT NULL, outcome "
                          "FROM cases ORDER BY id").fetchall()


def test_handover_round_trip(fake, settings, retriever):
    # Saturday 28/11/2026, 10:00 in Rome: outside office hours (mon-fri 09:00-17:00).
    with RunningBot(settings, retriever, clock=clock_at(2026, 11, 28, 10, 0)):
        fake.message(OUT_OF_SCOPE)
        declined = fake.wait_sent(1, 42)[0]
        fake.tap(declined, button(declined, OT.handover))
        consent = fake.wait_sent(2, 42)[1]
        # Exactly what will be sent, before anything is.
        assert OUT_OF_SCOPE in consent.text and OT.handover_no_attempt in consent.text
        assert fake.sent(STAFF_CHAT) == []
        fake.tap(consent, button(consent, OT.handover_send))
        case_message = fake.wait_sent(1, STAFF_CHAT)[0]
        fake.wait(lambda: consent.edits == 1, what="the consent answered")
        assert consent.text.startswith(OT.handover_sent.format(case=1))
        assert "lun–ven 09:00–17:00" in consent.text and "lun 30/11 alle 09:00" in consent.text
        assert "Caso n. 1" in case_message.text and OUT_OF_SCOPE in case_message.text
        assert "Anna" not in case_message.text and "42" not in case_message.text  # anonymous: a case number

        # Someone outside the staff group cannot answer, in the group or by quoting the case elsewhere.
        fake.message("Risposta falsa", user_id=OUTSIDER, chat_id=STAFF_CHAT, chat_type="supergroup",
                     reply_to=case_message.message_id)
        fake.wait(lambda: len(fake.calls_to("getChatMember")) == 1, what="the membership check")
        fake.message("caso n. 1: la capitale è Canberra", user_id=OUTSIDER)
        fake.wait_sent(1, OUTSIDER)  # answered as an ordinary question, nothing relayed

        fake.message("Buongiorno, la capitale è Canberra.", user_id=STAFF[0], chat_id=STAFF_CHAT,
                     chat_type="supergroup", reply_to=case_message.message_id)
        staff_reply = fake.wait_sent(3, 42)[2]
        assert staff_reply.text.startswith(OT.staff_reply.split("{case}")[0]) and "caso n. 1" in staff_reply.text
        assert "Canberra" in staff_reply.text and "Risposta falsa" not in staff_reply.text

        fake.message("Grazie! E per l'Austria?", reply_to=staff_reply.message_id)
        relayed = fake.wait_sent(2, STAFF_CHAT)[1]
        assert relayed.text == STAFF_USER_SAYS.format(case=1, text="Grazie! E per l'Austria?")
        assert fake.wait_sent(4, 42)[3].text == OT.user_reply_sent.format(case=1)

        fake.message("/chiudi", user_id=STAFF[1], chat_id=STAFF_CHAT, chat_type="supergroup",
                     reply_to=relayed.message_id)
        closed = fake.wait_sent(5, 42)[4]
        assert closed.text == OT.case_closed.format(case=1)
        assert fake.wait_sent(3, STAFF_CHAT)[2].text == STAFF_CLOSED.format(case=1)

        fake.message("Ancora una cosa", reply_to=staff_reply.message_id)  # the case is closed now
        assert fake.wait_sent(6, 42)[5].text == OT.case_was_closed.format(case=1)
        fake.message("/privacy")
        privacy = fake.wait_sent(7, 42)[6]
        assert OT.privacy_cases.format(count=1) in privacy.text
    assert len(fake.sent(STAFF_CHAT)) == 3
    assert [m.text for m in fake.sent(42)].count(staff_reply.text) == 1
    assert cases(settings) == [(1, "closed", 0, 1, 1, "closed by staff")]
    db = Storage(settings.paths.database, PSEUDONYM_KEY.encode(), 180)
    db.forget(42)
    assert cases(settings) == [] and db.contact(42) is None


def test_after_thumbs_down_a_person_is_offered_and_a_named_case(fake, settings, retriever):
    # Wednesday 25/11/2026, 10:00: office hours, so no "when to expect" line.
    with RunningBot(settings, retriever, clock=clock_at(2026, 11, 25, 10, 0)):
        fake.message("Ci sono aiuti per l'internazionalizzazione delle imprese?")
        answer = fake.wait_sent(1, 42)[0]
        assert OT.handover not in [t for t, _ in answer.buttons()]  # answered: no person offered yet
        fake.tap(answer, button(answer, "👎"))
        offer = fake.wait_sent(2, 42)[1]
        assert offer.text == OT.handover_ask_more
        fake.tap(offer, button(offer, OT.handover))
        consent = fake.wait_sent(3, 42)[2]
        assert "Internazionalizzazione" in consent.text or "internazionalizzazione" in consent.text.lower()
        fake.tap(consent, button(consent, OT.handover_send_named))
        case_message = fake.wait_sent(1, STAFF_CHAT)[0]
        fake.wait(lambda: consent.edits == 1, what="the consent answered")
    assert consent.text == OT.handover_sent.format(case=1)  # within office hours
    assert "Anna" in case_message.text and "id 42" in case_message.text  # the user chose to be named
    assert cases(settings) == [(1, "open", 1, 0, 0, None)]


def test_no_staff_group_no_person_button(fake, tmp_path, built_settings, retriever):
    settings = bot_settings(tmp_path, built_settings, fake)
    with RunningBot(settings, retriever):
        fake.message(OUT_OF_SCOPE)
        declined = fake.wait_sent(1, 42)[0]
    assert OT.handover not in [t for t, _ in declined.buttons()]
