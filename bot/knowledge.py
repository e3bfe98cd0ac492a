"""Load and validate the knowledge files; turn them into passages ready to index."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from bot.errors import KnowledgeError, Problem
from bot.markdown_doc import read_markdown_document
from bot.yamlfile import YamlFile, read_yaml

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Ref = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*#[a-z0-9]+(-[a-z0-9]+)*$")]
Lang = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]


class _Strict(BaseModel):
    # strict: a number where text is expected is an error, not silently converted.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Section(_Strict):
    id: Slug
    heading: Text
    text: Text
    areas: list[Slug] = []


class Document(_Strict):
    id: Slug
    title: Text
    source: Text
    language: Lang
    areas: list[Slug]
    url: Text | None = None
    sections: list[Section]


class FaqEntry(_Strict):
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


class FaqFile(_Strict):
    entries: list[FaqEntry]


class Area(_Strict):
    id: Slug
    title: Text
    title_en: Text
    description: Text
    description_en: Text


class AreasFile(_Strict):
    areas: list[Area]


class SynonymsFile(_Strict):
    groups: list[Annotated[list[Text], "group"]]


@dataclass(frozen=True)
class Knowledge:
    """Everything staff wrote, validated and cross-checked."""

    root: Path
    areas: list[Area]
    documents: list[Document]
    faqs: list[FaqEntry]
    synonyms: list[list[str]]
    files: list[Path] = field(default_factory=list)

    def area(self, area_id: str) -> Area | None:
        return next((a for a in self.areas if a.id == area_id), None)

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
IGNORED_DIRS = {"eval"}

M = TypeVar("M", bound=BaseModel)


def knowledge_files(root: Path) -> list[Path]:
    """The files that make up the knowledge (not the eval sets, not the guides), sorted."""
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or rel.parts[0] in IGNORED_DIRS or any(p.startswith(".") for p in rel.parts):
            continue
        # Notes and guides (README.md, LEGGIMI.md...) are not knowledge; Markdown documents are.
        is_document = rel.parts[0] == DOCUMENTS_DIR and not path.name.lower().startswith("readme")
        if path.suffix.lower() in {".md", ".txt"} and not (is_document and path.suffix.lower() == ".md"):
            continue
        files.append(path)
    return files


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
    files = knowledge_files(root)
    documents_broken = False
    for path in files:
        rel = path.relative_to(root)
        shown = _shown(path)
        kind = _kind(rel)
        if kind is None:
            problems.append(Problem(shown, 1, f"not a knowledge file: expected {AREAS_FILE}, {SYNONYMS_FILE}, "
                                              f"{DOCUMENTS_DIR}/*.yaml, {DOCUMENTS_DIR}/*.md or {FAQ_DIR}/*.yaml"))
            continue
        markdown = kind == "markdown document"
        if markdown:
            parsed, parse_problems = read_markdown_document(path, shown)
            kind = "document"
        else:
            parsed, parse_problems = read_yaml(path, shown)
        problems += parse_problems
        if parsed is None:
            documents_broken |= kind == "document"
            continue
        if kind == "areas":
            model = _validate(parsed, AreasFile, problems)
            areas += model.areas if model else []
        elif kind == "synonyms":
            model = _validate(parsed, SynonymsFile, problems)
            synonyms += [list(g) for g in model.groups] if model else []
        elif kind == "document":
            model = _validate(parsed, Document, problems)
            # A Markdown heading without its id was left out: the document is not complete.
            complete = model is not None and not (markdown and parse_problems)
            if complete:
                documents.append((parsed, model))
            documents_broken |= not complete
        else:
            faqs += [(parsed, i, e) for i, e in _validate_entries(parsed, problems)]
    problems += _cross_check(areas, documents, faqs, files, root, documents_broken)
    if problems:
        raise KnowledgeError(problems)
    return Knowledge(
        root=root,
        areas=areas,
        documents=[d for _, d in documents],
        faqs=[e for _, _, e in faqs],
        synonyms=synonyms,
        files=files,
    )


def _shown(path: Path) -> Path:
    """Paths in messages: relative to the working folder when possible, as staff typed them."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


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
    return None


