"""Filters read from questions, matching measures to them or to a profile, and regional limits."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bot.measures.eligibility import Filters, Profile, filters_from_question, limited_to, matches
from bot.measures.schema import Measure
from bot.measures.vocab import SME

TODAY = dt.date(2026, 11, 25)


def measure(**fields: Any) -> Measure:
    base: dict[str, Any] = {"id": "bando-prova", "title": "Bando di prova", "summary": "Una frase.",
                            "provenance": {"source": "prova"}}
    return Measure.model_validate({**base, **fields})


def test_micro_firm_in_tuscany() -> None:
    f = filters_from_question("sono una microimpresa toscana", TODAY)
    assert f.regions == {"Toscana"} and f.sizes == {"micro"}
    assert not f.want_open and f.closing_within_days is None


def test_open_calls_for_digitalisation_in_tuscany() -> None:
    f = filters_from_question("bandi aperti per la digitalizzazione in Toscana", TODAY)
    assert f.regions == {"Toscana"} and f.want_open
    assert f.sizes == frozenset() and f.closing_within_days is None


def test_what_closes_this_month_uses_the_days_left() -> None:
    f = filters_from_question("cosa scade questo mese", TODAY)
    assert f.closing_within_days == 5  # 25 -> 30 November
    assert filters_from_question("cosa scade questo mese", dt.date(2026, 2, 10)).closing_within_days == 18


@pytest.mark.parametrize(("question", "want_open", "closing"), [
    ("incentivi attivi per le PMI", True, None),
    ("quali misure sono disponibili?", True, None),
    ("c'è un bando ancora aperto per il turismo?", True, None),
    ("which grants are open in Tuscany?", True, None),
    ("bandi in scadenza", False, 14),
    ("closing soon", False, 14),
    ("cosa scade entro 10 giorni", False, 10),
    ("ho aperto una partita IVA, cosa posso chiedere?", False, None),
    ("how do I open a company", False, None),
    ("quando scade il voucher 3i?", False, None),
    # One measure's status asked: nothing filtered, the answer may be "closed".
    ("il voucher 3i è ancora aperto?", False, None),
    ("is the patent voucher still open?", False, None),
    ("is there a grant still open for shops?", True, None),
    ("what is the best grant available for my shop?", True, None),
    ("is it still open?", False, None),
    ("bandi ancora aperti per il turismo", True, None),
])
def test_intents(question: str, want_open: bool, closing: int | None) -> None:
    f = filters_from_question(question, TODAY)
    assert (f.want_open, f.closing_within_days) == (want_open, closing)


def test_pmi_means_micro_small_and_medium() -> None:
    assert filters_from_question("sono una PMI pugliese", TODAY).sizes == SME


def test_a_very_small_firm_is_offered_the_calls_for_micro_enterprises() -> None:
    for_micro = measure(sizes=["micro"])
    for question in ("any digital grant for a very small firm?", "siamo una piccolissima azienda, ci sono bandi?"):
        assert matches(for_micro, filters_from_question(question, TODAY)), question
    assert not matches(for_micro, filters_from_question("contributi per una media impresa", TODAY))
    # A "small" firm may be micro in law: the call is offered; a headcount of 15 is not micro.
    assert matches(for_micro, filters_from_question("sono una piccola impresa, ci sono bandi?", TODAY))
    assert not matches(for_micro, filters_from_question("siamo 15 dipendenti, ci sono bandi?", TODAY))


def test_a_headcount_in_the_question_says_which_calls_fit() -> None:
    for_micro = measure(sizes=["micro"])
    assert matches(for_micro, filters_from_question("ho 4 dipendenti, ci sono contributi?", TODAY))
    assert matches(for_micro, filters_from_question("four employees, any grant?", TODAY))
    assert not matches(for_micro, filters_from_question("siamo un'azienda di 120 dipendenti, ci sono bandi?", TODAY))
    # Hiring is not a headcount: the call stays.
    assert matches(for_micro, filters_from_question("contributi per assumere 30 dipendenti", TODAY))


def test_national_measure_matches_every_region_and_unlisted_sizes_every_size() -> None:
    national = measure(regions=["Tutta Italia"])
    assert matches(national, Profile(region="Toscana", size="grande"))
    regional = measure(regions=["Campania", "Puglia"], sizes=["micro"])
    assert matches(regional, Profile(region="Puglia", size="micro"))
    assert not matches(regional, Profile(region="Toscana"))
    assert not matches(regional, Profile(size="grande"))
    assert matches(regional, Profile())


def test_sector_matching_ignores_case() -> None:
    m = measure(sectors=["Commercio", "Turismo"])
    assert matches(m, Filters(sectors=frozenset({"commercio"})))
    assert not matches(m, Filters(sectors=frozenset({"ICT"})))
    assert matches(measure(), Filters(sectors=frozenset({"ICT"})))


def test_status_filters_use_today() -> None:
    open_ = measure(open_date=dt.date(2026, 1, 1), close_date=dt.date(2027, 12, 31))
    closing = measure(open_date=dt.date(2026, 1, 1), close_date=dt.date(2026, 11, 30))
    closed = measure(open_date=dt.date(2024, 1, 8), close_date=dt.date(2024, 5, 10))
    want_open = filters_from_question("bandi aperti", TODAY)
    assert [matches(m, want_open) for m in (open_, closing, closed)] == [True, True, False]
    this_month = filters_from_question("cosa scade questo mese", TODAY)
    assert [matches(m, this_month) for m in (open_, closing, closed)] == [False, True, False]
    with pytest.raises(ValueError):
        matches(open_, Filters(want_open=True))
    assert matches(closed, Filters(want_open=True), today=dt.date(2024, 3, 1))


def test_combined_filters_from_a_question() -> None:
    f = filters_from_question("bandi aperti per microimprese in Puglia", TODAY)
    good = measure(regions=["Puglia"], sizes=["micro", "piccola"], open_date=dt.date(2024, 7, 10),
                   close_date=dt.date(2026, 12, 31))
    wrong_region = measure(regions=["Marche"], open_date=dt.date(2024, 7, 10), close_date=dt.date(2026, 12, 31))
    assert matches(good, f) and not matches(wrong_region, f)


def test_limited_to() -> None:
    assert limited_to(measure(regions=["Campania", "Puglia"])) == "solo per Campania e Puglia"
    assert limited_to(measure(regions=["Campania", "Puglia"]), "en") == "only for Campania and Puglia"
    assert limited_to(measure(regions=["Puglia", "Campania", "Lazio"])) == "solo per Puglia, Campania e Lazio"
    assert limited_to(measure(regions=["Toscana"])) == "solo per Toscana"
    assert limited_to(measure(regions=["Tutta Italia"])) is None
    assert limited_to(measure()) is None
