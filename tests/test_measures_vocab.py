"""Regions, firm sizes and sectors: canonical names, aliases, and recognising them in questions."""

from __future__ import annotations

import pytest

from bot.measures.vocab import NATIONAL, REGIONS, SME, areas_for_purposes, mentions, region, size, size_label


def test_there_are_twenty_regions_spelled_as_the_catalogue_does() -> None:
    assert len(REGIONS) == 20
    assert "Trentino-Alto Adige/Südtirol" in REGIONS
    assert "Valle d'Aosta/Vallée d'Aoste" in REGIONS
    assert "Friuli-Venezia Giulia" in REGIONS


@pytest.mark.parametrize(("name", "expected"), [
    ("toscana", "Toscana"),
    ("TOSCANA", "Toscana"),
    ("  Toscana ", "Toscana"),
    ("Tuscany", "Toscana"),
    ("Emilia Romagna", "Emilia-Romagna"),
    ("emilia-romagna", "Emilia-Romagna"),
    ("Trentino", "Trentino-Alto Adige/Südtirol"),
    ("Trentino-Alto Adige/Südtirol", "Trentino-Alto Adige/Südtirol"),
    ("trentino alto adige sudtirol", "Trentino-Alto Adige/Südtirol"),
    ("Provincia Autonoma di Bolzano", "Trentino-Alto Adige/Südtirol"),
    ("Trento", "Trentino-Alto Adige/Südtirol"),
    ("Valle d'Aosta", "Valle d'Aosta/Vallée d'Aoste"),
    ("Valle d’Aosta", "Valle d'Aosta/Vallée d'Aoste"),
    ("Vallée d'Aoste", "Valle d'Aosta/Vallée d'Aoste"),
    ("Friuli Venezia Giulia", "Friuli-Venezia Giulia"),
    ("Puglia", "Puglia"),
    ("Tutta Italia", NATIONAL),
    ("nazionale", NATIONAL),
])
def test_region_accepts_case_accents_and_aliases(name: str, expected: str) -> None:
    assert region(name) == expected


@pytest.mark.parametrize("name", ["Toscanaa", "Firenze", "", "Europa"])
def test_region_refuses_what_is_not_a_region(name: str) -> None:
    assert region(name) is None


@pytest.mark.parametrize(("name", "expected"), [
    ("Microimpresa", "micro"),
    ("micro", "micro"),
    ("Piccola Impresa", "piccola"),
    ("Piccola Impresa (escluse Microimprese)", "piccola"),
    ("small", "piccola"),
    ("Media Impresa", "media"),
    ("medium-sized", "media"),
    ("Grande Impresa", "grande"),
    ("large", "grande"),
    ("Non classificabile/classificato", "non-classificabile"),
    ("Non classificabile (Soggetto Pubblico)", "non-classificabile"),
])
def test_size_accepts_catalogue_labels_and_aliases(name: str, expected: str) -> None:
    assert size(name) == expected


def test_startup_is_not_a_size() -> None:
    assert size("startup") is None
    assert mentions("sono una startup innovativa").sizes == frozenset()


def test_size_labels_in_both_languages() -> None:
    assert size_label("micro") == "Microimpresa"
    assert size_label("micro", "en") == "Micro-enterprise"


@pytest.mark.parametrize(("text", "regions"), [
    ("sono una microimpresa toscana", {"Toscana"}),
    ("impresa toscano", {"Toscana"}),
    ("aziende toscane e lombarde", {"Toscana", "Lombardia"}),
    ("ditte lombardi", {"Lombardia"}),
    ("PMI pugliese", {"Puglia"}),
    ("impresa campana", {"Campania"}),
    ("sono un artigiano veneto", {"Veneto"}),
    ("bandi in Friuli Venezia Giulia", {"Friuli-Venezia Giulia"}),  # not also Veneto for "venezia"
    ("aziende marchigiane e umbre", {"Marche", "Umbria"}),
    ("ho un negozio a Prato", {"Toscana"}),
    ("South Tyrol micro business", {"Trentino-Alto Adige/Südtirol"}),
    ("bandi nazionali", {NATIONAL}),
    ("servono due marche da bollo?", set()),
    ("come apro una partita iva", set()),
    # Any other town (places.py): "a Limena", German names, names of several words, longest first.
    ("ho un negozietto a Limena", {"Veneto"}),
    ("sono di Sesto Fiorentino", {"Toscana"}),
    ("negozi di Cordovado e Sesto al Reghena", {"Friuli-Venezia Giulia"}),
    ("a workshop in Casarsa della Delizia", {"Friuli-Venezia Giulia"}),
    ("ich habe einen Betrieb in Brixen", {"Trentino-Alto Adige/Südtirol"}),
    ("sono di Empoli, in Toscana", {"Toscana"}),
    ("un'impresa di Empoli e una di Limena", {"Toscana", "Veneto"}),
    # Town names that are words, or better known as something else, are no town.
    ("fondi per il calcio giovanile", set()),
    ("finanziamento di Intesa San Paolo", set()),
    ("c'è un nesso tra export e innovazione?", set()),
])
def test_mentions_finds_regions_and_their_adjectives(text: str, regions: set[str]) -> None:
    assert mentions(text).regions == frozenset(regions)


