"""Read the incentivi.gov.it catalogue (its Solr JSON, or a plain list of its records) into measures."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from bot.measures.source import Candidate
from bot.knowledge.sentences import first_sentence
from bot.measures.text import fold, plain_text, slugify
from bot.measures.vocab import areas_for_purposes, region, size

SOURCE = "incentivi.gov.it (MIMIT)"
SITE = "https://www.incentivi.gov.it"
LICENCE = "IODL 2.0"

# Measure field -> the catalogue field it comes from, to name it in error messages.
ORIGINS: dict[str, str] = {
    "id": "zs_nid", "title": "zs_title", "summary": "tum_X3b_it_body_ft", "sections": "tum_X3b_it_body_ft",
    "issuer": "zs_field_subject_grant", "open_date": "zs_field_open_date", "close_date": "zs_field_close_date",
    "window_note": "zs_field_close_date_descriptor", "regions": "zm_field_regions_value",
    "sizes": "zm_field_dimensions_value", "applicants": "zm_field_subject_type_value",
    "sectors": "zm_field_activity_sector_value", "purposes": "zm_field_scopes_value",
    "support_form": "zm_field_support_form_value", "eligible_costs": "zm_field_granted_costs_value",
    "amounts.budget": "zs_field_budget_allocation", "amounts.support_min": "zs_field_support_grant_type_min",
    "amounts.support_max": "zs_field_support_grant_type_max", "amounts.cost_min": "zs_field_cost_min",
    "amounts.cost_max": "zs_field_cost_max", "url": "zs_field_link", "provenance.catalogue_url": "zs_url",
    "provenance.last_update": "ds_last_update",
}
# Headings the catalogue uses in its descriptions; other short lines are recognised by shape.
KNOWN_HEADINGS = {fold(h) for h in (
    "Cos'è", "A chi si rivolge", "Cosa prevede", "Come funziona", "Normativa", "Note", "Scadenza", "Scadenze",
    "Come partecipare", "Dotazione finanziaria", "Beneficiari", "Spese ammissibili", "Agevolazione",
    "Entità dell'agevolazione", "Modalità di presentazione", "Documentazione", "Contatti", "Approfondimenti",
    "Per saperne di più", "Interventi ammissibili", "Requisiti",
)}
DESCRIPTION = "Cos'è"
LEGAL_FIELDS = ("zs_field_primary_ruleset", "zs_field_implementation_ruleset", "zs_field_secondary_ruleset",
                "zs_field_official_references")


def looks_like_catalogue(data: Any) -> bool:
    """True when parsed JSON has the shape of the catalogue (Solr response or list of records)."""
    docs = _docs(data)
    return docs is not None and all(isinstance(d, dict) and "zs_nid" in d for d in docs[:3])


def read_catalogue(text: str, today: dt.date) -> tuple[list[Candidate], list[str]]:
    """Candidates, one per record, and the problems that make the whole file unreadable."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [f"line {exc.lineno}: not valid JSON ({exc.msg})"]
    except ValueError as exc:  # a number of thousands of digits
        return [], [f"not readable JSON ({exc})"]
    except RecursionError:
        return [], ["not readable JSON: nested too deeply"]
    docs = _docs(data)
    if docs is None:
        return [], ["not an incentivi.gov.it export: expected {\"docs\": [...]}, "
                    "{\"response\": {\"docs\": [...]}} or a list of records"]
    captured = _date(data.get("_captured")) if isinstance(data, dict) else None
    return [candidate(doc, i, captured or today) for i, doc in enumerate(docs, start=1)], []


def _docs(data: Any) -> list[Any] | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for holder in (data, data.get("response")):
            if isinstance(holder, dict) and isinstance(holder.get("docs"), list):
                return holder["docs"]
    return None


