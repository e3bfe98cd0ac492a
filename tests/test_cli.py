"""The `sportello` command: output and exit codes, called in-process (and once as the installed script)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import KNOWLEDGE

from bot.search import index as search_index
from bot.cli import format_result, main
from bot.knowledge.load import load_knowledge
from bot.config import Settings
from bot.search.retriever import Retriever

INTERNATIONAL = "Ci sono aiuti per l'internazionalizzazione delle imprese?"
OUT_OF_SCOPE = "Qual è la capitale dell'Australia?"
ABOUT_EXPORT = ("internazionalizzazione", "export", "estero")


# Commands get the session's already-loaded model (conftest.one_model).
pytestmark = pytest.mark.usefixtures("one_model")


def environ(tmp_path: Path, knowledge: Path = KNOWLEDGE, index: Path | None = None) -> dict[str, str]:
    return {
        "SPORTELLO_PATHS__KNOWLEDGE": str(knowledge),
        "SPORTELLO_PATHS__INDEX": str(index or tmp_path / "index"),
        "SPORTELLO_PATHS__DATABASE": str(tmp_path / "sportello.db"),
    }


def about_export(text: str) -> bool:
    return any(word in text.lower() for word in ABOUT_EXPORT)


def break_faq(knowledge: Path) -> str:
    """Make one FAQ file invalid (two mistakes); return its original text to restore it."""
    path = knowledge / "faq" / "innovazione.yaml"
    original = path.read_text(encoding="utf-8")
    broken = original.replace("  - id: ", "  - id: Non_Valido\n    colore: blu\n    xid: ", 1)
    path.write_text(broken, encoding="utf-8")
    return original


def test_validate_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"], environ(tmp_path)) == 0
    out, err = capsys.readouterr()
    *warnings, ok = out.strip().splitlines()
    # Warnings (e.g. measures long closed) come first, one a line, and never fail the check.
    assert all(": warning" in line for line in warnings)
    assert ok.startswith("OK: ") and "1 documents" in ok
    faq_count = int(ok.split(" FAQ entries")[0].rsplit(" ", 1)[-1])
    assert faq_count >= 25
    assert err == ""


def test_validate_broken_knowledge_lists_file_line_problems(
    tmp_path: Path, knowledge_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    break_faq(knowledge_copy)
    (knowledge_copy / "faq" / "vuoto.yaml").write_text("", encoding="utf-8")
    assert main(["validate"], environ(tmp_path, knowledge_copy)) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith("knowledge/faq/innovazione.yaml:") and ": entries[0].id: must be lowercase" in lines[0]
    assert lines[1].startswith("knowledge/faq/innovazione.yaml:") and ": entries[0].colore: unknown field" in lines[1]
    assert lines[2].startswith("knowledge/faq/innovazione.yaml:") and ": entries[0].xid: unknown field" in lines[2]
    assert lines[3] == "knowledge/faq/vuoto.yaml:1: the file is empty"
    assert lines[4] == "4 problems found; nothing was built."
    # Lines are real: the id line is the one that holds the bad id.
    number = int(lines[0].split(":")[1])
    text = (knowledge_copy / "faq" / "innovazione.yaml").read_text(encoding="utf-8").splitlines()
    assert "Non_Valido" in text[number - 1]


def test_build_ask_and_a_failed_build_that_leaves_the_index_working(
    tmp_path: Path, knowledge_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = environ(tmp_path, knowledge_copy)
    assert main(["build"], env) == 0
    out = capsys.readouterr().out
    assert out.startswith("Index built: ") and "vectors of dimension 384" in out
    folder = search_index.current_folder(tmp_path / "index")
    assert str(folder) in out

    assert main(["ask", INTERNATIONAL], env) == 0
    first_answer = capsys.readouterr().out
    best, source = first_answer.splitlines()[:2]
    assert source.startswith("Fonte: ")
    assert about_export(best + source)
    assert "Punteggio: " in first_answer

    original = break_faq(knowledge_copy)
    assert main(["build"], env) == 1
    out, err = capsys.readouterr()
    assert out == "" and "problems found; nothing was built." in err
    assert search_index.current_folder(tmp_path / "index") == folder

    # While the file is broken, the last good index keeps answering, with a warning.
    assert main(["ask", INTERNATIONAL], env) == 0
    out, err = capsys.readouterr()
    assert out == first_answer
    assert "serving the last good index" in err and "sportello validate" in err

    # Put the file back as it was: the previous index, never touched, answers as before.
    (knowledge_copy / "faq" / "innovazione.yaml").write_text(original, encoding="utf-8")
    assert main(["ask", INTERNATIONAL], env) == 0
    assert capsys.readouterr().out == first_answer
    assert [p.name for p in (tmp_path / "index" / "builds").iterdir()] == [folder.name]


def test_ask_builds_the_index_first_when_there_is_none(
    tmp_path: Path, small_knowledge: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not (tmp_path / "index").exists()
    assert main(["ask", "sostegno per esportare"], environ(tmp_path, small_knowledge)) == 0
    out, err = capsys.readouterr()
    assert "No index yet: building it" in err
    assert out.startswith("L'internazionalizzazione è il primo dei tre ambiti")
    title = load_knowledge(small_knowledge).documents[0].title
    assert f"Fonte: {title}, «" in out and "export-aiuti" not in out
    assert (search_index.current_folder(tmp_path / "index") / "meta.json").is_file()


def test_ask_json(tmp_path: Path, built_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--json", INTERNATIONAL], environ(tmp_path, index=built_settings.paths.index)) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["answered"] is True
    answers = result["answers"]
    assert 1 <= len(answers) <= built_settings.retrieval.top_k
    for answer in answers:
        assert isinstance(answer["text"], str) and answer["text"]
        assert isinstance(answer["source"], str) and answer["source"]
        assert isinstance(answer["score"], float) and 0.0 <= answer["score"] <= 1.0
    scores = [a["score"] for a in answers]
    assert scores == sorted(scores, reverse=True)
    assert about_export(answers[0]["text"] + answers[0]["source"])


def test_ask_out_of_scope(tmp_path: Path, built_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    env = environ(tmp_path, index=built_settings.paths.index)
    assert main(["ask", "--json", OUT_OF_SCOPE], env) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["answered"] is False
    assert result["answers"] == []
    assert main(["ask", OUT_OF_SCOPE], env) == 0
    out = capsys.readouterr().out
    assert out.startswith("Non ho una risposta affidabile")
    assert "Camera di Commercio" in out and "Fonte:" not in out


def test_ask_with_an_index_from_other_knowledge(
    tmp_path: Path, built_settings: Settings, knowledge_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = tmp_path / "index-copy"
    shutil.copytree(built_settings.paths.index, index, symlinks=True)
    faq = knowledge_copy / "faq" / "innovazione.yaml"
    faq.write_text(faq.read_text(encoding="utf-8") + "# nota\n", encoding="utf-8")
    assert main(["ask", INTERNATIONAL], environ(tmp_path, knowledge_copy, index)) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("sportello: ") and "run `sportello validate`, then `sportello build`" in err.replace(
        "Run", "run"
    )


def test_chat_answers_each_line_until_an_empty_one(
    tmp_path: Path,
    built_settings: Settings,
    retriever: Retriever,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    questions = [INTERNATIONAL, "Chi ha firmato il protocollo?"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(questions) + "\n\nQuesta non viene letta\n"))
    assert main(["chat"], environ(tmp_path, index=built_settings.paths.index)) == 0
    out = capsys.readouterr().out
    contact = built_settings.messages.contact
    expected = [format_result(retriever.search(q), contact) for q in questions]
    assert out == "".join(block + "\n\n" for block in expected)
    assert about_export(expected[0])


def test_unknown_command_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["rispondi"], environ(tmp_path))
    assert caught.value.code == 2
    assert "invalid choice: 'rispondi'" in capsys.readouterr().err


def test_installed_script_exit_code(tmp_path: Path, knowledge_copy: Path) -> None:
    script = shutil.which("sportello", path=str(Path(sys.executable).parent))
    assert script is not None, "the console script is not installed (pip install -e .)"
    break_faq(knowledge_copy)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPORTELLO_")}
    env.update(environ(tmp_path, knowledge_copy))
    broken = subprocess.run([script, "validate"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1, broken.stderr
    assert "knowledge/faq/innovazione.yaml:" in broken.stderr and "Traceback" not in broken.stderr
    usage = subprocess.run([script, "rispondi"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2


def test_ask_json_about_patents_gives_the_open_voucher_with_its_dates_url_and_window_note(
    tmp_path: Path, built_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    question = "Ci sono contributi per brevettare un'invenzione?"
    env = environ(tmp_path, index=built_settings.paths.index)
    assert main(["ask", "--json", "--today", "2026-11-25", question], env) == 0
    top = json.loads(capsys.readouterr().out)["answers"][0]
    assert top["kind"] == "measure" and top["title"] == "Voucher 3I - Investire in innovazione"
    assert (top["status"], top["open_date"], top["close_date"]) == ("open", "2024-12-10", "2027-12-31")
    assert top["url"] == "https://www.mimit.gov.it/it/incentivi/voucher-3i-investire-in-innovazione"
    assert top["regions"] == ["Tutta Italia"] and "esaurimento delle risorse" in top["text"]
    # Asked by name after its close date: the same file, now closed, and said so.
    assert main(["ask", "--json", "--today", "2028-01-10", "il voucher 3i è ancora aperto?"], env) == 0
    later = json.loads(capsys.readouterr().out)["answers"][0]
    assert later["title"].startswith("Voucher 3I") and later["status"] == "closed"
    assert "⛔ Chiuso il 31/12/2027" in later["text"]


def test_open_calls_for_digitalisation_in_tuscany_offer_nothing_closed_or_regional_elsewhere(
    tmp_path: Path, built_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    env = environ(tmp_path, index=built_settings.paths.index)
    question = "bandi aperti per la digitalizzazione in Toscana"
    assert main(["ask", "--json", "--today", "2026-11-25", question], env) == 0
    out = json.loads(capsys.readouterr().out)
    measures = [a for a in out["answers"] + out["related"] if a["kind"] == "measure"]
    assert all(a["status"] in ("open", "closing") for a in measures)
    assert all(a["regions"] in (["Tutta Italia"], ["Toscana"]) for a in measures)
    # Without the filters the ranking does find digitalisation calls of other regions: the test can fail.
    assert main(["ask", "--json", "--today", "2026-11-25", "bandi per la digitalizzazione"], env) == 0
    unfiltered = json.loads(capsys.readouterr().out)
    assert any(a["kind"] == "measure" and a["regions"] not in (["Tutta Italia"], ["Toscana"])
               for a in unfiltered["answers"])
