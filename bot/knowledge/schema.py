"""What staff write, as strict pydantic models: areas, synonyms, documents, FAQ entries."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Ref = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*#[a-z0-9]+(-[a-z0-9]+)*$")]
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


class Document(Strict):
    id: Slug
    title: Text
    source: Text
    language: Lang
    areas: list[Slug]
    url: Text | None = None
    sections: list[Section]


class FaqEntry(Strict):
    id: Slug
    question: Text
    phrasings: list[Text] = []
    answer: Text
    area: Slug
    source: Ref
    url: Text | None = None

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
