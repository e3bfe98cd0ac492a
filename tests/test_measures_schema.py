"""The measure file schema: valid files load normalised, every mistake is reported at its line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.errors import Problem
from bot.measures.schema import Measure, read_measure_file, validate_measure
from bot.measures.vocab import NATIONAL, REGIONS

REPO = Path(__file__).resolve().parent.parent
AREAS = {"internazionalizzazione", "innovazione", "nuove-imprese", "protocollo"}

GOOD = """\
id: bando-export-2026
title: Bando export 2026
summary: Il bando sostiene la partecipazione a fiere internazionali.
issuer: Regione Toscana
open_date: 2026-01-15
close_date: 2026-12-31
regions: [toscana]
sizes: [Microimpresa, small]
areas: [internazionalizzazione]
amounts:
  budget: 35000000
  support_min: 1000
  support_max: 20000
url: https://www.regione.toscana.it/bandi
sections:
  - heading: Cos'è
    text: Il bando sostiene la partecipazione a fiere internazionali.
provenance:
  source: Regione Toscana
  captured: 2026-06-04
"""


def load(tmp_path: Path, text: str, name: str = "bando-export-2026.yaml",
         areas: set[str] | None = AREAS) -> tuple[Measure | None, list[Problem]]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    parsed, problems = read_measure_file(path)
    if parsed is None:
        return None, problems
    measure = validate_measure(parsed, problems, areas)
    return measure, problems


def lines_and_messages(problems: list[Problem]) -> list[tuple[int, str]]:
    return sorted((p.line, p.message) for p in problems)


def test_a_good_file_loads_with_aliases_normalised(tmp_path: Path) -> None:
    measure, problems = load(tmp_path, GOOD)
    assert problems == []
    assert measure is not None
    assert measure.regions == ["Toscana"]
    assert measure.sizes == ["micro", "piccola"]
    assert measure.open_date == dt.date(2026, 1, 15)
    assert measure.amounts.currency == "EUR"
    assert measure.amounts.cost_max is None


def test_all_twenty_regions_become_the_national_marker(tmp_path: Path) -> None:
    regions = "[" + ", ".join(f'"{r}"' for r in REGIONS) + "]"
    measure, problems = load(tmp_path, GOOD.replace("[toscana]", regions))
    assert problems == []
    assert measure is not None and measure.regions == [NATIONAL] and measure.national


def test_every_mistake_is_reported_at_its_line(tmp_path: Path) -> None:
    text = """\
id: bando-export-2026
title: "   "
summary: Una frase.
open_date: 2026-03-01
close_date: 2026-02-01
regions: [Toscana, Atlantide]
sizes: [enorme]
areas: [export]
amounts:
  support_min: 5000
  support_max: 1000
  budget: -3
url: ftp://example.org/bando
colour: red
provenance:
  source: Regione Toscana
"""
    measure, problems = load(tmp_path, text)
    assert measure is None
    found = lines_and_messages(problems)
    assert all(p.path == tmp_path / "bando-export-2026.yaml" for p in problems)
    expected_lines = {
        2: "title: must not be empty",
        5: "close_date: must not be before open_date (2026-03-01)",
        6: "regions[1]: unknown region 'Atlantide'",
        7: "sizes[0]: unknown firm size 'enorme'",
        8: "areas[0]: unknown area 'export'",
        11: "amounts.support_max: must not be less than support_min (5000)",
        12: "amounts.budget: must not be negative",
        13: "url: must be a web address starting with http:// or https://",
        14: "colour: unknown field (allowed: id, title, summary",
    }
    for line, start in expected_lines.items():
        assert any(l == line and m.startswith(start) for l, m in found), (line, start, found)
    assert len(found) == len(expected_lines)


def test_unknown_field_lists_the_allowed_ones(tmp_path: Path) -> None:
    _, problems = load(tmp_path, GOOD + "note: ciao\n")
    (problem,) = problems
    assert problem.line == GOOD.count("\n") + 1
    assert "allowed:" in problem.message and "window_note" in problem.message


def test_dates_quoted_iso_accepted_other_forms_refused(tmp_path: Path) -> None:
    measure, problems = load(tmp_path, GOOD.replace("open_date: 2026-01-15", 'open_date: "2026-01-15"'))
    assert problems == [] and measure is not None and measure.open_date == dt.date(2026, 1, 15)

    _, problems = load(tmp_path, GOOD.replace("open_date: 2026-01-15", "open_date: 15/01/2026"))
    assert lines_and_messages(problems) == [(5, "open_date: must be a date written YYYY-MM-DD (e.g. 2026-12-31)")]

    _, problems = load(tmp_path, GOOD.replace("open_date: 2026-01-15", "open_date: 2026-01-15 10:00:00"))
    assert lines_and_messages(problems) == [(5, "open_date: must be a date without a time, written YYYY-MM-DD")]


def test_an_impossible_date_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    # PyYAML raises ValueError while constructing 2026-02-30; it must come back as file:line.
    measure, problems = load(tmp_path, GOOD.replace("close_date: 2026-12-31", "close_date: 2026-02-30"))
    assert measure is None
    (problem,) = problems
    assert problem.line == 6 and "2026-02-30" in problem.message and "not a real date" in problem.message


def test_id_must_be_a_slug_and_match_the_file_name(tmp_path: Path) -> None:
    _, problems = load(tmp_path, GOOD.replace("id: bando-export-2026", "id: ../../etc/passwd"))
    assert any(p.line == 1 and "lowercase letters, digits and single hyphens" in p.message for p in problems)

    _, problems = load(tmp_path, GOOD, name="altro-nome.yaml")
    assert lines_and_messages(problems) == [
        (1, "id: must match the file name: 'altro-nome' (or rename the file to bando-export-2026.yaml)")]


def test_required_fields_and_wrong_types(tmp_path: Path) -> None:
    _, problems = load(tmp_path, "id: bando-export-2026\ntitle: 2026\nregions: Toscana\n")
    found = lines_and_messages(problems)
    assert (2, "title: must be text") in found
    assert (3, "regions: must be a list") in found
    assert any(m == "summary: required field is missing" for _, m in found)
    assert any(m == "provenance: required field is missing" for _, m in found)


def test_an_empty_file_and_a_list_are_refused(tmp_path: Path) -> None:
    assert load(tmp_path, "")[1][0].message == "the file is empty"
    _, problems = load(tmp_path, "- a\n- b\n")
    assert problems[0].message.startswith("must be a mapping of fields")


def test_areas_are_not_checked_without_area_ids(tmp_path: Path) -> None:
    measure, problems = load(tmp_path, GOOD.replace("[internazionalizzazione]", "[altro]"), areas=None)
    assert problems == [] and measure is not None


def test_the_shipped_measures_are_valid() -> None:
    files = sorted((REPO / "knowledge" / "measures").glob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        parsed, problems = read_measure_file(path)
        assert parsed is not None, problems
        measure = validate_measure(parsed, problems, AREAS)
        assert measure is not None and problems == [], problems
        assert measure.provenance.licence == "IODL 2.0"


def test_a_measure_survives_a_json_round_trip() -> None:
    # The search index stores measures as JSON (dates as strings) and validates them back.
    for path in sorted((REPO / "knowledge" / "measures").glob("*.yaml")):
        parsed, problems = read_measure_file(path)
        assert parsed is not None
        measure = validate_measure(parsed, problems, None)
        assert measure is not None
        assert Measure.model_validate(measure.model_dump(mode="json")) == measure
