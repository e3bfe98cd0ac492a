"""Hostile messages and access (issue 13, parts 2 and 6), through the real python-telegram-bot
Application talking HTTP to the fake Bot API on 127.0.0.1.

Every message that deserves a reply gets exactly one, nothing reaches the error handler, text from
knowledge files and catalogue records never changes a reply's markup, admin commands stay admin
commands whoever forwards or edits them, the webhook refuses requests without its secret, the
per-user limit holds across chats, and no log line carries the bot token or a raw user id.
"""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from bot.search import index as search_index
from bot.search.retriever import Retriever
from bot.telegram.services import services
from bot.telegram.texts import IT
from bot_harness import ADMIN, TOKEN, RunningBot, bot_settings, free_port, full_message, private_knowledge
from conftest import KNOWLEDGE, REPO
from fake_bot_api import BOT_USERNAME, FakeBotApi, Sent

QUESTION = "Ci sono aiuti per l'internazionalizzazione delle imprese?"
# Distinctive ids: a log line holding one of them holds a raw user id, not some other number.
USERS = list(range(731_000_001, 731_000_061))
FLOODER = 731_999_999
SETTLE = 1.5  # seconds to wait for a second (wrong) reply after the first has come


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything logged at INFO and up (what `sportello run` writes), httpx at DEBUG (request URLs)."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="httpx")
    return caplog


@pytest.fixture
def fake(logs: pytest.LogCaptureFixture):
    """The fake Bot API; afterwards: the error handler saw nothing, Telegram refused no message,
    and no log line carries the token or a raw user id."""
    with FakeBotApi(TOKEN) as server:
        yield server
    lines = [full_message(r) for r in logs.records]
    errors = [r for r in logs.records if r.levelno >= logging.ERROR]
    assert not errors, f"{len(errors)} errors logged, e.g. {full_message(errors[0])[:2000]}"
    assert not [c for c in server.calls if c.status == 400], "Telegram would have refused a call"
    assert not [m for m in server.sent() if m.text in (IT.error,)], "a user was told something went wrong"
    assert not [line for line in lines if TOKEN in line], "the bot token is in the log"
    raw = [line for line in lines if re.search(r"(?<!\d)731\d{6}(?!\d)", line)]  # USERS and FLOODER
    assert not raw, f"a raw user id is in the log: {raw[0][:500]}"


def _exactly_one_reply_each(fake: FakeBotApi, chats: list[int], timeout: float = 120.0) -> dict[int, Sent]:
    """Wait until every chat has a reply, give a second one time to come, and check it did not."""
    fake.wait(lambda: all(fake.sent(c) for c in chats), timeout=timeout, what="a reply in every chat")
    time.sleep(SETTLE)
    counts = {c: len(fake.sent(c)) for c in chats}
    assert all(n == 1 for n in counts.values()), {c: n for c, n in counts.items() if n != 1}
    return {c: fake.sent(c)[0] for c in chats}


# --- what users type ---------------------------------------------------------------------------------

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
RTL = "\u202e\u202b\u200f\u061c"


def hostile_texts(seed: int = 13) -> list[str]:
    """Random Unicode (every plane, no lone surrogates: Telegram sends valid UTF-8), RTL and
    zero-width text, markup metacharacters, and messages at Telegram's 4,096-character limit."""
    rng = random.Random(seed)

    def char() -> str:
        while True:
            code = rng.choice([rng.randrange(0x20, 0x7F), rng.randrange(0xA0, 0x3000), rng.randrange(0x1F300, 0x1FAFF),
                               rng.randrange(0x10000, 0x10FFFF), rng.randrange(0x590, 0x700)])
            if unicodedata.category(chr(code)) != "Cs":
                return chr(code)

    texts = [
        "".join(char() for _ in range(rng.randrange(1, 60))) for _ in range(14)
    ] + [
        "مرحبا هل توجد مساعدات للتصدير؟",                       # Arabic, right to left
        "\u202eaiuti export\u202c per le PMI",                  # a right-to-left override
        "ש" * 50 + " export " + RTL * 10,
        ZERO_WIDTH * 20,                                        # nothing visible at all
        "ai\u200buti\u200b ex\u200dport\ufeff",
        "e\u0301" * 300 + "\u0336" * 200,                       # combining marks
        "<b>&</b> <i>aiuti <a href='javascript:alert(1)'>x</a> <script>alert(1)</script> &amp; &#0; &lt",
        "*bold* _it_ `code` ```pre``` [link](http://x) ~~s~~ ||spoiler|| \\ # + - = | { } . !",
        "%s %n %x {0} {question} ${HOME} $(rm -rf /) `id` ; DROP TABLE questions; --",
        "A" * 4096,
        ("<" * 2048 + "&" * 2048),
        ("😀" * 2048),                                           # 4,096 UTF-16 units, 2,048 characters
        "\u0000\u0001\u0007\u001b[31m rosso \u007f\u0085",
        "\n\n\n\t\t  \r\n",
        ".",
        "?" * 4096,
    ]
    return texts


