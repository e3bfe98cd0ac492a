"""`sportello import` for documents: read each file by its type, write knowledge/documents/<slug>.md,
check that it validates, and say what happened."""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.documents.mdtext import read_markdown
from bot.documents.model import DocumentReadError, RawDocument
from bot.documents.pdf import read_pdf
from bot.documents.webpage import read_html
from bot.documents.word import read_docx
from bot.documents.writer import default_front, guess_areas, guess_language, render, slugify

from bot.knowledge.markdown_doc import read_markdown_document
from bot.knowledge.schema import Document
from bot.knowledge.validate import validate_model

logger = logging.getLogger(__name__)

READERS: dict[str, Callable[[Path], RawDocument]] = {
    ".pdf": read_pdf, ".docx": read_docx, ".html": read_html, ".htm": read_html, ".md": read_markdown,
    ".markdown": read_markdown,
}
DOCUMENT_SUFFIXES = frozenset(READERS)
DOCUMENTS_DIR = "documents"
# Front matter fields staff own once the file exists: a new import replaces only the sections.
KEPT_FIELDS = ("title", "source", "language", "areas", "url", "review")


def is_document(path: Path) -> bool:
    """True for the file types this importer reads (PDF, .docx, HTML, Markdown)."""
    return path.suffix.lower() in DOCUMENT_SUFFIXES


@dataclass
class Imported:
    """One imported file: where it went, its sections, and whether it was new, updated or unchanged."""

    source: Path
    target: Path
    status: str                     # "added" | "updated" | "unchanged"
    headings: list[str]
    pages: list[int | None]
    areas: list[str]


@dataclass
class DocumentImportReport:
    """What `sportello import` did with the documents; `ok` is False when any file failed."""

    imported: list[Imported] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def __str__(self) -> str:
        lines = []
        for item in self.imported:
            lines.append(f"{item.source} → {item.target} ({item.status}): {len(item.headings)} sections, "
                         f"areas {', '.join(item.areas) or 'none'} (to review: `sportello validate` lists it)")
        lines += [f"error: {e}" for e in self.errors]
        return "\n".join(lines) or "nothing to import"


def import_documents(paths: list[Path], knowledge_root: Path, *, today: dt.date) -> DocumentImportReport:
    """Import every document in `paths` into `knowledge_root/documents/`; a failed file writes nothing."""
    report = DocumentImportReport()
    folder = Path(knowledge_root) / DOCUMENTS_DIR
    for path in paths:
        path = Path(path)
        try:
            if not path.is_file():
                raise DocumentReadError(f"{path}: no such file")
            reader = READERS.get(path.suffix.lower())
            if reader is None:
                raise DocumentReadError(f"{path}: unknown document type (known: {', '.join(sorted(READERS))})")
            raw = reader(path)
            report.imported.append(_write(raw, path, folder, Path(knowledge_root), today))
        except DocumentReadError as exc:
            report.errors.append(str(exc))
    return report


def _write(raw: RawDocument, path: Path, folder: Path, root: Path, today: dt.date) -> Imported:
    doc_id = slugify(path.stem)
    target = folder / f"{doc_id}.md"
    _check_id_free(doc_id, folder, target)
    area_defs = _areas(root)
    text = "\n".join(f"{s.heading}\n{s.text}" for s in raw.sections)
    areas = guess_areas(f"{raw.title}\n{text}", area_defs)
    front = default_front(raw, path.name, today, areas, guess_language(text), [a for a, _ in area_defs])
    status = "added"
    if target.exists():
        kept = _front_matter(target)
        front = {k: kept[k] for k in KEPT_FIELDS if k in kept} or front
        status = "updated"
    content = render(doc_id, raw, front)
    if target.exists() and target.read_text(encoding="utf-8") == content:
        status = "unchanged"
    else:
        _check_valid(content, target)
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(target, content)
    return Imported(path, target, status, [s.heading for s in raw.sections], [s.page for s in raw.sections],
                    list(front.get("areas", [])))  # type: ignore[arg-type]


def _check_valid(content: str, target: Path) -> None:
    """Parse and validate the text about to be written, as the loader will: a bad result is never written."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / target.name
        probe.write_text(content, encoding="utf-8")
        parsed, problems = read_markdown_document(probe, target)
        if parsed is not None:
            validate_model(parsed, Document, problems)
    if problems:
        raise DocumentReadError(f"{target}: the imported document would not validate: "
                                + "; ".join(str(p) for p in problems))


def _check_id_free(doc_id: str, folder: Path, target: Path) -> None:
    for other in sorted(folder.glob("*")) if folder.is_dir() else []:
        if other == target or other.suffix.lower() not in (".yaml", ".yml", ".md"):
            continue
        front = _front_matter(other) if other.suffix.lower() == ".md" else _yaml(other)
        if front.get("id") == doc_id:
            raise DocumentReadError(f"{other}: already holds a document with id '{doc_id}': rename the file "
                                    "to import, or that document")


def _front_matter(path: Path) -> dict[str, object]:
    lines = path.read_text(encoding="utf-8").splitlines()
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if not lines or lines[0].strip() != "---" or end is None:
        return {}
    try:
        data = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _yaml(path: Path) -> dict[str, object]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _areas(root: Path) -> list[tuple[str, str]]:
    """(id, title and description) of each area in areas.yaml; none when it cannot be read."""
    data = _yaml(root / "areas.yaml") if (root / "areas.yaml").is_file() else {}
    out = []
    for area in data.get("areas") or []:  # type: ignore[union-attr]
        if isinstance(area, dict) and isinstance(area.get("id"), str):
            out.append((area["id"], f"{area.get('title', '')} {area.get('description', '')}"))
    return out


def _write_atomic(target: Path, content: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".import-", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    os.replace(tmp, target)