@pytest.mark.parametrize(("text", "sizes"), [
    ("sono una microimpresa", {"micro"}),
    ("sono una micro impresa", {"micro"}),
    ("siamo una piccola impresa", {"piccola", "micro"}),  # a micro-enterprise may say "piccola" too
    ("media azienda del mobile", {"media"}),
    ("grandi imprese", {"grande"}),
    ("sono una PMI", SME),
    ("micro, piccole e medie imprese", SME),
    ("we are a small business", {"piccola", "micro"}),
    # The EU's English for a micro-enterprise; a "small" firm filter would hide micro-only calls.
    ("grant for very small firms", {"micro"}),
    ("we're a tiny company", {"micro"}),
    ("siamo una piccolissima impresa", {"micro"}),
    ("SMEs in Tuscany", SME),
    ("contributi per il mio software", set()),
    # A headcount, by the EU's staff thresholds (10, 50, 250).
    ("ho 4 dipendenti, c'è qualcosa per me?", {"micro"}),
    ("four employees in Bozen", {"micro"}),
    ("siamo 9 addetti", {"micro"}),
    ("una ditta con dieci dipendenti", {"piccola"}),  # exact: no micro
    ("azienda di 49 lavoratori", {"piccola"}),
    ("we have 120 staff", {"media"}),
    ("abbiamo 250 dipendenti", {"grande"}),
    ("piccola impresa con 4 dipendenti", {"piccola", "micro"}),
    # Not a headcount: people to hire, the user's own job, employees in general.
    ("vorrei assumere 3 dipendenti", set()),
    ("looking for 2 workers", set()),
    ("sono un dipendente", set()),
    ("quanti giorni di ferie spettano ai dipendenti", set()),
])
def test_mentions_finds_sizes(text: str, sizes: set[str]) -> None:
    assert mentions(text).sizes == frozenset(sizes)


@pytest.mark.parametrize(("text", "sectors"), [
    ("ho un ristorante a Siena", {"Ristorazione"}),
    ("sono un artigiano del legno", {"Artigianato", "Mobili, Legno e Carta"}),
    ("albergo sulla costa", {"Alberghiero"}),
    ("azienda tessile", {"Moda e Tessile"}),
    ("contributi per acquistare software", set()),  # buying software does not make one an ICT firm
    ("vorrei vedere il bando nel dettaglio", set()),
])
def test_mentions_finds_sectors(text: str, sectors: set[str]) -> None:
    assert mentions(text).sectors == frozenset(sectors)


@pytest.mark.parametrize(("text", "applicants"), [
    ("sono libero professionista a Lecce", {"Professionista"}),
    ("freelance engineer in Bari", {"Professionista"}),
    ("siamo una rete di 3 imprese pugliesi", {"Rete d'impresa"}),
    ("abbiamo firmato un contratto di rete", {"Rete d'impresa"}),
    ("a network of five firms in Apulia", {"Rete d'impresa"}),
    ("siamo un consorzio export", {"Consorzio"}),
    ("siamo una cooperativa sociale", {"Cooperative/Associazioni Non Profit"}),
    ("siamo un'associazione di categoria", {"Cooperative/Associazioni Non Profit"}),
    ("bandi per università ed enti di ricerca", {"Università/Ente di Ricerca"}),
    ("Cooperativa sociale a Prato, ci sono bandi?", {"Cooperative/Associazioni Non Profit"}),
    # A firm on its own names no applicant type; a network of offices is no network of firms; others
    # named (advisers, partners, one's trade association) are not who applies.
    ("sono una piccola impresa", set()),
    ("do they want to use the network of chamber offices?", set()),
    ("contributi per pagare i professionisti del brevetto", set()),
    ("progetto di ricerca in collaborazione con l'università", set()),
    ("la mia associazione di categoria dice che c'è un bando", set()),
    ("can I hire a freelancer with the grant?", set()),
])
def test_mentions_finds_applicant_types(text: str, applicants: set[str]) -> None:
    assert mentions(text).applicants == frozenset(applicants)



def test_purposes_map_to_our_areas() -> None:
    assert areas_for_purposes(["Internazionalizzazione"]) == ["internazionalizzazione"]
    assert areas_for_purposes(["Digitalizzazione", "Innovazione e ricerca"]) == ["innovazione"]
    assert areas_for_purposes(["Start up/Sviluppo d'impresa", "Sostegno investimenti"]) == ["nuove-imprese"]
    assert areas_for_purposes(["Transizione ecologica"]) == []
