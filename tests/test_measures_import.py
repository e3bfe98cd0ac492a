"""Importing measures: the real catalogue capture, re-imports, hand edits, bad records, the staff
spreadsheet and atomic writes."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.measures.importer import MeasureImportError, detect_format, import_files
from bot.measures.schema import read_measure_file, validate_measure

REPO = Path(__file__).resolve().parent.parent
RECORDS = Path(__file__).resolve().parent / "data" / "incentivi-records.json"
TODAY = dt.date(2026, 11, 25)
VOUCHER = "3265-voucher-3i-investire-in-innovazione"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A knowledge folder with the shipped areas and no measures yet."""
    target = tmp_path / "knowledge"
    target.mkdir()
    shutil.copy(REPO / "knowledge" / "areas.yaml", target / "areas.yaml")
    return target


@pytest.fixture
def records() -> Path:
    """The real capture of 10 catalogue records (tests/data, IODL 2.0)."""
    return RECORDS


def record(nid: str = "3265", title: str = "Voucher 3I - Investire in innovazione", **fields: Any) -> dict[str, Any]:
    """A catalogue record in the shape incentivi.gov.it serves (texts from the Voucher 3I record)."""
    base: dict[str, Any] = {
        "zs_nid": nid,
        "zs_title": title,
        "zs_url": "/it/catalogo/voucher-3i-investire-innovazione",
        "tum_X3b_it_body_ft": [
            "Cos'è",
            "<p>Il “Voucher 3I – Investire in innovazione” sostiene l’innovazione incentivando l’acquisto di "
            "servizi professionali.  Altro testo.</p>",
            "A chi si rivolge", "Imprese",
            "Cosa prevede", "Servizi di consulenza &amp; brevetti.",
        ],
        "zs_field_open_date": "2024-12-10T00:00:00",
        "zs_field_close_date": "2027-12-31T00:00:00",
        "zs_field_close_date_descriptor": "<p>Fino a esaurimento&nbsp;delle risorse</p>",
        "zm_field_regions_value": ["Toscana", "Umbria"],
        "zm_field_dimensions_value": ["Microimpresa", "Non classificabile/classificato"],
        "zm_field_subject_type_value": ["Impresa"],
        "zm_field_scopes_value": ["Innovazione e ricerca", "Internazionalizzazione"],
        "zm_field_support_form_value": ["Contributo/Fondo perduto"],
        "zs_field_budget_allocation": "9000000",
        "zs_field_support_grant_type_min": "0",
        "zs_field_support_grant_type_max": "20000",
        "zs_field_subject_grant": "Ministero delle Imprese e del Made in Italy",
        "zs_field_primary_ruleset": "Decreto direttoriale MIMIT 19 novembre 2024 - Voucher 3I",
        "zs_field_link": "https://www.mimit.gov.it/it/incentivi/voucher-3i-investire-in-innovazione",
        "ds_last_update": "2025-03-26T11:57:35Z",
    }
    base.update(fields)
    return base


def write_catalogue(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"_captured": "2026-06-04", "docs": docs}, ensure_ascii=False), encoding="utf-8")
    return path


def measure_file(root: Path, measure_id: str) -> Path:
    return root / "measures" / f"{measure_id}.yaml"


def assert_valid(path: Path) -> None:
    parsed, problems = read_measure_file(path)
    assert parsed is not None, problems
    assert validate_measure(parsed, problems, {"internazionalizzazione", "innovazione", "nuove-imprese"}), problems


# --- the real capture ------------------------------------------------------------------------------