def test_hostile_text_gets_exactly_one_reply_each_and_no_error(fake, settings, retriever):
    texts = hostile_texts()
    chats = USERS[: len(texts)]
    with RunningBot(settings, retriever):
        for user, text in zip(chats, texts):
            fake.message(text, user_id=user)
        replies = _exactly_one_reply_each(fake, chats)
    for text, user in zip(texts, chats):
        reply = replies[user]
        assert len(reply.text) <= 4096 and reply.text.strip()
        assert "<script" not in reply.text and "javascript:" not in reply.text.replace("&lt;", "")


COMMANDS = [
    "/start <b>x</b>", f"/start@{BOT_USERNAME} extra args", "/START", "/help " + "x" * 4000, "/aiuto %s%s%n",
    "/privacy ../../etc/passwd", "/argomenti <a href='x'>", "/topics \u202e", "/profilo ; DROP TABLE", "/perme 999999",
    "/forme -1", "/start\u200b", "/", "//", "/ start", "/start@", "/reload", "/stats please", "/reload@" + BOT_USERNAME,
    "/comando_che_non_esiste", "/" + "x" * 300, "/dimentica subito",
]


def test_commands_with_odd_arguments_get_exactly_one_reply(fake, settings, retriever):
    chats = USERS[: len(COMMANDS)]
    with RunningBot(settings, retriever) as running:
        for user, command in zip(chats, COMMANDS):
            fake.message(command, user_id=user)
        replies = _exactly_one_reply_each(fake, chats)
        assert services(running.bot_data).retriever is retriever  # no /reload ran
    by_command = {command: replies[user].text for user, command in zip(chats, COMMANDS)}
    for refused in ("/reload", "/stats please", "/reload@" + BOT_USERNAME, "/comando_che_non_esiste"):
        assert by_command[refused] == IT.unknown_command


def _callback(fake: FakeBotApi, data: str, user_id: int, message: dict | None) -> str:
    query = {"id": f"q{time.monotonic_ns()}", "from": fake.user(user_id), "chat_instance": "ci", "data": data}
    if message is not None:
        query["message"] = message
    else:
        query["inline_message_id"] = "inline-1"  # a button of a message sent via inline mode: no message
    fake.push({"callback_query": query})
    return query["id"]


# Telegram sends 1 to 64 bytes of callback data, so no empty data. Question id 1 is the question the
# test asks (a fresh database), so the handover kinds use other ids: tampered, not replayed.
TAMPERED = [
    "al:", "al:atlantide", "al:\u202e", "al:-:x", "al:-", "al:" + "p" * 61, "sv:", "sv:../../x", "sv:" + "x" * 61,
    "us:", "us:x", "us:../../etc/passwd", "us:\u0000", "hp:", "hp:0", "hp:-1", "hp:2", "hp:abc",
    "hp:99999999999999999999", "hs:", "hs:2", "hs:2:1", "hs:-1:0", "hs:1e3:1", "hs:99999999999999999999:0",
    "hs:2:x", "hx:", "hx:0", "hx:2", "hx:-7", "hx:99999999999999999999",
    ":", "::::", "more:", "more:-1", "more:99999999999999999999999999999", "more:1e9", "more: 1", "more:١٢",
    "cont:1:-999999", "cont:-1:99999999999999999999", "cont:1", "fb:+:-1", "fb:x:1", "fb:-:99999999999999999999999",
    "ask:", "ask:faq:../../etc/passwd", "ask:" + "x" * 60, "area:", "area:\u202e", "areas:extra", "pf:region:Atlantide",
    "pf:size:", "pf:nope:x", "me:-5", "me:99999999999999999999", "ms:", "ms:../../x", "~", "~0", "~zz", "~" + "f" * 60,
    "\u0000", "😀" * 16, "a" * 64, "x:" * 32,
]


