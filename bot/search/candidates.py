"""The candidate path of a search: the passages FAISS finds nearest and those BM25 scores highest,
fused, ordered, deduped and offered on those only, with the bound that makes the head of the
ranking the one a full scoring of every passage gives. Arrays over the candidates, no per-passage
Python objects: the cost follows the candidates, not the size of the knowledge.

A passage in neither list scores no higher on either side than the last one in each list, so it
fuses no higher than that pair fused (the retriever's fusion grows with each side): every candidate
fused above that bound is where a full scoring would put it. When fewer than EXACT_HEAD of the
ranking are above it, BM25's list (every score is at hand) is lengthened just enough for the bound
to fall below the ranking's 20th score, computed from the scores rather than guessed; should that
not do (dedupe or the offer rules moved the ranking), the list grows fourfold. When FAISS's last
cosine alone keeps the bound too high, FAISS's list grows fourfold first (a longer BM25 list could
not help, and every passage it adds costs an exact cosine read back from the index). The certain
part must also hold as many FAQ entries as a result may show (answers, then related or suggested
questions, which the retriever takes from past the head when the head holds too few), so the lists
widen the same way until it does.

A text for other regions than the question names (see `offer.Criteria.elsewhere`) has its fused
score multiplied by retrieval.other_region_factor (≤ 1) before ordering, a measure tagged only with
other sectors than the question names by retrieval.other_sector_factor (other applicant types:
retrieval.other_applicant_factor), every passage but the measures' by retrieval.described_firm_factor
when the question describes the firm asking (its size, who applies), and, when the question asks
for a place, a person, a time... (asks.py), every passage but the FAQ entries asking for the same has
it multiplied by a factor below 1 (`Candidates.asks_factors`). Scores only go down, so the bound,
computed before any factor, still bounds what a passage outside the candidates fuses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bot.config import RetrievalSettings
from bot.measures.schema import Measure
from bot.measures.eligibility import fits_applicants, fits_sectors
from bot.search import asks, offer
from bot.search.index import SearchIndex
from bot.search.lexical import top_k as lexical_top_k

Mode = Literal["hybrid", "dense", "lexical"]
# The retriever's fusion: dense and lexical scores of the same passages -> one score each.
Fuse = Callable[[np.ndarray, np.ndarray, Mode], np.ndarray]

# The head of a ranking that search guarantees equal to a full scoring of every passage: more than
# the answers, related and suggested questions it shows, and the first 10 that `sportello eval` reads.
EXACT_HEAD = 20
# BM25 values at which the bound is evaluated to find how long BM25's list must be (one fusion call).
GRID = 1024

_NO_IDS = np.empty(0, dtype=np.int64)
_NO_SCORES = np.empty(0, dtype=np.float32)


@dataclass(frozen=True)
class Factors:
    """What scales a question's fused scores: the regions it names and the kinds of thing it asks for."""

    wanted: offer.Criteria
    region: float   # retrieval.other_region_factor
    sector: float   # retrieval.other_sector_factor
    applicant: float  # retrieval.other_applicant_factor
    described: float  # retrieval.described_firm_factor
    asked: int      # asks.bits of the question
    asks: float     # retrieval.asks_weight


@dataclass(frozen=True)
class Ranked:
    """The candidates of one search: arrays over the candidates (ascending passage numbers), and the
    ranking as positions into them."""

    ids: np.ndarray       # passage numbers
    dense: np.ndarray     # cosine (best row)
    lexical: np.ndarray   # BM25 (with synonyms)
    fused: np.ndarray
    order: list[int]      # positions, best first, after dedupe and the offer rules
    exact: int            # how many of `order`, from the first, a full scoring would rank the same
    bound: float          # no passage outside the candidates fuses higher than this


@dataclass
class _Known:
    """Exact cosines already read from the index in this search (ascending passage numbers)."""

    ids: np.ndarray
    dense: np.ndarray


