"""`sportello suggest`: a draft FAQ entry for each large group of unanswered or 👎 questions, in the
knowledge format, with the question and phrasings people really used and the answer left for staff.
Drafts carry `draft: true`: they validate (so their area and source are real), `sportello validate`
lists them as warnings, and the build leaves them out until staff finish them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.documents.writer import slugify
from bot.errors import KnowledgeError
from bot.knowledge.load import Knowledge, load_knowledge
from bot.report.groups import Group, normalise

DRAFTS_FILE = Path("faq") / "bozze.yaml"
ANSWER_PLACEHOLDER = ("BOZZA — scrivi qui la risposta (1–3 frasi, dai del tu), solo con fatti della fonte indicata, "
                      "poi togli 'draft: true'.")
HEADER = ("# Bozze di voci FAQ scritte da `sportello suggest` dalle domande senza risposta o con 👎.\n"
          "# Per ognuna: scrivi la risposta dalla fonte (o cambia fonte e area), togli 'draft: true', poi\n"
          "# `sportello validate` e `sportello build`. Finché resta 'draft: true' la voce non entra nell'indice.\n")


@dataclass
class Suggestion:
    """One draft written, with the group it comes from."""

    id: str
    question: str
    count: int
    source: str


def draft_entries(groups: list[Group], knowledge: Knowledge, min_count: int, limit: int) -> list[dict[str, object]]:
    """Draft entries (plain dicts in the FAQ format) for the groups asked at least `min_count` times."""
    taken = {e.id for e in knowledge.faqs} | {e.id for e in knowledge.drafts}
    known = {normalise(q) for e in [*knowledge.faqs, *knowledge.drafts] for q in (e.question, *e.phrasings)}
    faqs = {e.id: e for e in knowledge.faqs}
    area_ids = {a.id for a in knowledge.areas}
    out: list[dict[str, object]] = []
    for group in groups:
        if len(out) >= limit or group.count < min_count:
            break
        if normalise(group.question) in known or group.closest_faq not in faqs:
            continue  # already a FAQ question or a draft; or no FAQ to take a source from
        nearest = faqs[group.closest_faq]
        base = f"bozza-{slugify(group.question, 40)}"
        ident, n = base, 2
        while ident in taken:
            ident, n = f"{base}-{n}", n + 1
        taken.add(ident)
        phrasings = [q for q, _ in group.examples[1:] if normalise(q) != normalise(group.question)]
        unique = list(dict.fromkeys(phrasings, None))[:6]
        area = group.closest_area if group.closest_area in area_ids else nearest.area
        out.append({"id": ident, "question": group.question, "phrasings": unique, "answer": ANSWER_PLACEHOLDER,
                    "area": area, "source": nearest.source, "draft": True})
        known.add(normalise(group.question))
    return out


def write_drafts(root: Path, entries: list[dict[str, object]], today: dt.date) -> Path:
    """Add the drafts to knowledge/faq/bozze.yaml; the knowledge must still validate, else nothing changes."""
    target = root / DRAFTS_FILE
    before = target.read_text(encoding="utf-8") if target.exists() else None
    existing: list[object] = []
    if before is not None:
        data = yaml.safe_load(before) or {}
        existing = list(data.get("entries") or []) if isinstance(data, dict) else []
    body = yaml.safe_dump({"entries": existing + entries}, allow_unicode=True, sort_keys=False, width=100)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"{HEADER}# Ultime bozze aggiunte il {today.isoformat()}.\n{body}", encoding="utf-8")
    try:
        load_knowledge(root)
    except KnowledgeError:
        if before is None:
            target.unlink()
        else:
            target.write_text(before, encoding="utf-8")
        raise
    return target
