"""What a reader returns: a document's title and its sections, before it becomes a knowledge file."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.errors import SportelloError


class DocumentReadError(SportelloError):
    """A document cannot be imported (unreadable, scanned without text, no headings); says which file."""


@dataclass
class RawSection:
    """One section of the original: its heading as written, its text, and the page it starts on (PDF)."""

    heading: str
    text: str
    page: int | None = None


@dataclass
class RawDocument:
    """A document as read from its file: title, sections in order, and where it came from."""

    title: str
    sections: list[RawSection]
    kind: str                      # "pdf" | "docx" | "html" | "md"
    url: str | None = None         # a web page's canonical address, when it states one
    pages: int | None = None
    notes: list[str] = field(default_factory=list)  # what the reader had to guess, for the review note
