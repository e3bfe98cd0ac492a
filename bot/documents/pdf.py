"""PDF → RawDocument with pdfplumber (pdfminer.six underneath): words with position, size and font,
so headings are found from the layout and two-column pages are read column by column."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bot.documents.clean import clean_chars, join_lines, page_furniture_key, repeated_lines
from bot.documents.layout import PAGE_NUMBER, Line, body_size, is_heading, page_lines
from bot.documents.model import DocumentReadError, RawDocument, RawSection

logger = logging.getLogger(__name__)

INTRO_HEADING = "Premessa"


def read_pdf(path: Path) -> RawDocument:
    """Read a PDF's text layer into sections; a scanned (image-only) PDF is refused with what to do."""
    import pdfplumber
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfplumber.utils.exceptions import PdfminerException

    # pdfminer logs every odd object at WARNING; the importer reports what matters itself.
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    try:
        pdf = pdfplumber.open(path)
    except (PDFSyntaxError, PdfminerException, OSError, ValueError) as exc:
        raise DocumentReadError(f"{path}: not a readable PDF ({exc.__class__.__name__}: {exc})") from None
    pages: list[list[Line]] = []
    image_only: list[int] = []
    with pdf:
        meta_title = str((pdf.metadata or {}).get("Title") or "").strip()
        for number, page in enumerate(pdf.pages, start=1):
            try:
                words: list[dict[str, Any]] = page.extract_words(extra_attrs=["size", "fontname"])
            except Exception as exc:  # noqa: BLE001 - pdfminer raises many kinds on a damaged page
                raise DocumentReadError(f"{path}: page {number} cannot be read ({exc})") from None
            for w in words:
                w["text"] = clean_chars(w["text"])
            words = [w for w in words if w["text"]]
            if not words and page.images:
                image_only.append(number)
            pages.append(page_lines(words, float(page.width), number))
    if not any(pages):
        what = (f"all {len(pages)} page(s) are images without a text layer (a scan)" if image_only
                else "it contains no text")
        raise DocumentReadError(
            f"{path}: no text can be read: {what}. Run OCR on it first (for example `ocrmypdf in.pdf out.pdf`, "
            "Debian package ocrmypdf, with the Italian language: -l ita) or ask for the original file, then import again."
        )
    doc = _sections(_drop_furniture(pages), meta_title, path)
    doc.pages = len(pages)
    if image_only:
        doc.notes.append(f"le pagine {', '.join(map(str, image_only))} sono immagini senza testo (scansioni): "
                         "il loro contenuto manca")
    return doc


def _drop_furniture(pages: list[list[Line]]) -> list[Line]:
    """Every line but running headers, footers and page numbers."""
    repeated = repeated_lines([[line.text for line in page] for page in pages])
    out = []
    for page in pages:
        for line in page:
            key = page_furniture_key(line.text)
            if key in repeated or PAGE_NUMBER.match(key):
                continue
            out.append(line)
    return out


def _sections(lines: list[Line], meta_title: str, path: Path) -> RawDocument:
    body = body_size(lines)
    body_bold = sum(len(x.text) for x in lines if x.bold) > 0.5 * sum(len(x.text) for x in lines)
    heads = [is_heading(x, body, body_bold) for x in lines]
    title, start = _title(lines, heads, meta_title, path)
    sections: list[RawSection] = []
    notes: list[str] = []
    paragraph: list[str] = []
    paragraphs: list[str] = []
    heading_lines: list[Line] = []
    previous: Line | None = None

    def flush_paragraph() -> None:
        if paragraph:
            paragraphs.append(join_lines(paragraph))
            paragraph.clear()

    def flush_section() -> None:
        flush_paragraph()
        text = "\n\n".join(p for p in paragraphs if p)
        if text:
            if not sections:
                notes.append(f"il testo prima del primo titolo è nella sezione '{INTRO_HEADING}'")
                sections.append(RawSection(INTRO_HEADING, text, lines[start].page if start < len(lines) else 1))
            else:
                sections[-1].text = f"{sections[-1].text}\n\n{text}".strip()
        paragraphs.clear()

    for line, heading in zip(lines[start:], heads[start:]):
        if heading:
            # A heading wrapped over two lines in the same style is one heading.
            if heading_lines and previous is heading_lines[-1] and _same_style(previous, line):
                heading_lines.append(line)
                sections[-1].heading = join_lines([x.text for x in heading_lines])
            else:
                flush_section()
                heading_lines = [line]
                sections.append(RawSection(join_lines([line.text]), "", line.page))
        else:
            new_paragraph = previous is not None and (
                previous.page != line.page or previous.column != line.column
                or line.top - previous.bottom > 0.8 * line.size or line.text[:1] in "•–-▪"
            )
            moved = previous is not None and (previous.page != line.page or previous.column != line.column)
            if new_paragraph and not (moved and _continues(paragraph)):
                flush_paragraph()
            paragraph.append(line.text)
        previous = line
    flush_section()
    empty = [s.heading for s in sections if not s.text]
    if empty:
        notes.append(f"titoli senza testo (il testo ripete il titolo): {', '.join(empty)}")
        for s in sections:
            if not s.text:
                s.text = s.heading
    return RawDocument(title=title, sections=sections, kind="pdf", notes=notes)


def _continues(paragraph: list[str]) -> bool:
    """A paragraph cut by a page or column break (its last line ends no sentence) goes on after it."""
    return bool(paragraph) and not paragraph[-1].rstrip().endswith((".", ":", ";", "!", "?"))


def _same_style(a: Line, b: Line) -> bool:
    return a.page == b.page and abs(a.size - b.size) < 0.5 and a.bold == b.bold and b.top - a.bottom < a.size


def _title(lines: list[Line], heads: list[bool], meta_title: str, path: Path) -> tuple[str, int]:
    """The document title and the index of the first line after it.

    The title is the run of lines set in the largest size on page 1, when that size is larger than
    every heading's; otherwise the PDF's Title metadata, else the file name.
    """
    first_page = [i for i, x in enumerate(lines) if x.page == lines[0].page]
    biggest = max(lines[i].size for i in first_page)
    other_heads = [x.size for x, h in zip(lines, heads) if h and x.size < biggest]
    top = [i for i in first_page if lines[i].size == biggest]
    if other_heads and top and top[0] == first_page[0]:
        end = top[0]
        while end + 1 < len(lines) and lines[end + 1].size == biggest and lines[end + 1].page == lines[0].page:
            end += 1
        return join_lines([lines[i].text for i in range(top[0], end + 1)]), end + 1
    return meta_title or path.stem.replace("-", " ").replace("_", " "), 0
