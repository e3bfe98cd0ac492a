"""Knowledge files: loading, every validation error as `path:line: what`, chunking, hashing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import KNOWLEDGE

from bot.errors import KnowledgeError
from bot.knowledge.load import knowledge_hash, load_knowledge
from bot.knowledge.sentences import split_sentences
from bot.search.passages import chunk_text, passages

DOC = "protocollo-rt-unioncamere"


def problems(root: Path) -> list[str]:
    """The problems load_knowledge reports for `root`, one `path:line: what` string each."""
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(root)
    return [str(p) for p in caught.value.problems]


def write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def faq(entry_id: str = "prova", **fields: str) -> str:
    """One FAQ entry as YAML lines (each field on its own line, in a fixed order)."""
    values = {
        "id": entry_id,
        "question": '"Domanda di prova?"',
        "answer": '"Risposta di prova."',
        "area": "internazionalizzazione",
        "source": f"{DOC}#ambiti",
        **fields,
    }
    lines = [f"  - {k}: {v}" if i == 0 else f"    {k}: {v}" for i, (k, v) in enumerate(values.items())]
    return "\n".join(lines) + "\n"


# --- the shipped knowledge ---------------------------------------------------------------------------

def test_shipped_knowledge_loads() -> None:
    knowledge = load_knowledge(KNOWLEDGE)
    assert len(knowledge.faqs) >= 25
    assert len(knowledge.documents) >= 1
    assert {a.id for a in knowledge.areas} >= {"internazionalizzazione", "innovazione", "nuove-imprese"}
    for entry in knowledge.faqs:
        assert knowledge.section(entry.document_id, entry.section_id) is not None, entry.id
    assert len({e.id for e in knowledge.faqs}) == len(knowledge.faqs)
    # The eval sets and the guides are not knowledge files.
    names = {p.relative_to(KNOWLEDGE).as_posix() for p in knowledge.files}
    assert not any(n.startswith("eval/") or n.endswith(".md") for n in names)


def test_a_valid_new_faq_file_is_accepted(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "extra.yml", "entries:\n" + faq("nuova-voce", phrasings='["un altro modo"]'))
    knowledge = load_knowledge(knowledge_copy)
    entry = next(e for e in knowledge.faqs if e.id == "nuova-voce")
    assert entry.phrasings == ["un altro modo"]
    assert entry.section_id == "ambiti"


# --- every validation error, with its line -----------------------------------------------------------

def test_unknown_field(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "x.yaml", "entries:\n" + faq(colour="rosso"))
    assert problems(knowledge_copy) == [
        "knowledge/faq/x.yaml:7: entries[0].colour: unknown field "
        "(allowed: id, question, phrasings, answer, area, source, url, draft)"
    ]


def test_unknown_field_in_a_document_section(knowledge_copy: Path) -> None:
    doc = (knowledge_copy / "documents" / "protocollo-regione-toscana-unioncamere.yaml")
    lines = doc.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines) if line.strip() == "- id: ambiti") + 1
    lines.insert(number, "    note: da rivedere")  # inside the section, after its id
    doc.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (found,) = problems(knowledge_copy)
    assert found.startswith(f"knowledge/documents/protocollo-regione-toscana-unioncamere.yaml:{number + 1}: ")
    assert "sections[2].note: unknown field (allowed: id, heading, text, areas, page)" in found


def test_missing_required_field_points_at_the_entry(knowledge_copy: Path) -> None:
    entry = faq()
    entry = "\n".join(line for line in entry.splitlines() if "answer:" not in line) + "\n"
    write(knowledge_copy / "faq" / "x.yaml", "entries:\n" + faq("prima") + entry)
    assert problems(knowledge_copy) == ["knowledge/faq/x.yaml:7: entries[1].answer: required field is missing"]


@pytest.mark.parametrize("empty", ['""', '"   "', "|\n      \n"])
def test_empty_field(knowledge_copy: Path, empty: str) -> None:
    write(knowledge_copy / "faq" / "x.yaml", "entries:\n" + faq(answer=empty))
    assert problems(knowledge_copy) == ["knowledge/faq/x.yaml:4: entries[0].answer: must not be empty"]


def test_number_where_text_is_expected(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "x.yaml", "entries:\n" + faq(question="42"))
    assert problems(knowledge_copy) == ["knowledge/faq/x.yaml:3: entries[0].question: must be text"]


def test_string_where_a_list_is_expected(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "x.yaml", "entries:\n" + faq(phrasings='"una sola frase"'))
    assert problems(knowledge_copy) == ["knowledge/faq/x.yaml:7: entries[0].phrasings: must be a list"]


def test_number_inside_a_list_of_texts(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "x.yaml", "entries:\n" + faq(phrasings="\n      - ok\n      - 3"))
    assert problems(knowledge_copy) == ["knowledge/faq/x.yaml:9: entries[0].phrasings[1]: must be text"]


@pytest.mark.parametrize("bad", ["Export_Aiuti", "doppio--trattino", "-inizio", "con spazio"])
def test_bad_id(knowledge_copy: Path, bad: str) -> None:
    write(knowledge_copy / "faq" / "x.yaml", "entries:\n" + faq(f'"{bad}"'))
    assert problems(knowledge_copy) == [
        "knowledge/faq/x.yaml:2: entries[0].id: must be lowercase letters, digits and single hyphens "
        "(e.g. 'export-aiuti')"
    ]


def test_badly_written_source_reference(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "x.yaml", "entries:\n" + faq(source=DOC))
    assert problems(knowledge_copy) == [
        "knowledge/faq/x.yaml:6: entries[0].source: must look like 'document-id#section-id'"
    ]


def test_duplicate_faq_ids_across_files(knowledge_copy: Path) -> None:
    shipped = (knowledge_copy / "faq" / "internazionalizzazione.yaml").read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(shipped) if line.strip() == "- id: export-aiuti") + 1
    write(knowledge_copy / "faq" / "zz.yaml", "entries:\n" + faq("nuova") + faq("export-aiuti"))
    assert problems(knowledge_copy) == [
        "knowledge/faq/zz.yaml:7: entries[1].id: duplicate FAQ id 'export-aiuti' "
        f"(first defined at knowledge/faq/internazionalizzazione.yaml:{first})"
    ]


def test_duplicate_section_ids(knowledge_copy: Path) -> None:
    write(knowledge_copy / "documents" / "altro.yaml", (
        "id: altro\ntitle: Altro\nsource: prova\nlanguage: it\nareas: [protocollo]\nsections:\n"
        "  - id: uno\n    heading: Uno\n    text: Primo testo.\n"
        "  - id: uno\n    heading: Due\n    text: Secondo testo.\n"
    ))
    assert problems(knowledge_copy) == [
        "knowledge/documents/altro.yaml:10: sections[1].id: duplicate section id 'uno' in document 'altro'"
    ]


def test_duplicate_document_ids(knowledge_copy: Path) -> None:
    write(knowledge_copy / "documents" / "zz.yaml", (
        f"id: {DOC}\ntitle: Copia\nsource: prova\nlanguage: it\nareas: [protocollo]\nsections:\n"
        "  - id: uno\n    heading: Uno\n    text: Primo testo.\n"
    ))
    (found,) = problems(knowledge_copy)
    assert found.startswith(f"knowledge/documents/zz.yaml:1: id: duplicate document id '{DOC}' (first defined at ")


def test_reference_to_a_section_that_does_not_exist(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "x.yaml", "entries:\n" + faq(source=f"{DOC}#nessuna"))
    assert problems(knowledge_copy) == [
        f"knowledge/faq/x.yaml:6: entries[0].source: '{DOC}#nessuna' is not a section of any document"
    ]


def test_unknown_area(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "x.yaml", "entries:\n" + faq(area="marte"))
    write(knowledge_copy / "documents" / "altro.yaml", (
        "id: altro\ntitle: Altro\nsource: prova\nlanguage: it\nareas: [protocollo, giove]\nsections:\n"
        "  - id: uno\n    heading: Uno\n    text: Primo testo.\n    areas: [innovazione]\n"
    ))
    found = problems(knowledge_copy)
    assert "knowledge/documents/altro.yaml:5: areas[1]: unknown area 'giove' (known: " in found[0]
    assert found[1] == "knowledge/documents/altro.yaml:10: sections[0].areas[0]: area 'innovazione' is not among the document's areas"
    assert found[2].startswith("knowledge/faq/x.yaml:5: entries[0].area: unknown area 'marte' (known: innovazione, ")


def region_doc(regions: str) -> str:
    """A one-section document whose `regions:` line (line 6) holds `regions`, as YAML."""
    return (f"id: x\ntitle: X\nsource: prova\nlanguage: it\nareas: [protocollo]\nregions: {regions}\n"
            "sections:\n  - id: uno\n    heading: Uno\n    text: Primo testo.\n")


def test_an_unknown_region_is_an_error_at_its_line(knowledge_copy: Path) -> None:
    write(knowledge_copy / "documents" / "x.yaml", region_doc("[Toscana, Narnia]"))
    (found,) = problems(knowledge_copy)
    assert found.startswith("knowledge/documents/x.yaml:6: regions[1]: unknown region 'Narnia': write one of "
                            "the 20 regions (Abruzzo, Basilicata, ")


def test_all_of_italy_is_not_a_region_of_a_text(knowledge_copy: Path) -> None:
    write(knowledge_copy / "documents" / "x.yaml", region_doc("\n  - Tutta Italia"))
    assert problems(knowledge_copy) == [
        "knowledge/documents/x.yaml:7: regions[0]: 'Tutta Italia' is not a region: a text that applies in all of "
        "Italy has no 'regions'"]


@pytest.mark.parametrize(("value", "message"), [
    ("Toscana", "regions: must be a list"),
    ("[3]", "regions[0]: must be the name of a region, as text"),
])
def test_regions_must_be_a_list_of_names(knowledge_copy: Path, value: str, message: str) -> None:
    write(knowledge_copy / "documents" / "x.yaml", region_doc(value))
    assert problems(knowledge_copy) == [f"knowledge/documents/x.yaml:6: {message}"]


def test_a_faq_entry_takes_its_regions_from_its_document_not_a_field_of_its_own(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "x.yaml", "entries:\n" + faq(regions="[Puglia]"))
    (found,) = problems(knowledge_copy)
    assert found.startswith("knowledge/faq/x.yaml:7: entries[0].regions: unknown field (allowed: ")


@pytest.mark.parametrize("mistake", ["unknown field", "malformed YAML"])
def test_a_broken_document_is_reported_once_not_by_every_faq_citing_it(knowledge_copy: Path, mistake: str) -> None:
    doc = knowledge_copy / "documents" / "protocollo-regione-toscana-unioncamere.yaml"
    text = doc.read_text(encoding="utf-8")
    broken = "\n  - id: ambiti\n    note: x\n" if mistake == "unknown field" else "\n  - id: ambiti\n   - x: [\n"
    doc.write_text(text.replace("\n  - id: ambiti\n", broken, 1), encoding="utf-8")
    # A FAQ citing a section missing from a document that does load is still reported.
    write(knowledge_copy / "documents" / "altro.yaml", (
        "id: altro\ntitle: Altro\nsource: prova\nlanguage: it\nareas: [protocollo]\nsections:\n"
        "  - id: uno\n    heading: Uno\n    text: Primo testo.\n"
    ))
    write(knowledge_copy / "faq" / "x.yaml", "entries:\n" + faq(source="altro#due"))
    found = problems(knowledge_copy)
    assert len(found) == 2, found
    assert mistake in found[0] and found[0].startswith("knowledge/documents/protocollo-regione-toscana-unioncamere")
    assert found[1] == "knowledge/faq/x.yaml:6: entries[0].source: 'altro#due' is not a section of any document"


def test_bad_language_code(knowledge_copy: Path) -> None:
    write(knowledge_copy / "documents" / "altro.yaml", (
        "id: altro\ntitle: Altro\nsource: prova\nlanguage: italiano\nareas: [protocollo]\nsections:\n"
        "  - id: uno\n    heading: Uno\n    text: Primo testo.\n"
    ))
    assert problems(knowledge_copy) == [
        "knowledge/documents/altro.yaml:4: language: must be a two-letter language code such as 'it'"
    ]


def test_malformed_yaml_gives_the_line_of_the_syntax_error(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "x.yaml", (
        "entries:\n  - id: prova\n    question: Dove: qui\n    answer: Risposta.\n"
    ))
    (found,) = problems(knowledge_copy)
    assert found.startswith("knowledge/faq/x.yaml:3: malformed YAML: mapping values are not allowed here")


def test_bad_indentation_is_malformed_yaml(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "x.yaml", "entries:\n" + faq() + "   - id: storto\n")
    (found,) = problems(knowledge_copy)
    assert found.startswith("knowledge/faq/x.yaml:7: malformed YAML")


def test_non_utf8_file_gives_the_line_of_the_bad_byte(knowledge_copy: Path) -> None:
    text = ("entries:\n" + faq(question='"Che cos\'è il caffè?"')).encode("latin-1")
    write(knowledge_copy / "faq" / "x.yaml", text)
    assert problems(knowledge_copy) == [
        "knowledge/faq/x.yaml:3: not valid UTF-8 (byte 0xe8); save the file as UTF-8"
    ]


def test_duplicate_yaml_key(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "x.yaml", "entries:\n" + faq() + '    answer: "Un\'altra risposta."\n')
    assert problems(knowledge_copy) == ["knowledge/faq/x.yaml:7: entries[0].answer: duplicate key"]


@pytest.mark.parametrize("content", ["", "# solo un commento\n"])
def test_empty_file(knowledge_copy: Path, content: str) -> None:
    write(knowledge_copy / "faq" / "x.yaml", content)
    assert problems(knowledge_copy) == ["knowledge/faq/x.yaml:1: the file is empty"]


@pytest.mark.parametrize("name", ["note.yaml", "faq/dati.json", "documents/vecchi/altro.yaml"])
def test_unknown_file(knowledge_copy: Path, name: str) -> None:
    write(knowledge_copy / name, "entries: []\n")
    (found,) = problems(knowledge_copy)
    assert found.startswith(f"knowledge/{name}:1: not a knowledge file: expected areas.yaml")


def test_guides_eval_sets_and_hidden_files_are_not_knowledge(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "LEGGIMI.md", "# note\n")
    write(knowledge_copy / "eval" / "altro.yaml", "not: [knowledge\n")
    write(knowledge_copy / "faq" / ".x.yaml.swp", b"\xff\xfe")
    assert len(load_knowledge(knowledge_copy).faqs) >= 25


def test_missing_areas_file(knowledge_copy: Path) -> None:
    (knowledge_copy / "areas.yaml").unlink()
    assert problems(knowledge_copy) == ["knowledge/areas.yaml:0: missing: the list of areas is required"]


def test_missing_knowledge_folder(tmp_path: Path) -> None:
    (found,) = problems(tmp_path / "nowhere")
    assert "knowledge folder not found" in found


def test_all_errors_are_reported_at_once(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "a.yaml", "entries:\n" + faq(colour="rosso") + faq("altra", question="3"))
    write(knowledge_copy / "faq" / "b.yaml", "entries:\n  - id: [rotto\n")
    write(knowledge_copy / "faq" / "c.yaml", "")
    write(knowledge_copy / "faq" / "d.yaml", "entries:\n" + faq(source=f"{DOC}#nessuna"))
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(knowledge_copy)
    found = [str(p) for p in caught.value.problems]
    assert [f.split(": ", 1)[0] for f in found] == [
        "knowledge/faq/a.yaml:7",
        "knowledge/faq/a.yaml:9",
        "knowledge/faq/b.yaml:3",
        "knowledge/faq/c.yaml:1",
        "knowledge/faq/d.yaml:6",
    ]
    assert str(caught.value).startswith("5 problems in the knowledge files:\n")


# --- sentences and chunks ----------------------------------------------------------------------------

def test_split_sentences_keeps_abbreviations() -> None:
    text = "Vedi l'art. 3 del protocollo. Ne ha parlato il dott. Rossi (cfr. art. 5) ieri. Poi basta."
    assert split_sentences(text) == [
        "Vedi l'art. 3 del protocollo.",
        "Ne ha parlato il dott. Rossi (cfr. art. 5) ieri.",
        "Poi basta.",
    ]


def test_split_sentences_keeps_closing_quotes_with_their_sentence() -> None:
    text = 'Ha dichiarato: "Ci siamo chiesti come fare squadra." Il protocollo è firmato. «Bene!» Fine?'
    assert split_sentences(text) == [
        'Ha dichiarato: "Ci siamo chiesti come fare squadra."',
        "Il protocollo è firmato.",
        "«Bene!»",
        "Fine?",
    ]


def test_split_sentences_normalises_whitespace() -> None:
    assert split_sentences("  Prima   frase.\n\nSeconda\tfrase.  ") == ["Prima frase.", "Seconda frase."]
    assert split_sentences("   ") == []


def sentences(count: int) -> list[str]:
    return [f"Questa è la frase numero {n} del testo di prova, scritta per riempire lo spazio." for n in range(count)]


def test_chunks_never_cut_a_sentence_that_fits() -> None:
    parts = sentences(20)
    chunks = chunk_text(" ".join(parts), 300)
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(chunk) <= 300
        assert chunk.endswith(".") and chunk[0].isupper()
        assert " ".join(split_sentences(chunk)) == chunk
    assert [s for c in chunks for s in split_sentences(c)] == parts


def test_a_short_tail_is_balanced_within_the_size_limit() -> None:
    # Greedy packing would leave a lone short sentence at the end.
    parts = sentences(7) + ["Fine."]
    chunks = chunk_text(" ".join(parts), 300)
    assert all(len(c) <= 300 for c in chunks)
    assert len(chunks[-1]) >= 300 // 4
    assert " ".join(chunks) == " ".join(parts)


def test_a_very_long_sentence_is_split_at_words() -> None:
    long_sentence = " ".join(["parola"] * 200) + "."
    chunks = chunk_text("Breve inizio. " + long_sentence, 250)
    assert len(chunks) > 2
    assert all(len(c) <= 250 for c in chunks)
    assert " ".join(chunks) == "Breve inizio. " + long_sentence
    assert all(not c.startswith(" ") and "parol " not in c for c in chunks)


def test_short_text_is_one_chunk() -> None:
    assert chunk_text("Una sola frase.", 700) == ["Una sola frase."]
    assert chunk_text("", 700) == []


def test_passages_carry_their_heading_and_source() -> None:
    knowledge = load_knowledge(KNOWLEDGE)
    items = passages(knowledge, 200)
    docs = [p for p in items if p.kind == "passage"]
    sections = {(d.id, s.id): s for d in knowledge.documents for s in d.sections}
    assert len(docs) > sum(len(d.sections) for d in knowledge.documents)  # 200 chars: sections split
    for p in docs:
        doc_id, rest = p.id.split("#", 1)
        section = sections[(doc_id, rest.split("/", 1)[0])]
        assert p.heading == section.heading
        assert p.embedding_texts() == [f"{section.heading}. {p.text}"]
        assert p.source == f"{knowledge.document(doc_id).title}, «{section.heading}»"
        assert len(p.text) <= 200
        assert p.text in " ".join(section.text.split())


def test_faq_passages_embed_question_and_phrasings_and_answer_with_the_answer() -> None:
    knowledge = load_knowledge(KNOWLEDGE)
    items = passages(knowledge)
    entry = next(e for e in knowledge.faqs if e.id == "export-aiuti")
    (p,) = [p for p in items if p.id == "faq:export-aiuti"]
    assert p.kind == "faq"
    # Question and phrasings each get a vector (retrieval tuning may add more texts after them).
    assert p.embedding_texts()[: 1 + len(entry.phrasings)] == [entry.question, *entry.phrasings]
    assert len(entry.phrasings) >= 2
    assert p.text == entry.answer.strip()
    assert p.source == f"{p.title}, «{p.heading}»" and "export-aiuti" not in p.source
    assert p.area == "internazionalizzazione"
    # One passage per FAQ entry, FAQ first.
    assert [q.kind for q in items[: len(knowledge.faqs)]] == ["faq"] * len(knowledge.faqs)


# --- the knowledge hash ------------------------------------------------------------------------------

def test_knowledge_hash_follows_the_knowledge_files(knowledge_copy: Path) -> None:
    before = knowledge_hash(knowledge_copy)
    assert knowledge_hash(knowledge_copy) == before == knowledge_hash(KNOWLEDGE)
    # Guides and eval sets do not count.
    (knowledge_copy / "README.md").write_text("altro\n", encoding="utf-8")
    write(knowledge_copy / "eval" / "nuovo.yaml", "- q: prova\n")
    write(knowledge_copy / "faq" / "note.md", "# note\n")
    assert knowledge_hash(knowledge_copy) == before
    # A changed byte in a knowledge file does.
    areas = knowledge_copy / "areas.yaml"
    areas.write_text(areas.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    changed = knowledge_hash(knowledge_copy)
    assert changed != before
    # So does a renamed file with the same bytes.
    (knowledge_copy / "faq" / "innovazione.yaml").rename(knowledge_copy / "faq" / "innovazione2.yaml")
    assert knowledge_hash(knowledge_copy) != changed


def test_a_broken_entry_does_not_hide_the_other_entries_problems(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "nuove.yaml",
          "entries:\n" + faq("rotta", answer='""') + faq("buona", area="turismo") + faq("altra", source=f"{DOC}#boh"))
    found = [p for p in problems(knowledge_copy) if "nuove.yaml" in p]
    assert found == [
        "knowledge/faq/nuove.yaml:4: entries[0].answer: must not be empty",
        "knowledge/faq/nuove.yaml:10: entries[1].area: unknown area 'turismo' "
        "(known: innovazione, internazionalizzazione, nuove-imprese, protocollo)",
        f"knowledge/faq/nuove.yaml:16: entries[2].source: '{DOC}#boh' is not a section of any document",
    ]


def test_yaml_aliases_are_refused_with_their_line(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "alias.yaml", "# ciclo\nentries: &a\n  - *a\n")
    assert problems(knowledge_copy) == [
        "knowledge/faq/alias.yaml:3: aliases (*a) are not supported in knowledge files: write the value out"
    ]


def test_a_date_that_does_not_exist_is_a_problem_at_its_line(knowledge_copy: Path) -> None:
    write(knowledge_copy / "faq" / "date.yaml", "entries:\n  - id: x\n    question: 2026-02-30\n")
    assert problems(knowledge_copy) == [
        "knowledge/faq/date.yaml:3: '2026-02-30' is not a real date (day is out of range for month)"
    ]
