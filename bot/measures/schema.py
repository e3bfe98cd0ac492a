"""The `knowledge/measures/<id>.yaml` schema: one support measure per file, validated strictly, with
every mistake reported at its line."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from bot.errors import Problem
from bot.knowledge.schema import SLUG, Strict, Text
from bot.knowledge.validate import validate_model
from bot.knowledge.yamlfile import YamlFile, parse_yaml, read_yaml
from bot.measures.vocab import NATIONAL, REGIONS, SIZE_IDS, region, size

MEASURES_DIR = "measures"
# Ids become file names: the slug pattern already rules out "/", "." and "..", and these names
# are devices, not files, on Windows (a clone there could not check the file out).
RESERVED_NAMES = {"con", "prn", "aux", "nul", *(f"com{n}" for n in range(10)), *(f"lpt{n}" for n in range(10))}
# The largest amount a measure may state, in euros: more than any public budget, so a typo or a
# corrupted record (1e308, "Infinity") is refused instead of shown.
MAX_AMOUNT = 10**12


def _file_name(value: str) -> str:
    if value in RESERVED_NAMES:
        raise PydanticCustomError("reserved_name", "{value} cannot be a file name on Windows: choose another id",
                                  {"value": repr(value)})
    return value


MeasureId = Annotated[str, StringConstraints(pattern=SLUG, max_length=120), AfterValidator(_file_name)]


def parse_date(value: Any) -> dt.date:
    """A date from YAML: an unquoted ISO date, or the same written as a quoted 'YYYY-MM-DD' string."""
    # A quoted ISO date means the same thing as an unquoted one, so both are accepted; any other
    # spelling ("31/12/2026") is refused rather than guessed (is 01/02 January or February?).
    if isinstance(value, dt.datetime):
        raise PydanticCustomError("date_with_time", "must be a date without a time, written YYYY-MM-DD")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise PydanticCustomError("date_invalid", "{value} is not a real date",
                                      {"value": repr(value.strip())}) from None
    raise PydanticCustomError("date_format", "must be a date written YYYY-MM-DD (e.g. 2026-12-31)")


def _date(value: Any) -> dt.date | None:
    return None if value is None else parse_date(value)


def _region(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("region_type", "must be the name of a region, as text")
    found = region(value)
    if found is None:
        raise PydanticCustomError(
            "unknown_region", "unknown region {value}: write one of the 20 regions (e.g. Toscana) or {national}",
            {"value": repr(value), "national": repr(NATIONAL)})
    return found


def _size(value: Any) -> str:
    found = size(value) if isinstance(value, str) else None
    if found is None:
        raise PydanticCustomError("unknown_size", "unknown firm size {value}: use one of {allowed}",
                                  {"value": repr(value), "allowed": ", ".join(SIZE_IDS)})
    return found


def check_url(value: Any) -> str:
    """`value` if it is an http(s) web address, else a validation error."""
    if not isinstance(value, str):
        raise PydanticCustomError("url_type", "must be a web address, as text")
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(ch.isspace() for ch in url):
        raise PydanticCustomError("url_scheme", "must be a web address starting with http:// or https://")
    return url


def _url(value: Any) -> str | None:
    return None if value is None else check_url(value)


def _amount(value: Any) -> int | float | None:
    if value is None:
        return None
    # bool is an int in Python; "true" is not an amount.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PydanticCustomError("amount_type", "must be a number of euros such as 20000 (no € sign, no dots)")
    if not math.isfinite(value):
        raise PydanticCustomError("amount_type", "must be a number of euros such as 20000 (no € sign, no dots)")
    if value < 0:
        raise PydanticCustomError("amount_negative", "must not be negative (leave it out when not stated)")
    if value > MAX_AMOUNT:
        raise PydanticCustomError("amount_too_big", "is more than {limit} euros: check the number",
                                  {"limit": f"{MAX_AMOUNT:,}".replace(",", ".")})
    return value


Date = Annotated[dt.date | None, BeforeValidator(_date)]
Region = Annotated[str, BeforeValidator(_region)]
SizeId = Annotated[str, BeforeValidator(_size)]
Url = Annotated[str | None, BeforeValidator(_url)]
Amount = Annotated[int | float | None, BeforeValidator(_amount)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class MeasureSection(Strict):
    heading: Text
    text: Text


class Amounts(Strict):
    budget: Amount = None
    support_min: Amount = None
    support_max: Amount = None
    cost_min: Amount = None
    cost_max: Amount = None
    currency: Currency = "EUR"


class Provenance(Strict):
    source: Text
    catalogue_url: Url = None
    record_id: Text | None = None
    captured: Date = None
    last_update: Date = None
    licence: Text | None = None


class Measure(Strict):
    id: MeasureId
    title: Text
    summary: Text
    issuer: Text | None = None
    open_date: Date = None
    close_date: Date = None
    window_note: Text | None = None
    regions: list[Region] = []
    sizes: list[SizeId] = []
    applicants: list[Text] = []
    sectors: list[Text] = []
    purposes: list[Text] = []
    areas: list[Annotated[str, StringConstraints(pattern=SLUG)]] = []
    support_form: list[Text] = []
    eligible_costs: list[Text] = []
    amounts: Amounts = Amounts()
    legal_basis: list[Text] = []
    url: Url = None
    sections: list[MeasureSection] = []
    provenance: Provenance

    @field_validator("regions")
    @classmethod
    def _one_name_per_region(cls, value: list[str]) -> list[str]:
        # Aliases are already canonical here; listing all 20 regions means the whole country.
        unique = list(dict.fromkeys(value))
        if NATIONAL in unique or set(REGIONS) <= set(unique):
            return [NATIONAL]
        return unique

    @field_validator("sizes")
    @classmethod
    def _sizes_in_order(cls, value: list[str]) -> list[str]:
        return [s for s in SIZE_IDS if s in value]

    @property
    def national(self) -> bool:
        """True when the measure applies in every region."""
        return self.regions == [NATIONAL]


# Field order of a written file: what a reader needs first, long texts and provenance last.
FIELD_ORDER: tuple[str, ...] = tuple(Measure.model_fields)


def validate_measure(parsed: YamlFile, problems: list[Problem], area_ids: set[str] | None) -> Measure | None:
    """The file's measure, or None with every problem found (field rules and cross-field rules)."""
    before = len(problems)
    data = parsed.data
    if data is not None and not isinstance(data, dict):
        problems.append(parsed.problem((), "must be a mapping of fields (id:, title:, ...), one measure per file"))
        return None
    measure = validate_model(parsed, Measure, problems)
    if isinstance(data, dict):
        for location, message in cross_field_problems(data, area_ids):
            problems.append(parsed.problem(location, message))
        if parsed.path.suffix in (".yaml", ".yml") and isinstance(data.get("id"), str) \
                and data["id"] != parsed.path.stem:
            problems.append(parsed.problem(("id",), f"must match the file name: '{parsed.path.stem}' "
                                                    f"(or rename the file to {data['id']}{parsed.path.suffix})"))
    return measure if len(problems) == before else None


