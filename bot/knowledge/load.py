"""Read every knowledge file, validate it against the schema and cross-check the files: every
mistake is a Problem with file and line, all reported at once."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import KnowledgeError, Problem
from bot.knowledge.markdown_doc import read_markdown_document
from bot.knowledge.schema import (
    Area,
    AreasFile,
    Document,
    FaqEntry,
    FaqFile,
    Section,
    SynonymsFile,
)
from bot.knowledge.validate import validate_model
from bot.knowledge.yamlfile import YamlFile, read_yaml
from bot.measures.schema import Measure, read_measure_file, validate_measure

@dataclass(frozen=True)
class Knowledge:
    """Everything staff wrote, validated and cross-checked."""

    root: Path
    areas: list[Area]
    documents: list[Document]
    faqs: list[FaqEntry]
    synonyms: list[list[str]]
    measures: list[Measure] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    # FAQ entries marked `draft: true`: validated, but not indexed until staff finish them.
    drafts: list[FaqEntry] = field(default_factory=list)
    # What staff should look at but does not stop a build (drafts, imported documents to review).
    warnings: list[Problem] = field(default_factory=list)

    def document(self, doc_id: str) -> Document | None:
        return next((d for d in self.documents if d.id == doc_id), None)

    def section(self, doc_id: str, section_id: str) -> Section | None:
        doc = self.document(doc_id)
        return next((s for s in doc.sections if s.id == section_id), None) if doc else None



# File layout: where each kind of file lives, relative to the knowledge folder.
AREAS_FILE = "areas.yaml"
SYNONYMS_FILE = "synonyms.yaml"
DOCUMENTS_DIR = "documents"
FAQ_DIR = "faq"
MEASURES_DIR = "measures"
IGNORED_DIRS = {"eval"}

def knowledge_files(root: Path) -> list[Path]:
    """The files that make up the knowledge (not the eval sets, not the guides), sorted."""
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or rel.parts[0] in IGNORED_DIRS or any(p.startswith(".") for p in rel.parts):
            continue
        if not _inside(path, root):  # reported by load_knowledge, never read (see outside_links)
            continue
        # Notes and guides (README.md, LEGGIMI.md...) are not knowledge; Markdown documents are.
        is_document = rel.parts[0] == DOCUMENTS_DIR and not path.name.lower().startswith("readme")
        if path.suffix.lower() in {".md", ".txt"} and not (is_document and path.suffix.lower() == ".md"):
            continue
        files.append(path)
    return files


def outside_links(root: Path) -> list[Path]:
    """Symbolic links under `root` that lead outside it (to a file or a folder), sorted."""
    return sorted(p for p in root.rglob("*") if p.is_symlink() and not _inside(p, root)
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _inside(path: Path, root: Path) -> bool:
    # A link may point anywhere (/etc/passwd, a device, another checkout): only what resolves
    # inside the knowledge folder is knowledge.
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a loop of links
        return False


def knowledge_hash(root: Path) -> str:
    """SHA-256 over the names and bytes of the knowledge files: changes whenever they do."""
    digest = hashlib.sha256()
    for path in knowledge_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def load_knowledge(root: Path) -> Knowledge:
    """Read every knowledge file under `root`; raise KnowledgeError listing all problems."""
    root = Path(root)
    if not root.is_dir():
        raise KnowledgeError([Problem(root, 0, "knowledge folder not found")])
    problems: list[Problem] = []
    areas: list[Area] = []
    documents: list[tuple[YamlFile, Document]] = []
    faqs: list[tuple[YamlFile, int, FaqEntry]] = []
    synonyms: list[list[str]] = []
    measure_files: list[YamlFile] = []
    files = knowledge_files(root)
    for link in outside_links(root):
        problems.append(Problem(_unresolved(link), 1, "a link to something outside the knowledge folder: "
                                                      "copy the file into the folder instead"))
    documents_broken = False
    for path in files:
        rel = path.relative_to(root)
        shown = shown_path(path)
        kind = _kind(rel)
        if kind is None:
            problems.append(Problem(shown, 1, f"not a knowledge file: expected {AREAS_FILE}, {SYNONYMS_FILE}, "
                                              f"{DOCUMENTS_DIR}/*.yaml, {DOCUMENTS_DIR}/*.md, {FAQ_DIR}/*.yaml "
                                              f"or {MEASURES_DIR}/*.yaml"))
            continue
        markdown = kind == "markdown document"
        if markdown:
            parsed, parse_problems = read_markdown_document(path, shown)
            kind = "document"
        elif kind == "measure":
            parsed, parse_problems = read_measure_file(path, shown)
        else:
            parsed, parse_problems = read_yaml(path, shown)
        problems += parse_problems
        if parsed is None:
            documents_broken |= kind == "document"
            continue
        if kind == "areas":
            model = validate_model(parsed, AreasFile, problems)
            areas += model.areas if model else []
        elif kind == "synonyms":
            model = validate_model(parsed, SynonymsFile, problems)
            synonyms += [list(g) for g in model.groups] if model else []
        elif kind == "document":
            model = validate_model(parsed, Document, problems)
            # A Markdown heading without its id was left out: the document is not complete.
            complete = model is not None and not (markdown and parse_problems)
            if complete:
                documents.append((parsed, model))
            documents_broken |= not complete
        elif kind == "measure":
            measure_files.append(parsed)  # validated below, once the areas are known
        else:
            faqs += [(parsed, i, e) for i, e in _validate_entries(parsed, problems)]
    problems += _cross_check(areas, documents, faqs, files, root, documents_broken)
    area_ids = {a.id for a in areas} if areas else None
    measures = [m for parsed in measure_files if (m := validate_measure(parsed, problems, area_ids)) is not None]
    if problems:
        raise KnowledgeError(problems)
    warnings = [Problem(parsed.path, parsed.line_of(("entries", i, "draft")),
                        f"warning: FAQ '{e.id}' is a draft: it stays out of the index until its answer is "
                        "written and 'draft: true' is removed") for parsed, i, e in faqs if e.draft]
    warnings += [Problem(parsed.path, parsed.line_of(("review",)), f"warning: document '{d.id}' to review: {d.review}")
                 for parsed, d in documents if d.review]
    return Knowledge(
        root=root,
        areas=areas,
        documents=[d for _, d in documents],
        faqs=[e for _, _, e in faqs if not e.draft],
        measures=measures,
        synonyms=synonyms,
        files=files,
        drafts=[e for _, _, e in faqs if e.draft],
        warnings=sorted(warnings, key=lambda p: (str(p.path), p.line)),
    )


def shown_path(path: Path) -> Path:
    """Paths in messages: relative to the working folder when possible, as staff typed them."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path
    except (OSError, RuntimeError):  # a loop of links cannot be resolved: show it as it is
        return _unresolved(path)


