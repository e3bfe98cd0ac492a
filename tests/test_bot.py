"""End to end: the real python-telegram-bot Application talking HTTP to a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import logging
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from bot.search import index as search_index
from bot.telegram.texts import EN, IT
from bot.search.retriever import Retriever
from bot.storage import Logged, Storage
from bot.telegram.services import services
from bot_harness import ADMIN, PSEUDONYM_KEY, SECRET, TOKEN, RunningBot, bot_settings, full_message, private_knowledge
from fake_bot_api import BOT_USERNAME, FakeBotApi

QUESTION = "Ci sono aiuti per l'internazionalizzazione delle imprese?"
OUT_OF_SCOPE = "Qual è la capitale dell'Australia?"


@pytest.fixture
def fake(caplog: pytest.LogCaptureFixture):
    """The fake Bot API; afterwards, check that no captured log line carries the token."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # adversarial: the library that logs request URLs
    with FakeBotApi(TOKEN) as server:
        yield server
    records = caplog.get_records("setup") + caplog.get_records("call") + caplog.records
    leaked = [r for r in records if TOKEN in full_message(r)]
    assert not leaked, f"the bot token appears in {len(leaked)} log lines, e.g. {full_message(leaked[0])!r}"
    # The check can fail: request URLs (which carry the token) were logged, redacted.
    assert any(r.name.startswith("httpx") and "<token>" in r.getMessage() for r in records)


def _db(settings) -> Storage:
    return Storage(settings.paths.database, PSEUDONYM_KEY.encode(), 180)


def _logged(settings) -> list[Logged]:
    """Every logged question, oldest first, read from the database file."""
    with sqlite3.connect(settings.paths.database) as db:
        ids = [i for (i,) in db.execute("SELECT id FROM questions ORDER BY id")]
    storage = _db(settings)
    return [storage.get(i) for i in ids]


def _answers_to(fake: FakeBotApi, chat_id: int, count: int):
    return fake.wait_sent(count, chat_id)


# --- conversation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_start_help_and_a_question_answered_with_source_and_buttons(mode, fake, settings, retriever):
    with RunningBot(settings, retriever, mode) as running:
        if mode == "webhook":
            assert fake.webhook == {"url": running.webhook_url, "secret_token": SECRET}
        fake.message("/start")
        start = _answers_to(fake, 42, 1)[0]
        assert "Sportello" in start.text and "/privacy" in start.text
        for area in retriever.areas:
            assert area.title in start.text
        examples = start.buttons()
        assert len(examples) == 3 and all(data.startswith("ask:faq:") for _, data in examples)

        fake.message("/help")
        fake.wait_sent(2, 42)
        fake.message("/aiuto")
        help_, aiuto = fake.wait_sent(3, 42)[1:]
        assert help_.text == aiuto.text == IT.help

        fake.message(QUESTION)
        answer = fake.wait_sent(4, 42)[3]
        best = retriever.search(QUESTION).answers[0]
        lines = answer.text.split("\n")
        assert lines[0].startswith(_esc(best.text[:40]))  # first line: the direct answer
        assert lines[-1].startswith("<i>Fonte: ") and _esc(best.passage.title) in lines[-1]
        buttons = answer.buttons()
        assert buttons[0][0] == "👍" and buttons[1][0] == "👎"
        assert ("Altre risposte", buttons[2][1]) == buttons[2] and buttons[2][1].startswith("more:")
        related = [b for b in buttons if b[1].startswith("ask:")]
        assert 1 <= len(related) <= 3
        assert fake.calls_to("sendChatAction")  # "typing…" while it looked

        fake.message("/start", user_id=43, lang="en-GB")
        english = _answers_to(fake, 43, 1)[0]
        assert "I'm <b>Sportello</b>" in english.text and retriever.areas[0].title_en in english.text
    assert [c["command"] for c in fake.commands[""]] == [name for name, _ in IT.commands]
    assert [c["command"] for c in fake.commands["en"]] == [name for name, _ in EN.commands]
    # Admins see /reload and /stats in their own chat's menu; nobody else does.
    assert [c["command"] for c in fake.scoped_commands[(ADMIN, "")]][-2:] == ["reload", "stats"]
    assert [c["command"] for c in fake.scoped_commands[(ADMIN, "en")]][-2:] == ["reload", "stats"]
    assert not any("reload" in str(menu) for menu in fake.commands.values())
    if mode == "webhook":
        assert set(fake.webhook_responses) == {200}


