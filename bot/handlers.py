"""Thin async python-telegram-bot callbacks, and the one error handler.

Each callback reads the update, asks the retriever (off the event loop), formats with `answers` and
replies. The shared services live in `context.bot_data` under the keys below; `app.py` puts them there.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime, timezone
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import ContextTypes

from bot import answers
from bot.answers import Button, Reply, escape
from bot.config import Settings
from bot.errors import SportelloError
from bot.messages import Lang, Texts, language, texts
from bot.retrieval import Retriever, SearchResult
from bot.storage import Storage

logger = logging.getLogger(__name__)

# Keys of the services in bot_data.
SETTINGS = "settings"
RETRIEVER = "retriever"
STORAGE = "storage"
EXECUTOR = "search_executor"   # one worker thread: searches are CPU-bound and the model is not shared
RESULTS = "results"            # LRU: question id -> SearchResult, for "Altre risposte" and "Continua"
CALLBACKS = "callbacks"        # answers.CallbackData
LIMIT = "question_limit"       # QuestionLimit
RESULTS_KEPT = 1000

Context = ContextTypes.DEFAULT_TYPE


class QuestionLimit:
    """At most `per_minute` questions per user in any sliding minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self._clock = clock
        self._times: dict[int, deque[float]] = {}

    def allow(self, user_id: int) -> bool:
        now = self._clock()
        times = self._times.setdefault(user_id, deque())
        while times and now - times[0] >= 60.0:
            times.popleft()
        if len(times) >= self.per_minute:
            return False
        times.append(now)
        if len(self._times) > 10_000:  # forget users who have been quiet for a minute
            self._times = {u: t for u, t in self._times.items() if t and now - t[-1] < 60.0}
        return True


# --- commands -----------------------------------------------------------------------------------

async def start(update: Update, context: Context) -> None:
    """Introduce Sportello, its areas and three example questions."""
    lang, t = _lang(update)
    retriever: Retriever = context.bot_data[RETRIEVER]
    examples = []
    for area in retriever.areas:
        faqs = retriever.faqs(area.id)
        if faqs and len(examples) < 3:
            examples.append(faqs[0])
    await _send(update, context, answers.start_reply(retriever.areas, examples, t, lang))


async def help_command(update: Update, context: Context) -> None:
    """Explain how to ask, what the bot can and cannot do, and privacy in one line."""
    _, t = _lang(update)
    await _send(update, context, Reply(t.help))


async def topics(update: Update, context: Context) -> None:
    """List the areas as buttons."""
    lang, t = _lang(update)
    await _send(update, context, answers.topics_reply(context.bot_data[RETRIEVER].areas, t, lang))


async def privacy(update: Update, context: Context) -> None:
    """Say what is kept, and what is kept about this user."""
    _, t = _lang(update)
    settings: Settings = context.bot_data[SETTINGS]
    storage: Storage = context.bot_data[STORAGE]
    rows = await asyncio.to_thread(storage.user_questions, update.effective_user.id)
    text = t.privacy.format(count=len(rows), days=settings.privacy.retention_days)
    if rows:
        recent = "\n".join(
            f"• {datetime.fromtimestamp(r.asked_at, timezone.utc):%d/%m/%Y} — {escape(r.question)}"
            for r in rows[:10]
        )
        text += f"\n\n{t.privacy_questions}\n{recent}"
    else:
        text += f"\n\n{t.privacy_none}"
    await _send(update, context, Reply(text))


async def forget(update: Update, context: Context) -> None:
    """Erase every record of this user."""
    _, t = _lang(update)
    count = await asyncio.to_thread(context.bot_data[STORAGE].forget, update.effective_user.id)
    await _send(update, context, Reply(t.forgotten.format(count=count)))


def admin_only(callback: Callable[[Update, Context], Any]) -> Callable[[Update, Context], Any]:
    """Run `callback` for the admins in the settings; anyone else gets the unknown-command reply."""

    @functools.wraps(callback)
    async def guarded(update: Update, context: Context) -> None:
        if _is_admin(update, context):
            await callback(update, context)
        else:
            await unknown_command(update, context)

    return guarded


