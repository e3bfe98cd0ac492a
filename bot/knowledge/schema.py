"""What staff write, as strict pydantic models: areas, synonyms, documents, FAQ entries."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from bot.measures.vocab import NATIONAL, REGIONS, region

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
# Limits (documented in knowledge/README.md): an id becomes part of a file name and of button data;
# no single text needs more than about 30 pages.
MAX_ID_CHARS = 120
MAX_TEXT_CHARS = 100_000
# Characters that do not show but change what a text says or how it is displayed are refused: control
# characters, bidirectional overrides (U+202E turns "txt.exe" around), zero-width spaces, word
# joiners, and any other character Python does not call printable (unassigned, private use). Tab and
# line breaks are fine, and so are U+200C/U+200D: emoji sequences use them.
_ALLOWED_UNPRINTABLE = "\t\n\r\u200c\u200d"


# Spaces other than the plain one (no-break, thin, ideographic...), as pasted from web pages and
# PDFs: read as plain spaces.
_ODD_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")


def visible_text(value: str) -> str:
    """`value` if every character is visible (tab and newline are fine; odd spaces become plain
    ones); an error naming the first invisible, control, unassigned or private-use character."""
    if _printable(value):  # nearly every text: one pass in C
        return value
    value = _ODD_SPACES.sub(" ", value)
    for position, char in enumerate(value, start=1):
        if not (char in _ALLOWED_UNPRINTABLE or char.isprintable()):
            code = ord(char)
            name = unicodedata.name(char, "unassigned" if unicodedata.category(char) == "Cn" else "control character")
            raise PydanticCustomError(
                "invisible_character",
                "contains an invisible character (U+{code} {name}) at character {position}: delete it",
                {"code": f"{code:04X}", "name": name, "position": position})
    return value


def _printable(value: str) -> bool:
    if value.isprintable():
        return True
    for char in _ALLOWED_UNPRINTABLE:
        value = value.replace(char, "")
    return value.isprintable()


Slug = Annotated[str, StringConstraints(pattern=SLUG, max_length=MAX_ID_CHARS)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS, strip_whitespace=True),
                 AfterValidator(visible_text)]
Ref = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*#[a-z0-9]+(-[a-z0-9]+)*$",
                                     max_length=2 * MAX_ID_CHARS + 1)]
Lang = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]


def _text_region(value: object) -> str:
    """The canonical name of one of the 20 regions (any case, accents or common alias), as measures
    spell it; an error for anything else, "Tutta Italia" included (a text for all of Italy names none)."""
    if not isinstance(value, str):
        raise PydanticCustomError("region_type", "must be the name of a region, as text")
    found = region(value)
    if found == NATIONAL:
        raise PydanticCustomError(
            "national_region", "{value} is not a region: a text that applies in all of Italy has no 'regions'",
            {"value": repr(value)})
    if found is None:
        raise PydanticCustomError(
            "unknown_region", "unknown region {value}: write one of the 20 regions ({known})",
            {"value": repr(value), "known": ", ".join(REGIONS)})
    return found


Region = Annotated[str, BeforeValidator(_text_region)]


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
    # Where the text applies (canonical region names, as measures use them); none: everywhere. A
    # question naming only other regions ranks such a text lower (retrieval.other_region_factor), and
    # the FAQ entries resting on the document inherit its regions.
    regions: list[Region] = []

    @field_validator("regions")
    @classmethod
    def _one_name_per_region(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))  # "Puglia" and "Apulia" are one region


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