def test_topics_browse_area_then_question_then_back(fake, settings, retriever):
    with RunningBot(settings, retriever):
        fake.message("/argomenti")
        menu = fake.wait_sent(1, 42)[0]
        assert menu.text == IT.topics
        assert [d for _, d in menu.buttons()] == [f"area:{a.id}" for a in retriever.areas]

        area = retriever.areas[0]
        fake.tap(menu, f"area:{area.id}")
        fake.wait(lambda: menu.edits == 1, what="the menu edited into the area")
        faqs = retriever.faqs(area.id)
        assert area.title in menu.text
        assert [d for _, d in menu.buttons()] == [f"ask:{p.id}" for p in faqs] + ["areas"]

        fake.tap(menu, f"ask:{faqs[1].id}")
        answer = fake.wait_sent(2, 42)[1]
        assert answer.text.startswith(_esc(faqs[1].text[:40]))
        assert f"«{_esc(faqs[1].heading)}»" in answer.text and faqs[1].id.removeprefix("faq:") not in answer.text

        fake.tap(menu, "areas")
        fake.wait(lambda: menu.edits == 2, what="back to the topics")
        assert menu.text == IT.topics
    assert len(fake.calls_to("answerCallbackQuery")) == 3


def test_topics_in_english_list_the_english_titles(fake, settings, retriever):
    with RunningBot(settings, retriever):
        fake.message("/topics", user_id=43, lang="en")
        menu = fake.wait_sent(1, 43)[0]
    assert menu.text == EN.topics
    assert [t for t, _ in menu.buttons()] == [a.title_en for a in retriever.areas]
    assert all(a.title_en != a.title for a in retriever.areas)  # so the check tells the languages apart


def test_tampered_or_expired_buttons_are_answered_politely(fake, settings, retriever):
    with RunningBot(settings, retriever):
        fake.message(QUESTION)
        answer = fake.wait_sent(1, 42)[0]
        for data in ("more:not-a-number", "fb:?:1", "cont:999999:10", "ask:faq:gone-since-reload",
                     "area:nowhere", "~ff", "nonsense"):
            fake.tap(answer, data)
        fake.wait(lambda: len(fake.calls_to("answerCallbackQuery")) == 7, what="every tap answered")
    answered = [c.params.get("text") for c in fake.calls_to("answerCallbackQuery")]
    assert answered == [IT.expired] * 7
    assert len(fake.sent(42)) == 1  # no reply was sent for any of them


def test_feedback_is_recorded_and_the_buttons_go(fake, settings, retriever):
    with RunningBot(settings, retriever):
        fake.message(QUESTION)
        first = fake.wait_sent(1, 42)[0]
        fake.message("start up innovative")
        second = fake.wait_sent(2, 42)[1]
        up = next(d for t, d in first.buttons() if t == "👍")
        down = next(d for t, d in second.buttons() if t == "👎")
        fake.tap(first, down, user_id=77)   # someone else's answer: acknowledged, not recorded
        fake.tap(first, up)
        fake.tap(second, down)
        fake.wait(lambda: len(fake.calls_to("answerCallbackQuery")) == 3, what="three callback answers")
        fake.wait(lambda: first.edits and second.edits, what="feedback buttons removed")
        assert not any(t in ("👍", "👎") for t, _ in first.buttons() + second.buttons())
        assert any(t == "Altre risposte" for t, _ in first.buttons())
    rows = {r.question: r.feedback for r in _logged(settings)}
    assert rows == {QUESTION: 1, "start up innovative": -1}
    texts = [c.params.get("text") for c in fake.calls_to("answerCallbackQuery")]
    assert IT.feedback_up in texts and IT.feedback_down in texts


