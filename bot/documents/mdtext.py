"""Markdown (as people write it: '# Title', '## Heading') → RawDocument."""

from __future__ import annotations

import re
from pathlib import Path

from bot.documents.clean import clean_chars
from bot.documents.model import DocumentReadError, RawDocument, RawSection

INTRO_HEADING = "Premessa"
_HEADING = re.compile(r"^(#{1,4})\s+(.*?)\s*(?:\{#[^}]*\})?\s*#*\s*$")


def read_markdown(path: Path) -> RawDocument:
    """Read a Markdown file: the first '#' heading is the title, every other heading a section."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentReadError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    lines = text.splitlines()
    if lines and lines[0].strip() == "---":  # front matter of another tool: not text
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0)
        lines = lines[end + 1:]
    title = ""
    sections: list[RawSection] = []
    intro: list[str] = []
    for line in lines:
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1 and not title and not sections:
            title = clean_chars(match.group(2))
        elif match:
            sections.append(RawSection(clean_chars(match.group(2)), ""))
        elif sections:
            sections[-1].text += line + "\n"
        else:
            intro.append(line)
    notes = []
    if "\n".join(intro).strip():
        sections.insert(0, RawSection(INTRO_HEADING, "\n".join(intro)))
        notes.append(f"il testo prima del primo titolo è nella sezione '{INTRO_HEADING}'")
    for s in sections:
        s.text = re.sub(r"\n{3,}", "\n\n", s.text).strip() or s.heading
    if not sections:
        raise DocumentReadError(f"{path}: no '## Heading' lines: nothing to split into sections")
    return RawDocument(title=title or path.stem, sections=sections, kind="md", notes=notes)
