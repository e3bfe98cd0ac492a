"""`sportello suggest` (draft FAQ entries from the log), validate warnings, and `sportello diff`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml
from question_log import KEY, write_log

from bot.cli import main
from bot.knowledge.load import load_knowledge
from bot.search import index as search_index
from bot.search.embedding import Embedder
from bot.search.passages import passages
from bot.search.retriever import Retriever

TODAY = dt.date(2026, 11, 25)


def env_for(knowledge: Path, tmp_path: Path) -> dict[str, str]:
    return {"SPORTELLO_PATHS__KNOWLEDGE": str(knowledge), "SPORTELLO_PATHS__INDEX": str(tmp_path / "index"),
            "SPORTELLO_PATHS__DATABASE": str(tmp_path / "log.db"), "SPORTELLO_PRIVACY__PSEUDONYM_KEY": KEY.decode(),
            "SPORTELLO_MEASURES__TODAY": TODAY.isoformat()}


def run(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        code = main(argv, env)
    return code, out.getvalue()



def test_suggest_writes_drafts_that_validate_with_warnings_and_the_build_skips(
        knowledge_copy: Path, tmp_path: Path, retriever: Retriever, one_model: None) -> None:
    env = env_for(knowledge_copy, tmp_path)
    write_log(tmp_path / "log.db", retriever, today=TODAY, questions=1500, days=20)
    code, out = run(["suggest", "--limit", "5"], env)
    assert code == 0, out
    drafts_file = knowledge_copy / "faq" / "bozze.yaml"
    entries = yaml.safe_load(drafts_file.read_text(encoding="utf-8"))["entries"]
    assert 1 <= len(entries) <= 5 and all(e["draft"] is True for e in entries)
    knowledge = load_knowledge(knowledge_copy)
    faq_questions = {e.question for e in knowledge.faqs}
    for entry in entries:
        assert entry["id"].startswith("bozza-") and entry["question"] not in faq_questions
        assert knowledge.section(*entry["source"].split("#")) is not None
        assert f"draft {entry['id']}: «{entry['question']}»" in out
    # The question and phrasings are what people asked (the log's own texts).
    import sqlite3
    asked = {q for (q,) in sqlite3.connect(tmp_path / "log.db").execute("SELECT question FROM questions")}
    assert all(q in asked for e in entries for q in [e["question"], *e["phrasings"]])

    code, out = run(["validate"], env)
    assert code == 0, out
    for entry in entries:
        assert f"warning: FAQ '{entry['id']}' is a draft" in out
    assert all(line.split(": ", 2)[1].startswith("warning") for line in out.splitlines()[:-1]), out

    code, out = run(["diff"], env)
    assert code == 0 and "No index yet" in out and "bozza-" not in out.split("Drafts left out")[0]
    assert f"Drafts left out of the index: {', '.join(e['id'] for e in entries)}." in out

    code, out = run(["build"], env)
    assert code == 0, out
    built = json.loads((search_index.current_folder(tmp_path / "index") / "passages.json").read_text())
    assert not [p for p in built if p["id"].startswith("faq:bozza-")]
    assert len([p for p in built if p["kind"] == "faq"]) == len(knowledge.faqs)

    # A second run adds no duplicate of a draft already there.
    code, out = run(["suggest", "--limit", "5"], env)
    again = yaml.safe_load(drafts_file.read_text(encoding="utf-8"))["entries"]
    questions = [e["question"].lower() for e in again]
    assert code == 0 and len(questions) == len(set(questions))


def test_a_draft_flag_must_be_true_or_false(knowledge_copy: Path, tmp_path: Path) -> None:
    faq = knowledge_copy / "faq" / "innovazione.yaml"
    faq.write_text(faq.read_text(encoding="utf-8").replace("    area: innovazione\n",
                                                           "    area: innovazione\n    draft: forse\n", 1),
                   encoding="utf-8")
    code, out = run(["validate"], env_for(knowledge_copy, tmp_path))
    assert code == 1 and "draft: " in out and "innovazione.yaml:" in out


def test_validate_warns_about_old_measures_without_failing(knowledge_copy: Path, tmp_path: Path) -> None:
    knowledge = load_knowledge(knowledge_copy)
    closed = [m for m in knowledge.measures if m.close_date and (TODAY - m.close_date).days > 90]
    assert closed
    code, out = run(["validate", "--today", TODAY.isoformat()], env_for(knowledge_copy, tmp_path))
    assert code == 0
    for m in closed:
        assert f"warning: measure '{m.id}' closed {(TODAY - m.close_date).days} days ago" in out
    line = next(x for x in out.splitlines() if f"measure '{closed[0].id}' closed" in x)
    path, number = line.split(":")[:2]
    assert Path(path).name == f"{closed[0].id}.yaml"
    assert (knowledge_copy / "measures" / Path(path).name).read_text().splitlines()[int(number) - 1].startswith("close_date:")
    stale = [m for m in knowledge.measures if m.provenance.last_update
             and (TODAY - m.provenance.last_update).days > 366]
    assert stale and all(f"measure '{m.id}': the catalogue record was last updated" in out for m in stale)
    # A day long before any close date: no such warning.
    code, out = run(["validate", "--today", "2020-01-01"], env_for(knowledge_copy, tmp_path))
    assert code == 0 and "closed" not in out
    # The checks that need the model are not run, and the last line says how to run them.
    assert "ask almost the same" not in out and "is not among the first" not in out
    assert out.splitlines()[-1].startswith("OK: ") and "`sportello validate --deep` also looks for near-duplicate" \
        in out.splitlines()[-1]


def test_validate_deep_from_the_command_line(knowledge_copy: Path, tmp_path: Path, one_model: None) -> None:
    """`validate --deep` (with no index yet: it builds one) warns about a near-copy of a FAQ question
    and about entries no eval question reaches, and still passes."""
    faq = knowledge_copy / "faq" / "protocollo.yaml"
    first = next(e for e in load_knowledge(knowledge_copy).faqs if e.area == "protocollo")
    faq.write_text(faq.read_text(encoding="utf-8") + (
        f"  - id: copia-di-prova\n    question: \"{first.question.rstrip('?')} ?\"\n    answer: Prova.\n"
        f"    area: protocollo\n    source: {first.source}\n"
        # An entry no eval question is about (not even a word of it: a shared word such as "danno"
        # can bring an entry among a question's first three).
        "  - id: gatto-del-custode\n    question: \"Di che colore è il gatto preferito del custode dello zoo?\"\n"
        f"    answer: Nero.\n    area: protocollo\n    source: {first.source}\n"),
        encoding="utf-8")
    code, out = run(["validate", "--deep"], env_for(knowledge_copy, tmp_path))
    assert code == 0, out
    duplicates = [line for line in out.splitlines() if "ask almost the same" in line]
    assert len(duplicates) == 1 and f"FAQ '{first.id}' and 'copia-di-prova'" in duplicates[0], out
    assert duplicates[0].startswith(str(Path("faq") / "protocollo.yaml")) or "protocollo.yaml:" in duplicates[0]
    unreached = [line for line in out.splitlines() if "is not among the first 3 answers of any eval question" in line]
    assert any("FAQ 'gatto-del-custode'" in line and "protocollo.yaml:" in line for line in unreached), out
    assert len(unreached) < len(load_knowledge(knowledge_copy).faqs) // 2, out  # the eval sets do reach most
    assert "--deep` also looks" not in out and out.splitlines()[-1].startswith("OK: ")


def test_diff_lists_added_removed_and_changed_entries(knowledge_copy: Path, tmp_path: Path) -> None:
    env = env_for(knowledge_copy, tmp_path)
    knowledge = load_knowledge(knowledge_copy)
    # The index's passage table as `sportello build` writes it (the build's other files are not read).
    build = tmp_path / "index" / "builds" / "b1"
    build.mkdir(parents=True)
    (build / "meta.json").write_text("{}")
    (build / "passages.json").write_text(json.dumps([dataclasses.asdict(p) for p in passages(knowledge, 700)]))
    (tmp_path / "index" / "current").symlink_to(build)
    code, out = run(["diff"], env)
    assert code == 0 and out.strip() == "0 added, 0 removed, 0 changed; the index is up to date with the knowledge."
    faq = knowledge_copy / "faq" / "innovazione.yaml"
    text = faq.read_text(encoding="utf-8")
    first = knowledge.faqs[[e.area for e in knowledge.faqs].index("innovazione")]
    faq.write_text(text.replace(first.answer.split()[0], "Certo: " + first.answer.split()[0], 1), encoding="utf-8")
    other = next(e for e in knowledge.faqs if e.area == "innovazione" and e.id != first.id)
    faq.write_text(faq.read_text(encoding="utf-8").replace(f"id: {other.id}\n", f"id: {other.id}-nuova\n"),
                   encoding="utf-8")
    code, out = run(["diff"], env)
    assert code == 0, out
    assert f"~ faq:{first.id}  «{first.question}» (text changed)" in out
    assert f"+ faq:{other.id}-nuova" in out and f"- faq:{other.id}  «{other.question}»" in out
    assert out.strip().endswith("1 added, 1 removed, 1 changed.")
    # A document's regions rank its sections and FAQ entries (other_region_factor): a change shows.
    document = knowledge_copy / "documents" / "protocollo-regione-toscana-unioncamere.yaml"
    document.write_text(document.read_text(encoding="utf-8").replace("regions: [Toscana]", "regions: [Toscana, Umbria]"),
                        encoding="utf-8")
    code, out = run(["diff"], env)
    assert code == 0, out
    assert "(regions changed)" in out and "(text, regions changed)" in out  # sections; the edited FAQ entry


def test_deep_warnings_near_duplicates_and_unreached_entries(knowledge_copy: Path, embedder: Embedder,
                                                             retriever: Retriever) -> None:
    from bot.report.checks import duplicate_threshold_for, duplicate_warnings, unreached_warnings

    # The shipped FAQ has no near-duplicate at the threshold measured for the model in use.
    threshold = duplicate_threshold_for(embedder.settings.backend, None)
    assert duplicate_warnings(load_knowledge(knowledge_copy), embedder, threshold) == []
    faq = knowledge_copy / "faq" / "protocollo.yaml"
    knowledge = load_knowledge(knowledge_copy)
    first = next(e for e in knowledge.faqs if e.area == "protocollo")
    faq.write_text(faq.read_text(encoding="utf-8") + (
        f"  - id: copia-di-prova\n    question: \"{first.question.rstrip('?')} ?\"\n    answer: Prova.\n"
        f"    area: protocollo\n    source: {first.source}\n"), encoding="utf-8")
    found = duplicate_warnings(load_knowledge(knowledge_copy), embedder, threshold)
    assert len(found) == 1 and f"FAQ '{first.id}' and 'copia-di-prova' ask almost the same" in found[0].message
    assert found[0].path.name == "protocollo.yaml"

    # One eval question reaches its entry (and at most two others among its first three answers).
    shipped = load_knowledge(Path(__file__).resolve().parent.parent / "knowledge")
    unreached = unreached_warnings(shipped, retriever, [(first.question, None)])
    ids = [w.message.split("'")[1] for w in unreached]
    assert first.id not in ids and len(shipped.faqs) - 3 <= len(ids) < len(shipped.faqs)
