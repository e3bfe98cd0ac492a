"""Italian towns and their regions (bot/measures/places.py): the shipped table and how it is made."""

from __future__ import annotations

from pathlib import Path

from bot.measures import places, places_table
from bot.measures.text import fold
from bot.measures.vocab import REGIONS


def test_the_shipped_table_names_thousands_of_towns_each_in_one_of_the_twenty_regions() -> None:
    table, longest = places._table()
    assert len(table) > 7000
    assert set(table.values()) == set(REGIONS)
    assert longest >= 4
    # The checks the generator makes hold for what is shipped.
    assert all(len(name.replace(" ", "")) >= places.MIN_LETTERS for name in table)
    assert not places.NOT_PLACES & table.keys()
    assert {"fondi", "calcio", "cento", "nesso", "la cassa"}.isdisjoint(table)
    lines = places.TABLE.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# Generated") and "ISTAT" in lines[0]


def test_the_longest_name_wins_and_each_word_counts_once() -> None:
    # "San Vito al Tagliamento" (Friuli), not a town called "San Vito" elsewhere.
    assert places.regions_in(fold("un bar a San Vito al Tagliamento")) == {"Friuli-Venezia Giulia"}
    assert places.regions_in(fold("Limena Empoli")) == {"Veneto", "Toscana"}
    assert places.regions_in("") == set()
    assert places.regions_in(fold("contributi per la digitalizzazione delle imprese")) == set()


ISTAT_HEADER = ("Codice Regione;Denominazione in italiano;Denominazione altra lingua;Denominazione Regione\n")


def test_the_generator_leaves_out_words_phrases_short_and_shared_names(tmp_path: Path) -> None:
    """From an ISTAT-shaped file (Latin-1, semicolons): words the texts write in lower case, names
    of such words that the texts write as a phrase, names under four letters, names of towns in two
    regions and the hand-picked `NOT_PLACES` are left out; bilingual names give both."""
    istat = tmp_path / "comuni.csv"
    istat.write_text(ISTAT_HEADER + "\n".join([
        "05;Limena;;Veneto",
        "12;Fondi;;Lazio",                              # "fondi": a common word
        "01;La Cassa;;Piemonte",                        # a phrase the texts write
        "09;Sesto Fiorentino;;Toscana",                 # common words, never written as a phrase
        "04;Bolzano;Bozen;Trentino-Alto Adige/Südtirol",
        "01;Ala;;Trentino-Alto Adige/Südtirol",         # three letters
        "01;Castro;;Lombardia", "16;Castro;;Puglia",    # two regions
        "03;San Paolo;;Lombardia",                      # NOT_PLACES
        "09;Città di Castello;;Umbria",
    ]) + "\n", encoding="latin-1")
    words = tmp_path / "words"
    words.write_text("fondi\nsesto\nfiorentino\ncassa\nla\nsan\n", encoding="utf-8")
    text = tmp_path / "text"
    text.write_text("Ho messo i soldi nella cassa, poi ho chiuso la cassa.\nLa cassa è vuota, disse Marco.\n",
                    encoding="utf-8")
    out = tmp_path / "comuni.tsv"
    assert places_table.write_table(istat, [words, text], out) == 5
    rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()[1:]]
    assert rows == [["Bolzano", "Trentino-Alto Adige/Südtirol"], ["Bozen", "Trentino-Alto Adige/Südtirol"],
                    ["Città di Castello", "Umbria"], ["Limena", "Veneto"],
                    ["Sesto Fiorentino", "Toscana"]]