def test_tampered_callback_data_is_answered_once_without_error(fake, tmp_path, built_settings, retriever):
    # With a staff group, so the handover buttons do all they can.
    settings = bot_settings(tmp_path, built_settings, fake, SPORTELLO_TELEGRAM__STAFF_CHAT="-100424242")
    with RunningBot(settings, retriever):
        fake.message(QUESTION, user_id=USERS[0])
        answer = fake.wait_sent(1, USERS[0])[0]
        message = {"message_id": answer.message_id, "date": int(time.time()), "text": answer.text,
                   "chat": {"id": USERS[0], "type": "private"}, "from": fake.bot_user()}
        taps = {}
        for data in TAMPERED:
            taps[_callback(fake, data, USERS[1], message)] = ("someone else's message", data)
            taps[_callback(fake, data, USERS[0], message)] = ("own message", data)
            taps[_callback(fake, data, USERS[0], None)] = ("no message", data)
        try:
            fake.wait(lambda: len(fake.calls_to("answerCallbackQuery")) >= len(taps), timeout=60)
        except AssertionError:
            answered = {c.params.get("callback_query_id") for c in fake.calls_to("answerCallbackQuery")}
            raise AssertionError(f"not answered: {[v for k, v in taps.items() if k not in answered]}") from None
        time.sleep(SETTLE)
    answers = fake.calls_to("answerCallbackQuery")
    assert len(answers) == 3 * len(TAMPERED)
    assert Counter(c.params.get("callback_query_id") for c in answers).most_common(1)[0][1] == 1
    # Nothing reached the staff group, and the answer was never turned into another message.
    assert fake.sent(-100424242) == [] and answer.edits == 0


def test_buttons_from_before_a_reload_still_work_or_say_they_expired(fake, tmp_path, embedder, logs):
    knowledge = private_knowledge(tmp_path / "knowledge")
    settings = bot_settings(tmp_path, None, fake, SPORTELLO_PATHS__KNOWLEDGE=str(knowledge),
                            SPORTELLO_PATHS__INDEX=str(tmp_path / "index"),
                            SPORTELLO_TELEGRAM__ADMINS=str(ADMIN))
    search_index.build(settings, embedder)
    retriever = Retriever.open(settings, embedder)
    user = USERS[0]
    with RunningBot(settings, retriever) as running:
        fake.message("/argomenti", user_id=user)
        menu = fake.wait_sent(1, user)[0]
        fake.message(QUESTION, user_id=user)
        answer = fake.wait_sent(2, user)[1]
        asks = [d for _, d in answer.buttons() if d.startswith("ask:")]
        # Staff remove every FAQ file and one area's questions disappear; rebuild and /reload.
        removed = sorted((knowledge / "faq").glob("*.yaml"))
        for path in removed:
            path.unlink()
        search_index.build(settings, embedder)
        fake.message("/reload", user_id=ADMIN)
        assert fake.wait_sent(1, ADMIN)[0].text.startswith("Indice ricaricato")
        assert services(running.bot_data).retriever is not retriever
        # Old buttons: FAQ questions now gone, an area that still exists, more answers, feedback.
        for data in asks[:2] + [d for _, d in menu.buttons()][:1] + \
                [d for t, d in answer.buttons() if t in ("👍", "Altre risposte")]:
            fake.tap(answer if not data.startswith("area:") else menu, data, user_id=user)
        fake.wait(lambda: len(fake.calls_to("answerCallbackQuery")) == len(asks[:2]) + 3, what="every tap answered")
        time.sleep(SETTLE)
    texts = [c.params.get("text") for c in fake.calls_to("answerCallbackQuery")]
    assert texts.count(IT.expired) >= len(asks[:2])  # the gone questions say so
    assert menu.edits == 1  # the area still exists: browsing works


# --- updates of every kind -----------------------------------------------------------------------------