def test_other_answers_are_sent_with_their_sources(fake, settings, retriever):
    result = retriever.search(QUESTION)
    assert len(result.answers) >= 2
    with RunningBot(settings, retriever):
        fake.message(QUESTION)
        answer = fake.wait_sent(1, 42)[0]
        fake.tap(answer, next(d for t, d in answer.buttons() if t == "Altre risposte"))
        others = fake.wait_sent(2, 42)[1]
    assert others.text.startswith(IT.other_answers)
    for n, hit in enumerate(result.answers[1:], start=2):
        assert f"{n}. " in others.text
        assert _esc(hit.source) in others.text
    assert not any(t == "Altre risposte" for t, _ in answer.buttons())


def test_out_of_scope_question_is_declined_honestly(fake, settings, retriever):
    with RunningBot(settings, retriever):
        fake.message(OUT_OF_SCOPE)
        reply = fake.wait_sent(1, 42)[0]
    assert reply.text.startswith(IT.no_answer)
    assert _esc(settings.messages.contact) in reply.text
    assert not any(t in ("👍", "👎", "Altre risposte") for t, _ in reply.buttons())
    assert "Fonte" not in reply.text
    [row] = _logged(settings)
    assert row.decision != "answer" and row.question == OUT_OF_SCOPE


def test_low_confidence_offers_close_questions(fake, settings, retriever, built_settings):
    strict = built_settings.retrieval.model_copy(
        update={"answer_threshold": 0.99, "suggest_threshold": 0.05, "calibration_from": "settings"})
    cautious = Retriever(retriever.index, retriever.embedder, strict)
    with RunningBot(settings, cautious):
        fake.message(QUESTION)
        reply = fake.wait_sent(1, 42)[0]
        assert reply.text.startswith(IT.no_answer) and IT.maybe in reply.text
        suggestions = reply.buttons()
        assert 1 <= len(suggestions) <= 3 and all(d.startswith("ask:faq:") for _, d in suggestions)
        fake.tap(reply, suggestions[0][1])   # "Forse cercavi" -> the FAQ answer
        answer = fake.wait_sent(2, 42)[1]
    faq = retriever.passage(suggestions[0][1].removeprefix("ask:"))
    assert answer.text.startswith(_esc(faq.text[:40]))


def test_low_confidence_offers_the_measure_that_came_first_with_its_status(fake, settings, retriever, built_settings):
    """A measure first below the answer threshold is offered by its card, its status in the text."""
    strict = built_settings.retrieval.model_copy(
        update={"answer_threshold": 0.99, "suggest_threshold": 0.05, "calibration_from": "settings"})
    cautious = Retriever(retriever.index, retriever.embedder, strict, settings.measures)
    with RunningBot(settings, cautious):
        fake.message("contributi per brevettare un'invenzione")
        reply = fake.wait_sent(1, 42)[0]
        assert reply.text.startswith(IT.no_answer) and IT.maybe in reply.text
        assert "<b>Voucher 3I - Investire in innovazione</b>\n✅ Aperto fino al 31/12/2027" in reply.text
        buttons = reply.buttons()
        assert buttons[0] == ("Voucher 3I - Investire in innovazione", "ms:3265-voucher-3i-investire-in-innovazione")
        fake.tap(reply, buttons[0][1])   # -> the card
        card = fake.wait_sent(2, 42)[1]
    assert card.text.startswith("<b>Voucher 3I - Investire in innovazione</b>")


# --- awkward input --------------------------------------------------------------------------------

