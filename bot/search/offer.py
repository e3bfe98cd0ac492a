"""Which measures may be offered for a question: eligibility, validity, and asking by name.

The worst mistake a funding desk can make is to present a closed call as available. So, for every
measure the ranking found:
- a measure limited to other regions or firm sizes than the question (or the user's profile) names
  is left out, unless the question names the measure itself; one tagged with other sectors only
  ranks lower (retrieval.other_sector_factor, applied with the ranking: see `candidates`), because
  catalogue sector tags are coarse and often incomplete;
- "aperti / in scadenza" in the question keep only measures one can apply to now (or that close soon);
- a closed measure is left out when an available one matches the question about as well; it stays
  (always labelled closed by its card) when asked by name or when nothing open matches;
- a measure the question names comes first: the user asked about it.
Status is computed here from the dates and `today`, never read from a file.

Texts that are not measures are never left out, but one that declares where it applies (a document's
`regions`, inherited by its FAQ entries) ranks lower when the question itself names only other
regions: see `Criteria.elsewhere` (the profile does not count there: a Tuscan firm may well ask
about the protocol signed in Florence while naming Rome).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.measures.eligibility import Filters, Profile, filters_from_question, matches
from bot.measures.schema import Measure
from bot.measures.status import Status, is_available, status
from bot.measures.vocab import NATIONAL
from bot.search import analyzer

# A closed measure gives way to an available one whose fused score is at least this share of its own.
CLOSED_GIVES_WAY = 0.8


@dataclass(frozen=True)
class Criteria:
    """What the question and the profile ask of a measure."""

    filters: Filters             # as read from the question (regions, sizes, sectors, open, closing)
    today: dt.date
    closing_days: int
    # The regions the question itself names (never the profile's; "Tutta Italia" left out).
    asked_regions: frozenset[str] = frozenset()
    # The question itself (never the profile) describes the firm asking: its size or who applies.
    describes_firm: bool = False

    def elsewhere(self, regions: Sequence[str]) -> bool:
        """True when a text declaring `regions` applies only to regions other than those the
        question names (False when either names none)."""
        return bool(regions and self.asked_regions and not self.asked_regions.intersection(regions))

    @property
    def listing(self) -> bool:
        """The question asks for the measures closing within a period ("cosa scade questo mese")."""
        return self.filters.closing_within_days is not None


def criteria(question: str, today: dt.date, closing_days: int, profile: Profile | None = None) -> Criteria:
    """The question's filters, completed by the profile where the question says nothing."""
    found = filters_from_question(question, today)
    asked = found.regions - {NATIONAL}
    describes_firm = bool(found.sizes or found.applicants)
    if profile is not None:
        found = dataclasses.replace(
            found,
            regions=found.regions or (frozenset({profile.region}) if profile.region else frozenset()),
            sizes=found.sizes or (frozenset({profile.size}) if profile.size else frozenset()),
            sectors=found.sectors or (frozenset({profile.sector}) if profile.sector else frozenset()),
        )
    return Criteria(found, today, closing_days, asked, describes_firm)


class Names:
    """Recognises a question that names a measure: most words of its title, or a pair of adjacent
    title words at least one of which belongs to that measure alone ("Voucher 3I", "Terre Tagliamento").

    A word belongs to a measure alone when no other title has it and, given `elsewhere` (stem,
    measure id -> whether a text other than that measure's holds the stem), no other text either:
    "processi" in one title among ten does not make "digitalizzare i processi" a name. A dotted code
    ("Linea D.1.1.b") needs only to be in no other title.

    Titles are indexed by stem and by adjacent pair, so finding the measures a question names costs
    a few look-ups per question word, not a pass over every measure."""

    def __init__(self, measures: Sequence[Measure], elsewhere: Callable[[str, str], bool] | None = None):
        self._titles = {m.id: [analyzer.stem(w) for w in analyzer.content_words(m.title)] for m in measures}
        count: dict[str, int] = {}
        for stems in self._titles.values():
            for s in set(stems):
                count[s] = count.get(s, 0) + 1
        # A code in one title only ("Linea D.1.1.b") is that measure's own even where other texts cite
        # it: a call's records describe all its lines, and the code is how people name one.
        codes = {m.id: {analyzer.stem(c) for c in analyzer.codes(m.title)} for m in measures}
        self._own = {mid: {s for s in stems if count[s] == 1
                           and (s in codes[mid] or not (elsewhere and elsewhere(s, mid)))}
                     for mid, stems in self._titles.items()}
        self._by_stem: dict[str, list[str]] = {}
        self._by_pair: dict[tuple[str, str], list[str]] = {}
        for mid, stems in self._titles.items():
            for s in set(stems):
                self._by_stem.setdefault(s, []).append(mid)
            for pair in dict.fromkeys(zip(stems, stems[1:])):
                if pair[0] in self._own[mid] or pair[1] in self._own[mid]:
                    self._by_pair.setdefault(pair, []).append(mid)

    def named(self, measure_id: str, question: str) -> bool:
        """True when `question` names the measure `measure_id`."""
        return measure_id in self.named_in(question)

    def named_in(self, question: str) -> set[str]:
        """The ids of every measure `question` names."""
        asked = [analyzer.stem(w) for w in analyzer.content_words(question)]
        shared: dict[str, int] = {}
        for s in set(asked):
            for mid in self._by_stem.get(s, ()):
                shared[mid] = shared.get(mid, 0) + 1
        found = {mid for mid, n in shared.items() if n >= 2 and n / len(set(self._titles[mid])) >= 0.5}
        for pair in zip(asked, asked[1:]):
            found.update(self._by_pair.get(pair, ()))
        return found