def test_updates_without_a_sender_edits_channel_posts_and_forwards(fake, settings, retriever):
    private, group, channel = USERS[0], -100_555, -100_777
    anonymous_chat = {"id": group, "type": "supergroup", "title": "Imprese di Prato"}
    with RunningBot(settings, retriever):
        # A message with no sender at all, in a private chat (Telegram never sends one) and as an
        # anonymous group admin (sender_chat instead of from), addressed to the bot.
        fake.push({"message": {"message_id": 9001, "date": int(time.time()), "text": QUESTION,
                               "chat": {"id": private, "type": "private", "first_name": "X"}}})
        fake.push({"message": {"message_id": 9002, "date": int(time.time()), "chat": anonymous_chat,
                               "sender_chat": anonymous_chat, "text": f"@{BOT_USERNAME} {QUESTION}",
                               "entities": [{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}]}})
        fake.push({"message": {"message_id": 9003, "date": int(time.time()), "chat": anonymous_chat,
                               "sender_chat": anonymous_chat, "text": "/start",
                               "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}})
        # Channel posts, also edited, also commands: never answered.
        fake.channel_post(QUESTION, chat_id=channel)
        fake.channel_post("/reload", chat_id=channel)
        fake.push({"edited_channel_post": {"message_id": 1, "date": 1, "edit_date": 2, "text": QUESTION,
                                           "chat": {"id": channel, "type": "channel", "title": "Notizie"}}})
        # Edits: a question edited is answered again, once; an edited command is not run again.
        fake.message("aiuti export", user_id=USERS[1], edited=True)
        fake.message("/start", user_id=USERS[2], edited=True)
        fake.message("/reload", user_id=ADMIN, edited=True)
        # Forwarded text is a question like any other.
        fake.message(QUESTION, user_id=USERS[3], extra={"forward_origin": {
            "type": "user", "date": 1, "sender_user": fake.user(ADMIN)}})
        # An update the bot does not handle: it is added to a group.
        fake.push({"my_chat_member": {"chat": anonymous_chat, "from": fake.user(USERS[4]), "date": 1,
                                      "old_chat_member": {"status": "left", "user": fake.bot_user()},
                                      "new_chat_member": {"status": "member", "user": fake.bot_user()}}})
        fake.message("/start", user_id=USERS[5])  # the last update: when it is answered, the others were handled
        _exactly_one_reply_each(fake, [USERS[1], USERS[3], USERS[5]])
        time.sleep(SETTLE)
    assert fake.sent(channel) == [] and fake.sent(USERS[2]) == [] and fake.sent(ADMIN) == []
    # No sender: nobody to count against the limit or to pseudonymise; at most one reply each.
    assert len(fake.sent(private)) <= 1 and len(fake.sent(group)) <= 2


# --- access ------------------------------------------------------------------------------------------

def test_admin_commands_refused_to_non_admins_even_forwarded_or_edited(fake, settings, retriever):
    user = USERS[0]
    with RunningBot(settings, retriever) as running:
        admin_origin = {"forward_origin": {"type": "user", "date": 1, "sender_user": fake.user(ADMIN)}}
        fake.message("/reload", user_id=user, extra=admin_origin)           # the admin's /reload, forwarded
        fake.message("/stats", user_id=user, extra=admin_origin)
        fake.message("/reload", user_id=user, edited=True)                  # an edit into /reload
        fake.message("/stats", user_id=user, extra={"forward_from": fake.user(ADMIN)})  # the old field
        group = -100_321
        fake.message(f"/stats@{BOT_USERNAME}", user_id=user, chat_id=group, chat_type="supergroup")
        fake.message(f"/reload@{BOT_USERNAME}", chat_id=group, chat_type="supergroup", user_id=user,
                     extra={"sender_chat": {"id": group, "type": "supergroup", "title": "Imprese"}})
        fake.wait(lambda: len(fake.sent(user)) >= 3 and len(fake.sent(group)) >= 2, what="the refusals")
        time.sleep(SETTLE)
        assert services(running.bot_data).retriever is retriever
        # The admin, for contrast: the same command works.
        fake.message("/stats", user_id=ADMIN)
        stats = fake.wait_sent(1, ADMIN)[0]
    assert [m.text for m in fake.sent(user)] == [IT.unknown_command] * 3
    assert [m.text for m in fake.sent(group)] == [IT.unknown_command] * 2
    assert stats.text != IT.unknown_command and "Domande" in stats.text


def test_the_per_user_limit_holds_against_a_flood_from_many_chats(fake, tmp_path, built_settings, retriever):
    settings = bot_settings(tmp_path, built_settings, fake, SPORTELLO_TELEGRAM__QUESTIONS_PER_MINUTE="3")
    groups = [-100_000 - n for n in range(12)]
    with RunningBot(settings, retriever):
        for group in groups:  # one user, twelve group chats, each question addressed to the bot
            fake.message(f"@{BOT_USERNAME} aiuti export", user_id=FLOODER, chat_id=group, chat_type="supergroup")
        for n in range(3):    # and privately
            fake.message("start up innovative", user_id=FLOODER)
        others = USERS[:10]   # other users are not slowed down by the flood
        for user in others:
            fake.message("aiuti export", user_id=user)
        replies = _exactly_one_reply_each(fake, groups + others)
        fake.wait_sent(3, FLOODER)
        time.sleep(SETTLE)
    too_many = IT.too_many.format(per_minute=3)
    flood = [replies[g].text for g in groups] + [m.text for m in fake.sent(FLOODER)]
    assert len(flood) == 15 and sum(text != too_many for text in flood) == 3
    assert all(replies[u].text != too_many for u in others)


def test_webhook_of_sportello_run_refuses_requests_without_the_secret(fake, tmp_path, built_settings):
    """`sportello run --webhook` in its own process: a real HTTP request on 127.0.0.1 without the
    secret token (or with a wrong one) is refused; with it, the update is answered."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/sportello/hook"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPORTELLO_", "TELEGRAM_"))}
    env.update({
        "SPORTELLO_PATHS__KNOWLEDGE": str(KNOWLEDGE), "SPORTELLO_PATHS__INDEX": str(built_settings.paths.index),
        "SPORTELLO_PATHS__DATABASE": str(tmp_path / "db.sqlite"), "TELEGRAM_BOT_TOKEN": TOKEN,
        "SPORTELLO_TELEGRAM__BASE_URL": fake.base_url, "SPORTELLO_TELEGRAM__BASE_FILE_URL": fake.base_file_url,
        "SPORTELLO_PRIVACY__PSEUDONYM_KEY": "k", "SPORTELLO_TELEGRAM__SECRET_TOKEN": "s3cret-of-the-hook",
        "SPORTELLO_MEASURES__TODAY": "2026-11-25", "PYTHONPATH": str(REPO),
    })
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--webhook", "--webhook-url", url,
                            "--listen", "127.0.0.1", "--port", str(port)], env=env, cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        fake.wait(lambda: fake.webhook is not None or bot.poll() is not None, timeout=180, what="the webhook set")
        assert bot.poll() is None, bot.stdout.read() if bot.stdout else ""
        assert fake.webhook == {"url": url, "secret_token": "s3cret-of-the-hook"}
        update = fake.update("/start", user_id=USERS[0])

        def post(secret: str | None, body: bytes | None = None) -> int:
            return fake.post_body_to_webhook(body or json.dumps(update).encode(), secret)

        fake.wait(lambda: _listening(port), timeout=60, what="the webhook server")
        statuses = [post(None), post("wrong"), post(""), post("s3cret-of-the-hook" + "x"), post("S3CRET-OF-THE-HOOK")]
        assert statuses == [403] * 5
        time.sleep(SETTLE)
        assert fake.sent(USERS[0]) == []  # none of them was handled
        assert post("s3cret-of-the-hook") == 200
        fake.wait_sent(1, USERS[0])
    finally:
        bot.send_signal(signal.SIGTERM)
        output, _ = bot.communicate(timeout=60)
    assert TOKEN not in output and "Traceback" not in output
    assert str(USERS[0]) not in output


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# --- markup in knowledge and catalogue records -----------------------------------------------------------

MARKUP = '<b>GRASSETTO</b> <a href="https://evil.example/x">clicca</a> & <i>x</i> </code> <tg-spoiler>s'
HOSTILE_MEASURE = f"""id: misura-ostile
title: 'Bando ostile {MARKUP}'
summary: 'Un bando per brevettare invenzioni ostili. {MARKUP}'
issuer: 'Ente <b>ostile</b> & co'
open_date: 2026-01-01
close_date: 2027-12-31
window_note: 'fino a esaurimento <a href="https://evil.example">risorse</a>'
regions: [Toscana]
applicants: ['Imprese <i>ostili</i>']
areas: [innovazione]
amounts: {{budget: 100000, support_max: 5000}}
url: 'https://example.org/bando?a=1&b="2"'
sections:
  - heading: "Cos'è <b>"
    text: 'Un bando per brevettare invenzioni ostili. {MARKUP}'
provenance:
  source: 'Fonte <a href="https://evil.example">ostile</a>'
"""
HOSTILE_FAQ = f"""entries:
  - id: domanda-ostile
    question: 'Come si registra un marchio ostile {MARKUP}?'
    answer: 'Si registra così: {MARKUP}'
    area: innovazione
    source: protocollo-rt-unioncamere#ambiti
"""


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> tuple[Path, Path, Retriever]:
    """An index built from the shipped knowledge plus a measure and a FAQ entry full of markup."""
    from conftest import make_settings

    tmp = tmp_path_factory.mktemp("hostile-index")
    knowledge = private_knowledge(tmp / "knowledge", {"measures/misura-ostile.yaml": HOSTILE_MEASURE,
                                                      "faq/ostile.yaml": HOSTILE_FAQ})
    settings = make_settings(tmp, knowledge)
    search_index.build(settings, embedder)
    return knowledge, settings.paths.index, Retriever.open(settings, embedder)


def _tags(text: str) -> list[str]:
    return re.findall(r"<[^>]*>", text)


def test_markup_in_records_and_knowledge_never_changes_a_reply(fake, tmp_path, hostile_index):
    knowledge, index, retriever = hostile_index
    settings = bot_settings(tmp_path, None, fake, SPORTELLO_PATHS__KNOWLEDGE=str(knowledge),
                            SPORTELLO_PATHS__INDEX=str(index))
    user = USERS[0]
    with RunningBot(settings, retriever):
        fake.message("bando ostile per brevettare invenzioni ostili", user_id=user)
        card = fake.wait_sent(1, user)[0]
        fake.message("come si registra un marchio ostile", user_id=user)
        faq = fake.wait_sent(2, user)[1]
        fake.tap(card, "ms:misura-ostile", user_id=user)     # the card again, from a list button
        tapped = fake.wait_sent(3, user)[2]
        fake.message("/privacy", user_id=user)                  # echoes the questions
        fake.wait_sent(4, user)
        fake.message("/perme", user_id=user)
        fake.wait_sent(5, user)
    assert "Bando ostile" in card.text and "Bando ostile" in tapped.text, card.text
    assert "Si registra così" in faq.text, faq.text
    for sent in fake.sent(user):
        tags = _tags(sent.text)
        assert not [t for t in tags if "evil" in t or t.startswith("<tg-spoiler") or t == "</code>"], sent.text
        assert set(tags) <= {"<b>", "</b>", "<i>", "</i>"} | {t for t in tags if t.startswith('<a href="https://example.org')
                                                               or t == "</a>"}, sent.text
    for sent in (card, tapped):
        assert "&lt;b&gt;GRASSETTO&lt;/b&gt;" in sent.text and '&lt;a href="https://evil.example/x"&gt;' in sent.text
        urls = [u for _, u in sent.buttons() if u.startswith("http")]
        assert urls == ['https://example.org/bando?a=1&b="2"']  # the official page, exactly as written
    assert "&lt;b&gt;GRASSETTO&lt;/b&gt;" in faq.text


def test_webhook_without_a_configured_secret_gets_a_random_one(tmp_path, monkeypatch):
    """`sportello run --webhook` never listens without a secret: with none in the settings it makes
    a random one per start (Telegram echoes it back; nobody else knows it)."""
    from telegram.ext import Application

    from bot.telegram import app
    from conftest import make_settings

    seen: list[dict] = []
    monkeypatch.setattr(app, "load_retriever", lambda settings: None)
    monkeypatch.setattr(Application, "run_webhook", lambda self, **kwargs: seen.append(kwargs))
    settings = make_settings(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, SPORTELLO_PRIVACY__PSEUDONYM_KEY="k",
                             SPORTELLO_TELEGRAM__WEBHOOK_URL="https://example.org/hook")
    app.run_bot(settings, webhook=True)
    app.run_bot(settings, webhook=True)
    first, second = (kwargs["secret_token"] for kwargs in seen)
    assert len(first) >= 32 and first != second
    configured = make_settings(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, SPORTELLO_PRIVACY__PSEUDONYM_KEY="k",
                               SPORTELLO_TELEGRAM__WEBHOOK_URL="https://example.org/hook",
                               SPORTELLO_TELEGRAM__SECRET_TOKEN="from-the-settings")
    app.run_bot(configured, webhook=True)
    assert seen[-1]["secret_token"] == "from-the-settings"