def test_photo_sticker_voice_and_document_get_a_polite_text_only_reply(fake, settings, retriever):
    media = {
        "photo": {"photo": [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]},
        "sticker": {"sticker": {"file_id": "s1", "file_unique_id": "u2", "width": 512, "height": 512,
                                "is_animated": False, "is_video": False, "type": "regular"}},
        "voice": {"voice": {"file_id": "v1", "file_unique_id": "u3", "duration": 3}},
        "document": {"document": {"file_id": "d1", "file_unique_id": "u4", "file_name": "bando.pdf"}},
    }
    with RunningBot(settings, retriever):
        for extra in media.values():
            fake.message(None, extra=extra)
        replies = fake.wait_sent(4, 42)
    assert [r.text for r in replies] == [IT.text_only] * 4
    assert _logged(settings) == []


def test_a_5000_character_message_gets_one_reply_under_the_limit(fake, settings, retriever):
    long_question = ("Vorrei sapere se ci sono aiuti per esportare i miei prodotti all'estero. " * 80)[:5000]
    assert len(long_question) == 5000
    with RunningBot(settings, retriever):
        fake.message(long_question)
        replies = fake.wait_sent(1, 42)
        fake.message("/start")  # the bot is still there, and the long message got exactly one reply
        fake.wait_sent(2, 42)
    assert len(replies[0].text) <= 4096
    assert not [c for c in fake.calls if c.status == 400]


def test_markup_characters_are_escaped_everywhere(fake, settings, retriever):
    nasty = "<b>&</b> <i>aiuti <b>&amp; per l'export & <a href='x'>start up</a> <<>>&&"
    with RunningBot(settings, retriever):
        fake.message(nasty)
        fake.message("<b>&" * 500)
        fake.wait_sent(2, 42)
        fake.message("/privacy")  # echoes the questions back, maybe in several messages
        # The two questions are answered concurrently, so either may be logged (and listed) first.
        escaped = "&lt;b&gt;&amp;&lt;/b&gt; &lt;i&gt;aiuti"

        def privacy() -> str:
            return "".join(m.text for m in fake.sent(42)[2:])

        # Every part of the reply has come when both questions are there, escaped.
        fake.wait(lambda: escaped in privacy() and privacy().count("&lt;b&gt;&amp;") >= 501,
                  what="both questions, escaped")
    assert not [c for c in fake.calls if c.status == 400], "Telegram would have refused a message"
    assert "<i>aiuti" not in privacy() and "<b>&" not in privacy()
    assert {r.question for r in _logged(settings)} == {nasty, "<b>&" * 500}


def test_group_messages_are_answered_only_when_addressed(fake, settings, retriever):
    group = -100123
    with RunningBot(settings, retriever):
        fake.message(QUESTION, chat_id=group, chat_type="supergroup")            # not for the bot
        mention = fake.message(f"@{BOT_USERNAME} {QUESTION}", chat_id=group, chat_type="supergroup")
        first = fake.wait_sent(1, group)[0]
        reply = fake.message("start up innovative", chat_id=group, chat_type="supergroup",
                             reply_to=first.message_id, user_id=44)
        second = fake.wait_sent(2, group)[1]
        fake.message(f"/start@{BOT_USERNAME}", chat_id=group, chat_type="supergroup")
        fake.wait_sent(3, group)
        fake.message("/start@AnotherBot", chat_id=group, chat_type="supergroup")
        fake.message("grazie a tutti", chat_id=group, chat_type="supergroup")
        # Telegram matches usernames in any case.
        fake.message(f"@{BOT_USERNAME.lower()} {OUT_OF_SCOPE}", chat_id=group, chat_type="supergroup")
        replies = fake.wait_sent(4, group)
    assert first.reply_to == mention["message"]["message_id"]
    assert second.reply_to == reply["message"]["message_id"]
    assert replies[3].text.startswith(IT.no_answer)
    assert len(fake.sent(group)) == 4
    questions = [r.question for r in _logged(settings)]
    assert questions == [QUESTION, "start up innovative", OUT_OF_SCOPE]  # the mention is stripped


