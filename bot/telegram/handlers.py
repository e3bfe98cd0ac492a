"""Thin async python-telegram-bot callbacks, one per command, message kind and button kind, and the
one error handler. Each reads the update, asks the retriever (off the event loop), builds a reply
with `replies` and sends it with `send`. Shared services come typed from `services()`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.ext import ContextTypes

from bot.errors import SportelloError
from bot.measures.eligibility import Profile
from bot.search.retriever import Retriever, SearchResult, clean_question
from bot.telegram import outbox, replies
from bot.telegram.buttons import Ask, Continue, Feedback, More, Topic
from bot.telegram.markup import Reply, escape
from bot.telegram.measure_replies import profile_text
from bot.telegram.outreach_replies import handover_button, privacy_section
from bot.telegram.outreach_texts import outreach
from bot.telegram.send import drop_buttons, edit, send, typing
from bot.telegram.services import Services, services
from bot.telegram.texts import Lang, Texts, language, texts

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


# --- commands -----------------------------------------------------------------------------------

async def start(update: Update, context: Context) -> None:
    """Introduce Sportello, its areas and three example questions."""
    lang, t = user_lang(update)
    s = services(context.bot_data)
    examples = []
    for area in s.search.areas:
        faqs = s.search.faqs(area.id)
        if faqs and len(examples) < s.settings.telegram.examples:
            examples.append(faqs[0])
    await send(update, context, replies.start_reply(s.search.areas, examples, t, lang))


async def help_command(update: Update, context: Context) -> None:
    """Explain how to ask, what the bot can and cannot do, and privacy in one line."""
    _, t = user_lang(update)
    await send(update, context, Reply(t.help))


async def topics(update: Update, context: Context) -> None:
    """List the areas as buttons."""
    lang, t = user_lang(update)
    await send(update, context, replies.topics_reply(services(context.bot_data).search.areas, t, lang))


async def privacy(update: Update, context: Context) -> None:
    """Say what is kept, and what is kept about this user."""
    if update.effective_user is None:  # no sender (a channel, a hand-made update): nobody to show
        return
    lang, t = user_lang(update)
    s = services(context.bot_data)
    rows = await asyncio.to_thread(s.storage.user_questions, update.effective_user.id)
    text = t.privacy.format(count=len(rows), days=s.settings.privacy.retention_days)
    if rows:
        recent = "\n".join(
            f"• {datetime.fromtimestamp(r.asked_at, timezone.utc):%d/%m/%Y} — {escape(r.question)}"
            for r in rows[:10]
        )
        text += f"\n\n{t.privacy_questions}\n{recent}"
    else:
        text += f"\n\n{t.privacy_none}"
    profile = await user_profile(s, update.effective_user.id)
    if profile is not None:
        text += "\n\n" + t.privacy_profile.format(profile="\n" + profile_text(profile, t, lang))
    extra = await asyncio.to_thread(privacy_section, s.storage, update.effective_user.id, s.search.areas, lang)
    if extra:  # alerts, saved measures, cases
        text += "\n\n" + extra
    await send(update, context, Reply(text))


async def forget(update: Update, context: Context) -> None:
    """Erase every record of this user."""
    if update.effective_user is None:
        return
    _, t = user_lang(update)
    count = await asyncio.to_thread(services(context.bot_data).storage.forget, update.effective_user.id)
    await send(update, context, Reply(t.forgotten.format(count=count)))


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
    _, t = user_lang(update)
    s = services(context.bot_data)
    async with s.reload_lock:  # one at a time: a slow earlier load never replaces a later one
        try:
            new = await asyncio.to_thread(Retriever.open, s.settings, s.search.embedder)
            # One search before the switch: an index that loads but cannot answer is refused too. Not
            # on the search thread: behind hundreds of queued questions, the switch would wait for them.
            await asyncio.to_thread(new.search, "avvio")
        except Exception as exc:  # noqa: BLE001 - whatever is wrong with the new index, the old one keeps serving
            error = str(exc) if isinstance(exc, SportelloError) else f"{type(exc).__name__}: {exc}"
            logger.warning("reload refused: %s", error, exc_info=None if isinstance(exc, SportelloError) else exc)
            await send(update, context, Reply(t.reload_failed.format(error=escape(error))))
            return
        # One assignment: new questions take the new retriever, running ones keep their reference.
        s.retriever = new
    outbox.check_soon(context.application)  # alerts about the new index go out now, not at the next tick
    logger.info("index reloaded from %s", new.index.folder)
    faqs = len(new.faqs())
    text = t.reload_ok.format(faqs=faqs, passages=len(new.index.passages) - faqs)
    if new.index.warning:  # broken knowledge files (the last good index was loaded), a changed thesaurus
        logger.warning(new.index.warning)
        text += f"\n⚠️ {escape(new.index.warning)}"
    await send(update, context, Reply(text))


@admin_only
async def stats(update: Update, context: Context) -> None:
    """Show questions, answered rate, feedback and the top unanswered questions (admins only)."""
    _, t = user_lang(update)
    storage = services(context.bot_data).storage
    n = await asyncio.to_thread(storage.stats)
    text = t.stats.format(total=n.total, users=n.users, answered=n.answered, rate=f"{n.answered_rate:.0%}",
                          suggested=n.suggested, declined=n.declined, up=n.up, down=n.down)
    unanswered = await asyncio.to_thread(storage.unanswered, 10)
    if unanswered:
        text += f"\n\n{t.stats_unanswered}\n" + "\n".join(f"{n}× {escape(q)}" for q, n in unanswered)
    await send(update, context, Reply(text))


async def unknown_command(update: Update, context: Context) -> None:
    """Reply to a command the bot does not know (or that the user may not use)."""
    message = update.effective_message
    if message and message.chat.type != ChatType.PRIVATE:
        # In groups a bare or foreign command may be another bot's: answer only "/cmd@us".
        command = (message.text or "").split()[0] if message.text else ""
        if not command.lower().endswith(f"@{context.bot.username}".lower()):
            return
    _, t = user_lang(update)
    await send(update, context, Reply(t.unknown_command))


# --- messages -----------------------------------------------------------------------------------

async def question(update: Update, context: Context) -> None:
    """Answer a typed question (in groups, only one addressed to the bot)."""
    message = update.effective_message
    text = _addressed_text(message, context)
    if text is None or update.effective_user is None:
        # No sender: no one to count against the limit or to pseudonymise; Telegram sends such
        # messages only in channels, which the filters leave out already.
        return
    _, t = user_lang(update)
    if not text.strip():
        await send(update, context, Reply(t.empty_question))
        return
    await _ask(update, context, text, via="text")


async def not_text(update: Update, context: Context) -> None:
    """Say politely that only text is read (in groups, only when addressed)."""
    if _addressed_text(update.effective_message, context) is None:
        return
    _, t = user_lang(update)
    await send(update, context, Reply(t.text_only))


# --- buttons: one callback per kind (see buttons.py) -----------------------------------------------

async def on_feedback(update: Update, context: Context) -> None:
    """Record 👍/👎 on the user's own question, then remove those buttons."""
    query = update.callback_query
    _, t = user_lang(update)
    s = services(context.bot_data)
    data = s.callbacks.read(query.data, Feedback)
    if data.sign not in ("+", "-") or not _valid_id(data.qid):  # tampered with
        await query.answer(t.expired)
        return
    up = data.sign == "+"
    stored = await asyncio.to_thread(s.storage.feedback, data.qid, update.effective_user.id, 1 if up else -1)
    await query.answer(t.feedback_up if up else t.feedback_down)
    if stored:
        await drop_buttons(query.message, context, Feedback)
    if stored and not up and _can_hand_over(update, s):
        lang, _ = user_lang(update)
        await send(update, context, Reply(outreach(lang).handover_ask_more, [[handover_button(data.qid, lang)]]))


