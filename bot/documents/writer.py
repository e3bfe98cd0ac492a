"""RawDocument → the knowledge's Markdown document format (front matter, then `## Heading {#id page=N}`)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter

import yaml

from bot.documents.model import RawDocument

# Italian and English function words: enough to tell the two languages apart on a page of text.
_IT = {"il", "la", "di", "che", "per", "delle", "della", "sono", "con", "le", "gli", "nel", "alla", "dei", "è"}
_EN = {"the", "of", "and", "to", "for", "is", "are", "with", "on", "by", "this", "that", "be", "from"}


def slugify(text: str, limit: int = 60) -> str:
    """'Art. 3 – Spese ammissibili' → 'art-3-spese-ammissibili' (ASCII, lower case, single hyphens)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > limit:
        slug = slug[:limit].rsplit("-", 1)[0]
    return slug or "sezione"


def section_ids(headings: list[str]) -> list[str]:
    """A unique slug per heading, in order ('-2', '-3' after repeats)."""
    seen: Counter[str] = Counter()
    out = []
    for heading in headings:
        base = slugify(heading, 50)
        seen[base] += 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def guess_language(text: str) -> str:
    """'it' or 'en', whichever's function words are more frequent (Italian when unsure)."""
    words = re.findall(r"[a-zàèéìòù]+", text.lower())
    it = sum(w in _IT for w in words)
    en = sum(w in _EN for w in words)
    return "en" if en > it else "it"


def _stems(text: str) -> list[str]:
    words = re.findall(r"[a-zàèéìòù]{5,}", unicodedata.normalize("NFC", text.lower()))
    return [w[:6] for w in words]


def guess_areas(text: str, areas: list[tuple[str, str]]) -> list[str]:
    """The areas (id, words describing it) whose words the text uses most: at most two, none if no word matches."""
    counts = Counter(_stems(text))
    scores = []
    for area_id, described in areas:
        vocabulary = set(_stems(described)) | set(_stems(area_id.replace("-", " ")))
        scores.append((sum(counts[s] for s in vocabulary), area_id))
    scores.sort(reverse=True)
    best = scores[0][0] if scores else 0
    return [a for score, a in scores[:2] if score > 0 and score >= 0.5 * best]


def render(doc_id: str, raw: RawDocument, front: dict[str, object]) -> str:
    """The Markdown file: `front` as YAML front matter, then one section per heading of the original."""
    ids = section_ids([s.heading for s in raw.sections])
    out = ["---", yaml.safe_dump({"id": doc_id, **front}, allow_unicode=True, sort_keys=False, width=10_000).rstrip(),
           "---", ""]
    for sid, section in zip(ids, raw.sections):
        page = f" page={section.page}" if section.page else ""
        heading = section.heading.replace("{#", "{ #")
        out += [f"## {heading} {{#{sid}{page}}}", "", _body(section.text), ""]
    return "\n".join(out)


def _body(text: str) -> str:
    # A text line starting with '## ' would read as a new section, and '---' is harmless but odd.
    lines = [re.sub(r"^(#+)(\s)", r"\\\1\2", line) for line in text.splitlines()]
    return "\n".join(lines).strip()


def default_front(raw: RawDocument, file_name: str, today: dt.date, areas: list[str], language: str,
                  area_choices: list[str]) -> dict[str, object]:
    """The fields the importer can fill in; `review` says what staff must check."""
    pages = f", {raw.pages} pagine" if raw.pages else ""
    review = [f"importato da {file_name} il {today.isoformat()}: controlla titolo, fonte e aree "
              f"(indovinate dal testo: {', '.join(areas) or 'nessuna'}; possibili: {', '.join(area_choices)}), "
              "poi cancella questa riga"]
    review += [f"nota dell'importazione: {n}" for n in raw.notes]
    front: dict[str, object] = {
        "title": raw.title,
        "source": f"{file_name} ({raw.kind.upper()}{pages}), importato il {today.strftime('%d/%m/%Y')}",
        "language": language,
        "areas": areas,
    }
    if raw.url:
        front["url"] = raw.url
    front["review"] = "; ".join(review)
    return front