def test_edited_message_is_answered_again_and_channel_posts_are_ignored(fake, settings, retriever):
    with RunningBot(settings, retriever):
        fake.channel_post(QUESTION)
        fake.message("aiuti export", edited=True)
        edited = fake.wait_sent(1)[0]
        fake.message("/start")
        fake.wait_sent(2)
    assert edited.chat_id == 42 and "Fonte" in edited.text
    assert fake.sent(-100777) == []


def test_unknown_command_and_rate_limit(fake, tmp_path, built_settings, retriever):
    settings = bot_settings(tmp_path, built_settings, fake, SPORTELLO_TELEGRAM__QUESTIONS_PER_MINUTE="2")
    with RunningBot(settings, retriever):
        fake.message("/boh")
        assert fake.wait_sent(1, 42)[0].text == IT.unknown_command
        for q in ("aiuti export", "start up innovative", "trasferimento tecnologico"):
            fake.message(q)
        replies = fake.wait_sent(4, 42)[1:]
    assert sum(r.text == IT.too_many.format(per_minute=2) for r in replies) == 1
    assert len(_logged(settings)) == 2


# --- admin ----------------------------------------------------------------------------------------

NEW_FAQ = """
  - id: test-napoleone
    question: "Di che colore era il cavallo bianco di Napoleone?"
    answer: "Bianco: la risposta è nella domanda."
    area: protocollo
    source: protocollo-rt-unioncamere#ambiti
"""


@pytest.fixture
def own_index(tmp_path: Path, embedder, fake: FakeBotApi):
    """Settings and a retriever over a private copy of the knowledge (the shipped one may change
    while the tests run, and /reload rightly refuses an index that no longer matches it)."""
    knowledge = private_knowledge(tmp_path / "knowledge")
    settings = bot_settings(tmp_path, None, fake, SPORTELLO_PATHS__KNOWLEDGE=str(knowledge),
                            SPORTELLO_PATHS__INDEX=str(tmp_path / "index"))
    search_index.build(settings, embedder)
    return settings, Retriever.open(settings, embedder)


def test_admin_reload_during_a_stream_of_questions_loses_none(fake, own_index, embedder):
    settings, retriever = own_index
    questions = ["aiuti export", "start up innovative", "trasferimento tecnologico", OUT_OF_SCOPE,
                 "chi ha firmato il protocollo", "filiere produttive", "quanto dura il protocollo",
                 "nuove imprese", "digitale", "moda e enogastronomia", "ICE", "ministeri"]
    with RunningBot(settings, retriever) as running:
        # Staff add a FAQ entry and rebuild while the bot runs.
        faq_file = settings.paths.knowledge / "faq" / "protocollo.yaml"
        faq_file.write_text(faq_file.read_text(encoding="utf-8").rstrip("\n") + "\n" + NEW_FAQ, encoding="utf-8")
        search_index.build(settings, embedder)
        for n, q in enumerate(questions[:6]):
            fake.message(q, user_id=100 + n)
        fake.message("/reload", user_id=ADMIN)
        for n, q in enumerate(questions[6:], start=6):
            fake.message(q, user_id=100 + n)
        reload_reply = fake.wait_sent(1, ADMIN)[0]
        for n in range(len(questions)):
            fake.wait_sent(1, 100 + n)
        fake.message("/stats", user_id=ADMIN)
        stats = fake.wait_sent(2, ADMIN)[1]
        assert services(running.bot_data).retriever is not retriever, reload_reply.text
        fake.message("di che colore era il cavallo bianco di napoleone", user_id=200)  # only the new index knows
        assert fake.wait_sent(1, 200)[0].text.startswith("Bianco: la risposta è nella domanda.")
    assert reload_reply.text.startswith("Indice ricaricato: ")
    assert all(len(fake.sent(100 + n)) == 1 for n in range(len(questions)))
    assert Counter(r.question for r in _logged(settings)) == Counter(
        questions + ["di che colore era il cavallo bianco di napoleone"])
    assert f"Domande: {len(questions)} da {len(questions)} utenti" in stats.text
    assert _esc(OUT_OF_SCOPE.lower()) in stats.text  # the unanswered list