def test_import_of_the_real_records(root: Path, records: Path) -> None:
    report = import_files([records], root, today=TODAY)
    assert report.ok and len(report.added) == 10 and not report.changed and not report.unchanged
    files = sorted((root / "measures").glob("*.yaml"))
    assert len(files) == 10
    for path in files:
        assert_valid(path)
    voucher = yaml.safe_load(measure_file(root, VOUCHER).read_text(encoding="utf-8"))
    assert voucher["regions"] == ["Tutta Italia"]          # 20 regions (Trentino listed twice)
    assert voucher["sizes"] == ["micro"]
    assert voucher["close_date"] == dt.date(2027, 12, 31)
    assert "support_min" not in voucher["amounts"]           # catalogue 0 = not stated
    assert voucher["provenance"] == {
        "source": "incentivi.gov.it (MIMIT)",
        "catalogue_url": "https://www.incentivi.gov.it/it/catalogo/voucher-3i-investire-innovazione",
        "record_id": "3265", "captured": dt.date(2026, 6, 4), "last_update": dt.date(2025, 3, 26),
        "licence": "IODL 2.0",
    }
    assert voucher["window_note"].endswith("fino a esaurimento delle risorse disponibili.")
    (raise_) = yaml.safe_load(next((root / "measures").glob("1071-*.yaml")).read_text(encoding="utf-8"))
    # "Imprese" right after a heading is that heading's text, not a heading of its own.
    assert raise_["sections"][1] == {"heading": "A chi si rivolge", "text": "Imprese"}
    assert raise_["summary"] == ("Bando per progetti di Ricerca Industriale e Sviluppo Sperimentale nei domini "
                                 "dell’Intelligenza Artificiale e della Robotica.")
    bolzano = yaml.safe_load(next((root / "measures").glob("1155-*.yaml")).read_text(encoding="utf-8"))
    assert bolzano["amounts"]["support_max"] == 6000  # from the [min, max] pair when the single field is missing
    assert bolzano["regions"] == ["Trentino-Alto Adige/Südtirol"]


def test_the_shipped_files_are_what_the_importer_writes(root: Path, records: Path) -> None:
    import_files([records], root, today=TODAY)
    shipped = sorted(p.name for p in (REPO / "knowledge" / "measures").glob("*.yaml"))
    assert shipped == sorted(p.name for p in (root / "measures").glob("*.yaml"))
    for name in shipped:
        assert (root / "measures" / name).read_bytes() == (REPO / "knowledge" / "measures" / name).read_bytes()


def test_a_second_import_reports_everything_unchanged(root: Path, records: Path) -> None:
    import_files([records], root, today=TODAY)
    before = {p.name: p.read_bytes() for p in (root / "measures").iterdir()}
    report = import_files([records], root, today=TODAY + dt.timedelta(days=3))
    assert report.ok and len(report.unchanged) == 10
    assert not report.added and not report.changed and not report.kept and not report.written
    assert {p.name: p.read_bytes() for p in (root / "measures").iterdir()} == before


# --- re-import and hand edits ----------------------------------------------------------------------

def test_a_change_in_the_source_updates_the_file(root: Path, tmp_path: Path) -> None:
    source = write_catalogue(tmp_path / "cat.json", [record()])
    import_files([source], root, today=TODAY)
    write_catalogue(source, [record(zs_field_budget_allocation="12000000")])
    report = import_files([source], root, today=TODAY)
    assert report.changed == {VOUCHER: ["amounts.budget"]}
    assert yaml.safe_load(measure_file(root, VOUCHER).read_text(encoding="utf-8"))["amounts"]["budget"] == 12000000


def test_a_hand_edit_is_kept_and_reported(root: Path, tmp_path: Path) -> None:
    source = write_catalogue(tmp_path / "cat.json", [record()])
    import_files([source], root, today=TODAY)
    path = measure_file(root, VOUCHER)
    path.write_text(path.read_text(encoding="utf-8").replace(
        "title: Voucher 3I - Investire in innovazione", "title: Voucher 3I (brevetti)"), encoding="utf-8")

    # The source changes another field: that one is updated, the hand-edited title stays.
    write_catalogue(source, [record(zs_field_close_date="2028-06-30T00:00:00")])
    report = import_files([source], root, today=TODAY)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["title"] == "Voucher 3I (brevetti)"
    assert data["close_date"] == dt.date(2028, 6, 30)
    assert report.changed == {VOUCHER: ["close_date"]}
    (kept,) = report.kept
    assert (kept.measure_id, kept.field, kept.kept, kept.incoming) == (
        VOUCHER, "title", "Voucher 3I (brevetti)", "Voucher 3I - Investire in innovazione")
    assert any("title" in line and "Voucher 3I - Investire" in line for line in report.lines("it"))
    assert_valid(path)

    # Nothing new in the source: the file is left alone, and the difference is still reported.
    again = import_files([source], root, today=TODAY)
    assert again.unchanged == [VOUCHER] and [k.field for k in again.kept] == ["title"]
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["title"] == "Voucher 3I (brevetti)"


