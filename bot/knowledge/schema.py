"""What staff write, as strict pydantic models: areas, synonyms, documents, FAQ entries."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
# Limits (documented in knowledge/README.md): an id becomes part of a file name and of button data;
# no single text needs more than about 30 pages.
MAX_ID_CHARS = 120
MAX_TEXT_CHARS = 100_000
# Characters that do not show but change what a text says or how it is displayed: control
# characters, bidirectional overrides (U+202E turns "txt.exe" around), zero-width spaces and
# word joiners. U+200C/U+200D stay allowed: emoji sequences use them.
_INVISIBLE = {0x200B, 0x2060, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x061C, 0x200E, 0x200F}


def visible_text(value: str) -> str:
    """`value` if it holds no invisible or control character (tab and newline are fine)."""
    for position, char in enumerate(value, start=1):
        code = ord(char)
        if code in _INVISIBLE or (unicodedata.category(char) in ("Cc", "Cs") and char not in "\t\n\r"):
            name = unicodedata.name(char, "control character")
            raise PydanticCustomError(
                "invisible_character",
                "contains an invisible character (U+{code} {name}) at character {position}: delete it",
                {"code": f"{code:04X}", "name": name, "position": position})
    return value


Slug = Annotated[str, StringConstraints(pattern=SLUG, max_length=MAX_ID_CHARS)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS, strip_whitespace=True),
                 AfterValidator(visible_text)]
Ref = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*#[a-z0-9]+(-[a-z0-9]+)*$",
                                     max_length=2 * MAX_ID_CHARS + 1)]
Lang = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]


class Strict(BaseModel):
    """Base of every knowledge model: unknown fields and silent type conversions are errors."""

    # strict: a number where text is expected is an error, not silently converted.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Section(Strict):
    id: Slug
    heading: Text
    text: Text
    areas: list[Slug] = []
    # The page of the original (PDF) the section starts on, so a citation can say "p. 4".
    page: Annotated[int, Field(ge=1)] | None = None


class Document(Strict):
    id: Slug
    title: Text
    source: Text
    language: Lang
    areas: list[Slug]
    url: Text | None = None
    # What staff should check before relying on the text (set by `sportello import`); a validate warning.
    review: Text | None = None
    sections: list[Section]


class FaqEntry(Strict):
    id: Slug
    question: Text
    phrasings: list[Text] = []
    answer: Text
    area: Slug
    source: Ref
    url: Text | None = None
    # A draft (written by `sportello suggest`) is validated but left out of the index until staff
    # write its answer and remove the flag; `sportello validate` lists drafts as warnings.
    draft: bool = False

    @property
    def document_id(self) -> str:
        return self.source.split("#", 1)[0]

    @property
    def section_id(self) -> str:
        return self.source.split("#", 1)[1]


class FaqFile(Strict):
    entries: list[FaqEntry]


class Area(Strict):
    id: Slug
    title: Text
    title_en: Text
    description: Text
    description_en: Text


class AreasFile(Strict):
    areas: list[Area]


class SynonymsFile(Strict):
    groups: list[Annotated[list[Text], "group"]]
