"""The report's figures from the question log: per day, shares, feedback by area, measures asked about."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.knowledge.load import Knowledge
from bot.measures.status import status as measure_status
from bot.storage import Logged

DECISIONS = ("answer", "suggest", "decline")


@dataclass
class Day:
    """One day's questions by decision."""

    day: dt.date
    answer: int = 0
    suggest: int = 0
    decline: int = 0
    up: int = 0
    down: int = 0

    @property
    def total(self) -> int:
        return self.answer + self.suggest + self.decline


@dataclass
class MeasureAsked:
    """A measure shown to users that is closed or closes soon: staff may want to say so in a FAQ."""

    id: str
    title: str
    status: str            # "closed" | "closing"
    close_date: dt.date | None
    times: int


@dataclass
class Figures:
    """Everything in the report except the groups of questions."""

    since: dt.date | None
    today: dt.date
    days: list[Day]
    feedback_by_area: dict[str, tuple[int, int]]      # area id -> (👍, 👎)
    measures: list[MeasureAsked]
    handovers: int | None = None                       # None: no handover table in the database
    replied: int = 0
    median_reply_hours: float | None = None
    area_titles: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(d.total for d in self.days)

    def share(self, decision: str) -> float:
        return sum(getattr(d, decision) for d in self.days) / self.total if self.total else 0.0


def passage_area(knowledge: Knowledge) -> dict[str, str]:
    """The area of what a logged answer id names: 'faq:id', 'doc#section/n' or 'measure:id#i/n'."""
    areas: dict[str, str] = {}
    for entry in knowledge.faqs:
        areas[f"faq:{entry.id}"] = entry.area
    for doc in knowledge.documents:
        for sec in doc.sections:
            areas[f"{doc.id}#{sec.id}"] = sec.areas[0] if sec.areas else doc.areas[0] if doc.areas else ""
    for measure in knowledge.measures:
        areas[f"measure:{measure.id}"] = measure.areas[0] if measure.areas else "misure"
    return areas


def answer_key(passage_id: str) -> str:
    """'doc#sec/2' → 'doc#sec'; 'measure:id#0/1' → 'measure:id'; a FAQ id stays as it is."""
    if passage_id.startswith("measure:"):
        return passage_id.split("#", 1)[0]
    return passage_id.rsplit("/", 1)[0] if "#" in passage_id else passage_id


def figures(rows: list[Logged], knowledge: Knowledge, today: dt.date, since: dt.date | None,
            timezone: str = "Europe/Rome", closing_days: int = 14,
            handovers: list[tuple[float, float | None]] | None = None) -> Figures:
    """Count the log's questions per day (local time), feedback per area, closed or closing measures asked about."""
    zone = ZoneInfo(timezone)
    days: dict[dt.date, Day] = {}
    areas = passage_area(knowledge)
    feedback: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    asked: Counter[str] = Counter()
    for row in rows:
        day = dt.datetime.fromtimestamp(row.asked_at, zone).date()
        entry = days.setdefault(day, Day(day))
        decision = row.decision if row.decision in DECISIONS else "decline"
        setattr(entry, decision, getattr(entry, decision) + 1)
        top = answer_key(row.answers[0][0]) if row.answers else None
        if row.feedback:
            entry.up += row.feedback > 0
            entry.down += row.feedback < 0
            area = areas.get(top, "") if top else ""
            feedback[area or "senza risposta"][0 if row.feedback > 0 else 1] += 1
        if top and top.startswith("measure:") and row.decision == "answer":
            asked[top.split(":", 1)[1]] += 1
    if days:  # days without questions are shown as zero, so the chart's time axis is honest
        first, last = min(days), max(days)
        for n in range((last - first).days + 1):
            days.setdefault(first + dt.timedelta(days=n), Day(first + dt.timedelta(days=n)))
    measures = []
    by_id = {m.id: m for m in knowledge.measures}
    for measure_id, times in asked.most_common():
        measure = by_id.get(measure_id)
        if measure is None:
            continue
        state = measure_status(measure, today, closing_days)
        if state in ("closed", "closing"):
            measures.append(MeasureAsked(measure.id, measure.title, state, measure.close_date, times))
    result = Figures(since, today, [days[d] for d in sorted(days)],
                     {a: (v[0], v[1]) for a, v in sorted(feedback.items())}, measures,
                     area_titles={a.id: a.title for a in knowledge.areas})
    if handovers is not None:
        result.handovers = len(handovers)
        waits = sorted((r - a) / 3600 for a, r in handovers if r is not None)
        result.replied = len(waits)
        result.median_reply_hours = statistics.median(waits) if waits else None
    return result
