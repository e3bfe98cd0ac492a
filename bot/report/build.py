"""Put the report together: read the log since a date, count, group, write HTML (and CSV)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.knowledge.load import Knowledge
from bot.report.data import Figures, figures
from bot.report.export import write_csv
from bot.report.groups import GROUP_THRESHOLD, Encoder, Group, group_questions, to_group
from bot.report.page import render
from bot.storage import Storage


@dataclass
class Report:
    """What was written and the headline numbers, for the CLI to print."""

    html: Path
    csv: list[Path]
    figures: Figures
    groups: list[Group]


def write_report(storage: Storage, knowledge: Knowledge, encoder: Encoder, out: Path, *, today: dt.date,  # noqa: PLR0913
                 now: dt.datetime, since: dt.date | None = None, csv_dir: Path | None = None,
                 timezone: str = "Europe/Rome", closing_days: int = 14, similarity: float = GROUP_THRESHOLD) -> Report:
    """Write the HTML report to `out` (and CSV files to `csv_dir`); `today`/`now` are inputs, not the clock."""
    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(since, dt.time(), zone).timestamp() if since else None
    rows = storage.questions_since(start)
    counted = figures(rows, knowledge, today, since, timezone, closing_days, storage.handovers_since(start))
    groups = group_questions(to_group(rows), knowledge, encoder, similarity)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(render(counted, groups, now), encoding="utf-8")
    tmp.replace(out)
    written = write_csv(csv_dir, counted, groups) if csv_dir else []
    return Report(out, written, counted, groups)