def test_a_hand_edited_nested_amount_is_kept(root: Path, tmp_path: Path) -> None:
    source = write_catalogue(tmp_path / "cat.json", [record()])
    import_files([source], root, today=TODAY)
    path = measure_file(root, VOUCHER)
    path.write_text(path.read_text(encoding="utf-8").replace("budget: 9000000", "budget: 8000000"), encoding="utf-8")
    write_catalogue(source, [record(zs_field_support_grant_type_max="25000")])
    report = import_files([source], root, today=TODAY)
    amounts = yaml.safe_load(path.read_text(encoding="utf-8"))["amounts"]
    assert amounts["budget"] == 8000000 and amounts["support_max"] == 25000
    assert [k.field for k in report.kept] == ["amounts.budget"]


def test_the_id_stays_when_the_catalogue_renames_a_measure(root: Path, tmp_path: Path) -> None:
    source = write_catalogue(tmp_path / "cat.json", [record()])
    import_files([source], root, today=TODAY)
    write_catalogue(source, [record(title="Voucher 3I - Investire in innovazione 2026")])
    report = import_files([source], root, today=TODAY)
    assert report.changed == {VOUCHER: ["title"]}
    assert [p.name for p in (root / "measures").glob("*.yaml")] == [f"{VOUCHER}.yaml"]


def test_without_the_state_file_differences_are_kept_not_overwritten(root: Path, tmp_path: Path) -> None:
    source = write_catalogue(tmp_path / "cat.json", [record()])
    import_files([source], root, today=TODAY)
    (root / "measures" / ".import-state.json").unlink()
    write_catalogue(source, [record(zs_field_budget_allocation="12000000")])
    report = import_files([source], root, today=TODAY)
    assert [k.field for k in report.kept] == ["amounts.budget"] and report.unchanged == [VOUCHER]


def test_a_deleted_file_is_recreated_and_said_so(root: Path, tmp_path: Path) -> None:
    source = write_catalogue(tmp_path / "cat.json", [record()])
    import_files([source], root, today=TODAY)
    measure_file(root, VOUCHER).unlink()
    report = import_files([source], root, today=TODAY)
    assert report.added == [VOUCHER] and report.recreated == [VOUCHER]
    assert any("ricreata" in line for line in report.lines("it"))


def test_a_broken_existing_file_is_reported_and_left_alone(root: Path, tmp_path: Path) -> None:
    source = write_catalogue(tmp_path / "cat.json", [record()])
    import_files([source], root, today=TODAY)
    path = measure_file(root, VOUCHER)
    path.write_text("id: [unclosed\n", encoding="utf-8")
    report = import_files([source], root, today=TODAY)
    assert not report.ok and "fix it or delete it" in report.errors[0].message
    assert path.read_text(encoding="utf-8") == "id: [unclosed\n"


# --- bad records -----------------------------------------------------------------------------------

def test_bad_records_are_named_with_their_field_and_the_good_ones_imported(root: Path, tmp_path: Path) -> None:
    source = write_catalogue(tmp_path / "cat.json", [
        record(),
        record(nid="9001", title="Bando con date invertite", zs_field_open_date="2026-05-01T00:00:00",
               zs_field_close_date="2026-01-31T00:00:00"),
        record(nid="9002", title="Bando con link sbagliato", zs_field_link="ftp://example.org/bando"),
        record(nid="9003", title="Bando in Atlantide", zm_field_regions_value=["Atlantide"]),
    ])
    report = import_files([source], root, today=TODAY)
    assert not report.ok
    assert report.added == [VOUCHER]
    assert [p.name for p in (root / "measures").glob("*.yaml")] == [f"{VOUCHER}.yaml"]
    messages = [str(e) for e in report.errors]
    assert len(messages) == 3
    assert messages[0].startswith(f"{source}: record 2 (nid 9001, «Bando con date invertite»): "
                                  "close_date (zs_field_close_date): must not be before open_date (2026-05-01)")
    assert "record 3 (nid 9002, «Bando con link sbagliato»): url (zs_field_link): must be a web address" in messages[1]
    assert "record 4 (nid 9003, «Bando in Atlantide»): zm_field_regions_value: unknown region 'Atlantide'" \
        in messages[2]
    assert any("Non importati" in line for line in report.lines("it"))
    assert any("Not imported" in line for line in report.lines("en"))


