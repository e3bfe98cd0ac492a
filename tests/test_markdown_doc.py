"""Documents written in Markdown: front matter + `## Heading {#id}` sections, validated like YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import KnowledgeError
from bot.knowledge.load import knowledge_files, load_knowledge
from bot.search.passages import passages

GOOD = """\
---
id: guida-export
title: "Guida all'export"
source: "Testo fornito dallo staff, versione di prova"
language: it
areas: [internazionalizzazione]
---

## Chi può partecipare {#chi}

Il testo di prova dice una cosa. Poi un'altra.

Un secondo paragrafo.

## Come {#come}

Ancora testo.
"""


def write(knowledge: Path, name: str, text: str) -> Path:
    path = knowledge / "documents" / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(knowledge: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(knowledge)
    return [str(p) for p in caught.value.problems]


def test_a_markdown_document_loads_like_a_yaml_one(knowledge_copy: Path) -> None:
    write(knowledge_copy, "guida-export.md", GOOD)
    knowledge = load_knowledge(knowledge_copy)
    doc = knowledge.document("guida-export")
    assert doc is not None and doc.title == "Guida all'export"
    assert [(s.id, s.heading) for s in doc.sections] == [("chi", "Chi può partecipare"), ("come", "Come")]
    assert doc.sections[0].text == "Il testo di prova dice una cosa. Poi un'altra.\n\nUn secondo paragrafo."
    chunks = [p for p in passages(knowledge) if p.source_ref == "guida-export#chi"]
    assert chunks and chunks[0].heading == "Chi può partecipare"


def test_faq_entries_can_cite_a_markdown_section(knowledge_copy: Path) -> None:
    write(knowledge_copy, "guida-export.md", GOOD)
    faq = knowledge_copy / "faq" / "guida.yaml"
    faq.write_text(
        "entries:\n  - id: guida-chi\n    question: Chi può partecipare?\n    phrasings: []\n"
        "    answer: Lo dice la guida.\n    area: internazionalizzazione\n    source: guida-export#come\n",
        encoding="utf-8",
    )
    assert any(e.id == "guida-chi" for e in load_knowledge(knowledge_copy).faqs)


def test_markdown_mistakes_are_reported_with_their_lines(knowledge_copy: Path) -> None:
    shown = write(knowledge_copy, "rotto.md", (
        "---\n"                       # 1
        "id: Rotto\n"                 # 2
        'title: ""\n'                 # 3
        "source: Prova\n"             # 4
        "language: it\n"              # 5
        "areas: [innovazione]\n"      # 6
        "colore: blu\n"               # 7
        "---\n"                       # 8
        "testo libero\n"              # 9
        "## Senza id\n"               # 10
        "x\n"                         # 11
        "## Vuota {#vuota}\n"         # 12
        "\n"                          # 13
        "## Buona {#Buona}\n"         # 14
        "Testo.\n"                    # 15
    ))
    found = problems(knowledge_copy)
    rel = shown.relative_to(Path.cwd()) if shown.is_relative_to(Path.cwd()) else shown
    expected = [
        f"{rel}:2: id: must be lowercase letters, digits and single hyphens (e.g. 'export-aiuti')",
        f"{rel}:3: title: must not be empty",
        f"{rel}:7: colore: unknown field (allowed: id, title, source, language, areas, url, review, sections, regions)",
        f"{rel}:9: text before the first section: start each section with a line '## Heading {{#section-id}}'",
        f"{rel}:10: the section heading needs an id, as in '## Senza id {{#section-id}}'",
        f"{rel}:12: sections[0].text: must not be empty",
        f"{rel}:14: sections[1].id: must be lowercase letters, digits and single hyphens (e.g. 'export-aiuti')",
    ]
    assert found == expected


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("id: x\n", 1, "starts with '---'"),
        ("---\nid: x\n", 1, "never closed"),
        ("---\nid: [x\n---\n## A {#a}\ntesto\n", 2, "malformed YAML"),
        ("---\nid: x\nsections: []\n---\n", 3, "sections are the '## Heading {#id}' lines"),
    ],
)
def test_a_malformed_markdown_document(knowledge_copy: Path, text: str, line: int, message: str) -> None:
    write(knowledge_copy, "rotto.md", text)
    found = [p for p in problems(knowledge_copy) if "rotto.md" in p and message in p]
    assert len(found) == 1 and f"rotto.md:{line}:" in found[0]


def test_readmes_are_guides_not_knowledge(knowledge_copy: Path) -> None:
    write(knowledge_copy, "README.md", "# Note per lo staff\n")
    assert all(p.name != "README.md" for p in knowledge_files(knowledge_copy))
    load_knowledge(knowledge_copy)  # no "not a knowledge file" problem
