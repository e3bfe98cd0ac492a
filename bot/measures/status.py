"""Whether a measure is open, computed from its dates against today (never stored: a capture is a
photograph), and how its status and amounts read in Italian and English."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from bot.measures.schema import Measure

Status = Literal["open", "closing", "upcoming", "closed", "unknown"]
Lang = Literal["it", "en"]
DEFAULT_CLOSING_DAYS = 14


def status(measure: Measure, today: dt.date, closing_days: int = DEFAULT_CLOSING_DAYS) -> Status:
    """open, closing (closes within `closing_days`), upcoming, closed or unknown (no dates)."""
    opens, closes = measure.open_date, measure.close_date
    if opens is None and closes is None:
        return "unknown"
    if opens is not None and today < opens:
        return "upcoming"
    if closes is not None:
        # The close date is the last day applications are accepted.
        if today > closes:
            return "closed"
        if (closes - today).days <= closing_days:
            return "closing"
    return "open"


def is_available(state: Status) -> bool:
    """True when applications can be sent now (open or closing)."""
    return state in ("open", "closing")


def format_date(day: dt.date) -> str:
    """31/12/2027: the day-first form Italian readers expect (used in English texts too)."""
    return day.strftime("%d/%m/%Y")


def status_line(measure: Measure, today: dt.date, lang: Lang = "it",
                closing_days: int = DEFAULT_CLOSING_DAYS) -> str:
    """One line with an icon: '✅ Aperto fino al 31/12/2027', '⛔ Chiuso il 10/05/2024'..."""
    state = status(measure, today, closing_days)
    opens, closes = measure.open_date, measure.close_date
    en = lang == "en"
    if state == "open":
        if closes is None:
            return "✅ Open (no closing date stated)" if en else "✅ Aperto (data di chiusura non indicata)"
        return f"✅ Open until {format_date(closes)}" if en else f"✅ Aperto fino al {format_date(closes)}"
    if state == "closing":
        assert closes is not None
        if closes == today:
            return f"⏳ Closing soon: closes today, {format_date(closes)}" if en \
                else f"⏳ In scadenza: chiude oggi, {format_date(closes)}"
        return f"⏳ Closing soon: closes on {format_date(closes)}" if en \
            else f"⏳ In scadenza: chiude il {format_date(closes)}"
    if state == "upcoming":
        assert opens is not None
        line = f"🕒 Opens on {format_date(opens)}" if en else f"🕒 Apre il {format_date(opens)}"
        if closes is not None:
            line += f", closes on {format_date(closes)}" if en else f", chiude il {format_date(closes)}"
        return line
    if state == "closed":
        assert closes is not None
        # "il" (on) rather than "dal" (since): the close date itself was still a day to apply.
        return f"⛔ Closed on {format_date(closes)}" if en else f"⛔ Chiuso il {format_date(closes)}"
    return "❔ Dates not stated: check the official page" if en \
        else "❔ Date non indicate: verifica sul sito ufficiale"


def window_note(measure: Measure) -> str | None:
    """The catalogue's note on the application window (often more precise than the dates), or None."""
    if not measure.window_note:
        return None
    note = " ".join(measure.window_note.split())
    return note or None


def format_amount(value: int | float, lang: Lang = "it", currency: str = "EUR") -> str:
    """20000 -> '20.000 €' (it) or '€20,000' (en); cents only when there are some."""
    whole = float(value).is_integer()
    text = f"{value:,.0f}" if whole else f"{value:,.2f}"
    if lang == "it":
        # Swap separators: Italian writes 1.234.567,89.
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return f"{text} €" if currency == "EUR" else f"{text} {currency}"
    return f"€{text}" if currency == "EUR" else f"{currency} {text}"


def format_amounts(measure: Measure, lang: Lang = "it") -> str | None:
    """'Contributo da 1.000 € a 20.000 €; dotazione 35.000.000 €', or None when nothing is stated.

    Zero is treated as not stated: the catalogue writes 0 for a missing value.
    """
    a = measure.amounts
    money = {name: value for name, value in (("support_min", a.support_min), ("support_max", a.support_max),
                                             ("cost_min", a.cost_min), ("cost_max", a.cost_max),
                                             ("budget", a.budget)) if value}

    def fmt(name: str) -> str:
        return format_amount(money[name], lang, a.currency)

    en = lang == "en"
    grant = _grant_word(measure, lang)
    parts: list[str] = []
    for low, high, first_it, first_en in (("support_min", "support_max", grant, grant),
                                         ("cost_min", "cost_max", "spesa ammissibile", "eligible costs")):
        label = first_en if en else first_it
        if low in money and high in money:
            parts.append(f"{label} from {fmt(low)} to {fmt(high)}" if en else f"{label} da {fmt(low)} a {fmt(high)}")
        elif high in money:
            parts.append(f"{label} up to {fmt(high)}" if en else f"{label} fino a {fmt(high)}")
        elif low in money:
            parts.append(f"{label} from {fmt(low)}" if en else f"{label} da {fmt(low)}")
    if "budget" in money:
        parts.append(f"total budget {fmt('budget')}" if en else f"dotazione {fmt('budget')}")
    if not parts:
        return None
    text = "; ".join(parts)
    return text[0].upper() + text[1:]


def _grant_word(measure: Measure, lang: Lang) -> str:
    # "Contributo" / "grant" only when the support is a grant; a loan or guarantee is "agevolazione".
    forms = " ".join(measure.support_form).lower()
    is_grant = not forms or "contributo" in forms or "fondo perduto" in forms
    if lang == "en":
        return "grant" if is_grant else "support"
    return "contributo" if is_grant else "agevolazione"