@admin_only
async def reload(update: Update, context: Context) -> None:
    """Load a freshly built index without a restart (admins only); searches in flight finish on the old one."""
    _, t = _lang(update)
    old: Retriever = context.bot_data[RETRIEVER]
    try:
        new = await asyncio.to_thread(Retriever.open, context.bot_data[SETTINGS], old.embedder)
    except SportelloError as exc:
        logger.warning("reload refused: %s", exc)
        await _send(update, context, Reply(t.reload_failed.format(error=escape(str(exc)))))
        return
    # One assignment: new questions take the new retriever, running ones keep their reference.
    context.bot_data[RETRIEVER] = new
    logger.info("index reloaded from %s", new.index.folder)
    faqs = len(new.faqs())
    text = t.reload_ok.format(faqs=faqs, passages=len(new.index.passages) - faqs)
    if new.index.warning:  # the knowledge files are broken: the last good index was loaded
        logger.warning(new.index.warning)
        text += f"\n⚠️ {escape(new.index.warning)}"
    await _send(update, context, Reply(text))


@admin_only
async def stats(update: Update, context: Context) -> None:
    """Show questions, answered rate, feedback and the top unanswered questions (admins only)."""
    _, t = _lang(update)
    storage: Storage = context.bot_data[STORAGE]
    s = await asyncio.to_thread(storage.stats)
    text = t.stats.format(total=s.total, users=s.users, answered=s.answered, rate=f"{s.answered_rate:.0%}",
                          suggested=s.suggested, declined=s.declined, up=s.up, down=s.down)
    unanswered = await asyncio.to_thread(storage.unanswered, 10)
    if unanswered:
        text += f"\n\n{t.stats_unanswered}\n" + "\n".join(f"{n}× {escape(q)}" for q, n in unanswered)
    await _send(update, context, Reply(text))


async def unknown_command(update: Update, context: Context) -> None:
    """Reply to a command the bot does not know (or that the user may not use)."""
    message = update.effective_message
    if message and message.chat.type != ChatType.PRIVATE:
        # In groups a bare or foreign command may be another bot's: answer only "/cmd@us".
        command = (message.text or "").split()[0] if message.text else ""
        if not command.lower().endswith(f"@{context.bot.username}".lower()):
            return
    _, t = _lang(update)
    await _send(update, context, Reply(t.unknown_command))


# --- messages -----------------------------------------------------------------------------------

async def question(update: Update, context: Context) -> None:
    """Answer a typed question (in groups, only one addressed to the bot)."""
    message = update.effective_message
    text = _addressed_text(message, context)
    if text is None:
        return
    _, t = _lang(update)
    if not text.strip():
        await _send(update, context, Reply(t.empty_question))
        return
    await _ask(update, context, text, via="text")


async def not_text(update: Update, context: Context) -> None:
    """Say politely that only text is read (in groups, only when addressed)."""
    if _addressed_text(update.effective_message, context) is None:
        return
    _, t = _lang(update)
    await _send(update, context, Reply(t.text_only))


