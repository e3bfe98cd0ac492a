"""A person when the bot cannot answer: consent, the case in the staff group, replies both ways, /chiudi.

Only a reply, inside the staff group (`telegram.staff_chat`), by a member of that group, to a message
the bot posted there for a case reaches that case's user; a case number typed anywhere does nothing.
The user answers by replying to the staff's message in their chat, which goes back to the same case.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import ReplyParameters, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.case_store import Case
from bot.measures.vocab import size_label
from bot.storage import Logged
from bot.telegram import handlers
from bot.telegram.buttons import Handover, HandoverCancel, HandoverSend
from bot.telegram.markup import Reply, escape
from bot.telegram.outbox import outreach
from bot.telegram.outreach_replies import consent_reply, office_hours_text, staff_case_text, when_text
from bot.telegram.outreach_texts import (
    STAFF_ALREADY_CLOSED,
    STAFF_CLOSE_HOW,
    STAFF_CLOSED,
    STAFF_UNDELIVERED,
    STAFF_USER_SAYS,
    OutreachTexts,
)
from bot.telegram.outreach_texts import outreach as outreach_texts
from bot.telegram.send import edit, send
from bot.telegram.services import Services, services
from bot.telegram.texts import Lang, language

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
STAFF = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}


# --- the user's side ----------------------------------------------------------------------------

async def on_handover(update: Update, context: Context) -> None:
    """Show exactly what would go to staff, and ask for consent."""
    query = update.callback_query
    lang, t = handlers.user_lang(update)
    s = services(context.bot_data)
    data = s.callbacks.read(query.data, Handover)
    found = await _question(s, data.qid, update.effective_user.id)
    if found is None or s.settings.telegram.staff_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await query.answer(t.expired)
        return
    question, attempt, profile = await _what_is_sent(s, found, update.effective_user.id, outreach_texts(lang), lang)
    await query.answer()
    await send(update, context, consent_reply(data.qid, question, attempt, profile, outreach_texts(lang)))


async def on_handover_send(update: Update, context: Context) -> None:
    """Consent given: open a case, post it to the staff group, tell the user when to expect an answer."""
    query = update.callback_query
    lang, t = handlers.user_lang(update)
    ot = outreach_texts(lang)
    s = services(context.bot_data)
    data = s.callbacks.read(query.data, HandoverSend)
    user = update.effective_user
    found = await _question(s, data.qid, user.id)
    staff_chat = s.settings.telegram.staff_chat
    if found is None or staff_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await query.answer(t.expired)
        return
    await query.answer()
    question, attempt, profile = await _what_is_sent(s, found, user.id, ot, lang)
    await asyncio.to_thread(s.storage.remember_contact, user.id, update.effective_chat.id, lang)
    case = await asyncio.to_thread(s.storage.open_case, user.id, question, bool(data.named))
    o = outreach(context.bot_data)
    who = None
    if data.named:
        who = user.full_name + (f" (@{user.username})" if user.username else "") + f" · id {user.id}"
    text = staff_case_text(case, o.local_now(), question, attempt, profile, who)
    try:
        posted = await context.bot.send_message(staff_chat, text)
    except TelegramError as exc:
        logger.error("handover: could not post case %d to the staff group: %s", case, exc)
        await asyncio.to_thread(s.storage.close_case, case, "not delivered to staff")
        contact = s.settings.messages.contact_en if lang == "en" else s.settings.messages.contact
        await edit(query.message, context, Reply(f"{ot.handover_unavailable}\n\n{escape(contact)}"))
        return
    await asyncio.to_thread(s.storage.link_message, staff_chat, posted.message_id, case)
    reply = ot.handover_sent.format(case=case)
    now = o.local_now()
    if not o.office.open(now):
        reply += "\n" + ot.handover_later.format(hours=office_hours_text(o.office, lang),
                                                 when=when_text(o.office.next_opening(now), lang))
    await edit(query.message, context, Reply(reply))


async def on_handover_cancel(update: Update, context: Context) -> None:
    """Consent refused: nothing is sent."""
    query = update.callback_query
    lang, t = handlers.user_lang(update)
    data = services(context.bot_data).callbacks.read(query.data, HandoverCancel)
    if await _question(services(context.bot_data), data.qid, update.effective_user.id) is None:
        await query.answer(t.expired)  # not this user's question: tampered with, or forgotten
        return
    await query.answer()
    await edit(query.message, context, Reply(outreach_texts(lang).handover_cancelled))


async def user_message(update: Update, context: Context) -> None:
    """A reply in a private chat: to a staff message of a case, it goes back to that case; otherwise
    it is an ordinary question."""
    message = update.effective_message
    s = services(context.bot_data)
    replied = message.reply_to_message
    staff_chat = s.settings.telegram.staff_chat
    case = None
    if replied is not None and staff_chat is not None:
        case = await asyncio.to_thread(s.storage.case_for_message, message.chat.id, replied.message_id)
    if case is None:
        await handlers.question(update, context)
        return
    lang, _ = handlers.user_lang(update)
    ot = outreach_texts(lang)
    if not case.open:
        await send(update, context, Reply(ot.case_was_closed.format(case=case.id)))
        return
    posted = await context.bot.send_message(staff_chat, STAFF_USER_SAYS.format(case=case.id, text=escape(message.text)))
    await asyncio.to_thread(s.storage.link_message, staff_chat, posted.message_id, case.id)
    await send(update, context, Reply(ot.user_reply_sent.format(case=case.id)))


# --- the staff's side ---------------------------------------------------------------------------

async def staff_message(update: Update, context: Context) -> None:
    """A staff member's reply to a case message in the staff group: deliver it to the user."""
    message = update.effective_message
    s = services(context.bot_data)
    case = await _staff_case(update, context)
    if case is None:
        return
    if not case.open:
        await _staff_note(update, context, STAFF_ALREADY_CLOSED.format(case=case.id))
        return
    if case.chat_id is None:
        await _staff_note(update, context, STAFF_UNDELIVERED.format(case=case.id))
        return
    ot = outreach_texts(language(case.language))
    text = ot.staff_reply.format(case=case.id, text=escape(message.text))
    try:
        sent = await context.bot.send_message(case.chat_id, text)
    except (Forbidden, BadRequest) as exc:
        logger.info("handover: reply to case %d not delivered: %s", case.id, exc)
        await _staff_note(update, context, STAFF_UNDELIVERED.format(case=case.id))
        return
    await asyncio.to_thread(s.storage.link_message, case.chat_id, sent.message_id, case.id)
    await asyncio.to_thread(s.storage.link_message, message.chat.id, message.message_id, case.id)
    await asyncio.to_thread(s.storage.staff_replied, case.id)


