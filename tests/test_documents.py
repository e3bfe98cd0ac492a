"""Importing official documents: real files written by real writers (reportlab, python-docx, HTML as
CMSs write it) become knowledge/documents/<slug>.md that validates, with the originals' headings,
PDF pages, cleaned text and a clear refusal of scanned PDFs. Runs on tmp copies of the knowledge."""

from __future__ import annotations

import datetime as dt
import io
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import documents_files as files
import pytest

from bot.cli import main
from bot.documents.clean import clean_chars, join_lines
from bot.documents.importer import import_documents
from bot.documents.writer import guess_areas, slugify
from bot.knowledge.load import load_knowledge

TODAY = dt.date(2026, 11, 25)


def run(argv: list[str], knowledge: Path, tmp: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env = {"SPORTELLO_PATHS__KNOWLEDGE": str(knowledge), "SPORTELLO_PATHS__INDEX": str(tmp / "index"),
           "SPORTELLO_PATHS__DATABASE": str(tmp / "s.db"), "SPORTELLO_MEASURES__TODAY": TODAY.isoformat()}
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv, env)
    return code, out.getvalue(), err.getvalue()


def sections_of(path: Path) -> list[tuple[str, str, int | None, str]]:
    """(heading, id, page, text) of each section of a written Markdown document."""
    found = []
    for match in re.finditer(r"^## ([^\n]*) \{#([a-z0-9-]+)(?: page=(\d+))?\}\n\n(.*?)(?=\n## |\Z)",
                             path.read_text(encoding="utf-8"), re.M | re.S):
        found.append((match[1], match[2], int(match[3]) if match[3] else None, match[4].strip()))
    return found


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    folder = tmp_path / "originals"
    folder.mkdir()
    return folder


def test_a_pdf_becomes_a_document_with_its_headings_pages_and_clean_text(
        knowledge_copy: Path, sources: Path, tmp_path: Path) -> None:
    pdf = files.make_pdf(sources / "Bando voucher export 2026.pdf")
    code, out, err = run(["import", str(pdf)], knowledge_copy, tmp_path)
    assert code == 0, err
    target = knowledge_copy / "documents" / "bando-voucher-export-2026.md"
    assert f"→ {target} (added): 6 sections" in out
    found = sections_of(target)
    assert [h for h, *_ in found] == files.PDF_HEADINGS
    assert {h: p for h, _, p, _ in found} == files.PDF_PAGES
    text = target.read_text(encoding="utf-8")
    assert f"title: {files.TITLE}" in text or f"title: \"{files.TITLE}\"" in text
    # Running header and footer gone, the word hyphenated across the columns joined again.
    assert files.HEADER not in text and "Pagina" not in text
    assert "svolte per l'internazionalizzazione dell'impresa." in text
    body = {h: t for h, _, _, t in found}
    # The two-column page reads column by column: Art. 4 has all of its text, Art. 5 only its own.
    assert "5.000 euro" in body["Art. 4 – Entità del contributo"]
    assert "L'investimento minimo è di 2.000 euro." in body["Art. 4 – Entità del contributo"]
    assert body["Art. 5 – Come presentare la domanda"].startswith("Le domande si presentano esclusivamente")
    assert "rating di legalità" not in body["Art. 5 – Come presentare la domanda"]
    # Every paragraph of the original is there, verbatim.
    for head, paragraphs, _ in files.ARTICLES:
        assert body[head] == "\n\n".join(paragraphs)
    knowledge = load_knowledge(knowledge_copy)
    doc = knowledge.document("bando-voucher-export-2026")
    assert doc is not None and doc.areas == ["internazionalizzazione", "protocollo"][: len(doc.areas)]
    assert [s.page for s in doc.sections] == [1, 1, 2, 3, 3, 4]
    code, out, _ = run(["validate"], knowledge_copy, tmp_path)
    assert code == 0
    assert re.search(r"bando-voucher-export-2026\.md:\d+: warning: document 'bando-voucher-export-2026' to review: "
                     r"importato da Bando voucher export 2026\.pdf il 2026-11-25", out), out


def test_a_scanned_pdf_is_refused_with_what_to_do_and_nothing_is_written(
        knowledge_copy: Path, sources: Path, tmp_path: Path) -> None:
    scan = files.make_scanned_pdf(sources / "scansione.pdf")
    before = sorted(p.name for p in (knowledge_copy / "documents").iterdir())
    code, out, err = run(["import", str(scan)], knowledge_copy, tmp_path)
    assert code == 1
    assert f"error: {scan}: no text can be read: all 1 page(s) are images without a text layer (a scan)" in out
    assert "OCR" in out and "Traceback" not in out + err
    assert sorted(p.name for p in (knowledge_copy / "documents").iterdir()) == before


def test_a_docx_becomes_a_document_with_its_heading_styles(knowledge_copy: Path, sources: Path, tmp_path: Path) -> None:
    docx = files.make_docx(sources / "guida-nuove-imprese.docx")
    code, out, err = run(["import", str(docx)], knowledge_copy, tmp_path)
    assert code == 0, err
    target = knowledge_copy / "documents" / "guida-nuove-imprese.md"
    found = sections_of(target)
    assert [h for h, *_ in found] == [h for h, _ in files.DOCX_SECTIONS]
    assert all(page is None for _, _, page, _ in found)
    body = {h: t for h, _, _, t in found}
    assert body["Servizi di orientamento"].endswith("Servizio | Durata\nPrimo orientamento | un'ora")
    assert body["Chi può usare i servizi"] == files.DOCX_SECTIONS[0][1][0]
    doc = load_knowledge(knowledge_copy).document("guida-nuove-imprese")
    assert doc is not None and doc.title == files.DOCX_TITLE and doc.areas == ["nuove-imprese"]