def test_non_admin_reload_and_stats_get_the_unknown_command_reply(fake, settings, retriever):
    with RunningBot(settings, retriever) as running:
        fake.message("/reload")
        fake.message("/stats")
        replies = fake.wait_sent(2, 42)
        assert services(running.bot_data).retriever is retriever
    assert [r.text for r in replies] == [IT.unknown_command] * 2


# --- privacy --------------------------------------------------------------------------------------

def test_privacy_and_forget(fake, settings, retriever):
    with RunningBot(settings, retriever):
        fake.message(QUESTION)
        answer = fake.wait_sent(1, 42)[0]
        fake.message(OUT_OF_SCOPE)
        fake.wait_sent(2, 42)
        fake.message("aiuti export", user_id=50)
        fake.wait_sent(1, 50)
        fake.message("/privacy")
        privacy = fake.wait_sent(3, 42)[2]
        fake.message("/dimentica")
        forgotten = fake.wait_sent(4, 42)[3]
        fake.tap(answer, next(d for t, d in answer.buttons() if t == "Altre risposte"))
        fake.wait(lambda: len(fake.calls_to("answerCallbackQuery")) == 1, what="the callback answer")
        fake.message("/privacy")
        after = fake.wait_sent(5, 42)[4]
    assert "2 domande registrate" in privacy.text and _esc(QUESTION) in privacy.text
    assert forgotten.text == IT.forgotten.format(count=2)
    assert IT.privacy_none in after.text
    assert fake.calls_to("answerCallbackQuery")[0].params.get("text") == IT.expired  # its buttons expire
    rows = _logged(settings)
    assert [r.question for r in rows] == ["aiuti export"]
    assert [r.user for r in rows] == [_db(settings).pseudonym(50)]
    assert len(rows[0].user) == 64 and "50" != rows[0].user


# --- faults ---------------------------------------------------------------------------------------

def test_every_question_gets_exactly_one_answer_under_429_and_5xx(fake, settings, retriever, recwarn):
    fake.fail("sendMessage", status=429, retry_after=1, count=2)
    fake.fail("sendMessage", status=500, count=2)
    fake.fail("sendMessage", status=502, count=1)
    fake.fail("sendChatAction", status=503, count=6)
    fake.fail("getUpdates", status=502, count=2)
    fake.fail("sendMessage", status=200, delay=1.0, count=2)  # slow replies
    questions = ["aiuti export", "start up innovative", OUT_OF_SCOPE, "trasferimento tecnologico",
                 "chi ha firmato il protocollo", "filiere produttive"]
    with RunningBot(settings, retriever):
        for n, q in enumerate(questions):
            fake.message(q, user_id=300 + n)
        for n in range(len(questions)):
            fake.wait_sent(1, 300 + n, timeout=120)
        fake.fail("sendMessage", status=500, count=1)
        fake.message("/start", user_id=399)  # still running after all that
        fake.wait_sent(1, 399, timeout=120)
    assert all(len(fake.sent(300 + n)) == 1 for n in range(len(questions)))
    failed = Counter(c.status for c in fake.calls if c.method == "sendMessage" and c.status != 200)
    assert failed == {429: 2, 500: 3, 502: 1}
    assert any(c.method == "getUpdates" and c.status == 502 for c in fake.calls)
    # The 429s were read the way python-telegram-bot documents (timedelta): nothing deprecated was used.
    assert not [str(w.message) for w in recwarn if "retry_after" in str(w.message)]


