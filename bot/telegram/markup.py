"""The pieces every reply is made of: HTML escaping, a button, a reply (text + rows of buttons)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field


def escape(text: str) -> str:
    """Escape text for Telegram HTML (quotes stay readable: they need no escaping outside attributes)."""
    return html.escape(text, quote=False)


@dataclass(frozen=True)
class Button:
    """One inline button: it either sends callback data or opens a URL."""

    text: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Reply:
    """One message to send: HTML text and rows of buttons."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
