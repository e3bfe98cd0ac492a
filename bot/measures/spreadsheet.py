"""Read the staff spreadsheet (CSV, one measure per row) into measures."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

from bot.measures.source import Candidate
from bot.knowledge.sentences import first_sentence
from bot.measures.text import plain_text, slugify
from bot.measures.vocab import areas_for_purposes

# The columns, in the order of the template; only `title` and `source` are required, plus a
# `summary` or a `description` to take it from. Lists are separated by ";".
COLUMNS: dict[str, str] = {
    "id": "identifier (lowercase letters, digits, hyphens); made from the title when empty",
    "title": "title of the measure (required)",
    "summary": "one sentence copied from the official text; when empty, the first sentence of description",
    "description": "official text: what it is (section \"Cos'è\")",
    "target": "official text: who it is for (section \"A chi si rivolge\")",
    "provides": "official text: what it offers (section \"Cosa prevede\")",
    "procedure": "official text: how to apply (section \"Come funziona\")",
    "issuer": "body that grants it",
    "open_date": "applications open (YYYY-MM-DD or DD/MM/YYYY)",
    "close_date": "applications close (YYYY-MM-DD or DD/MM/YYYY)",
    "window_note": "note on the window (\"fino a esaurimento delle risorse\"...)",
    "regions": "regions separated by ';' (or 'Tutta Italia')",
    "sizes": "firm sizes separated by ';' (micro; piccola; media; grande)",
    "applicants": "who may apply, separated by ';'",
    "sectors": "sectors separated by ';'",
    "purposes": "purposes separated by ';'",
    "areas": "Sportello area ids separated by ';' (from the purposes when empty)",
    "support_form": "forms of support separated by ';'",
    "eligible_costs": "eligible costs separated by ';'",
    "budget": "total budget in euros",
    "support_min": "smallest grant or loan in euros",
    "support_max": "largest grant or loan in euros",
    "cost_min": "smallest eligible project cost in euros",
    "cost_max": "largest eligible project cost in euros",
    "legal_basis": "laws and decrees, separated by ';'",
    "url": "official page (http:// or https://)",
    "source": "where the data comes from, e.g. 'Regione Toscana, BURT n. 12 del 2026' (required)",
    "record_id": "the source's own identifier of the measure, if it has one",
    "last_update": "when the source last changed the data (YYYY-MM-DD or DD/MM/YYYY)",
    "licence": "licence of the data, if any",
}
REQUIRED = ("title", "source")
LIST_COLUMNS = ("regions", "sizes", "applicants", "sectors", "purposes", "areas", "support_form",
                "eligible_costs", "legal_basis")
AMOUNT_COLUMNS = ("budget", "support_min", "support_max", "cost_min", "cost_max")
SECTION_COLUMNS = (("description", "Cos'è"), ("target", "A chi si rivolge"), ("provides", "Cosa prevede"),
                   ("procedure", "Come funziona"))


def read_spreadsheet(text: str, today: dt.date) -> tuple[list[Candidate], list[str]]:
    """Candidates, one per data row, and the problems that make the whole file unreadable."""
    text = text.lstrip("\ufeff")  # Excel writes a byte-order mark
    if not text.strip():
        return [], ["the file is empty"]
    first_line = text.splitlines()[0]
    # Italian spreadsheets save CSV with ";" between columns; lists inside a cell then need quotes.
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except csv.Error as exc:
        return [], [f"line 1: cannot read the header ({exc})"]
    unknown = [h for h in header if h and h not in COLUMNS]
    problems = [f"line 1: unknown column {h!r} (allowed: {', '.join(COLUMNS)})" for h in unknown]
    problems += [f"line 1: required column {c!r} is missing" for c in REQUIRED if c not in header]
    duplicates = sorted({h for h in header if h and header.count(h) > 1})
    problems += [f"line 1: column {h!r} appears twice" for h in duplicates]
    if problems:
        return [], problems
    candidates: list[Candidate] = []
    line = reader.line_num + 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                candidates.append(_candidate(header, row, line, today))
            line = reader.line_num + 1
    except csv.Error as exc:
        return candidates, [f"line {line}: cannot read the row ({exc})"]
    return candidates, []


def _candidate(header: list[str], row: list[str], line: int, today: dt.date) -> Candidate:
    errors: list[str] = []
    if len(row) > len(header):
        errors.append(f"the row has {len(row)} cells, the header {len(header)} columns")
    long_texts = {column for column, _ in SECTION_COLUMNS}
    # Official texts keep their paragraphs; every other cell is one line.
    cells = {name: plain_text(row[i], paragraphs=name in long_texts) if i < len(row) else ""
             for i, name in enumerate(header) if name}
    get = cells.get
    title = get("title") or ""
    record_id = get("record_id") or ""
    label = f"line {line}" + (f" («{title[:60]}»)" if title else "")
    for column in REQUIRED:
        if not get(column):
            errors.append(f"{column}: required")

    sections = [{"heading": heading, "text": get(column) or ""} for column, heading in SECTION_COLUMNS
                if get(column)]
    summary = get("summary") or ""
    if not summary and get("description"):
        summary = first_sentence((get("description") or "").split("\n\n")[0])
    if not summary:
        errors.append("summary: required (or fill description, whose first sentence is taken)")
    if not sections and summary:
        sections = [{"heading": "Cos'è", "text": summary}]

    dates: dict[str, dt.date | None] = {}
    for column in ("open_date", "close_date", "last_update"):
        try:
            dates[column] = parse_day(get(column) or "")
        except ValueError as exc:
            errors.append(f"{column}: {exc}")
            dates[column] = None
    amounts: dict[str, Any] = {}
    for column in AMOUNT_COLUMNS:
        try:
            amounts[column] = parse_amount(get(column) or "")
        except ValueError as exc:
            errors.append(f"{column}: {exc}")
    lists = {column: split_list(get(column) or "") for column in LIST_COLUMNS}
    data: dict[str, Any] = {
        "id": get("id") or slugify(title),
        "title": title,
        "summary": summary,
        "issuer": get("issuer") or None,
        "open_date": dates["open_date"],
        "close_date": dates["close_date"],
        "window_note": get("window_note") or None,
        "regions": lists["regions"],
        "sizes": lists["sizes"],
        "applicants": lists["applicants"],
        "sectors": lists["sectors"],
        "purposes": lists["purposes"],
        "areas": lists["areas"] or areas_for_purposes(lists["purposes"]),
        "support_form": lists["support_form"],
        "eligible_costs": lists["eligible_costs"],
        "amounts": {**amounts, "currency": "EUR"},
        "legal_basis": lists["legal_basis"],
        "url": get("url") or None,
        "sections": sections,
        "provenance": {
            "source": get("source") or "",
            "record_id": record_id or None,
            "captured": today,
            "last_update": dates["last_update"],
            "licence": get("licence") or None,
        },
    }
    origins = {"amounts." + c: c for c in AMOUNT_COLUMNS}
    origins.update({"provenance." + c: c for c in ("source", "record_id", "last_update", "licence")})
    return Candidate(label, data, errors, origins, areas_derived=not lists["areas"], id_derived=not get("id"))


def split_list(cell: str) -> list[str]:
    """'Toscana; Umbria' -> ['Toscana', 'Umbria'] (empty items dropped, repeats removed)."""
    return list(dict.fromkeys(" ".join(item.split()) for item in cell.split(";") if item.strip()))


def parse_day(cell: str) -> dt.date | None:
    """'2026-12-31' or '31/12/2026' (also '31.12.2026') -> date; '' -> None; else ValueError."""
    cell = cell.strip()
    if not cell:
        return None
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", cell)
    italian = re.fullmatch(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})", cell)
    try:
        if iso:
            return dt.date(int(iso[1]), int(iso[2]), int(iso[3]))
        if italian:
            return dt.date(int(italian[3]), int(italian[2]), int(italian[1]))
    except ValueError:
        raise ValueError(f"{cell!r} is not a real date") from None
    raise ValueError(f"cannot read the date {cell!r}: write YYYY-MM-DD or DD/MM/YYYY")


def parse_amount(cell: str) -> int | float | None:
    """'35.000.000', '1.000,50', '20000', '€ 5.000' -> number; '' or 0 -> None (not stated)."""
    text = cell.replace("€", "").replace("EUR", "").replace(" ", "").replace("\xa0", "").strip()
    if not text:
        return None
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d+)?|-?\d+,\d+", text):
        # Italian: dots group thousands, the comma is the decimal point.
        text = text.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{cell.strip()!r} is not an amount: write a number such as 20000 or 20.000") from None
    if number == 0:
        return None
    return int(number) if number.is_integer() else number
