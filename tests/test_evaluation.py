"""`sportello eval`: loading question sets, the metrics, the comparison and the calibration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from bot.errors import EvalFileError
from bot.search import index as search_index
from bot.evaluation import EvalItem, Outcome, Report, calibrate, evaluate, load_items
from bot.search.retriever import Retriever

SMALL_SET = """\
- q: "chi ha firmato il protocollo"
  expect: ['Regione Toscana e Unioncamere']
- q: "quanto dura l'accordo"
  expect: ['triennal', 'tre anni']
- q: "aiuti per vendere all'estero"
  expect: ['internazionalizz', 'export']
- q: "Qual è la capitale dell'Australia?"
  expect: null
- q: "come si calcola l'imu sulla seconda casa"
  expect: null
"""


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_SET, encoding="utf-8")
    return path


def env_for(settings: Settings) -> dict[str, str]:
    return {
        "SPORTELLO_PATHS__KNOWLEDGE": str(settings.paths.knowledge),
        "SPORTELLO_PATHS__INDEX": str(settings.paths.index),
    }


def test_load_items_reads_scope_and_regexes(small_set: Path) -> None:
    items = load_items([small_set])
    assert [i.in_scope for i in items] == [True, True, True, False, False]
    assert items[1].expect is not None and items[1].expect[0].search("durata TRIENNALE")  # case-insensitive
    assert items[3].where.endswith("small.yaml:7")


def test_load_items_reports_every_mistake_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "- q: ok\n  expect: ['(unclosed']\n- q: ''\n  expect: null\n- q: x\n- q: y\n  expect: 3\n  extra: 1\n",
        encoding="utf-8",
    )
    with pytest.raises(EvalFileError) as caught:
        load_items([bad, tmp_path / "missing.yaml"])
    lines = [str(p) for p in caught.value.problems]
    assert any(line.startswith(f"{bad}:2:") and "invalid regex" in line for line in lines)
    assert any(line.startswith(f"{bad}:3:") and "q must be" in line for line in lines)
    assert any(line.startswith(f"{bad}:5:") and "expect is required" in line for line in lines)
    assert any(line.startswith(f"{bad}:7:") and "expect must be" in line for line in lines)
    assert any(line.startswith(f"{bad}:8:") and "unknown field" in line for line in lines)
    assert any("missing.yaml" in line and "not found" in line for line in lines)


def test_metrics_are_computed_from_ranks_and_decisions() -> None:
    def item(scope: bool) -> EvalItem:
        return EvalItem("q", [] if scope else None, "f:1")

    report = Report("hybrid", [
        Outcome(item(True), "answer", 0.9, 1, "a", shown=1),
        Outcome(item(True), "answer", 0.8, 2, "b"),  # answered; the right passage is not among those shown
        Outcome(item(True), "decline", 0.2, None, "c"),
        Outcome(item(True), "suggest", 0.4, 1, "a"),
        Outcome(item(False), "decline", 0.1, None, "d"),
        Outcome(item(False), "answer", 0.7, None, "e"),
    ])
    m = report.metrics()
    assert m["hit@1"] == 0.5
    assert m["hit@3"] == 0.75
    assert m["mrr"] == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert m["answered_right"] == 0.25
    assert m["answered_wrong"] == 0.25
    assert m["out_of_scope_declined"] == 0.5
    assert m["in_scope_wrongly_declined"] == 0.5


def test_evaluate_on_the_shipped_knowledge(retriever: Retriever, small_set: Path) -> None:
    report = evaluate(retriever, load_items([small_set]), "hybrid")
    m = report.metrics()
    assert m["hit@1"] == 1.0
    assert m["out_of_scope_declined"] == 1.0
    assert m["in_scope_wrongly_declined"] == 0.0
    assert m["answered_wrong"] == 0.0 and m["answered_right"] == 1.0


def test_calibration_fits_a_model_that_separates_the_set(retriever: Retriever, small_set: Path) -> None:
    fitted = calibrate(retriever, load_items([small_set]))
    assert fitted["calibration"]["coverage"] > 0
    assert 0 < fitted["suggest_threshold"] <= fitted["answer_threshold"] < 1
    assert fitted["errors"] == {"in_scope_declined": 0.0, "out_of_scope_answered": 0.0}


def test_eval_command_json(built_settings: Settings, small_set: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--json", str(small_set)], env_for(built_settings)) == 0
    data = json.loads(capsys.readouterr().out)
    (report,) = data["reports"]
    assert report["mode"] == "hybrid"
    assert report["metrics"]["questions"] == 5
    assert [q["ok"] for q in report["questions"]] == [True] * 5


def test_eval_command_compares_the_three_modes_with_each_backend(
    built_settings: Settings, small_set: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The other backend's index is built once under INDEX/backends/, then reused."""
    assert main(["eval", "--compare", str(small_set)], env_for(built_settings)) == 0
    out = capsys.readouterr().out
    models = next(line for line in out.splitlines() if line.startswith("model")).split()[1:]
    header = next(line for line in out.splitlines() if line.startswith("metric")).split()[1:]
    assert header == ["dense", "lexical", "hybrid"] * 2
    assert sorted(set(models)) == ["all-MiniLM-L6-v2", "multilingual-e5-small-q4"]
    assert models[:3] == [models[0]] * 3 and models[3:] == [models[3]] * 3
    hybrid = next(line for line in out.splitlines() if line.startswith("hit@1")).split()[1:]
    assert all(0.0 <= float(v) <= 1.0 for v in hybrid)
    other = built_settings.paths.index / "backends"
    built = list(other.iterdir())
    assert len(built) == 1
    stamp = search_index.current_folder(built[0]).stat().st_mtime
    assert main(["eval", "--compare", str(small_set)], env_for(built_settings)) == 0
    assert search_index.current_folder(built[0]).stat().st_mtime == stamp  # reused, not rebuilt