def candidate(doc: Any, index: int, captured: dt.date) -> Candidate:
    """One catalogue record as a measure candidate (errors name the catalogue field)."""
    if not isinstance(doc, dict):
        return Candidate(f"record {index}", {}, ["not a record (expected a JSON object)"])
    nid = _text(doc.get("zs_nid"))
    title = _text(doc.get("zs_title"))
    label = f"record {index} (nid {nid or '?'}" + (f", «{_short(title)}»)" if title else ")")
    errors: list[str] = []
    if not nid or not re.fullmatch(r"\d+", nid):
        errors.append(f"zs_nid: missing or not a number ({doc.get('zs_nid')!r})")
    if not title:
        errors.append("zs_title: missing")

    sections = _sections(doc)
    description = next((s["text"] for s in sections if fold(s["heading"]) == fold(DESCRIPTION)),
                       sections[0]["text"] if sections else "")
    summary = first_sentence(description.split("\n\n")[0]) if description else ""
    if not summary:
        errors.append("tum_X3b_it_body_ft: no description to take the summary from")

    regions: list[str] = []
    for value in _list(doc.get("zm_field_regions_value")):
        found = region(value)
        if found is None:
            errors.append(f"zm_field_regions_value: unknown region {value!r}")
        elif found not in regions:
            regions.append(found)
    sizes: list[str] = []
    for value in _list(doc.get("zm_field_dimensions_value")):
        found = size(value)
        if found is None:
            errors.append(f"zm_field_dimensions_value: unknown firm size {value!r}")
        elif found not in sizes:
            sizes.append(found)

    dates: dict[str, dt.date | None] = {}
    for name, key in (("open_date", "zs_field_open_date"), ("close_date", "zs_field_close_date")):
        raw = doc.get(key)
        dates[name] = _date(raw)
        if raw not in (None, "") and dates[name] is None:
            errors.append(f"{key}: cannot read the date {raw!r}")
    last_update = _date(doc.get("ds_last_update"))

    amounts: dict[str, int | float | None] = {}
    support_pair = _list(doc.get("zm_field_support_grant_type_min_max"))
    cost_pair = _list(doc.get("zm_field_costs"))
    for name, key, pair, pos in (
        ("budget", "zs_field_budget_allocation", [], 0),
        ("support_min", "zs_field_support_grant_type_min", support_pair, 0),
        ("support_max", "zs_field_support_grant_type_max", support_pair, 1),
        ("cost_min", "zs_field_cost_min", cost_pair, 0),
        ("cost_max", "zs_field_cost_max", cost_pair, 1),
    ):
        # The single fields are missing in some records, whose [min, max] pair still has the range.
        raw = doc.get(key)
        if raw in (None, "") and len(pair) == 2:
            raw = pair[pos]
        try:
            amounts[name] = _amount(raw)
        except ValueError:
            errors.append(f"{key}: not a number ({raw!r})")

    purposes = _unique(_list(doc.get("zm_field_scopes_value")))
    path = _text(doc.get("zs_url"))
    data: dict[str, Any] = {
        "id": f"{nid}-{slugify(title, 70)}" if nid and title else "",
        "title": title,
        "summary": summary,
        "issuer": _text(doc.get("zs_field_subject_grant")) or None,
        "open_date": dates["open_date"],
        "close_date": dates["close_date"],
        "window_note": _text(doc.get("zs_field_close_date_descriptor")) or None,
        "regions": regions,
        "sizes": sizes,
        "applicants": _unique(_list(doc.get("zm_field_subject_type_value"))),
        "sectors": _unique(_list(doc.get("zm_field_activity_sector_value"))),
        "purposes": purposes,
        "areas": areas_for_purposes(purposes),
        "support_form": _unique(_list(doc.get("zm_field_support_form_value"))),
        "eligible_costs": _unique(_list(doc.get("zm_field_granted_costs_value"))),
        "amounts": {**amounts, "currency": "EUR"},
        "legal_basis": _unique([_text(doc.get(key)) for key in LEGAL_FIELDS]),
        "url": _text(doc.get("zs_field_link")) or None,
        "sections": sections,
        "provenance": {
            "source": SOURCE,
            "catalogue_url": SITE + path if path.startswith("/") else (path or None),
            "record_id": nid or None,
            "captured": captured,
            "last_update": last_update,
            "licence": LICENCE,
        },
    }
    return Candidate(label, data, errors, dict(ORIGINS), areas_derived=True)


def _sections(doc: dict[str, Any]) -> list[dict[str, str]]:
    """Headings and their paragraphs from tum_X3b_it_body_ft (zs_body when that is missing)."""
    parts = [plain_text(p, paragraphs=True) for p in _raw_list(doc.get("tum_X3b_it_body_ft"))]
    parts = [p for p in parts if p]
    if not parts:
        parts = _split_body(_text(doc.get("zs_body")))
    sections: list[dict[str, str]] = []
    heading, texts = "", []
    previous_was_heading = False
    for i, part in enumerate(parts):
        is_heading = _is_heading(part, previous_was_heading, i + 1 < len(parts))
        if is_heading:
            if texts:
                sections.append({"heading": heading or "Descrizione", "text": "\n\n".join(texts)})
            heading, texts = part, []
        else:
            texts.append(part)
        previous_was_heading = is_heading
    if texts:
        sections.append({"heading": heading or "Descrizione", "text": "\n\n".join(texts)})
    return sections


def _is_heading(part: str, previous_was_heading: bool, has_next: bool) -> bool:
    if fold(part) in KNOWN_HEADINGS:
        return True
    # A short line with no closing punctuation that is followed by text reads as a heading, but
    # never right after another heading: "A chi si rivolge" / "Imprese" is a heading and its answer.
    return (not previous_was_heading and has_next and len(part) <= 40 and "\n" not in part
            and not part.rstrip().endswith((".", ":", ";", "!", "?")) and part[:1].isupper())


def _split_body(body: str) -> list[str]:
    """zs_body has headings inline ("Cos'è Il bando…"): cut it before each known heading."""
    if not body:
        return []
    names = sorted({"Cos'è", "A chi si rivolge", "Cosa prevede", "Come funziona", "Normativa"}, key=len,
                   reverse=True)
    pattern = re.compile(r"(?:^|(?<=\s))(" + "|".join(re.escape(n) for n in names) + r")(?=\s)")
    pieces: list[str] = []
    last = 0
    for match in pattern.finditer(body):
        pieces.append(body[last:match.start()])
        pieces.append(match.group(1))
        last = match.end()
    pieces.append(body[last:])
    return [p for p in (" ".join(piece.split()) for piece in pieces) if p]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    return plain_text(str(value))


def _raw_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _list(value: Any) -> list[str]:
    return [t for t in (plain_text(v) for v in _raw_list(value)) if t]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _date(value: Any) -> dt.date | None:
    """'2026-06-30T00:00:00' or '2025-03-26T11:57:35Z' -> the date; None when missing or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    match = re.match(r"\s*(\d{4}-\d{2}-\d{2})", value)
    try:
        return dt.date.fromisoformat(match.group(1)) if match else None
    except ValueError:
        return None


def _amount(value: Any) -> int | float | None:
    """A catalogue amount: 0 or missing means not stated (None); integral values stay integers."""
    if value in (None, ""):
        return None
    number = float(str(value).strip())
    if number == 0:
        return None
    return int(number) if number.is_integer() else number


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
