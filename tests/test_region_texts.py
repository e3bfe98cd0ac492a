"""Texts that say where they apply: a document's `regions`, inherited by its FAQ entries, and the
soft demotion of such texts when a question names only other regions (retrieval.other_region_factor).
Also the words that name a region in a question (the gazetteer in bot/measures/vocab.py). The
schema's errors for `regions` are tested with the others, in test_knowledge.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import KNOWLEDGE, make_settings

from bot.knowledge.load import load_knowledge
from bot.measures.eligibility import Profile, filters_from_question
from bot.measures.vocab import NATIONAL, mentions
from bot.search import offer
from bot.search.candidates import Candidates
from bot.search.embedding import Embedder
from bot.search.passages import Passage, passages
from bot.search.retriever import EXACT_HEAD, Retriever
from bot.search.service import build_index

TODAY = dt.date(2025, 6, 1)
TRENTINO = "Trentino-Alto Adige/Südtirol"
PROTOCOL = "protocollo-rt-unioncamere"
PROTOCOL_FILE = "protocollo-regione-toscana-unioncamere.yaml"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def document(doc_id: str, regions: str | None, heading: str, text: str) -> str:
    """A one-section YAML document, with a `regions:` line when `regions` is given (as YAML)."""
    return (f"id: {doc_id}\ntitle: \"{heading}\"\nsource: \"Testo di prova dei test\"\nlanguage: it\n"
            f"areas: [internazionalizzazione]\n" + (f"regions: {regions}\n" if regions is not None else "")
            + f"sections:\n  - id: testo\n    heading: \"{heading}\"\n    text: \"{text}\"\n")


# --- the gazetteer ---------------------------------------------------------------------------------

@pytest.mark.parametrize("question", [
    "ditta in provincia di Bolzano, ci sono bandi?",
    "siamo una ditta della Provincia autonoma di Trento",
    "bandi per imprese in Alto Adige", "Förderungen für Südtiroler Betriebe", "Betrieb in Bozen",
    "azienda a Merano", "una pmi di Bressanone (Brixen)", "Rovereto, contributi per l'export",
    "imprese sudtirolesi", "siamo altoatesini", "ditta alto-atesina", "in Sud Tirolo ci sono bandi?",
    "South Tyrol micro business", "una cooperativa trentina", "Trentino-Alto Adige/Südtirol",
])
def test_trentino_alto_adige_is_recognised_by_its_provinces_towns_and_people(question: str) -> None:
    assert mentions(question).regions == {TRENTINO}


@pytest.mark.parametrize(("question", "region"), [
    ("any open calls for firms in Apulia?", "Puglia"),
    ("Campanian firms looking for grants", "Campania"),
    ("an Emilian manufacturer", "Emilia-Romagna"),
    ("Friulian wineries", "Friuli-Venezia Giulia"),
    ("un artigiano aostano", "Valle d'Aosta/Vallée d'Aoste"),
    ("a shop in Padua", "Veneto"),
    ("ma sto protocollo l'hanno firmato a roma?", "Lazio"),
])
def test_other_regions_words_added_to_the_gazetteer(question: str, region: str) -> None:
    assert mentions(question).regions == {region}
    assert filters_from_question(question, TODAY).regions == {region}  # the quick pre-check lets them through


def test_the_austrian_tyrol_and_plain_words_are_not_regions() -> None:
    for question in ("vacanze in Tirolo", "festeggiamo il trentennale dell'azienda", "trentacinque dipendenti"):
        assert TRENTINO not in mentions(question).regions, question


# --- the schema ------------------------------------------------------------------------------------

def test_a_document_declares_its_regions_and_its_faq_entries_inherit_them(knowledge_copy: Path) -> None:
    write(knowledge_copy / "documents" / "puglia.yaml",
          document("export-puglia", "[apulia, Puglia, basilicata]", "Export in Puglia", "Aiuti per l'export."))
    write(knowledge_copy / "faq" / "puglia.yaml", (
        "entries:\n  - id: export-puglia-aiuti\n    question: \"Aiuti export in Puglia?\"\n"
        "    answer: \"Sì, secondo il testo di prova.\"\n    area: internazionalizzazione\n"
        "    source: export-puglia#testo\n"))
    write(knowledge_copy / "documents" / "ovunque.yaml", document("ovunque", None, "Ovunque", "Vale ovunque."))
    knowledge = load_knowledge(knowledge_copy)
    assert knowledge.document("export-puglia").regions == ["Puglia", "Basilicata"]  # canonical, once each
    assert knowledge.document(PROTOCOL).regions == ["Toscana"]  # the shipped press release
    by_id = {p.id: p for p in passages(knowledge)}
    assert by_id["faq:export-puglia-aiuti"].regions == ("Puglia", "Basilicata")
    assert by_id["export-puglia#testo/0"].regions == ("Puglia", "Basilicata")
    assert by_id["ovunque#testo/0"].regions == ()
    assert by_id["faq:export-aiuti"].regions == ("Toscana",)  # a shipped FAQ entry on the protocol
    assert all(p.regions == () for p in by_id.values() if p.kind == "measure")  # measures keep their own rules


def test_a_markdown_document_declares_regions_in_its_front_matter(knowledge_copy: Path) -> None:
    write(knowledge_copy / "documents" / "guida.md", (
        "---\nid: guida-sarda\ntitle: \"Guida\"\nsource: \"Prova\"\nlanguage: it\n"
        "areas: [internazionalizzazione]\nregions: [Sardinia]\n---\n\n## Chi {#chi}\n\nIl testo.\n"))
    assert load_knowledge(knowledge_copy).document("guida-sarda").regions == ["Sardegna"]


def test_passages_read_back_from_json_keep_regions_as_a_tuple() -> None:
    passage = Passage(id="d#s/0", kind="passage", text="t", title="T", heading="H", area="a", source_ref="d#s",
                      phrasings=["x"], regions=["Toscana"])  # type: ignore[arg-type]  # as json.load gives them
    assert passage.regions == ("Toscana",) and passage.phrasings == ("x",)
    assert hash(passage)


# --- which texts a question demotes ----------------------------------------------------------------

def test_only_the_question_names_regions_never_the_profile() -> None:
    tuscan = Profile(region="Toscana")
    assert offer.criteria("l'hanno firmato a roma?", TODAY, 14, tuscan).asked_regions == {"Lazio"}
    assert offer.criteria("dove è stato firmato il protocollo?", TODAY, 14, tuscan).asked_regions == frozenset()
    assert offer.criteria("bandi in tutta italia", TODAY, 14).asked_regions == frozenset()  # not a region
    assert NATIONAL in offer.criteria("bandi in tutta italia", TODAY, 14).filters.regions  # measures still see it


def test_region_factors_demote_only_texts_for_other_regions_than_the_question_names() -> None:
    def passage(number: int, kind: str, regions: tuple[str, ...]) -> Passage:
        return Passage(id=f"p{number}", kind=kind, text="t", title="T", heading="H", area="a",
                       source_ref=f"p{number}", regions=regions)

    items = [passage(0, "faq", ("Toscana",)), passage(1, "passage", ()), passage(2, "passage", ("Puglia", "Toscana")),
             passage(3, "faq", ("Puglia",)), passage(4, "measure", ())]
    candidates = Candidates(SimpleNamespace(passages=items), {}, offer.Names([]))  # type: ignore[arg-type]
    ids = np.arange(len(items))

    def factors(question: str) -> list[float]:
        return candidates.region_factors(ids, offer.criteria(question, TODAY, 14), 0.5).tolist()

    assert factors("aiuti export per imprese lombarde") == [0.5, 1.0, 0.5, 0.5, 1.0]
    assert factors("aiuti export in Puglia") == [0.5, 1.0, 1.0, 1.0, 1.0]
    assert factors("aiuti export in Toscana") == [1.0, 1.0, 1.0, 0.5, 1.0]
    assert factors("aiuti export in Toscana o in Lombardia") == [1.0, 1.0, 1.0, 0.5, 1.0]
    assert factors("aiuti export") == [1.0] * 5
    assert factors("aiuti export in tutta italia") == [1.0] * 5
    wanted = offer.criteria("aiuti export in Lombardia", TODAY, 14)
    assert candidates.region_factors(ids, wanted, 1.0).tolist() == [1.0] * 5  # the setting at 1: off


# --- ranking, with the real model -------------------------------------------------------------------

EXPORT_GUIDE = ("Le imprese che vogliono vendere all'estero possono chiedere aiuti per l'export: servizi di "
                "accompagnamento sui mercati esteri e contributi per partecipare alle fiere internazionali.")


@pytest.fixture(scope="module")
def regional(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Retriever:
    """An index of the shipped press release (regions: [Toscana]) and its export FAQ entries, a
    region-free export guide and a Puglia-only one (no eval sets: the settings' calibration applies)."""
    tmp = tmp_path_factory.mktemp("regional")
    root = tmp / "knowledge"
    write(root / "areas.yaml", (KNOWLEDGE / "areas.yaml").read_text(encoding="utf-8"))
    write(root / "documents" / PROTOCOL_FILE, (KNOWLEDGE / "documents" / PROTOCOL_FILE).read_text(encoding="utf-8"))
    write(root / "faq" / "internazionalizzazione.yaml",
          (KNOWLEDGE / "faq" / "internazionalizzazione.yaml").read_text(encoding="utf-8"))
    write(root / "documents" / "guida.yaml", document("guida-export", None, "Guida all'export", EXPORT_GUIDE))
    write(root / "documents" / "puglia.yaml", document(
        "export-puglia", "[Puglia]", "Export delle imprese pugliesi",
        "Le imprese pugliesi che vogliono vendere all'estero trovano aiuti per l'internazionalizzazione."))
    settings = make_settings(tmp, root)
    build_index(settings, embedder)
    return Retriever.open(settings, embedder)


def with_factor(r: Retriever, factor: float) -> Retriever:
    return Retriever(r.index, r.embedder, r.settings.model_copy(update={"other_region_factor": factor}, deep=True),
                     r.measures)


def ranking(r: Retriever, question: str) -> list[tuple[str, float]]:
    return [(h.passage.id, round(h.score, 6)) for h in r.search(question, today=TODAY).ranking]


def test_a_question_naming_another_region_ranks_a_text_that_fits_above_a_tuscan_only_one(regional: Retriever) -> None:
    question = "Ci sono aiuti per vendere all'estero? L'azienda è in Alto Adige"
    off, on = with_factor(regional, 1.0), with_factor(regional, 0.05)
    first = off.search(question, today=TODAY).ranking[0].passage
    assert first.regions == ("Toscana",), "the Tuscan FAQ entry wins without the demotion"
    demoted = on.search(question, today=TODAY)
    assert demoted.ranking[0].passage.regions == ()  # the region-free guide comes first
    assert first.id in [h.passage.id for h in demoted.ranking]  # lower, not gone
    assert demoted.signals["dense"] == pytest.approx(demoted.ranking[0].dense)  # signals of what is first
    # A town names its region as well (places.py): Bitonto is in Puglia.
    for asked in ("Ci sono aiuti per vendere all'estero dalla Puglia?",
                  "Ci sono aiuti per vendere all'estero da Bitonto?"):
        puglia = on.search(asked, today=TODAY).ranking
        assert puglia[0].passage.regions in {(), ("Puglia",)}
        ids = [h.passage.id for h in puglia]
        tuscan = min(n for n, h in enumerate(puglia) if h.passage.regions == ("Toscana",))
        assert ids.index("export-puglia#testo/0") < tuscan
    unnamed = off.search("Ci sono aiuti per vendere all'estero da Bitonto?", today=TODAY).ranking
    assert unnamed[0].passage.regions == ("Toscana",), "without the demotion the town changes nothing"


@pytest.mark.parametrize("question", ["Ci sono aiuti per vendere all'estero?",
                                      "aiuti per l'export per imprese fiorentine e pugliesi",
                                      "aiuti per l'export in tutta italia"])
def test_a_question_naming_no_region_or_every_region_of_the_texts_ranks_as_before(regional: Retriever,
                                                                                  question: str) -> None:
    assert ranking(with_factor(regional, 0.05), question) == ranking(with_factor(regional, 1.0), question)


def test_a_question_naming_tuscany_leaves_the_tuscan_texts_where_they_were(regional: Retriever) -> None:
    question = "Ci sono aiuti per vendere all'estero dalla Toscana?"
    off, on = ranking(with_factor(regional, 1.0), question), ranking(with_factor(regional, 0.05), question)
    puglia = "export-puglia#testo/0"
    assert [hit for hit in on if hit[0] != puglia] == [hit for hit in off if hit[0] != puglia]
    assert [i for i, _ in on].index(puglia) >= [i for i, _ in off].index(puglia)  # only the Puglia text goes down


def test_the_protocol_signed_in_florence_is_still_the_answer_when_asked_about_rome(retriever: Retriever) -> None:
    """The shipped knowledge and settings: naming Rome (Lazio) demotes the Tuscan texts, softly, so
    the answer about where the protocol was signed stays among the answers, as without the demotion."""
    question = "ma sto protocollo l'hanno firmato a roma?"
    assert retriever.settings.other_region_factor < 1.0
    result = retriever.search(question, today=TODAY)
    assert result.answered
    where = next(h for h in result.answers if h.passage.id == "faq:protocollo-dove-firmato")
    assert "Firenze" in where.text
    off = with_factor(retriever, 1.0).search(question, today=TODAY)
    assert [h.passage.id for h in result.answers] == [h.passage.id for h in off.answers]


def test_demoted_rankings_are_those_of_a_full_scoring_also_from_short_lists(retriever: Retriever) -> None:
    """The candidate path with the demotion ranks the head as a full scoring of every passage does
    (`full_scoring` of tests/test_search_topk.py), with candidate lists too short to hold it at first."""
    from tests.test_search_topk import full_scoring

    shallow = Retriever(retriever.index, retriever.embedder, retriever.settings.model_copy(
        update={"search_depth": 3, "other_region_factor": 0.3}, deep=True), retriever.measures)
    questions = ["ma sto protocollo l'hanno firmato a roma?", "aiuti per vendere all'estero in Puglia",
                 "ditta in provincia di Bolzano, ci sono contributi per il software?",
                 "any open calls for firms in Apulia?", "chi ha firmato l'accordo in Toscana?",
                 "startup innovative in Lombardia e in Toscana", "siamo a Milano, cosa fa il protocollo per l'export?"]
    vectors = retriever.embedder.encode_queries(questions)  # type: ignore[union-attr]
    demoted = 0
    for question, vector in zip(questions, vectors):
        for mode in ("hybrid", "dense", "lexical"):
            got = shallow.search(question, mode=mode, today=TODAY, vector=vector)  # type: ignore[arg-type]
            want = full_scoring(shallow, question, mode, TODAY, vector)  # type: ignore[arg-type]
            head = min(EXACT_HEAD, want.positive)
            assert [h.passage.id for h in got.ranking][:head] == want.ranking[:head], f"{mode}: {question!r}"
            wanted = offer.criteria(question, TODAY, 14)
            demoted += sum(1 for h in got.ranking if wanted.elsewhere(h.passage.regions))
    assert demoted > 0  # the questions above do demote texts
