"""Callback data: what an inline button carries, one small type per kind of button.

Each kind encodes to a short string `prefix:field:field…` and decodes back, or to None when the data
is not of that kind (or is malformed, e.g. tampered with). `app.py` registers one
CallbackQueryHandler per kind, with `pattern=Kind.matches`. Telegram caps callback data at 64 bytes:
`CallbackData` swaps longer data for a short token, kept in a bounded LRU.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar, TypeVar

CALLBACK_LIMIT = 64  # bytes of callback data

B = TypeVar("B", bound="ButtonData")


@dataclass(frozen=True)
class ButtonData:
    """Base of every kind: `PREFIX` names the kind; the fields (int or str) follow in order. Only
    the last field may contain ':'."""

    PREFIX: ClassVar[str] = ""

    def encode(self) -> str:
        return ":".join([self.PREFIX, *(str(getattr(self, f.name)) for f in fields(self))])

    @classmethod
    def decode(cls: type[B], data: str | None) -> B | None:
        """The button data of this kind, or None."""
        names = [f for f in fields(cls)]
        head, sep, rest = (data or "").partition(":")
        if head != cls.PREFIX or bool(sep) != bool(names):
            return None
        parts = rest.split(":", len(names) - 1) if names else []
        if len(parts) != len(names):
            return None
        values = []
        for f, raw in zip(names, parts):
            if f.type in ("int", int):
                if not raw.lstrip("-").isdigit():
                    return None
                values.append(int(raw))
            elif not raw:
                return None
            else:
                values.append(raw)
        return cls(*values)


@dataclass(frozen=True)
class Feedback(ButtonData):
    """👍 (up) or 👎 on logged question `qid`."""

    PREFIX: ClassVar[str] = "fb"
    sign: str   # "+" or "-"
    qid: int

    @classmethod
    def decode(cls, data: str | None) -> Feedback | None:
        found = super().decode(data)
        return found if found is not None and found.sign in ("+", "-") else None


@dataclass(frozen=True)
class More(ButtonData):
    """The other answers to logged question `qid`."""

    PREFIX: ClassVar[str] = "more"
    qid: int


@dataclass(frozen=True)
class Continue(ButtonData):
    """The best answer to logged question `qid` from character `offset`."""

    PREFIX: ClassVar[str] = "cont"
    qid: int
    offset: int


@dataclass(frozen=True)
class Ask(ButtonData):
    """Ask a known question: show that FAQ entry (related questions, suggestions, topics)."""

    PREFIX: ClassVar[str] = "ask"
    passage_id: str


@dataclass(frozen=True)
class Topic(ButtonData):
    """Browse one area."""

    PREFIX: ClassVar[str] = "area"
    area_id: str


@dataclass(frozen=True)
class Topics(ButtonData):
    """Back to the list of areas."""

    PREFIX: ClassVar[str] = "areas"


@dataclass(frozen=True)
class ProfileSet(ButtonData):
    """Set one profile field (`region`, `size`, `sector`) to `value` ("-": skip it)."""

    PREFIX: ClassVar[str] = "pf"
    field: str
    value: str

    @classmethod
    def decode(cls, data: str | None) -> ProfileSet | None:
        found = super().decode(data)
        return found if found is not None and found.field in ("region", "size", "sector") else None


@dataclass(frozen=True)
class ForMe(ButtonData):
    """The open measures that fit the user's profile, from position `offset`."""

    PREFIX: ClassVar[str] = "me"
    offset: int


@dataclass(frozen=True)
class Card(ButtonData):
    """Show one measure's card."""

    PREFIX: ClassVar[str] = "ms"
    measure_id: str


@dataclass(frozen=True)
class AlertTopic(ButtonData):
    """Turn alerts on one topic on or off (`topic`: an area id, 'profile', or '-' for all off)."""

    PREFIX: ClassVar[str] = "al"
    topic: str


@dataclass(frozen=True)
class Save(ButtonData):
    """⭐ Save a measure (for /salvati and its reminders)."""

    PREFIX: ClassVar[str] = "sv"
    measure_id: str


@dataclass(frozen=True)
class Unsave(ButtonData):
    """Remove a saved measure."""

    PREFIX: ClassVar[str] = "us"
    measure_id: str


@dataclass(frozen=True)
class Handover(ButtonData):
    """"Parla con una persona" about logged question `qid`: show what would be sent, ask consent."""

    PREFIX: ClassVar[str] = "hp"
    qid: int


@dataclass(frozen=True)
class HandoverSend(ButtonData):
    """Consent given: send logged question `qid` to staff (`named` 1: show the user's name)."""

    PREFIX: ClassVar[str] = "hs"
    qid: int
    named: int


@dataclass(frozen=True)
class HandoverCancel(ButtonData):
    """Consent refused: send nothing."""

    PREFIX: ClassVar[str] = "hx"
    qid: int


KINDS: tuple[type[ButtonData], ...] = (Feedback, More, Continue, Ask, Topic, Topics, ProfileSet, ForMe, Card,
                                       AlertTopic, Save, Unsave, Handover, HandoverSend, HandoverCancel)


class CallbackData:
    """Keeps callback data under Telegram's 64 bytes: data that fits is used as it is (so buttons
    survive a restart); longer data is replaced by a short token kept in a bounded LRU."""

    def __init__(self, size: int = 10_000):
        self.size = size
        self._tokens: OrderedDict[str, str] = OrderedDict()
        self._counter = itertools.count(1)

    def pack(self, data: str) -> str:
        if len(data.encode()) <= CALLBACK_LIMIT and not data.startswith("~"):
            return data
        token = f"~{next(self._counter):x}"
        self._tokens[token] = data
        while len(self._tokens) > self.size:
            self._tokens.popitem(last=False)
        return token

    def unpack(self, data: str) -> str | None:
        """The original data, or None for a token that has been forgotten."""
        if not data.startswith("~"):
            return data
        original = self._tokens.get(data)
        if original is not None:
            self._tokens.move_to_end(data)
        return original

    def read(self, data: object, kind: type[B]) -> B | None:
        """Decode raw callback data as `kind` (None: another kind, expired or tampered with)."""
        return kind.decode(self.unpack(data)) if isinstance(data, str) else None

    def pattern(self, kind: type[ButtonData]) -> Callable[[object], bool]:
        """A CallbackQueryHandler pattern that accepts exactly the data of `kind`."""
        return lambda data: self.read(data, kind) is not None