_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
    "string_too_short": "must not be empty",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be a mapping of fields",
    "model_type": "must be a mapping of fields",
    "model_attributes_type": "must be a mapping of fields",
}


def _validate(
    parsed: YamlFile, model: type[M], problems: list[Problem], data: Any = None, prefix: tuple[Any, ...] = ()
) -> M | None:
    """`data` (default: the whole file) as `model`, or None with its problems; `prefix` locates it."""
    data = parsed.data if data is None and not prefix else data
    if data is None:
        problems.append(Problem(parsed.path, 1, "the file is empty"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = prefix + tuple(err["loc"])
            kind = err["type"]
            if kind == "string_pattern_mismatch":
                pattern = err.get("ctx", {}).get("pattern", "")
                message = (
                    "must look like 'document-id#section-id'"
                    if "#" in pattern
                    else "must be lowercase letters, digits and single hyphens (e.g. 'export-aiuti')"
                    if pattern == SLUG
                    else "must be a two-letter language code such as 'it'"
                )
            elif kind == "extra_forbidden":
                allowed = _allowed_fields(model, loc[len(prefix):-1])
                message = _MESSAGES[kind] + (f" (allowed: {', '.join(allowed)})" if allowed else "")
            else:
                message = _MESSAGES.get(kind, err["msg"])
            problems.append(parsed.problem(loc, message))
        return None


def _validate_entries(parsed: YamlFile, problems: list[Problem]) -> list[tuple[int, FaqEntry]]:
    """The valid entries of a FAQ file. Entries are checked one by one, so a mistake in one entry
    does not hide the cross-file problems (unknown area, missing section) of the others."""
    data = parsed.data
    if not (isinstance(data, dict) and isinstance(data.get("entries"), list)):
        model = _validate(parsed, FaqFile, problems)
        return list(enumerate(model.entries)) if model else []
    _validate(parsed, FaqFile, problems, data={**data, "entries": []}, prefix=())  # the file's own fields
    valid = []
    for i, raw in enumerate(data["entries"]):
        entry = _validate(parsed, FaqEntry, problems, data=raw if raw is not None else {}, prefix=("entries", i))
        if entry is not None:
            valid.append((i, entry))
    return valid


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed at `loc` inside `model`, for 'unknown field' hints."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part) if isinstance(current, type) and issubclass(current, BaseModel) else None
        if info is None:
            return []
        current = _inner_model(info.annotation)
        if current is None:
            return []
    return list(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found:
            return found
    return None


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
        problems.append(Problem(_shown(root / AREAS_FILE), 0, "missing: the list of areas is required"))
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


# --- Passages -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Passage:
    """One retrievable unit: a chunk of a document section, or a FAQ entry."""

    id: str                  # "doc#section/2" or "faq:id"
    kind: str                # "passage" | "faq"
    text: str                # what the user reads
    title: str               # document title (for FAQ: the document it rests on)
    heading: str             # section heading
    area: str                # main area id
    source_ref: str          # "doc#section"
    question: str | None = None
    phrasings: tuple[str, ...] = ()
    url: str | None = None

    @property
    def source(self) -> str:
        """How the source is shown: document title + section, or the FAQ id and what it rests on."""
        if self.kind == "faq":
            return f"FAQ {self.id.removeprefix('faq:')} — {self.title}, «{self.heading}»"
        return f"{self.title}, «{self.heading}»"

    def embedding_texts(self) -> list[str]:
        """Texts whose vectors stand for this passage in the dense index."""
        if self.kind == "faq":
            return [self.question or "", *self.phrasings, self.text]
        return [f"{self.heading}. {self.text}"]

    def lexical_text(self) -> str:
        """Text indexed for lexical search."""
        if self.kind == "faq":
            return " ".join([self.question or "", *self.phrasings, self.text])
        return f"{self.heading}. {self.text}"


def passages(knowledge: Knowledge, max_chars: int = 700) -> list[Passage]:
    """FAQ entries first, then document sections chunked at sentence ends."""
    out: list[Passage] = []
    for entry in knowledge.faqs:
        doc = knowledge.document(entry.document_id)
        sec = knowledge.section(entry.document_id, entry.section_id)
        assert doc is not None and sec is not None  # guaranteed by validation
        out.append(Passage(
            id=f"faq:{entry.id}", kind="faq", text=entry.answer.strip(), title=doc.title, heading=sec.heading,
            area=entry.area, source_ref=entry.source, question=entry.question,
            phrasings=tuple(entry.phrasings), url=entry.url or doc.url,
        ))
    for doc in knowledge.documents:
        for sec in doc.sections:
            area = sec.areas[0] if sec.areas else doc.areas[0] if doc.areas else ""
            for n, chunk in enumerate(chunk_text(sec.text, max_chars)):
                out.append(Passage(
                    id=f"{doc.id}#{sec.id}/{n}", kind="passage", text=chunk, title=doc.title,
                    heading=sec.heading, area=area, source_ref=f"{doc.id}#{sec.id}", url=doc.url,
                ))
    return out


# A sentence ends at . ! ? … (optionally followed by a closing quote or bracket), then space, then
# something that can start a sentence. Common Italian abbreviations are not sentence ends.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’»)]*\s+(?=[\"'“‘«(]?[A-ZÀ-ÖØ-Þ0-9])")
_ABBREVIATIONS = ("sig.", "sigg.", "dott.", "dr.", "prof.", "avv.", "ing.", "art.", "artt.", "n.", "pag.",
                  "ecc.", "es.", "p.es.", "vs.", "s.p.a.", "s.r.l.", "on.", "geom.", "rag.", "cfr.", "e.g.", "i.e.")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences, keeping abbreviations such as 'art.' or 'dott.' inside."""
    text = " ".join(text.split())
    if not text:
        return []
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start:match.start()].rstrip()
        # "(art. 5)", "«dott. Rossi»", "dell'art. 3": a bracket, quote or elision does not hide the abbreviation.
        last_word = re.split(r"[\s\"'“‘’«(\[]", candidate)[-1].lower()
        if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]\.", last_word):
            continue
        # The match is the closing quotes plus the space: the quotes stay with their sentence.
        pieces.append(text[start:match.end()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def chunk_text(text: str, max_chars: int = 700) -> list[str]:
    """Pack whole sentences into chunks of at most `max_chars` (a longer sentence is split at words)."""
    chunks: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        for piece in _split_long(sentence, max_chars):
            if current and len(current) + 1 + len(piece) > max_chars:
                chunks.append(current)
                current = piece
            else:
                current = f"{current} {piece}" if current else piece
    if current:
        chunks.append(current)
    return _balance(chunks, max_chars)


def _split_long(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    parts, current = [], ""
    for word in sentence.split(" "):
        if current and len(current) + 1 + len(word) > max_chars:
            parts.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return parts + ([current] if current else [])


def _balance(chunks: list[str], max_chars: int) -> list[str]:
    """Give a short last chunk whole sentences from the one before, so no passage is a lone fragment.

    Sentences move instead of the two chunks merging, which would break the `max_chars` promise.
    """
    if len(chunks) < 2 or len(chunks[-1]) >= max_chars // 4:
        return chunks
    head, tail = split_sentences(chunks[-2]), chunks[-1]
    while len(head) > 1 and len(tail) < max_chars // 4 and len(head[-1]) + 1 + len(tail) <= max_chars:
        tail = f"{head.pop()} {tail}"
    return chunks[:-2] + [" ".join(head), tail]
