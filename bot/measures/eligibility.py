"""Who a measure is for: a business's profile, filters read from a question, and matching."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from bot.measures.schema import Measure
from bot.measures.status import DEFAULT_CLOSING_DAYS, Lang, is_available, status
from bot.measures import places, vocab
from bot.measures.text import fold
from bot.measures.vocab import NATIONAL, Mentions, mentions


@dataclass(frozen=True)
class Profile:
    """What a business told us about itself (each part optional)."""

    region: str | None = None
    size: str | None = None
    sector: str | None = None


@dataclass(frozen=True)
class Filters:
    """What a question asks for: where, which size, which sector, and whether open / closing soon."""

    regions: frozenset[str] = frozenset()
    sizes: frozenset[str] = frozenset()
    sectors: frozenset[str] = frozenset()
    applicants: frozenset[str] = frozenset()  # who applies, when not a firm on its own (vocab.APPLICANTS)
    want_open: bool = False
    closing_within_days: int | None = None
    # Set by the caller when the question names a specific measure (not used here).
    named: bool = False
    # The day the question was asked: status filters need it.
    today: dt.date | None = None

    @property
    def empty(self) -> bool:
        """True when the question sets no filter at all."""
        return not (self.regions or self.sizes or self.sectors or self.applicants or self.want_open
                    or self.closing_within_days is not None)


# Measure nouns: "aperto"/"attivo" next to one of these is about a measure, not about the business
# ("ho aperto un'attività", "sono attiva nel tessile").
_MEASURE_NOUNS = (r"bandi|bando|misur[ae]|incentiv[oi]|agevolazion[ei]|contribut[oi]|finanziament[oi]|avvis[oi]"
                  r"|voucher|aiut[oi]|sostegn[oi]|opportunita|call|calls|grants?|measures?|schemes?|funding"
                  r"|incentives?|programm[ei]|programs?|programmes?")
_OPEN = re.compile(
    r"\b(?:apert[ie]|attiv[ie]|disponibil[ie]|in corso|ancora (?:apert[oaie]|attiv[oaie]|valid[oaie])"
    r"|(?:" + _MEASURE_NOUNS + r")(?: \w+){0,2} (?:apert[oa]|attiv[oa]|disponibile)"
    r"|(?:still|currently|now) (?:open|available|active)|available|open (?:" + _MEASURE_NOUNS + r")"
    r"|(?:are|is) (?:\w+ )?open\b(?! (?:a|an|my|the) )|accept\w* applications)\b")
# "Is it still open?" about one measure asks for its status, not for the open ones: the answer may
# well be "closed since ...", so such a question filters nothing ("è ancora aperto?", "is the grant
# of ... still open?"; not "c'è un bando ancora aperto", "is there...", "are ... open").
_STATUS = re.compile(
    r"(?<!\bc )\be (?:ancora |sempre )?(?:apert|attiv|valid)[oa]\b"
    r"|\bis (?!there\b)(?:\w+ ){1,12}?(?:still|currently|now) (?:open|available|active)\b(?! to\b)"
    r"|\bis (?:it|this|that) (?:open|available|active)\b")
# Perfect tense ("ho aperto", "abbiamo aperto") talks about the business, not a measure.
_PERFECT = re.compile(r"\b(?:ho|hai|ha|abbiamo|avete|hanno|appena|gia) (?:\w+ )?apert[oaie]\b")
# "In scadenza" and the like ask for measures closing soon on their own; "scade" / "chiude" need a
# period ("questo mese", "entro 10 giorni"), since "quando scade il voucher?" asks for one date.
_CLOSING_SOON = re.compile(r"\b(?:in scadenza|stanno per (?:chiudere|scadere)|prossim[ie] scadenz[ae]"
                           r"|(?:scadono|scade|chiudono|chiude) (?:a breve|presto|tra poco)|scadenz[ae] (?:a breve|vicin[ae])"
                           r"|closing soon|clos(?:e|es) soon|about to close|expiring|(?:upcoming|next) deadlines?"
                           r"|deadlines? (?:soon|coming up))\b")
_CLOSING_VERB = re.compile(r"\b(?:scad\w*|chiude|chiudono|clos(?:e|es|ing)|expir\w*|deadlines?|due)\b")
_THIS_MONTH = re.compile(r"\b(?:questo mese|entro (?:la )?fine (?:del )?mese|fine mese|this month"
                         r"|end of (?:the )?month)\b")
_THIS_WEEK = re.compile(r"\b(?:questa settimana|entro (?:la )?fine (?:della )?settimana|this week"
                        r"|end of (?:the )?week)\b")
_N_DAYS = re.compile(r"\b(?:entro|nei prossimi|prossimi|within|in the next|next) (\d{1,3}) (?:giorni|days)\b")
# Every pattern `mentions` looks for, in one expression without capture groups: Python's regex engine
# runs it some 20× faster than the region scan's 170 groups, and most questions name no region, size
# or sector at all, so `mentions` runs only when this or the town table (places.py) finds something.
# (For a headcount, the staff noun is enough to look further: "4 dipendenti".)
# (Removing "marche da bollo" before the region scan, as `mentions` does, can only take matches away,
# never add one.)
_MAYBE_MENTIONS = re.compile("|".join(
    [r"\b(?:" + "|".join(word for word, _ in vocab._REGION_WORD_LIST) + r")\b"]
    + [p.pattern for p in (*vocab._SIZE_PATTERNS.values(), vocab._SME_PATTERN, *vocab._SECTOR_PATTERNS.values(),
                           *vocab._APPLICANT_PATTERNS.values())]
    + [r"\b" + vocab.STAFF_WORDS]))


def filters_from_question(question: str, today: dt.date) -> Filters:
    """Regions, sizes, sectors and open / closing-soon intents named in a question."""
    text = fold(question)
    found = mentions(question) if _MAYBE_MENTIONS.search(text) or places.regions_in(text) else Mentions()
    closing: int | None = None
    n_days = _N_DAYS.search(text)
    closing_verb = bool(_CLOSING_VERB.search(text))
    if closing_verb and _THIS_MONTH.search(text):
        closing = calendar.monthrange(today.year, today.month)[1] - today.day
    elif closing_verb and _THIS_WEEK.search(text):
        closing = 6 - today.weekday()
    elif closing_verb and n_days:
        closing = int(n_days.group(1))
    elif _CLOSING_SOON.search(text):
        closing = DEFAULT_CLOSING_DAYS
    untensed = _PERFECT.sub(" ", text)
    want_open = bool(_OPEN.search(untensed)) and not _STATUS.search(untensed)
    return Filters(regions=found.regions, sizes=found.sizes, sectors=found.sectors, applicants=found.applicants,
                   want_open=want_open,
                   closing_within_days=closing, today=today)


def fits_sectors(measure: Measure, sectors: frozenset[str]) -> bool:
    """True when the measure lists one of `sectors` (case and accents aside), or either lists none."""
    return _shares(sectors, measure.sectors)


def fits_applicants(measure: Measure, applicants: frozenset[str]) -> bool:
    """True when the measure lists one of the applicant types `applicants`, or either lists none."""
    return _shares(applicants, measure.applicants)


def _shares(asked: frozenset[str], listed: list[str]) -> bool:
    return not (asked and listed) or bool({fold(a) for a in asked} & {fold(t) for t in listed})


def matches(measure: Measure, criteria: Filters | Profile, today: dt.date | None = None) -> bool:
    """True when the measure fits: a national measure (or one listing no regions) fits every region,
    one listing no sizes or sectors fits every size or sector."""
    if isinstance(criteria, Profile):
        regions = frozenset({criteria.region}) if criteria.region else frozenset()
        sizes = frozenset({criteria.size}) if criteria.size else frozenset()
        sectors = frozenset({criteria.sector}) if criteria.sector else frozenset()
    else:
        regions, sizes, sectors = criteria.regions, criteria.sizes, criteria.sectors
    if regions and measure.regions and not measure.national and not regions & set(measure.regions):
        return False
    if sizes and measure.sizes and not sizes & set(measure.sizes):
        return False
    if not fits_sectors(measure, sectors):
        return False
    if isinstance(criteria, Filters) and (criteria.want_open or criteria.closing_within_days is not None):
        day = today or criteria.today
        if day is None:
            raise ValueError("matches() needs today's date to filter by status")
        if criteria.closing_within_days is not None:
            return status(measure, day, criteria.closing_within_days) == "closing"
        return is_available(status(measure, day))
    return True


def limited_to(measure: Measure, lang: Lang = "it") -> str | None:
    """'solo per Campania e Puglia' when a measure is regional; None when national or not stated."""
    names = [r for r in measure.regions if r != NATIONAL]
    if not names or measure.national:
        return None
    if len(names) == 1:
        joined = names[0]
    else:
        joined = ", ".join(names[:-1]) + (" and " if lang == "en" else " e ") + names[-1]
    return f"only for {joined}" if lang == "en" else f"solo per {joined}"