async def button(update: Update, context: Context) -> None:
    """Act on a tapped inline button: feedback, other answers, continue, a known question, a topic."""
    query = update.callback_query
    lang, t = _lang(update)
    data = context.bot_data[CALLBACKS].unpack(query.data or "")
    kind, _, rest = (data or "").partition(":")
    if kind == "fb":
        sign, _, qid = rest.partition(":")
        stored = await asyncio.to_thread(
            context.bot_data[STORAGE].feedback, _int(qid), update.effective_user.id, 1 if sign == "+" else -1
        )
        await query.answer(t.feedback_up if sign == "+" else t.feedback_down)
        if stored:
            await _drop_buttons(query.message, context, "fb:")
    elif kind == "more" and (result := await _result(context, _int(rest))):
        await query.answer()
        await _send(update, context, answers.other_answers_reply(result, t))
        await _drop_buttons(query.message, context, "more:")
    elif kind == "cont":
        qid, _, offset = rest.partition(":")
        result = await _result(context, _int(qid))
        reply = answers.continuation_reply(result, _int(qid), _int(offset), t) if result else None
        if reply is None:
            await query.answer(t.expired)
            return
        await query.answer()
        await _send(update, context, reply)
        await _drop_buttons(query.message, context, "cont:")
    elif kind == "ask" and (passage := context.bot_data[RETRIEVER].passage(rest)) is not None:
        await query.answer()
        await _ask(update, context, passage.question or passage.heading, via="button", asked_id=passage.id)
    elif kind == "area" and (area := next((a for a in context.bot_data[RETRIEVER].areas if a.id == rest), None)):
        await query.answer()
        reply = answers.topic_reply(area, context.bot_data[RETRIEVER].faqs(area.id), t, lang)
        await _edit(query.message, context, reply)
    elif kind == "areas":
        await query.answer()
        await _edit(query.message, context, answers.topics_reply(context.bot_data[RETRIEVER].areas, t, lang))
    else:
        await query.answer(t.expired)


# --- the error handler --------------------------------------------------------------------------

async def error_handler(update: object, context: Context) -> None:
    """Log the error with its traceback, then tell the user something kind."""
    if update is None and isinstance(context.error, NetworkError):
        # Polling trouble: the updater retries by itself; a traceback would only add noise.
        logger.warning("Telegram unreachable, retrying: %s", context.error)
        return
    logger.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat and update.effective_chat.type == ChatType.PRIVATE:
        _, t = _lang(update)
        try:
            await context.bot.send_message(update.effective_chat.id, t.error)
        except TelegramError as exc:
            logger.warning("could not tell the user about the error: %s", exc)


# --- helpers ------------------------------------------------------------------------------------

async def _ask(update: Update, context: Context, text: str, via: str, asked_id: str | None = None) -> None:
    """Search, log and send the answer to one question."""
    user = update.effective_user
    lang, t = _lang(update)
    settings: Settings = context.bot_data[SETTINGS]
    if not context.bot_data[LIMIT].allow(user.id):
        await _send(update, context, Reply(t.too_many.format(per_minute=settings.telegram.questions_per_minute)))
        return
    await _typing(update, context)
    retriever: Retriever = context.bot_data[RETRIEVER]  # taken once: a /reload does not affect this question
    result = await _search(context, retriever, text)
    if asked_id is not None and (passage := retriever.passage(asked_id)) is not None:
        result = answers.chosen(result, passage, settings.retrieval.top_k)
    storage: Storage = context.bot_data[STORAGE]
    qid = await asyncio.to_thread(storage.log, user.id, lang, text, result, via, asked_id)
    _remember(context, qid, result)
    contact = settings.messages.contact_en if lang == "en" else settings.messages.contact
    await _send(update, context, answers.answer_reply(result, qid, t, contact))


async def _search(context: Context, retriever: Retriever, text: str) -> SearchResult:
    executor: Executor = context.bot_data[EXECUTOR]
    return await asyncio.get_running_loop().run_in_executor(executor, retriever.search, text)


async def _result(context: Context, qid: int) -> SearchResult | None:
    """The result shown for a logged question: from memory, or searched again (same question, same
    answer); None if the question was forgotten or deleted."""
    row = await asyncio.to_thread(context.bot_data[STORAGE].get, qid)
    if row is None:
        return None
    cached: OrderedDict[int, SearchResult] = context.bot_data[RESULTS]
    if qid in cached:
        return cached[qid]
    retriever: Retriever = context.bot_data[RETRIEVER]
    result = await _search(context, retriever, row.question)
    if row.asked_id and (passage := retriever.passage(row.asked_id)) is not None:
        result = answers.chosen(result, passage, context.bot_data[SETTINGS].retrieval.top_k)
    _remember(context, qid, result)
    return result