def test_a_429_wait_is_read_as_a_timedelta_without_deprecation_warnings():
    """python-telegram-bot 22 deprecates `RetryAfter.retry_after` as seconds (its own constructor
    reads it, so every 429 warned); the bot opts in to the timedelta form, and the outbox reads that."""
    import datetime as dt
    import os
    import warnings

    from telegram.error import RetryAfter

    from bot.telegram import app, outbox  # noqa: F401 - importing the bot's wiring opts in

    assert os.environ.get("PTB_TIMEDELTA") == "true"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a deprecation warning would fail the test
        too_many = RetryAfter(7)  # as PTB builds it from Telegram's {"retry_after": 7}
        assert too_many.retry_after == dt.timedelta(seconds=7)
        assert outbox.retry_seconds(too_many) == 7.0
        assert outbox.retry_seconds(RetryAfter(dt.timedelta(milliseconds=1500))) == 1.5


def test_webhook_refuses_updates_without_the_secret(fake, settings, retriever):
    with RunningBot(settings, retriever, "webhook"):
        update = fake.update(QUESTION)
        assert fake.post_to_webhook(update, "wrong") == 403
        assert fake.post_to_webhook(update, None) == 403
        fake.message("/start")
        fake.wait_sent(1, 42)
    assert len(fake.sent(42)) == 1


# --- start-up errors ------------------------------------------------------------------------------

def test_run_refuses_without_token_key_or_index(tmp_path, capsys):
    from bot.cli import main

    base = {"SPORTELLO_PATHS__INDEX": str(tmp_path / "none"), "SPORTELLO_PATHS__DATABASE": str(tmp_path / "db")}
    assert main(["run"], base) == 1
    assert "TELEGRAM_BOT_TOKEN" in capsys.readouterr().err
    assert main(["run"], {**base, "TELEGRAM_BOT_TOKEN": TOKEN}) == 1
    err = capsys.readouterr().err
    assert "SPORTELLO_PRIVACY__PSEUDONYM_KEY" in err and TOKEN not in err
    assert main(["run"], {**base, "TELEGRAM_BOT_TOKEN": TOKEN, "SPORTELLO_PRIVACY__PSEUDONYM_KEY": "k"}) == 1
    err = capsys.readouterr().err
    assert "sportello build" in err and "Traceback" not in err


def test_run_with_an_invalid_token_is_a_clear_error(fake, built_settings, retriever, tmp_path, capsys, monkeypatch,
                                                    caplog):
    from bot import cli
    from bot.telegram import app

    monkeypatch.setattr(app, "load_retriever", lambda settings: retriever)
    env = {"SPORTELLO_PATHS__INDEX": str(built_settings.paths.index),
           "SPORTELLO_PATHS__DATABASE": str(tmp_path / "db"),
           "SPORTELLO_TELEGRAM__BASE_URL": fake.base_url,
           "TELEGRAM_BOT_TOKEN": "123:not-the-right-token", "SPORTELLO_PRIVACY__PSEUDONYM_KEY": "k"}
    assert cli.main(["run"], env) == 1
    err = capsys.readouterr().err
    assert "refused the bot token" in err and "Traceback" not in err
    caplog.set_level(logging.DEBUG, logger="httpx")  # the CLI quietened it
    # Satisfy the fixture's check that token redaction is exercised: run the real bot once.
    settings = bot_settings(tmp_path, built_settings, fake)
    with RunningBot(settings, retriever):
        fake.message("/help")
        fake.wait_sent(1, 42)


def _esc(text: str) -> str:
    import html

    return html.escape(text, quote=False)


def test_esc_helper_matches_the_bot():
    from bot.telegram.replies import escape

    assert _esc("<a & 'b'>") == escape("<a & 'b'>") == "&lt;a &amp; 'b'&gt;"
    assert re.fullmatch(r"[^<>]*", _esc("<>"))