def cross_field_problems(data: dict[str, Any], area_ids: set[str] | None) -> list[tuple[tuple[Any, ...], str]]:
    """Rules that involve two fields or outside knowledge, checked on the raw data so they are
    reported together with the field errors instead of after they are fixed."""
    out: list[tuple[tuple[Any, ...], str]] = []
    opens, closes = _try(parse_date, data.get("open_date")), _try(parse_date, data.get("close_date"))
    if opens and closes and closes < opens:
        out.append((("close_date",), f"must not be before open_date ({opens.isoformat()})"))
    amounts = data.get("amounts")
    if isinstance(amounts, dict):
        for low, high in (("support_min", "support_max"), ("cost_min", "cost_max")):
            lo, hi = _try(_amount, amounts.get(low)), _try(_amount, amounts.get(high))
            if lo is not None and hi is not None and lo > hi:
                out.append((("amounts", high), f"must not be less than {low} ({lo})"))
    areas = data.get("areas")
    if area_ids is not None and isinstance(areas, list):
        for i, area in enumerate(areas):
            if isinstance(area, str) and re.fullmatch(SLUG, area) and area not in area_ids:
                known = ", ".join(sorted(area_ids)) or "none"
                out.append((("areas", i), f"unknown area '{area}' (defined in areas.yaml: {known})"))
    return out


def _try(check: Any, value: Any) -> Any:
    if value is None:
        return None
    try:
        return check(value)
    except (PydanticCustomError, ValueError):
        return None


def read_measure_file(path: Path, shown: Path | None = None) -> tuple[YamlFile | None, list[Problem]]:
    """Parse a measure file (an impossible date such as 2026-02-30 is a Problem at its line)."""
    return read_yaml(path, shown or path)


def parse_measure_text(text: str, shown: Path) -> tuple[YamlFile | None, list[Problem]]:
    """Parse measure YAML text (see `read_measure_file`)."""
    return parse_yaml(text, shown)