def _remember(context: Context, qid: int, result: SearchResult) -> None:
    cached: OrderedDict[int, SearchResult] = context.bot_data[RESULTS]
    cached[qid] = result
    while len(cached) > RESULTS_KEPT:
        cached.popitem(last=False)


def _lang(update: Update) -> tuple[Lang, Texts]:
    user = update.effective_user
    lang = language(user.language_code if user else None)
    return lang, texts(lang)


def _is_admin(update: Update, context: Context) -> bool:
    user = update.effective_user
    return user is not None and user.id in context.bot_data[SETTINGS].telegram.admins


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return -1


def _addressed_text(message: Message | None, context: Context) -> str | None:
    """The message's text if it is meant for the bot: always in private chats; in groups only when it
    mentions the bot or replies to it (with the mention removed). None: not for us."""
    if message is None:
        return None
    text = message.text or message.caption or ""
    if message.chat.type == ChatType.PRIVATE:
        return text
    bot = context.bot
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return text
    mention = f"@{bot.username}".lower()
    entities = message.parse_entities([MessageEntity.MENTION]) if message.text else \
        message.parse_caption_entities([MessageEntity.MENTION])
    if any(value.lower() == mention for value in entities.values()):
        # Telegram matches usernames in any case: "@SportelloBot" and "@sportellobot" are both us.
        return " ".join(re.sub(re.escape(f"@{bot.username}"), " ", text, flags=re.IGNORECASE).split())
    return None


async def _typing(update: Update, context: Context) -> None:
    """Show "typing…" while the answer is looked up; a failure here must not cost the answer."""
    try:
        await context.bot.send_chat_action(update.effective_chat.id, ChatAction.TYPING)
    except TelegramError as exc:
        logger.debug("typing action failed: %s", exc)


def _markup(rows: list[list[Button]], context: Context) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    callbacks = context.bot_data[CALLBACKS]
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(b.text, url=b.url) if b.url else InlineKeyboardButton(b.text, callback_data=callbacks.pack(b.data))
         for b in row]
        for row in rows
    ])


async def _send(update: Update, context: Context, reply: Reply) -> None:
    """Send a reply, split under Telegram's limit; buttons go under the last part. In groups it
    replies to the user's message so everyone sees whom it answers."""
    chat = update.effective_chat
    message = update.effective_message if update.callback_query is None else None
    quote = message is not None and chat.type != ChatType.PRIVATE
    parts = answers.split_html(reply.text)
    for n, part in enumerate(parts):
        await context.bot.send_message(
            chat.id,
            part,
            parse_mode=ParseMode.HTML,
            reply_markup=_markup(reply.buttons, context) if n == len(parts) - 1 else None,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True)
            if quote and n == 0 else None,
        )


async def _edit(message: Message | None, context: Context, reply: Reply) -> None:
    """Replace a message's text and buttons (browsing topics in place)."""
    if message is None:
        return
    try:
        await context.bot.edit_message_text(
            answers.split_html(reply.text)[0], message.chat.id, message.message_id,
            parse_mode=ParseMode.HTML, reply_markup=_markup(reply.buttons, context),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():  # a double tap edits to the same content
            raise


async def _drop_buttons(message: Message | None, context: Context, prefix: str) -> None:
    """Remove the buttons whose data starts with `prefix` from a sent message (e.g. after feedback)."""
    if message is None or message.reply_markup is None:
        return
    callbacks = context.bot_data[CALLBACKS]
    rows = [
        [b for b in row if not (b.callback_data and (callbacks.unpack(b.callback_data) or "").startswith(prefix))]
        for row in message.reply_markup.inline_keyboard
    ]
    rows = [row for row in rows if row]
    try:
        await context.bot.edit_message_reply_markup(message.chat.id, message.message_id,
                                                    reply_markup=InlineKeyboardMarkup(rows) if rows else None)
    except BadRequest as exc:
        logger.debug("could not update the buttons: %s", exc)
