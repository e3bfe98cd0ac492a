"""Read a document written in Markdown: YAML front matter, then one `## Heading {#id}` per section.

Long official texts are easier to paste and proofread as Markdown than as YAML block scalars. The
result has the same shape as a YAML document file, with the line of every field, so the same
validation and the same `file:line` errors apply:

    ---
    id: protocollo-rt-unioncamere
    title: "Protocollo d'intesa Regione Toscana – Unioncamere Toscana"
    source: "Comunicato stampa sulla firma del protocollo"
    language: it
    areas: [internazionalizzazione, innovazione]
    ---

    ## La firma del protocollo {#firma}

    È stato firmato a Firenze un protocollo d'intesa...
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot.errors import Problem
from bot.knowledge.yamlfile import Location, YamlFile, parse_yaml, read_text

FENCE = "---"
# "## Heading {#id}", or "## Heading {#id page=4}" for a section that starts on page 4 of the original.
_HEADING = re.compile(r"^##\s+(?P<heading>.*?)\s*(?:\{#(?P<id>[^}]*?)(?:\s+page=(?P<page>\d+))?\s*\})?\s*$")


def read_markdown_document(path: Path, shown: Path) -> tuple[YamlFile | None, list[Problem]]:
    """Parse a Markdown document into document data with lines; None if it cannot be read at all."""
    text, problems = read_text(path, shown)
    if text is None:
        return None, problems
    lines = text.splitlines()
    if not lines or lines[0].strip() != FENCE:
        return None, [Problem(shown, 1, "a Markdown document starts with '---', its fields (id, title, source, "
                                        "language, areas) and another '---'")]
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == FENCE), None)
    if end is None:
        return None, [Problem(shown, 1, "the front matter opened by '---' on line 1 is never closed by '---'")]
    front, front_problems = parse_yaml("\n".join(lines[1:end]), shown, first_line=2)
    problems += front_problems
    if front is None:
        return None, problems
    data: dict[str, Any] = dict(front.data) if isinstance(front.data, dict) else {}
    where: dict[Location, int] = dict(front.lines)
    if front.data is not None and not isinstance(front.data, dict):
        problems.append(Problem(shown, 2, "the front matter must be fields such as 'id: ...', one per line"))
    if "sections" in data:
        problems.append(Problem(shown, where.get(("sections",), 2),
                                "sections: in a Markdown document, sections are the '## Heading {#id}' lines"))
    data["sections"], section_lines, body_problems = _sections(lines, end + 1, shown)
    where.update(section_lines)
    where.setdefault(("sections",), end + 2 if end + 1 < len(lines) else end + 1)
    return YamlFile(shown, data, where), problems + body_problems


def _sections(
    lines: list[str], start: int, shown: Path
) -> tuple[list[dict[str, Any]], dict[Location, int], list[Problem]]:
    sections: list[dict[str, Any]] = []
    where: dict[Location, int] = {}
    problems: list[Problem] = []
    body: list[str] = []

    def close() -> None:
        if sections:
            sections[-1]["text"] = "\n".join(body).strip()
        body.clear()

    skipping = False  # inside a section left out because its heading has no id
    stray = False     # text before the first section was reported
    for number, line in enumerate(lines[start:], start=start + 1):
        match = _HEADING.match(line)
        if match and match.group("id") is None:
            close()
            skipping = True
            problems.append(Problem(shown, number, f"the section heading needs an id, "
                                                   f"as in '## {match.group('heading')} {{#section-id}}'"))
        elif match:
            close()
            skipping = False
            i = len(sections)
            section: dict[str, Any] = {"id": match.group("id"), "heading": match.group("heading")}
            if match.group("page"):
                section["page"] = int(match.group("page"))
            sections.append(section)
            for key in ((), ("id",), ("heading",), ("text",), ("page",)):
                where[("sections", i, *key)] = number
        elif sections and not skipping:
            if line.strip() and not body:
                where[("sections", len(sections) - 1, "text")] = number
            body.append(line)
        elif line.strip() and not sections and not skipping and not stray:
            stray = True
            problems.append(Problem(shown, number, "text before the first section: start each section "
                                                   "with a line '## Heading {#section-id}'"))
    close()
    return sections, where, problems
