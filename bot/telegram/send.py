"""Sending replies: split under Telegram's limit, buttons as inline keyboards, edits in place.

Parse mode and link previews are set once, as the Application's Defaults (see `app.py`).
"""

from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.telegram.buttons import ButtonData
from bot.telegram.markup import Button, Reply
from bot.telegram.services import services

logger = logging.getLogger(__name__)

TELEGRAM_LIMIT = 4096  # characters in one message

Context = ContextTypes.DEFAULT_TYPE


_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|[^<&]+|[<&]")
_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z0-9-]+)")


def split_html(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split Telegram HTML into messages of at most `limit` characters, never inside a tag or an
    entity: tags open at a split are closed at its end and reopened in the next message."""
    chunks: list[str] = []
    current = ""
    stack: list[tuple[str, str]] = []  # (name, opening tag as written)

    def closing() -> str:
        return "".join(f"</{name}>" for name, _ in reversed(stack))

    def flush() -> None:
        nonlocal current
        if current.strip():
            chunks.append(current + closing())
        current = "".join(tag for _, tag in stack)

    for token in _TOKEN.findall(text):
        tag = _TAG.match(token) if token.startswith("<") and token.endswith(">") else None
        if tag:
            if len(current) + len(token) + len(closing()) + len(tag.group(2)) + 3 > limit:
                flush()
            current += token
            if tag.group(1):
                if stack and stack[-1][0] == tag.group(2).lower():
                    stack.pop()
            elif not token.endswith("/>"):
                stack.append((tag.group(2).lower(), token))
            continue
        # Plain text or an entity: split text at a newline or space when it does not fit.
        while token:
            room = limit - len(current) - len(closing())
            if len(token) <= room:
                current += token
                break
            if token.startswith("&") or room <= 0:
                flush()
                if len(current) + len(token) + len(closing()) > limit:  # tags alone fill a message
                    raise ValueError("split_html: markup too deeply nested for the limit")
                continue
            piece = token[:room]
            at = max(piece.rfind("\n"), piece.rfind(" "))
            at = at + 1 if at > room // 2 else room
            current += token[:at]
            token = token[at:]
            flush()
    if current.strip() and current != "".join(tag for _, tag in stack):
        chunks.append(current + closing())
    return chunks or [""]


def markup(rows: list[list[Button]], context: Context) -> InlineKeyboardMarkup | None:
    """Inline keyboard for `rows` (callback data packed under Telegram's limit)."""
    if not rows:
        return None
    callbacks = services(context.bot_data).callbacks
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(b.text, url=b.url) if b.url else InlineKeyboardButton(b.text, callback_data=callbacks.pack(b.data))
         for b in row]
        for row in rows
    ])


async def send(update: Update, context: Context, reply: Reply) -> None:
    """Send a reply, split under Telegram's limit; buttons go under the last part. In groups it
    replies to the user's message so everyone sees whom it answers."""
    chat = update.effective_chat
    message = update.effective_message if update.callback_query is None else None
    quote = message is not None and chat.type != ChatType.PRIVATE
    parts = split_html(reply.text)
    for n, part in enumerate(parts):
        await context.bot.send_message(
            chat.id,
            part,
            reply_markup=markup(reply.buttons, context) if n == len(parts) - 1 else None,
            reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True)
            if quote and n == 0 else None,
        )


async def edit(message: Message | None, context: Context, reply: Reply) -> None:
    """Replace a message's text and buttons (browsing topics in place)."""
    if message is None:
        return
    try:
        await context.bot.edit_message_text(
            split_html(reply.text)[0], message.chat.id, message.message_id,
            reply_markup=markup(reply.buttons, context),
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():  # a double tap edits to the same content
            raise


async def drop_buttons(message: Message | None, context: Context, kind: type[ButtonData]) -> None:
    """Remove the buttons of one kind from a sent message (e.g. 👍/👎 after feedback)."""
    if message is None or message.reply_markup is None:
        return
    callbacks = services(context.bot_data).callbacks
    rows = [
        [b for b in row if not (b.callback_data and callbacks.read(b.callback_data, kind) is not None)]
        for row in message.reply_markup.inline_keyboard
    ]
    rows = [row for row in rows if row]
    try:
        await context.bot.edit_message_reply_markup(message.chat.id, message.message_id,
                                                    reply_markup=InlineKeyboardMarkup(rows) if rows else None)
    except BadRequest as exc:
        logger.debug("could not update the buttons: %s", exc)


async def typing(update: Update, context: Context) -> None:
    """Show "typing…" while the answer is looked up; a failure here must not cost the answer."""
    try:
        await context.bot.send_chat_action(update.effective_chat.id, ChatAction.TYPING)
    except TelegramError as exc:
        logger.debug("typing action failed: %s", exc)