def test_a_web_page_keeps_its_article_and_drops_navigation_and_footer(
        knowledge_copy: Path, sources: Path, tmp_path: Path) -> None:
    page = files.make_html(sources / "digitalizzazione.html")
    report = import_documents([page], knowledge_copy, today=TODAY)
    assert report.ok, report.errors
    text = (knowledge_copy / "documents" / "digitalizzazione.md").read_text(encoding="utf-8")
    found = sections_of(knowledge_copy / "documents" / "digitalizzazione.md")
    assert [h for h, *_ in found] == ["Premessa"] + [h for h, _ in files.HTML_SECTIONS]
    for word in ("Home", "Contatti", "P.IVA", "analytics", "Notizie correlate", "font-family"):
        assert word not in text
    assert "url: https://www.example.org/bandi/digitalizzazione" in text
    assert "- Domande dal 1 marzo\n- Fino a esaurimento delle risorse" in text
    doc = load_knowledge(knowledge_copy).document("digitalizzazione")
    assert doc is not None and "il testo prima del primo titolo è nella sezione 'Premessa'" in (doc.review or "")


def test_markdown_is_imported_and_a_second_import_keeps_staff_edits(
        knowledge_copy: Path, sources: Path, tmp_path: Path) -> None:
    md = sources / "note-export.md"
    md.write_text("# Note sull'export\n\nUna premessa.\n\n## Fiere all'estero\n\nLe fiere sono utili.\n\n"
                  "## Fiere all'estero\n\nDue volte lo stesso titolo.\n", encoding="utf-8")
    first = import_documents([md], knowledge_copy, today=TODAY)
    target = knowledge_copy / "documents" / "note-export.md"
    assert first.imported[0].status == "added"
    assert [sid for _, sid, _, _ in sections_of(target)] == ["premessa", "fiere-all-estero", "fiere-all-estero-2"]
    # Staff fix the areas and drop the review note; the next import replaces only the sections.
    edited = re.sub(r"areas:\n(- .*\n)+", "areas:\n- innovazione\n", target.read_text(encoding="utf-8"))
    edited = re.sub(r"review: .*\n", "", edited)
    target.write_text(edited, encoding="utf-8")
    assert import_documents([md], knowledge_copy, today=TODAY).imported[0].status == "unchanged"
    md.write_text(md.read_text(encoding="utf-8") + "\nUna riga nuova.\n", encoding="utf-8")
    again = import_documents([md], knowledge_copy, today=TODAY)
    assert again.imported[0].status == "updated"
    text = target.read_text(encoding="utf-8")
    assert "areas:\n- innovazione\n" in text and "review:" not in text and "Una riga nuova." in text
    assert load_knowledge(knowledge_copy).warnings == []


def test_broken_and_unknown_files_get_a_clear_error(knowledge_copy: Path, sources: Path, tmp_path: Path) -> None:
    fake_pdf = sources / "rotto.pdf"
    fake_pdf.write_bytes(b"questo non e un pdf")
    fake_docx = sources / "rotto.docx"
    fake_docx.write_bytes(b"PK\x03\x04 non e un docx")
    code, out, err = run(["import", str(fake_pdf), str(fake_docx)], knowledge_copy, tmp_path)
    assert code == 1 and "Traceback" not in out + err
    assert f"error: {fake_pdf}: not a readable PDF" in out
    assert f"error: {fake_docx}: not a readable Word .docx file" in out


def test_an_id_taken_by_another_document_is_refused(knowledge_copy: Path, sources: Path) -> None:
    md = sources / "protocollo-rt-unioncamere.md"
    md.write_text("## Uno\n\nTesto.\n", encoding="utf-8")
    report = import_documents([md], knowledge_copy, today=TODAY)
    assert not report.ok
    assert "already holds a document with id 'protocollo-rt-unioncamere'" in report.errors[0]


def test_measures_files_still_go_to_the_measures_importer(knowledge_copy: Path, tmp_path: Path) -> None:
    records = Path(__file__).parent / "data" / "incentivi-records.json"
    code, out, err = run(["import", str(records)], knowledge_copy, tmp_path)
    assert code in (0, 1) and "→" not in out  # no document written: the JSON went to the measures importer
    assert not list((knowledge_copy / "documents").glob("incentivi-records*"))


def test_cleaning_ligatures_hyphens_and_slugs() -> None:
    assert clean_chars("Ef\ufb01cienza  e pro\ufb01tto\u00a0") == "Efficienza e profitto"
    assert join_lines(["le attività di inter-", "nazionalizzazione e Toscana-", "Unioncamere"]) == \
        "le attività di internazionalizzazione e Toscana- Unioncamere"
    assert slugify("Art. 3 – Spese ammissibili più «varie»") == "art-3-spese-ammissibili-piu-varie"
    areas = [("internazionalizzazione", "Internazionalizzazione export mercati esteri fiere"),
             ("innovazione", "Innovazione trasferimento tecnologico")]
    assert guess_areas("voucher per fiere all'estero e export sui mercati esteri", areas) == ["internazionalizzazione"]
    assert guess_areas("nulla in comune", areas) == []
