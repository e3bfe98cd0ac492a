"""Callbacks for alerts and saved measures: /avvisi and its toggles, ⭐ Salva, /salvati."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.alert_store import PROFILE_TOPIC
from bot.telegram.buttons import AlertTopic, Save, Unsave
from bot.telegram.handlers import user_lang
from bot.telegram.markup import Reply
from bot.telegram.outbox import outreach
from bot.telegram.outreach_replies import alerts_reply, saved_reply
from bot.telegram.outreach_texts import outreach as outreach_texts
from bot.telegram.send import edit, send
from bot.telegram.services import services

Context = ContextTypes.DEFAULT_TYPE


async def _private(update: Update, context: Context) -> bool:
    """Alerts need a private chat to write to; elsewhere say so."""
    chat = update.effective_chat
    if chat is not None and chat.type == ChatType.PRIVATE:
        return True
    lang, _ = user_lang(update)
    if update.callback_query is not None:
        await update.callback_query.answer(outreach_texts(lang).alerts_private, show_alert=True)
    else:
        await send(update, context, Reply(outreach_texts(lang).alerts_private))
    return False


async def _remember(update: Update, context: Context) -> None:
    lang, _ = user_lang(update)
    storage = services(context.bot_data).storage
    await asyncio.to_thread(storage.remember_contact, update.effective_user.id, update.effective_chat.id, lang)


async def alerts_command(update: Update, context: Context) -> None:
    """Show the user's alert subscriptions as toggles (/avvisi, /alerts)."""
    if not await _private(update, context):
        return
    lang, _ = user_lang(update)
    s = services(context.bot_data)
    topics = await asyncio.to_thread(s.storage.subscriptions, update.effective_user.id)
    await send(update, context, alerts_reply(topics, s.search.areas, outreach(context.bot_data).quiet,
                                             outreach_texts(lang), lang))


async def on_alert_topic(update: Update, context: Context) -> None:
    """Turn one topic on or off (or all off), then show the toggles again in place."""
    query = update.callback_query
    lang, t = user_lang(update)
    s = services(context.bot_data)
    data = s.callbacks.read(query.data, AlertTopic)
    areas = s.search.areas
    if data.topic not in {PROFILE_TOPIC, "-", *(a.id for a in areas)}:
        await query.answer(t.expired)
        return
    if not await _private(update, context):
        return
    user = update.effective_user.id
    before = await asyncio.to_thread(s.storage.subscriptions, user)
    topics = set() if data.topic == "-" else before ^ {data.topic}
    if topics == before:  # "all off" with none on (a double tap): nothing to change or redraw
        await query.answer()
        return
    await _remember(update, context)
    await asyncio.to_thread(s.storage.set_subscriptions, user, topics)
    await query.answer()
    await edit(query.message, context, alerts_reply(topics, areas, outreach(context.bot_data).quiet,
                                                    outreach_texts(lang), lang))


async def on_save(update: Update, context: Context) -> None:
    """⭐ Save a measure for /salvati and its reminders."""
    query = update.callback_query
    lang, t = user_lang(update)
    s = services(context.bot_data)
    data = s.callbacks.read(query.data, Save)
    if data.measure_id not in s.search.index.measures:
        await query.answer(t.expired)
        return
    if not await _private(update, context):
        return
    await _remember(update, context)
    today = outreach(context.bot_data).today()
    new = await asyncio.to_thread(s.storage.save_measure, update.effective_user.id, data.measure_id, today)
    ot = outreach_texts(lang)
    await query.answer(ot.saved_ok if new else ot.saved_already)


async def saved_command(update: Update, context: Context) -> None:
    """List the saved measures with their status today (/salvati, /saved)."""
    if not await _private(update, context):
        return
    await send(update, context, await _saved_reply(update, context))


async def on_unsave(update: Update, context: Context) -> None:
    """Remove a saved measure and show the list again in place."""
    query = update.callback_query
    lang, t = user_lang(update)
    s = services(context.bot_data)
    data = s.callbacks.read(query.data, Unsave)
    if not await asyncio.to_thread(s.storage.unsave_measure, update.effective_user.id, data.measure_id):
        # Not saved (a double tap, or data that is no button of ours): the list on screen, if it
        # is one, is already right, and another message must not be turned into it.
        await query.answer(t.expired)
        return
    await query.answer(outreach_texts(lang).unsaved_ok)
    await edit(query.message, context, await _saved_reply(update, context))


async def _saved_reply(update: Update, context: Context) -> Reply:
    lang, _ = user_lang(update)
    s = services(context.bot_data)
    ids = await asyncio.to_thread(s.storage.saved_measures, update.effective_user.id)
    measures = s.search.index.measures
    return saved_reply([(i, measures.get(i)) for i in ids], outreach(context.bot_data).today(),
                       s.settings.measures.closing_days, s.settings.alerts.reminder_days, outreach_texts(lang), lang)