async def on_more(update: Update, context: Context) -> None:
    """Send the other answers to a logged question."""
    query = update.callback_query
    lang, t = user_lang(update)
    data = services(context.bot_data).callbacks.read(query.data, More)
    result = await _result(update, context, data.qid)
    if result is None:
        await query.answer(t.expired)
        return
    await query.answer()
    await send(update, context, replies.other_answers_reply(result, t, lang))
    await drop_buttons(query.message, context, More)


async def on_continue(update: Update, context: Context) -> None:
    """Send the rest of a long answer, from where the last part stopped."""
    query = update.callback_query
    _, t = user_lang(update)
    data = services(context.bot_data).callbacks.read(query.data, Continue)
    result = await _result(update, context, data.qid)
    reply = replies.continuation_reply(result, data.qid, data.offset, t) if result else None
    if reply is None:
        await query.answer(t.expired)
        return
    await query.answer()
    await send(update, context, reply)
    await drop_buttons(query.message, context, Continue)


async def on_ask(update: Update, context: Context) -> None:
    """Answer a known question tapped as a button."""
    query = update.callback_query
    _, t = user_lang(update)
    s = services(context.bot_data)
    data = s.callbacks.read(query.data, Ask)
    passage = s.search.passage(data.passage_id)
    if passage is None:  # the entry left the knowledge since the button was sent
        await query.answer(t.expired)
        return
    await query.answer()
    await _ask(update, context, passage.question or passage.heading, via="button", asked_id=passage.id)


async def on_topic(update: Update, context: Context) -> None:
    """Show one area and its questions, in place."""
    query = update.callback_query
    lang, t = user_lang(update)
    s = services(context.bot_data)
    data = s.callbacks.read(query.data, Topic)
    area = next((a for a in s.search.areas if a.id == data.area_id), None)
    if area is None:
        await query.answer(t.expired)
        return
    await query.answer()
    await edit(query.message, context, replies.topic_reply(area, s.search.faqs(area.id), t, lang))


async def on_topics(update: Update, context: Context) -> None:
    """Show the list of areas again, in place."""
    query = update.callback_query
    lang, t = user_lang(update)
    await query.answer()
    await edit(query.message, context, replies.topics_reply(services(context.bot_data).search.areas, t, lang))


