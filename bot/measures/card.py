"""What a user reads about one measure, in their language: the parts of its card, plain text.

The card answers, in this order: what it is, whether one can still apply, whether it is for me, how
much, who grants it, where to apply, and where the facts come from and how recent they are. Every
value comes from the measure's file; nothing missing is filled in. Rendering (Telegram HTML, the
terminal) is the caller's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.measures.eligibility import limited_to
from bot.measures.schema import Measure
from bot.measures.status import Lang, Status, format_amounts, format_date, status, status_line, window_note
from bot.measures.vocab import size_label


@dataclass(frozen=True)
class Card:
    """The parts of a measure's card (None: the file does not say)."""

    title: str
    summary: str
    status: Status
    status_line: str
    window_note: str | None
    who: str | None
    how_much: str | None
    issuer: str | None
    url: str | None
    source: str

    def lines(self) -> list[str]:
        """The card as plain-text lines (the terminal, `ask --json`)."""
        out = [self.title, self.summary, self.status_line]
        if self.window_note:
            out.append(self.window_note)
        out += [part for part in (self.who, self.how_much, self.issuer) if part]
        if self.url:
            out.append(self.url)
        out.append(self.source)
        return out


def card(measure: Measure, today: dt.date, lang: Lang = "it", closing_days: int = 14) -> Card:
    """The card of `measure` as of `today`; its status is computed here, never read from a file."""
    en = lang == "en"
    return Card(
        title=measure.title,
        summary=measure.summary,
        status=status(measure, today, closing_days),
        status_line=status_line(measure, today, lang, closing_days),
        window_note=window_note(measure),
        who=_who(measure, lang),
        how_much=format_amounts(measure, lang),
        issuer=(f"Granted by: {measure.issuer}" if en else f"Chi lo concede: {measure.issuer}") if measure.issuer else None,
        url=measure.url or measure.provenance.catalogue_url,
        source=source_line(measure, lang),
    )


def _who(measure: Measure, lang: Lang) -> str | None:
    """'Per: Microimpresa, Piccola impresa — solo per Puglia' from the sizes and regions stated."""
    en = lang == "en"
    parts = []
    if measure.sizes:
        parts.append(", ".join(size_label(s, lang) for s in measure.sizes))
    elif measure.applicants:
        parts.append(", ".join(measure.applicants))
    where = limited_to(measure, lang)
    if measure.national:
        where = "all of Italy" if en else "tutta Italia"
    if where:
        parts.append(where)
    if not parts:
        return None
    return ("For: " if en else "Per: ") + " — ".join(parts)


def source_line(measure: Measure, lang: Lang = "it") -> str:
    """'Fonte: incentivi.gov.it (MIMIT), dati aggiornati al 26/03/2025' (attribution the licence asks)."""
    prov = measure.provenance
    en = lang == "en"
    line = f"{'Source' if en else 'Fonte'}: {prov.source}"
    updated = prov.last_update or prov.captured
    if updated:
        line += f", {'data updated on' if en else 'dati aggiornati al'} {format_date(updated)}"
    if prov.licence:
        line += f" ({prov.licence})"
    return line