def _unresolved(path: Path) -> Path:
    """Like shown_path, but a link is named as itself, not as what it points to."""
    absolute, cwd = Path(os.path.abspath(path)), Path(os.path.abspath(Path.cwd()))
    return absolute.relative_to(cwd) if absolute.is_relative_to(cwd) else path


def _kind(rel: Path) -> str | None:
    if len(rel.parts) == 2 and rel.parts[0] == DOCUMENTS_DIR and rel.suffix.lower() == ".md":
        return "markdown document"
    if rel.suffix.lower() not in {".yaml", ".yml"}:
        return None
    if len(rel.parts) == 1:
        return {AREAS_FILE: "areas", SYNONYMS_FILE: "synonyms"}.get(rel.with_suffix(".yaml").name)
    if len(rel.parts) == 2 and rel.parts[0] == DOCUMENTS_DIR:
        return "document"
    if len(rel.parts) == 2 and rel.parts[0] == FAQ_DIR:
        return "faq"
    if len(rel.parts) == 2 and rel.parts[0] == MEASURES_DIR:
        return "measure"
    return None


def _validate_entries(parsed: YamlFile, problems: list[Problem]) -> list[tuple[int, FaqEntry]]:
    """The valid entries of a FAQ file. Entries are checked one by one, so a mistake in one entry
    does not hide the cross-file problems (unknown area, missing section) of the others."""
    data = parsed.data
    if not (isinstance(data, dict) and isinstance(data.get("entries"), list)):
        model = validate_model(parsed, FaqFile, problems)
        return list(enumerate(model.entries)) if model else []
    validate_model(parsed, FaqFile, problems, data={**data, "entries": []}, prefix=())  # the file's own fields
    valid = []
    for i, raw in enumerate(data["entries"]):
        entry = validate_model(parsed, FaqEntry, problems, data=raw if raw is not None else {}, prefix=("entries", i))
        if entry is not None:
            valid.append((i, entry))
    return valid


def _cross_check(
    areas: list[Area],
    documents: list[tuple[YamlFile, Document]],
    faqs: list[tuple[YamlFile, int, FaqEntry]],
    files: list[Path],
    root: Path,
    documents_broken: bool = False,
) -> list[Problem]:
    problems: list[Problem] = []
    area_ids = {a.id for a in areas}
    check_areas = bool(areas)  # with no areas file at all, that is the one problem to report
    if not any(_kind(f.relative_to(root)) == "areas" for f in files):
        problems.append(Problem(shown_path(root / AREAS_FILE), 0, "missing: the list of areas is required"))
    seen: dict[str, tuple[Path, int]] = {}

    def claim(kind: str, ident: str, parsed: YamlFile, loc: tuple[Any, ...]) -> None:
        line = parsed.line_of(loc)
        key = f"{kind}:{ident}"
        if key in seen:
            first_path, first_line = seen[key]
            problems.append(parsed.problem(loc, f"duplicate {kind} id '{ident}' (first defined at {first_path}:{first_line})"))
        else:
            seen[key] = (parsed.path, line)

    sections: set[str] = set()
    for parsed, doc in documents:
        claim("document", doc.id, parsed, ("id",))
        for i, area in enumerate(doc.areas):
            if check_areas and area not in area_ids:
                problems.append(parsed.problem(("areas", i), f"unknown area '{area}' (known: {', '.join(sorted(area_ids))})"))
        if not doc.sections:
            problems.append(parsed.problem(("sections",), "a document needs at least one section"))
        local: set[str] = set()
        for i, sec in enumerate(doc.sections):
            if sec.id in local:
                problems.append(parsed.problem(("sections", i, "id"), f"duplicate section id '{sec.id}' in document '{doc.id}'"))
            local.add(sec.id)
            sections.add(f"{doc.id}#{sec.id}")
            for j, area in enumerate(sec.areas):
                if area not in doc.areas:
                    problems.append(parsed.problem(("sections", i, "areas", j), f"area '{area}' is not among the document's areas"))
    for parsed, i, entry in faqs:
        claim("FAQ", entry.id, parsed, ("entries", i, "id"))
        if check_areas and entry.area not in area_ids:
            problems.append(parsed.problem(("entries", i, "area"), f"unknown area '{entry.area}' (known: {', '.join(sorted(area_ids))})"))
        # A document file with mistakes of its own is not loaded: the FAQ entries that cite it
        # would each repeat its problem, so they are checked once it loads.
        cited_unloaded = documents_broken and entry.document_id not in {d.id for _, d in documents}
        if entry.source not in sections and not cited_unloaded:
            problems.append(parsed.problem(("entries", i, "source"), f"'{entry.source}' is not a section of any document"))
    return problems