def test_eval_command_calibrate_prints_settings(
    built_settings: Settings, small_set: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--calibrate", str(small_set)], env_for(built_settings)) == 0
    out = capsys.readouterr().out
    assert "answer_threshold:" in out and "calibration:" in out


def test_eval_command_on_a_broken_set_exits_1(
    built_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- q: [unclosed\n", encoding="utf-8")
    assert main(["eval", str(bad)], env_for(built_settings)) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2: malformed YAML" in err  # the parser notices at the end of the stream


def test_no_faq_question_copies_a_held_back_question() -> None:
    """Held-back sets measure questions the knowledge was not written from: a FAQ question or
    phrasing equal to one of theirs (after normalising case, accents and punctuation) would make
    them a tuning set. Four such phrasings were found and removed on 2026-11-26."""
    from bot.knowledge.load import load_knowledge
    from bot.search.analyzer import normalise

    root = Path(__file__).resolve().parent.parent / "knowledge"
    held = {normalise(i.question): i.where for i in load_items(sorted((root / "eval").glob("*holdout*.yaml")))}
    assert len(held) >= 100
    knowledge = load_knowledge(root)
    copies = [(f"{entry.id}: {text}", held[normalise(text)])
              for entry in knowledge.faqs + knowledge.drafts for text in [entry.question, *entry.phrasings]
              if normalise(text) in held]
    assert copies == []


def test_no_tuning_question_copies_a_held_back_question() -> None:
    """The tuning sets fit the confidence model and its thresholds: a held-back question among them
    (after normalising) would be measured on what it was fitted to. Two exact copies and four close
    paraphrases were found in tune-extra.yaml and replaced on 2026-11-26."""
    from bot.search.analyzer import normalise

    root = Path(__file__).resolve().parent.parent / "knowledge" / "eval"
    held = {normalise(i.question): i.where for i in load_items(sorted(root.glob("*holdout*.yaml")))}
    tuning = load_items(sorted(p for p in root.glob("*.yaml") if "holdout" not in p.name))
    assert len(tuning) >= 150
    copies = [(item.where, held[normalise(item.question)]) for item in tuning if normalise(item.question) in held]
    assert copies == []
