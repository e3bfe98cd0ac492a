"""Status from dates against a chosen today, the status line, the window note and the amounts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from bot.measures.schema import Measure, read_measure_file, validate_measure
from bot.measures.status import format_amounts, is_available, status, status_line, window_note

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "knowledge" / "measures"


def measure(**fields: Any) -> Measure:
    base: dict[str, Any] = {"id": "bando-prova", "title": "Bando di prova", "summary": "Una frase.",
                            "provenance": {"source": "prova"}}
    return Measure.model_validate({**base, **fields})


def shipped(record_id: str) -> Measure:
    (path,) = SHIPPED.glob(f"{record_id}-*.yaml")
    parsed, problems = read_measure_file(path)
    assert parsed is not None
    found = validate_measure(parsed, problems, None)
    assert found is not None, problems
    return found


D = dt.date


@pytest.mark.parametrize(("fields", "today", "expected"), [
    ({"open_date": D(2027, 2, 1), "close_date": D(2027, 3, 31)}, D(2026, 11, 25), "upcoming"),
    ({"open_date": D(2026, 1, 1), "close_date": D(2027, 12, 31)}, D(2026, 11, 25), "open"),
    ({"open_date": D(2026, 1, 1), "close_date": D(2026, 12, 5)}, D(2026, 11, 25), "closing"),
    ({"open_date": D(2026, 1, 1), "close_date": D(2026, 11, 25)}, D(2026, 11, 25), "closing"),  # last day
    ({"open_date": D(2026, 1, 1), "close_date": D(2026, 11, 24)}, D(2026, 11, 25), "closed"),
    ({"open_date": D(2026, 1, 1)}, D(2026, 11, 25), "open"),
    ({"close_date": D(2027, 1, 31)}, D(2026, 11, 25), "open"),
    ({}, D(2026, 11, 25), "unknown"),
])
def test_status_from_dates(fields: dict[str, Any], today: dt.date, expected: str) -> None:
    assert status(measure(**fields), today) == expected


def test_closing_days_is_a_parameter() -> None:
    m = measure(open_date=D(2026, 1, 1), close_date=D(2026, 12, 20))
    assert status(m, D(2026, 11, 25)) == "open"
    assert status(m, D(2026, 11, 25), closing_days=30) == "closing"


def test_real_records_voucher_3i_open_and_marche_closed() -> None:
    voucher, marche = shipped("3265"), shipped("1053")
    today = D(2026, 11, 25)
    assert status(voucher, today) == "open"
    assert status_line(voucher, today) == "✅ Aperto fino al 31/12/2027"
    assert status_line(voucher, today, "en") == "✅ Open until 31/12/2027"
    assert status(marche, today) == "closed"
    assert status_line(marche, today) == "⛔ Chiuso il 10/05/2024"
    assert status_line(marche, today, "en") == "⛔ Closed on 10/05/2024"
    assert is_available(status(voucher, today)) and not is_available(status(marche, today))


def test_status_lines_in_both_languages() -> None:
    today = D(2026, 11, 25)
    closing = measure(open_date=D(2026, 1, 1), close_date=D(2026, 12, 5))
    upcoming = measure(open_date=D(2027, 2, 1))
    unknown = measure()
    assert status_line(closing, today) == "⏳ In scadenza: chiude il 05/12/2026"
    assert status_line(closing, today, "en") == "⏳ Closing soon: closes on 05/12/2026"
    assert status_line(upcoming, today) == "🕒 Apre il 01/02/2027"
    assert status_line(upcoming, today, "en") == "🕒 Opens on 01/02/2027"
    assert status_line(unknown, today) == "❔ Date non indicate: verifica sul sito ufficiale"
    assert status_line(unknown, today, "en") == "❔ Dates not stated: check the official page"
    assert "(data di chiusura non indicata)" in status_line(measure(open_date=D(2026, 1, 1)), today)


def test_window_note_is_separate_and_clean() -> None:
    m = measure(open_date=D(2026, 1, 1), close_date=D(2027, 1, 1),
                window_note="  fino a   esaurimento\n delle risorse ")
    assert window_note(m) == "fino a esaurimento delle risorse"
    assert "esaurimento" not in status_line(m, D(2026, 11, 25))
    assert window_note(measure()) is None


def test_amounts_italian_and_english() -> None:
    m = measure(amounts={"support_min": 1000, "support_max": 20000, "budget": 35000000})
    assert format_amounts(m) == "Contributo da 1.000 € a 20.000 €; dotazione 35.000.000 €"
    assert format_amounts(m, "en") == "Grant from €1,000 to €20,000; total budget €35,000,000"


def test_amounts_zero_is_not_shown_and_nothing_stated_is_none() -> None:
    assert format_amounts(measure(amounts={"support_min": 0, "support_max": 5000})) == "Contributo fino a 5.000 €"
    assert format_amounts(measure(amounts={"budget": 0})) is None
    assert format_amounts(measure()) is None


def test_amounts_with_cents_costs_and_loans() -> None:
    m = measure(amounts={"budget": 70047.34, "cost_min": 750, "cost_max": 200000},
                support_form=["Finanziamento agevolato"])
    assert format_amounts(m) == "Spesa ammissibile da 750 € a 200.000 €; dotazione 70.047,34 €"
    assert format_amounts(m, "en") == "Eligible costs from €750 to €200,000; total budget €70,047.34"
    loan = measure(amounts={"support_max": 50000}, support_form=["Finanziamento agevolato"])
    assert format_amounts(loan) == "Agevolazione fino a 50.000 €"