class Candidates:
    """What ranking candidates needs of every passage, as arrays built once per index."""

    def __init__(self, index: SearchIndex, measure_of: dict[int, Measure], names: offer.Names):
        self.index = index
        self.measure_of = measure_of
        self.names = names
        passages = index.passages
        n = len(passages)
        # Dedupe keeps the best chunk of each document section (a FAQ entry is its own group).
        groups: dict[str, int] = {}
        self.group = np.fromiter((groups.setdefault(p.id if p.kind == "faq" else p.source_ref, len(groups))
                                  for p in passages), dtype=np.int64, count=n)
        self.measure = np.zeros(n, dtype=bool)
        self.measure[list(measure_of)] = True
        by_measure: dict[str, list[int]] = {}
        for number, measure in measure_of.items():
            by_measure.setdefault(measure.id, []).append(number)
        self._passages_of = {mid: np.asarray(sorted(ns), dtype=np.int64) for mid, ns in by_measure.items()}
        # The texts (not measures) that declare where they apply, and which passages each region has;
        # what each FAQ entry's own question and phrasings ask for (asks.py), one bit per kind.
        self.regional = np.zeros(n, dtype=bool)
        self._in_region: dict[str, np.ndarray] = {}
        self.faq = np.zeros(n, dtype=bool)
        self.asks = np.zeros(n, dtype=np.uint8)
        for number, p in enumerate(passages):
            if p.regions and not self.measure[number]:
                self.regional[number] = True
                for name in p.regions:
                    self._in_region.setdefault(name, np.zeros(n, dtype=bool))[number] = True
            if p.kind == "faq":
                self.faq[number] = True
                self.asks[number] = asks.bits([p.question or "", *p.phrasings])

    def rank(self, question: str, mode: Mode, wanted: offer.Criteria, vector: np.ndarray | None,
             lexical: np.ndarray | None, settings: RetrievalSettings, fuse: Fuse) -> Ranked:
        """The candidates' ranking, widened until its head is certain to be that of a full scoring.
        `lexical`: every passage's BM25 score (None in dense mode)."""
        n = len(self.index.passages)
        depth = settings.search_depth
        rrf = mode == "hybrid" and settings.fusion == "rrf"
        if rrf:
            depth = max(depth, settings.candidates)  # RRF counts that many of each ranking
        # The passages of measures the question names come first whatever they score (offer rules),
        # so they are always candidates. Not with RRF: its points depend on the candidates' ranks.
        named = _NO_IDS if rrf or not self._passages_of else self._named(question)
        factor = Factors(wanted, settings.other_region_factor, settings.other_sector_factor,
                         settings.other_applicant_factor, settings.described_firm_factor, asks.bits([question]),
                         settings.asks_weight)
        # The FAQ entries a result may show (answers, then related or suggested questions): the
        # retriever takes them from the certain part of the ranking, past its head if need be.
        faqs = settings.top_k + max(settings.related, settings.suggestions)
        query = np.asarray(vector, dtype=np.float32) if vector is not None else None
        known = _Known(_NO_IDS, _NO_SCORES)
        k_dense = k_lexical = min(n, depth)
        dense_top = lexical_top = None
        widenings = 0
        while True:
            if mode != "lexical" and (dense_top is None or len(dense_top[0]) < k_dense):
                dense_top = self.index.dense.top_k(query, k_dense)  # type: ignore[arg-type]
            if lexical is not None and (lexical_top is None or len(lexical_top[0]) < k_lexical):
                lexical_top = lexical_top_k(lexical, k_lexical)
            # A list shorter than asked holds every passage it can (BM25: every one scoring above 0;
            # IVF: every one in the cells searched, the others score -1 as in a full search).
            dense_whole = dense_top is None or len(dense_top[0]) < k_dense or k_dense >= n
            lexical_whole = lexical_top is None or len(lexical_top[0]) < k_lexical or k_lexical >= n
            # What a passage outside both lists can score at most on each side; None: there is none.
            outside: tuple[float, float] | None = (
                -1.0 if dense_whole else float(dense_top[1][-1]),  # type: ignore[index]
                0.0 if lexical_whole else float(lexical_top[1][-1]),  # type: ignore[index]
            )
            if dense_top is not None and len(dense_top[0]) >= n:
                outside = None
            ranked = self._round(question, mode, wanted, query, lexical, dense_top, lexical_top, named, outside,
                                 known, fuse, rrf, factor)
            # bound <= 0: nothing outside the candidates can join the ranking.
            if ranked.bound <= 0 or (ranked.exact >= EXACT_HEAD and self._certain_faqs(ranked) >= faqs):
                return ranked
            aimed = 0
            if not lexical_whole:
                assert lexical is not None and outside is not None
                aimed = self._lexical_depth(ranked, outside[0], mode, fuse, lexical,
                                            float(lexical_top[1][0]), faqs)  # type: ignore[index]
            if not lexical_whole and (aimed >= 0 or dense_whole):
                # Aimed: just long enough; then (or with nothing to aim at) four times longer.
                grow = k_lexical + 1 if widenings == 0 and aimed > 0 else 4 * k_lexical
                k_lexical = min(n, max(grow, aimed))
            elif not dense_whole:
                k_dense = min(n, 4 * k_dense)  # FAISS's list needs a new search: grow it by steps
            else:
                return ranked
            widenings += 1

    def factors(self, ids: np.ndarray, factor: Factors) -> np.ndarray:
        """What each passage `ids`'s fused score is multiplied by (each ≤ 1: see the module's doc)."""
        return (self.region_factors(ids, factor.wanted, factor.region)
                * self.tag_factors(ids, factor.wanted.filters.sectors, fits_sectors, factor.sector)
                * self.tag_factors(ids, factor.wanted.filters.applicants, fits_applicants, factor.applicant)
                * self.described_factors(ids, factor.wanted, factor.described)
                * self.asks_factors(ids, factor.asked, factor.asks))

    def described_factors(self, ids: np.ndarray, wanted: offer.Criteria, factor: float) -> np.ndarray:
        """`factor` for every passage but a measure's when the question itself (not the profile)
        describes the firm asking, its size or who applies: it asks what that firm can get; 1 otherwise."""
        out = np.ones(len(ids), dtype=np.float64)
        if factor != 1.0 and wanted.describes_firm:
            out[~self.measure[ids]] = factor
        return out

    def tag_factors(self, ids: np.ndarray, asked: frozenset[str],
                    fits: Callable[[Measure, frozenset[str]], bool], factor: float) -> np.ndarray:
        """`factor` for a measure whose catalogue tags (sectors, applicant types) hold none of those the
        question (or the profile) names, when it names some; 1 otherwise."""
        out = np.ones(len(ids), dtype=np.float64)
        if factor == 1.0 or not asked or not ids.size:
            return out
        for position in np.flatnonzero(self.measure[ids]):
            if not fits(self.measure_of[int(ids[position])], asked):
                out[position] = factor
        return out

    def asks_factors(self, ids: np.ndarray, asked: int, weight: float) -> np.ndarray:
        """When the question asks for a kind of thing (`asked`, bits of asks.KINDS): 1 for a FAQ entry
        whose own questions ask for it too, (1 - weight) / (1 + weight) for one whose questions ask only
        for other kinds, 1 / (1 + weight) for every other passage. So it ranks as a boost of
        (1 + weight) and a cut of (1 - weight), with no factor above 1. All 1 when it asks for none."""
        out = np.ones(len(ids), dtype=np.float64)
        if not asked or weight == 0.0 or not ids.size:
            return out
        have = self.asks[ids]
        same = (have & asked) != 0
        out[:] = 1.0 / (1.0 + weight)
        out[same] = 1.0
        out[(have != 0) & ~same] = (1.0 - weight) / (1.0 + weight)
        return out

    def region_factors(self, ids: np.ndarray, wanted: offer.Criteria, factor: float) -> np.ndarray:
        """What each passage `ids`'s fused score is multiplied by: `factor` for a text that declares
        regions, none of them named by the question, when the question names some; 1 otherwise.
        Scores only go down, so a bound on what a passage fuses stays a bound."""
        out = np.ones(len(ids), dtype=np.float64)
        if factor == 1.0 or not wanted.asked_regions or not ids.size:
            return out
        elsewhere = self.regional[ids]
        if not elsewhere.any():
            return out
        for name in wanted.asked_regions:
            if name in self._in_region:
                elsewhere &= ~self._in_region[name][ids]
        out[elsewhere] = factor
        return out

    def _named(self, question: str) -> np.ndarray:
        """The passages of every measure the question names."""
        found = [self._passages_of[mid] for mid in self.names.named_in(question) if mid in self._passages_of]
        return _unique(np.concatenate(found)) if found else _NO_IDS

    def _certain_faqs(self, ranked: Ranked) -> int:
        """How many FAQ entries the certain part of the ranking holds."""
        return int(np.count_nonzero(self.faq[ranked.ids[ranked.order[: ranked.exact]]]))

    def _lexical_depth(self, ranked: Ranked, dense_outside: float, mode: Mode, fuse: Fuse, lexical: np.ndarray,
                       top: float, faqs: int) -> int:
        """How long BM25's list must be for the bound to fall below the score a full ranking's 20th
        has at least, and its `faqs`-th FAQ entry too: the 20th best of this round's candidates, one
        per dedupe group, measures left out (the offer rules may drop them), or the `faqs`-th best FAQ
        entry among them if lower. That many are the passages whose BM25 could lift them to it (with
        the highest cosine a passage outside FAISS's list can have), plus one. 0 when the candidates
        are too few to aim at; -1 when no length would do, FAISS's last cosine alone keeping the
        bound too high."""
        best = np.argsort(-ranked.fused, kind="stable")
        best = best[~self.measure[ranked.ids[best]]]
        best = best[_firsts(self.group[ranked.ids[best]])]
        faq = best[self.faq[ranked.ids[best]]]
        if len(best) < EXACT_HEAD or len(faq) < faqs:
            return 0  # too few to aim at: grow by steps
        target = min(float(ranked.fused[best[EXACT_HEAD - 1]]), float(ranked.fused[faq[faqs - 1]]))  # faqs ≥ top_k ≥ 1
        # The bound at a grid of BM25 values, in one call of the fusion: with `top` (BM25's best for
        # the question) among them, each is fused as in a full scoring, which scales BM25 by it.
        grid = np.linspace(0.0, top, GRID + 1).astype(np.float32)
        bound = fuse(np.full(len(grid), dense_outside, dtype=np.float32), grid, mode)
        below = np.flatnonzero(bound < target)
        if below.size == 0:
            return -1  # even a whole BM25 list would leave the bound too high: FAISS's list first
        # The bound grows with BM25, so every value up to grid[below[-1]] leaves it below the target:
        # a list holding every passage above that value ends on one at or under it.
        return int(np.count_nonzero(lexical > grid[below[-1]])) + 1

    def _round(self, question: str, mode: Mode, wanted: offer.Criteria, query: np.ndarray | None,
               lexical_all: np.ndarray | None, dense_top: tuple[np.ndarray, np.ndarray] | None,
               lexical_top: tuple[np.ndarray, np.ndarray] | None, named: np.ndarray,
               outside: tuple[float, float] | None, known: _Known, fuse: Fuse, rrf: bool,
               factor: Factors | None = None) -> Ranked:
        """Fuse, order, dedupe and offer the union of the best by cosine and by BM25 (and the named
        measures), each fused score multiplied by its `factor` (region, kind asked: `factors`).
        `outside`: the highest cosine and BM25 a passage in neither list can have (None: every passage
        is in one)."""
        d_ids, d_cos = dense_top if dense_top is not None else (_NO_IDS, _NO_SCORES)
        l_ids = lexical_top[0] if lexical_top is not None else _NO_IDS
        # Ascending passage numbers, so ties in the stable sort below fall as in a full scoring.
        ids = _unique(np.concatenate([d_ids, l_ids, named]).astype(np.int64))
        if ids.size == 0:  # no passage shares a word with a lexical-only question
            return Ranked(ids, _NO_SCORES, _NO_SCORES, _NO_SCORES.astype(np.float64), [], 0, -np.inf)
        zeros = np.zeros(len(ids), dtype=np.float32)
        dense = self._dense(query, ids, d_ids, d_cos, known) if mode != "lexical" else zeros
        lexical = lexical_all[ids] if lexical_all is not None else zeros
        # The bound below is what an outside passage fuses at most before any factor (each ≤ 1): still a bound.
        fused = fuse(dense, lexical, mode)
        if factor is not None:
            fused = fused * self.factors(ids, factor)

        bound = -np.inf
        if outside is not None:
            if rrf:
                bound = 0.0  # both lists ≥ rrf candidates: a passage outside them gets no RRF points
            else:
                d_bound = outside[0] if mode != "lexical" else 0.0
                l_bound = outside[1] if mode != "dense" else 0.0
                bound = float(fuse(np.append(dense, np.float32(d_bound)),
                                   np.append(lexical, np.float32(l_bound)), mode)[-1])

        # Only passages that fuse above 0 are ranked: in dense mode the others (below the model's
        # floor) all tie at 0, in no meaningful order. Below the bound nothing is shown, but the
        # offer rules look a little further (a closed measure gives way to a close available one).
        cut = max(0.0, bound * offer.CLOSED_GIVES_WAY)
        keep = fused > cut
        is_named = np.isin(ids, named) if named.size else None
        if is_named is not None:
            keep |= is_named & (fused > 0)  # named measures go first, whatever they score
        positions = np.flatnonzero(keep)
        positions = positions[np.argsort(-fused[positions], kind="stable")]
        positions = positions[_firsts(self.group[ids[positions]])]  # dedupe: the best of each group

        # The offer rules look at measures only; every other passage passes untouched.
        is_measure = self.measure[ids[positions]]
        certain_named = 0
        closed = np.zeros(len(positions), dtype=bool)
        if is_measure.any():
            at = positions[is_measure]
            numbers = ids[at].tolist()
            sifted = offer.sift(numbers, self.measure_of, dict(zip(numbers, fused[at].tolist())), question,
                                wanted, self.names)
            named_first = np.searchsorted(ids, np.asarray(sifted.named, dtype=np.int64))
            kept = set(sifted.kept) - set(sifted.named)
            stays = ~is_measure
            stays[is_measure] = [i in kept for i in numbers]
            closed[is_measure] = [i in sifted.closed for i in numbers]
            rest = positions[stays]
            closed = closed[stays]
            positions = np.concatenate([named_first, rest])
            closed = np.concatenate([np.zeros(len(named_first), dtype=bool), closed])
            # Every passage of a named measure is a candidate (not with RRF), so they stand first
            # exactly as a full scoring puts them.
            certain_named = len(named_first) if is_named is not None else 0

        # Certain: past the named ones, those above the bound, up to a closed measure that an
        # available one outside the candidates (fused ≤ bound) could still make give way.
        scores = fused[positions[certain_named:]]
        unsure = scores <= bound
        if bound > 0:
            unsure |= closed[certain_named:] & (offer.CLOSED_GIVES_WAY * scores <= bound)
        stop = np.flatnonzero(unsure)
        exact = certain_named + (int(stop[0]) if stop.size else len(scores))
        return Ranked(ids, dense, lexical, fused, positions.tolist(), exact, bound)

    def _dense(self, query: np.ndarray | None, ids: np.ndarray, found: np.ndarray, cosines: np.ndarray,
               known: _Known) -> np.ndarray:
        """Cosine of the question with each candidate `ids` (a FAQ scores its best phrasing): FAISS's
        own figure for those its top-k `found`, an exact one read from the index for the others (once
        a search: `known` keeps them for the next round)."""
        out = np.full(len(ids), np.nan, dtype=np.float32)
        out[np.searchsorted(ids, found)] = cosines
        missing = np.flatnonzero(np.isnan(out))
        if missing.size and known.ids.size:
            where = np.minimum(np.searchsorted(known.ids, ids[missing]), len(known.ids) - 1)
            have = known.ids[where] == ids[missing]
            out[missing[have]] = known.dense[where[have]]
            missing = missing[~have]
        if missing.size:
            assert query is not None, "dense scores need the question's vector"
            out[missing] = self.index.dense.passage_scores(query, ids[missing])
        known.ids, known.dense = ids, out
        return out


def _unique(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending (by sorting: numpy's hashing unique is slower at these sizes)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if values.size else values


def _firsts(keys: np.ndarray) -> np.ndarray:
    """The positions of the first occurrence of each key, ascending."""
    if keys.size == 0:
        return np.empty(0, dtype=np.int64)
    by_key = np.argsort(keys, kind="stable")
    sorted_keys = keys[by_key]
    return np.sort(by_key[np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1]))])
