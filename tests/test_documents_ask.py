"""Must-show: `sportello import` of a real PDF and a real .docx, then `sportello build` and
`sportello ask` answer from them, citing the PDF's page. Real model, real index, private folders."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import documents_files as files
import pytest

from bot.cli import main


# Commands get the session's already-loaded model (conftest.one_model).
pytestmark = pytest.mark.usefixtures("one_model")


def run(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv, env)
    return code, out.getvalue() + err.getvalue()


def test_imported_pdf_and_docx_are_answered_from_with_the_page(knowledge_copy: Path, tmp_path: Path) -> None:
    pdf = files.make_pdf(tmp_path / "bando-voucher-export.pdf")
    docx = files.make_docx(tmp_path / "guida-nuove-imprese.docx")
    env = {"SPORTELLO_PATHS__KNOWLEDGE": str(knowledge_copy), "SPORTELLO_PATHS__INDEX": str(tmp_path / "index"),
           "SPORTELLO_PATHS__DATABASE": str(tmp_path / "s.db"), "SPORTELLO_MEASURES__TODAY": "2026-11-25"}
    code, out = run(["import", str(pdf), str(docx)], env)
    assert code == 0, out
    code, out = run(["validate"], env)
    assert code == 0 and out.count("warning: document") == 2, out
    code, out = run(["build"], env)
    assert code == 0, out

    code, out = run(["ask", "--json", "Quanto copre il voucher per l'internazionalizzazione?"], env)
    result = json.loads(out)
    assert result["answered"], out
    best = result["answers"][0]
    assert best["source"] == f"{files.TITLE}, «Art. 4 – Entità del contributo», p. 3"
    assert "5.000 euro" in best["text"]

    code, out = run(["ask", "--json", "quali spese sono ammissibili nel bando voucher export?"], env)
    result = json.loads(out)
    assert result["answered"] and result["answers"][0]["source"].endswith("«Art. 3 – Spese ammissibili», p. 2"), out

    code, out = run(["ask", "--json", "Lo sportello nuove imprese aiuta a preparare il business plan?"], env)
    result = json.loads(out)
    sources = [a["source"] for a in result["answers"]]
    assert result["answered"] and f"{files.DOCX_TITLE}, «Servizi di orientamento»" in sources, out
