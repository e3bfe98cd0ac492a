"""HTML → RawDocument with selectolax (lexbor engine): the page's main content (main/article, without navigation,
header, footer, aside, scripts), headings h1-h4 as sections, paragraphs, lists and tables as text."""

from __future__ import annotations

from pathlib import Path

from bot.documents.clean import clean_chars
from bot.documents.model import DocumentReadError, RawDocument, RawSection

INTRO_HEADING = "Premessa"
DROP = "script, style, noscript, template, nav, header, footer, aside, form, iframe, svg"
BLOCKS = "h1, h2, h3, h4, p, li, td, th, pre, blockquote, dd, dt"


def read_html(path: Path) -> RawDocument:
    """Read a saved web page into sections."""
    from selectolax.lexbor import LexborHTMLParser

    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raw = path.read_bytes().decode("latin-1")
    tree = LexborHTMLParser(raw)
    page_title = clean_chars(tree.css_first("title").text()) if tree.css_first("title") else ""
    canonical = tree.css_first('link[rel="canonical"]')
    url = canonical.attributes.get("href") if canonical is not None else None
    for node in tree.css(DROP):
        node.decompose()
    root = tree.css_first("main") or tree.css_first("article") or tree.body
    if root is None:
        raise DocumentReadError(f"{path}: no page body found")
    title = ""
    sections: list[RawSection] = []
    intro: list[str] = []
    for node in root.css(BLOCKS):
        # A <p> inside an <li> (or a <td>) is read once, with its container.
        if node.tag not in ("li", "td", "th") and _inside(node, ("li", "td", "th")):
            continue
        text = clean_chars(node.text(separator=" "))
        if not text:
            continue
        if node.tag == "h1" and not title:
            title = text
        elif node.tag in ("h1", "h2", "h3", "h4"):
            sections.append(RawSection(text, ""))
        else:
            text = f"- {text}" if node.tag == "li" else text
            if sections:
                # List items stay together, one per line.
                sep = "\n" if node.tag == "li" and sections[-1].text.split("\n")[-1].startswith("- ") else "\n\n"
                sections[-1].text = f"{sections[-1].text}{sep}{text}".strip()
            else:
                intro.append(text)
    notes = []
    if intro:
        sections.insert(0, RawSection(INTRO_HEADING, "\n\n".join(intro)))
        notes.append(f"il testo prima del primo titolo è nella sezione '{INTRO_HEADING}'")
    for s in sections:
        if not s.text:
            s.text = s.heading
            notes.append(f"il titolo '{s.heading}' non ha testo: il testo ripete il titolo")
    if not sections:
        raise DocumentReadError(f"{path}: the page has no text in its main content")
    title = title or page_title.split(" | ")[0] or path.stem
    return RawDocument(title=title, sections=sections, kind="html", url=url, notes=notes)


def _inside(node: object, tags: tuple[str, ...]) -> bool:
    parent = getattr(node, "parent", None)
    while parent is not None:
        if parent.tag in tags:
            return True
        parent = parent.parent
    return False