def test_an_unreadable_catalogue_is_one_error(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "cat.json"
    source.write_text('{"docs": [\n  {"zs_nid": "1",,}\n]}', encoding="utf-8")
    report = import_files([source], root, today=TODAY)
    assert not report.ok and report.errors[0].message.startswith("line 2: not valid JSON")


def test_format_is_detected_from_extension_or_content(tmp_path: Path) -> None:
    assert detect_format(Path("x.json"), "") == "incentivi"
    assert detect_format(Path("x.csv"), "") == "csv"
    assert detect_format(Path("export"), json.dumps([record()])) == "incentivi"
    assert detect_format(Path("export"), "id,title,source\n") == "csv"
    with pytest.raises(MeasureImportError):
        import_files([], tmp_path, fmt="xls", today=TODAY)


def test_a_plain_list_of_records_imports(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "export.data"
    source.write_text(json.dumps([record()]), encoding="utf-8")
    report = import_files([source], root, today=TODAY)
    assert report.added == [VOUCHER]
    data = yaml.safe_load(measure_file(root, VOUCHER).read_text(encoding="utf-8"))
    assert data["sizes"] == ["micro", "non-classificabile"]
    assert data["areas"] == ["innovazione", "internazionalizzazione"]
    assert data["window_note"] == "Fino a esaurimento delle risorse"
    assert data["sections"][2]["text"] == "Servizi di consulenza & brevetti."
    assert data["summary"].startswith("Il “Voucher 3I") and data["summary"].endswith("servizi professionali.")
    assert data["provenance"]["captured"] == TODAY  # a plain list has no capture date


# --- the staff spreadsheet -------------------------------------------------------------------------

CSV = """\
id,title,summary,description,open_date,close_date,regions,sizes,budget,support_max,url,source
bando-export-2026,Bando export 2026,,"Il bando sostiene le fiere all'estero. Altre frasi.",15/01/2026,2026-12-31,toscana; Umbria,micro; small,35.000.000,"20.000",https://www.regione.toscana.it/bandi,Regione Toscana
bando-rotto,Bando rotto,Una frase.,,2026-05-01,2026-01-31,Toscana,,,,http://example.org,Regione Toscana
"""


def test_csv_with_a_good_and_a_bad_row(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "bandi.csv"
    source.write_text(CSV, encoding="utf-8")
    report = import_files([source], root, today=TODAY)
    assert report.added == ["bando-export-2026"] and not report.ok
    (error,) = report.errors
    assert str(error) == (f"{source}: line 3 («Bando rotto»): close_date: must not be before open_date "
                          "(2026-05-01)")
    path = measure_file(root, "bando-export-2026")
    assert_valid(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["summary"] == "Il bando sostiene le fiere all'estero."
    assert data["sections"] == [{"heading": "Cos'è", "text": "Il bando sostiene le fiere all'estero. Altre frasi."}]
    assert data["open_date"] == dt.date(2026, 1, 15)
    assert data["regions"] == ["Toscana", "Umbria"] and data["sizes"] == ["micro", "piccola"]
    assert data["amounts"] == {"budget": 35000000, "support_max": 20000, "currency": "EUR"}
    assert data["provenance"]["source"] == "Regione Toscana"


def test_csv_semicolon_separated_with_bad_cells(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "bandi.csv"
    source.write_text("\ufefftitle;summary;close_date;budget;source\n"
                      "Bando A;Una frase.;31-31-2026;mille;Camera di Commercio\n", encoding="utf-8")
    report = import_files([source], root, today=TODAY)
    assert [e.message for e in report.errors] == [
        "close_date: cannot read the date '31-31-2026': write YYYY-MM-DD or DD/MM/YYYY",
        "budget: 'mille' is not an amount: write a number such as 20000 or 20.000",
    ]
    assert report.errors[0].record == "line 2 («Bando A»)"


def test_csv_unknown_column_lists_the_allowed_ones(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "bandi.csv"
    source.write_text("title,colore,source\nBando,rosso,Regione\n", encoding="utf-8")
    report = import_files([source], root, today=TODAY)
    (error,) = report.errors
    assert error.message.startswith("line 1: unknown column 'colore' (allowed: id, title, summary")
    assert not (root / "measures").exists() or not list((root / "measures").glob("*.yaml"))


def test_csv_id_cannot_escape_the_folder(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "bandi.csv"
    source.write_text("id,title,summary,source\n../../evil,Bando,Una frase.,Regione\n", encoding="utf-8")
    report = import_files([source], root, today=TODAY)
    assert not report.ok and report.errors[0].message.startswith("id: must be lowercase letters")
    assert not (tmp_path / "evil.yaml").exists() and not (root / "evil.yaml").exists()


# --- atomic writes ---------------------------------------------------------------------------------

def test_a_failed_write_leaves_the_previous_file_intact(root: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_catalogue(tmp_path / "cat.json", [record()])
    import_files([source], root, today=TODAY)
    path = measure_file(root, VOUCHER)
    before = path.read_bytes()
    write_catalogue(source, [record(zs_field_budget_allocation="12000000")])

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    report = import_files([source], root, today=TODAY)
    monkeypatch.undo()
    assert not report.ok and "cannot write" in report.errors[0].message
    assert path.read_bytes() == before
    leftovers = [p.name for p in (root / "measures").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []

    # The failed measure was not recorded as imported: the next run writes it.
    retry = import_files([source], root, today=TODAY)
    assert retry.ok and retry.changed == {VOUCHER: ["amounts.budget"]}


def test_csv_ids_are_the_staff_s_own(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "bandi.csv"
    source.write_text("id,title,summary,source,record_id\nbando-a,Bando A,Una frase.,Regione,R-1\n", encoding="utf-8")
    import_files([source], root, today=TODAY)
    source.write_text("id,title,summary,source,record_id\nbando-b,Bando A,Una frase.,Regione,R-1\n", encoding="utf-8")
    report = import_files([source], root, today=TODAY)
    assert report.added == ["bando-b"]
    assert sorted(p.name for p in (root / "measures").glob("*.yaml")) == ["bando-a.yaml", "bando-b.yaml"]


def test_hand_edits_that_break_the_file_are_reported_not_written(root: Path, tmp_path: Path) -> None:
    source = write_catalogue(tmp_path / "cat.json", [record()])
    import_files([source], root, today=TODAY)
    path = measure_file(root, VOUCHER)
    edited = path.read_text(encoding="utf-8").replace("open_date: 2024-12-10", "open_date: 2028-01-01")
    path.write_text(edited, encoding="utf-8")
    write_catalogue(source, [record(zs_field_budget_allocation="12000000")])
    report = import_files([source], root, today=TODAY)
    (error,) = report.errors
    assert "with the hand edits kept" in error.message and "close_date: must not be before open_date" in error.message
    assert path.read_text(encoding="utf-8") == edited


def test_rewriting_a_file_says_hand_comments_are_lost(root: Path, tmp_path: Path) -> None:
    source = write_catalogue(tmp_path / "cat.json", [record()])
    import_files([source], root, today=TODAY)
    path = measure_file(root, VOUCHER)
    path.write_text(path.read_text(encoding="utf-8") + "# verificato al telefono con la Regione\n", encoding="utf-8")
    write_catalogue(source, [record(zs_field_budget_allocation="12000000")])
    report = import_files([source], root, today=TODAY)
    assert report.changed == {VOUCHER: ["amounts.budget"]}
    assert report.notes == [f"{VOUCHER}.yaml: comments written by hand were not kept (the file was rewritten)"]