async def on_stale_button(update: Update, context: Context) -> None:
    """Answer a button whose data no kind accepts (expired token, tampered or from an old version)."""
    _, t = user_lang(update)
    await update.callback_query.answer(t.expired)


# --- the error handler --------------------------------------------------------------------------

async def error_handler(update: object, context: Context) -> None:
    """Log the error with its traceback, then tell the user something kind."""
    if update is None and isinstance(context.error, NetworkError):
        # Polling trouble: the updater retries by itself; a traceback would only add noise.
        logger.warning("Telegram unreachable, retrying: %s", context.error)
        return
    if isinstance(context.error, TimedOut):
        # A reply that timed out has most likely reached the user (Telegram was slow to confirm):
        # an apology now would be a second message, and would probably time out as well.
        logger.warning("a reply timed out; not repeated: %s", context.error)
        return
    logger.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat and update.effective_chat.type == ChatType.PRIVATE:
        _, t = user_lang(update)
        try:
            await context.bot.send_message(update.effective_chat.id, t.error)
        except TelegramError as exc:
            logger.warning("could not tell the user about the error: %s", exc)


# --- helpers ------------------------------------------------------------------------------------

async def _ask(update: Update, context: Context, text: str, via: str, asked_id: str | None = None) -> None:
    """Search, log and send the answer to one question."""
    user = update.effective_user
    lang, t = user_lang(update)
    s = services(context.bot_data)
    if not s.limit.allow(user.id):
        await send(update, context, Reply(t.too_many.format(per_minute=s.settings.telegram.questions_per_minute)))
        return
    await typing(update, context)
    retriever = s.search  # taken once: a /reload does not affect this question
    result = await _search(s, retriever, text, await user_profile(s, user.id))
    if asked_id is not None and (passage := retriever.passage(asked_id)) is not None:
        result = _chosen(s, result, passage)
    shown = result.answers if result.answered else result.suggestions
    qid = await asyncio.to_thread(s.storage.log, user.id, lang, text, result.decision, result.confidence,
                                  [(h.passage.id, h.score) for h in shown], via, asked_id)
    s.results.put(qid, result)
    contact = s.settings.messages.contact_en if lang == "en" else s.settings.messages.contact
    reply = replies.answer_reply(result, qid, t, contact, lang)
    if not result.answered and _can_hand_over(update, s):  # declined or only suggestions: offer a person
        reply = Reply(reply.text, [*reply.buttons, [handover_button(qid, lang)]])
    await send(update, context, reply)


async def _search(s: Services, retriever: Retriever, text: str, profile: Profile | None) -> SearchResult:
    vector = None
    if s.batcher is not None and retriever.embedder is not None and retriever.settings.mode != "lexical":
        # Embedded together with the questions that arrive at the same moment (one model call).
        vector = await s.batcher.encode(clean_question(text))
    search = functools.partial(retriever.search, text, today=s.settings.today(), profile=profile, vector=vector)
    return await asyncio.get_running_loop().run_in_executor(s.executor, search)


async def user_profile(s: Services, user_id: int) -> Profile | None:
    """The user's saved profile (region, size, sector), or None if they never set one."""
    saved = await asyncio.to_thread(s.storage.profile, user_id)
    return Profile(**saved) if saved else None


def _chosen(s: Services, result: SearchResult, passage: Any) -> SearchResult:
    return replies.chosen(result, passage, s.settings.retrieval.top_k, s.settings.retrieval.related)


async def _result(update: Update, context: Context, qid: int) -> SearchResult | None:
    """The result shown for a logged question: from memory, or searched again (same question, same
    answer); None if the question was forgotten or deleted."""
    s = services(context.bot_data)
    if not _valid_id(qid):  # tampered with: SQLite cannot even look for it
        return None
    row = await asyncio.to_thread(s.storage.get, qid)
    if row is None:
        return None
    cached = s.results.get(qid)
    if cached is not None:
        return cached
    retriever = s.search
    result = await _search(s, retriever, row.question, await user_profile(s, update.effective_user.id))
    if row.asked_id and (passage := retriever.passage(row.asked_id)) is not None:
        result = _chosen(s, result, passage)
    s.results.put(qid, result)
    return result


def user_lang(update: Update) -> tuple[Lang, Texts]:
    user = update.effective_user
    lang = language(user.language_code if user else None)
    return lang, texts(lang)


def _can_hand_over(update: Update, s: Services) -> bool:
    """A person can be offered: a staff group is set and this is a private chat."""
    chat = update.effective_chat
    return s.settings.telegram.staff_chat is not None and chat is not None and chat.type == ChatType.PRIVATE


def _is_admin(update: Update, context: Context) -> bool:
    user = update.effective_user
    return user is not None and user.id in services(context.bot_data).settings.telegram.admins


def _valid_id(qid: int) -> bool:
    """True for a number that can be the id of a logged question (a positive SQLite integer)."""
    return 0 < qid < 2**63


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
