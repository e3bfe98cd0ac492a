"""Callbacks about support measures: /profilo and its buttons, "Cosa c'è per me?", a measure's card."""

from __future__ import annotations

import asyncio
import dataclasses

from telegram import Update
from telegram.ext import ContextTypes

from bot.search.offer import for_profile
from bot.telegram.buttons import Card, ForMe, ProfileSet
from bot.telegram.handlers import user_lang, user_profile
from bot.telegram.measure_replies import (
    for_me_reply,
    measure_reply,
    profile_done_reply,
    profile_step_reply,
    valid_choice,
)
from bot.telegram.send import edit, send
from bot.telegram.services import services

Context = ContextTypes.DEFAULT_TYPE
STEPS = ("region", "size", "sector")  # the order of /profilo's questions


async def profile(update: Update, context: Context) -> None:
    """Start /profilo: ask the region first (each step can be skipped)."""
    lang, t = user_lang(update)
    await send(update, context, profile_step_reply(STEPS[0], t, lang))


async def on_profile_set(update: Update, context: Context) -> None:
    """Save one answer of /profilo and ask the next question in place; after the last, show the profile."""
    query = update.callback_query
    lang, t = user_lang(update)
    s = services(context.bot_data)
    data = s.callbacks.read(query.data, ProfileSet)
    if not valid_choice(data.field, data.value):
        await query.answer(t.expired)
        return
    value = None if data.value == "-" else data.value
    await asyncio.to_thread(s.storage.set_profile, update.effective_user.id, data.field, value)
    await query.answer()
    step = STEPS.index(data.field) + 1
    if step < len(STEPS):
        await edit(query.message, context, profile_step_reply(STEPS[step], t, lang))
        return
    saved = await user_profile(s, update.effective_user.id)
    await edit(query.message, context, profile_done_reply(saved, t, lang))


async def for_me(update: Update, context: Context) -> None:
    """List the open measures that fit the user's profile, best first, a few at a time."""
    await send(update, context, await _for_me_page(update, context, 0))


async def on_for_me(update: Update, context: Context) -> None:
    """Show a page of "Cosa c'è per me?" (the first from a button, the next with "Altri")."""
    query = update.callback_query
    data = services(context.bot_data).callbacks.read(query.data, ForMe)
    await query.answer()
    await send(update, context, await _for_me_page(update, context, data.offset))


async def on_card(update: Update, context: Context) -> None:
    """Show the card of a measure tapped in a list."""
    query = update.callback_query
    lang, t = user_lang(update)
    s = services(context.bot_data)
    data = s.callbacks.read(query.data, Card)
    measure = s.search.index.measures.get(data.measure_id)
    if measure is None:  # gone from the knowledge since the list was sent
        await query.answer(t.expired)
        return
    await query.answer()
    await send(update, context, measure_reply(measure, s.settings.today(), s.settings.measures.closing_days, t, lang))


async def _for_me_page(update: Update, context: Context, offset: int):  # noqa: ANN202 - Reply
    lang, t = user_lang(update)
    s = services(context.bot_data)
    saved = await user_profile(s, update.effective_user.id)
    if saved is not None and not any(dataclasses.astuple(saved)):
        saved = None  # every question skipped: the same as no profile
    today, closing_days = s.settings.today(), s.settings.measures.closing_days
    measures = for_profile(list(s.search.index.measures.values()), saved, today, closing_days)
    return for_me_reply(measures, max(0, offset), saved, today, closing_days, t, lang)
