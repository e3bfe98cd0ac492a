"""Small text helpers for measures: folding for lookups, HTML to plain text, first sentence, slugs."""

from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser

# Tags after which the text reads as a new paragraph; <br> and <li> only start a new line.
_PARAGRAPH_TAGS = {"p", "div", "section", "article", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "tr"}
_LINE_TAGS = {"br", "li"}


def fold(text: str) -> str:
    """Lowercase, accents removed, every non-alphanumeric run made one space: a key for lookups."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", plain.casefold()).split())


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        self._break(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def _break(self, tag: str) -> None:
        if tag in _PARAGRAPH_TAGS:
            self.parts.append("\n\n")
        elif tag in _LINE_TAGS:
            self.parts.append("\n")


def plain_text(value: str, paragraphs: bool = False) -> str:
    """HTML or odd text as clean plain text: tags dropped, entities decoded, whitespace normalised.

    With `paragraphs`, paragraph breaks survive as a blank line (lines inside one are joined);
    otherwise the result is one line.
    """
    # Unescape first as well: some catalogue fields carry escaped markup ("&lt;p&gt;").
    text = html.unescape(value) if "&lt;" in value else value
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    raw = html.unescape("".join(parser.parts)).replace("\xa0", " ")
    if not paragraphs:
        return " ".join(raw.split())
    blocks = (" ".join(block.split()) for block in re.split(r"\n\s*\n", raw))
    return "\n\n".join(block for block in blocks if block)


# Words a cut slug should not end on ("...-servizi-per-la").
_DANGLING = {"a", "al", "alla", "alle", "agli", "ai", "con", "d", "da", "dal", "dalla", "de", "dei", "del", "della",
             "delle", "degli", "di", "e", "ed", "il", "in", "l", "la", "le", "lo", "gli", "nel", "nella", "o", "per",
             "su", "tra", "un", "una", "and", "for", "of", "the", "to"}


def slugify(text: str, max_length: int = 80) -> str:
    """'Voucher 3I - Investire in innovazione' -> 'voucher-3i-investire-in-innovazione' (cut at a word)."""
    slug = fold(text).replace(" ", "-")
    if len(slug) <= max_length:
        return slug
    words = slug[: max_length + 1].split("-")[:-1] or [slug[:max_length]]
    while len(words) > 1 and words[-1] in _DANGLING:
        words.pop()
    return "-".join(words)