def offer(
    candidates: list[int],
    measure_of: dict[int, Measure],
    fused: Sequence[float],
    question: str,
    wanted: Criteria,
    names: Names,
) -> list[int]:
    """The candidates (passage numbers, best first) that may be shown; passages that are not
    measures pass through untouched."""
    found = sift(candidates, measure_of, fused, question, wanted, names)
    named = set(found.named)
    return found.named + [i for i in found.kept if i not in named]


@dataclass(frozen=True)
class Sifted:
    """What `sift` decided: the candidates kept (best first, named ones included), the named ones
    (they go first), and the kept ones that are closed measures."""

    kept: list[int]
    named: list[int]
    closed: set[int]


def sift(
    candidates: list[int],
    measure_of: dict[int, Measure],
    fused: Sequence[float] | dict[int, float],
    question: str,
    wanted: Criteria,
    names: Names,
) -> Sifted:
    """The offer rules applied to `candidates` (passage numbers, best first): `offer` is its kept
    candidates with the named ones moved first. `fused` is read for measures only."""
    # Sectors rank (`candidates`), they do not filter: the catalogue's sector tags are incomplete.
    where = dataclasses.replace(wanted.filters, want_open=False, closing_within_days=None, sectors=frozenset())
    kept: list[int] = []
    closed: set[int] = set()
    named: list[int] = []
    states: dict[int, Status] = {}
    asked: set[str] | None = None
    for i in candidates:
        measure = measure_of.get(i)
        if measure is None:
            kept.append(i)
            continue
        state = states[i] = status(measure, wanted.today, wanted.closing_days)
        if asked is None:
            asked = names.named_in(question)  # once per question, and only when a measure is met
        if measure.id in asked:
            named.append(i)
        else:
            if not matches(measure, where):
                continue
            if wanted.listing and not _closes_within(measure, state, wanted):
                continue
            if wanted.filters.want_open and not is_available(state):
                continue
            if state == "closed":
                closed.add(i)
        kept.append(i)
    best_available = max((fused[i] for i in kept if i in states and is_available(states[i])), default=0.0)
    gone = {i for i in closed if best_available >= CLOSED_GIVES_WAY * fused[i]}
    if gone:
        kept = [i for i in kept if i not in gone]
    return Sifted(kept, named, closed - gone)


def closing_soon(measures: Sequence[Measure], wanted: Criteria) -> list[Measure]:
    """The measures one can still apply to that close within the asked period and fit the question,
    soonest first (for "cosa scade questo mese")."""
    where = dataclasses.replace(wanted.filters, want_open=False, closing_within_days=None)
    found = [m for m in measures
             if matches(m, where) and _closes_within(m, status(m, wanted.today, wanted.closing_days), wanted)]
    return sorted(found, key=lambda m: (m.close_date, m.title))


def for_profile(measures: Sequence[Measure], profile: Profile | None, today: dt.date,
                closing_days: int) -> list[Measure]:
    """The measures one can apply to now that fit the profile, best first: those of the user's own
    region before national ones, then those closing soonest (something to act on), then by title."""
    fitting = [m for m in measures
               if is_available(status(m, today, closing_days)) and (profile is None or matches(m, profile))]

    def rank(m: Measure) -> tuple[int, dt.date, str]:
        own_region = bool(profile and profile.region and profile.region in m.regions)
        return (0 if own_region else 1, m.close_date or dt.date.max, m.title)

    return sorted(fitting, key=rank)


def _closes_within(measure: Measure, state: Status, wanted: Criteria) -> bool:
    days = wanted.filters.closing_within_days
    return (is_available(state) and days is not None and measure.close_date is not None
            and (measure.close_date - wanted.today).days <= days)
