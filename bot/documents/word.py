"""Word (.docx) → RawDocument with python-docx: headings from the paragraph styles (Title, Heading 1-3),
else from article numbers ("Art. 3") or short bold paragraphs; tables as one line per row."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from bot.documents.clean import clean_chars
from bot.documents.layout import ARTICLE
from bot.documents.model import DocumentReadError, RawDocument, RawSection

INTRO_HEADING = "Premessa"


def read_docx(path: Path) -> RawDocument:
    """Read a .docx into sections, in document order (paragraphs and tables)."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentReadError(f"{path}: not a readable Word .docx file ({exc}); an old .doc must be saved "
                                "as .docx first") from None
    title = clean_chars(document.core_properties.title or "")
    blocks = list(_blocks(document))
    styled = any(kind == "heading" for kind, _ in blocks)
    sections: list[RawSection] = []
    notes: list[str] = []
    intro: list[str] = []
    for kind, text in blocks:
        if kind == "title":
            title = title or text
            continue
        if kind == "heading" or (not styled and (kind == "bold" or ARTICLE.match(text))):
            sections.append(RawSection(text, ""))
        elif sections:
            sections[-1].text = f"{sections[-1].text}\n\n{text}".strip()
        else:
            intro.append(text)
    if intro:
        notes.append(f"il testo prima del primo titolo è nella sezione '{INTRO_HEADING}'")
        sections.insert(0, RawSection(INTRO_HEADING, "\n\n".join(intro)))
    if not styled:
        notes.append("il file non usa stili di titolo: i titoli sono le righe in grassetto e i numeri di articolo")
    for s in sections:
        if not s.text:
            notes.append(f"il titolo '{s.heading}' non ha testo: il testo ripete il titolo")
            s.text = s.heading
    if not sections:
        raise DocumentReadError(f"{path}: the document has no text")
    return RawDocument(title=title or path.stem.replace("-", " ").replace("_", " "), sections=sections,
                       kind="docx", notes=notes)


def _blocks(document: Any) -> Any:
    """(kind, text) for every paragraph and table, in order: kind is title, heading, bold or text."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells = [clean_chars(c.text) for c in row.cells]
                rows.append(" | ".join(c for c in cells if c))
            text = "\n".join(r for r in rows if r)
            if text:
                yield "text", text
            continue
        assert isinstance(item, Paragraph)
        text = clean_chars(item.text)
        if not text:
            continue
        style = (item.style.name if item.style is not None else "").lower()
        if style == "title":
            yield "title", text
        elif style.startswith(("heading", "titolo")):
            yield "heading", text
        elif item.runs and all(r.bold for r in item.runs if r.text.strip()) and len(text) <= 110 \
                and not text.endswith("."):
            yield "bold", text
        else:
            yield "text", text
