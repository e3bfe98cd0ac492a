"""`sportello diff`: what a rebuild would change in the index (entries added, removed, changed),
read from the index's passage table and the knowledge as it is now, without the model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bot.knowledge.load import Knowledge
from bot.search.index import PASSAGES, current_folder
from bot.search.passages import Passage, passages


@dataclass
class Entry:
    """One entry as the index sees it: a FAQ entry, a document section or a measure."""

    key: str
    label: str
    content: str


@dataclass
class IndexDiff:
    """Keys of entries a rebuild would add, remove or change."""

    added: list[Entry] = field(default_factory=list)
    removed: list[Entry] = field(default_factory=list)
    changed: list[tuple[Entry, list[str]]] = field(default_factory=list)
    indexed: bool = True

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def __str__(self) -> str:
        lines = [] if self.indexed else ["No index yet: a build would add everything."]
        lines += [f"+ {e.key}  {e.label}" for e in self.added]
        lines += [f"- {e.key}  {e.label}" for e in self.removed]
        lines += [f"~ {e.key}  {e.label} ({', '.join(what)} changed)" for e, what in self.changed]
        lines.append(f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed"
                     + ("; the index is up to date with the knowledge." if self.empty else "."))
        return "\n".join(lines)


def _key(p: Passage) -> str:
    if p.kind == "faq":
        return p.id
    if p.kind == "measure":
        return p.source_ref
    return f"section:{p.source_ref}"


def entries(items: list[Passage]) -> dict[str, dict[str, str]]:
    """Passages put back together per entry: each field the index holds, chunks joined."""
    out: dict[str, dict[str, str]] = {}
    for p in items:
        fields = out.setdefault(_key(p), {"title": p.title, "heading": p.heading, "area": p.area, "text": "",
                                          "question": p.question or "", "phrasings": " | ".join(p.phrasings),
                                          "url": p.url or "", "page": str(getattr(p, "page", None) or ""),
                                          "regions": ", ".join(p.regions)})
        fields["text"] = f"{fields['text']} {p.text}".strip()
    return out


def index_diff(index_root: Path, knowledge: Knowledge, chunk_chars: int) -> IndexDiff:
    """Compare the built index (if any) with what `sportello build` would index from `knowledge` now."""
    now = entries(passages(knowledge, chunk_chars))
    table = current_folder(index_root) / PASSAGES if (index_root / "current").exists() else None
    if table is None or not table.is_file():
        return IndexDiff(added=[Entry(k, _label(k, v), "") for k, v in sorted(now.items())], indexed=False)
    built_items = [Passage(**{k: v for k, v in p.items() if k in Passage.__dataclass_fields__})
                   for p in json.loads(table.read_text(encoding="utf-8"))]
    built = entries(built_items)
    diff = IndexDiff()
    for key in sorted(now.keys() - built.keys()):
        diff.added.append(Entry(key, _label(key, now[key]), ""))
    for key in sorted(built.keys() - now.keys()):
        diff.removed.append(Entry(key, _label(key, built[key]), ""))
    for key in sorted(now.keys() & built.keys()):
        what = [f for f in now[key] if now[key][f] != built[key].get(f, "")]
        if what:
            diff.changed.append((Entry(key, _label(key, now[key]), ""), what))
    return diff


def _label(key: str, fields: dict[str, str]) -> str:
    if key.startswith("faq:"):
        return f"«{fields['question']}»"
    if key.startswith("measure:"):
        return fields["title"]
    return f"{fields['title']}, «{fields['heading']}»"
