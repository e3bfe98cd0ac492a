"""`sportello report --csv DIR`: the groups and the daily figures as CSV for spreadsheets."""

from __future__ import annotations

import csv
from pathlib import Path

from bot.report.data import Figures
from bot.report.groups import Group


def write_csv(folder: Path, figures: Figures, groups: list[Group]) -> list[Path]:
    """Write groups.csv and daily.csv into `folder`; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    daily = folder / "daily.csv"
    with daily.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["day", "questions", "answered", "suggested", "declined", "thumbs_up", "thumbs_down"])
        for d in figures.days:
            out.writerow([d.day.isoformat(), d.total, d.answer, d.suggest, d.decline, d.up, d.down])
    grouped = folder / "groups.csv"
    with grouped.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["rank", "count", "unanswered", "thumbs_down", "question", "examples", "closest_id",
                      "closest_title", "closest_score"])
        for n, g in enumerate(groups, start=1):
            out.writerow([n, g.count, g.unanswered, g.disliked, g.question,
                          " | ".join(q for q, _ in g.examples[1:6]), g.closest_id, g.closest_title,
                          f"{g.closest_score:.3f}"])
    return [grouped, daily]