async def close_command(update: Update, context: Context) -> None:
    """/chiudi in the staff group, as a reply to a case message: close the case and tell the user."""
    s = services(context.bot_data)
    if update.effective_message.reply_to_message is None:
        if await _is_staff(update, context):
            await _staff_note(update, context, STAFF_CLOSE_HOW)
        return
    case = await _staff_case(update, context)
    if case is None:
        return
    if not await asyncio.to_thread(s.storage.close_case, case.id):
        await _staff_note(update, context, STAFF_ALREADY_CLOSED.format(case=case.id))
        return
    if case.chat_id is not None:
        ot = outreach_texts(language(case.language))
        try:
            await context.bot.send_message(case.chat_id, ot.case_closed.format(case=case.id))
        except (Forbidden, BadRequest) as exc:
            logger.info("handover: closing note for case %d not delivered: %s", case.id, exc)
    await _staff_note(update, context, STAFF_CLOSED.format(case=case.id))


async def _staff_case(update: Update, context: Context) -> Case | None:
    """The case a staff-group message replies to, when its sender is a member of the group."""
    message = update.effective_message
    s = services(context.bot_data)
    replied = message.reply_to_message
    if replied is None or message.chat.id != s.settings.telegram.staff_chat:
        return None
    if replied.from_user is None or replied.from_user.id != context.bot.id:
        return None
    case = await asyncio.to_thread(s.storage.case_for_message, message.chat.id, replied.message_id)
    if case is None or not await _is_staff(update, context):
        return None
    return case


async def _is_staff(update: Update, context: Context) -> bool:
    """True when the sender is a member of the staff group now (asked of Telegram, not assumed)."""
    user = update.effective_user
    staff_chat = services(context.bot_data).settings.telegram.staff_chat
    if user is None or staff_chat is None:
        return False
    try:
        member = await context.bot.get_chat_member(staff_chat, user.id)
    except TelegramError as exc:
        logger.info("handover: membership check failed: %s", exc)
        return False
    return member.status in STAFF


async def _staff_note(update: Update, context: Context, text: str) -> None:
    message = update.effective_message
    await context.bot.send_message(message.chat.id, text,
                                   reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True))


# --- helpers ------------------------------------------------------------------------------------

async def _question(s: Services, qid: int, user_id: int) -> Logged | None:
    """The logged question `qid` if it is this user's."""
    if not 0 < qid < 2**63:  # tampered button data: SQLite cannot even look for it
        return None
    row = await asyncio.to_thread(s.storage.get, qid)
    if row is None or row.user != s.storage.pseudonym(user_id):
        return None
    return row


async def _what_is_sent(s: Services, row: Logged, user_id: int, ot: OutreachTexts, lang: Lang) -> tuple[str, str, str]:
    """(question, the bot's best attempt, profile) exactly as they go to staff."""
    attempt = ot.handover_no_attempt
    if row.answers:
        passage = s.search.passage(row.answers[0][0])
        if passage is not None:
            title = passage.question or passage.heading or passage.id
            label = {"answer": "", "suggest": "(?) "}.get(row.decision, "(?) ")
            attempt = f"{label}{title}"
    profile = await handlers.user_profile(s, user_id)
    shown = ot.handover_no_profile
    if profile is not None and any((profile.region, profile.size, profile.sector)):
        shown = " · ".join(part for part in (profile.region, size_label(profile.size, lang) if profile.size else None,
                                             profile.sector) if part)
    return row.question, attempt, shown
