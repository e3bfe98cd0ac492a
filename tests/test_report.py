"""`sportello report`: from a realistic log of 3,000 questions (real eval questions answered by the
real retriever, through Storage), the HTML report with inline SVG charts and questions grouped by
meaning with the real embeddings, the CSV export, and the page in headless chromium."""

from __future__ import annotations

import csv
import difflib
import datetime as dt
import io
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from cdp import Browser, find_chromium
from conftest import KNOWLEDGE
from question_log import KEY, write_log

import bot.search.embedding
from bot.cli import main
from bot.knowledge.load import load_knowledge
from bot.report.data import figures
from bot.report.groups import normalise, to_group
from bot.search.embedding import Embedder
from bot.search.retriever import Retriever
from bot.storage import Storage

TODAY = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory, retriever: Retriever) -> tuple[Path, dict[str, int]]:
    """The question log, written once for the module."""
    db = tmp_path_factory.mktemp("log") / "sportello.db"
    return db, write_log(db, retriever, today=TODAY, questions=3000, days=30)



def run_report(db: Path, tmp_path: Path, *extra: str) -> tuple[int, str]:
    env = {"SPORTELLO_PATHS__KNOWLEDGE": str(KNOWLEDGE), "SPORTELLO_PATHS__INDEX": str(tmp_path / "index"),
           "SPORTELLO_PATHS__DATABASE": str(db), "SPORTELLO_PRIVACY__PSEUDONYM_KEY": KEY.decode(),
           "SPORTELLO_MEASURES__TODAY": TODAY.isoformat()}
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        code = main(["report", *extra], env)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def report(log: tuple[Path, dict[str, int]], tmp_path_factory: pytest.TempPathFactory,
           embedder: Embedder) -> tuple[Path, Path, str]:
    """`sportello report -o report.html --csv DIR` run once on the log: (html, csv folder, output)."""
    tmp = tmp_path_factory.mktemp("report")
    html, folder = tmp / "out" / "report.html", tmp / "csv"
    with pytest.MonkeyPatch.context() as patch:
        real = bot.search.embedding.Embedder
        patch.setattr(bot.search.embedding, "Embedder",
                      lambda settings: embedder if settings == embedder.settings else real(settings))
        code, out = run_report(log[0], tmp, "-o", str(html), "--csv", str(folder))
    assert code == 0, out
    return html, folder, out


def test_the_report_from_a_realistic_log(log: tuple[Path, dict[str, int]], report: tuple[Path, Path, str],
                                         tmp_path: Path, one_model: None) -> None:
    db, counts = log
    html, folder, out = report
    assert sum(counts.values()) == 3000 and counts.get("decline", 0) > 100 and counts.get("answer", 0) > 1000
    assert f"Report: {html} (3000 questions," in out
    page = html.read_text(encoding="utf-8")
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert page.count('data-chart="days"') == 1 and page.count("<svg") == 3
    # The daily bars add up to the log.
    days_chart = re.findall(r'data-chart="days".*?</svg>', page, re.S)[0]
    assert sum(int(v) for v in re.findall(r'data-value="(\d+)"', days_chart)) == 3000

    with (folder / "daily.csv").open(encoding="utf-8") as fh:
        daily = list(csv.DictReader(fh))
    assert sum(int(r["questions"]) for r in daily) == 3000
    assert [r["day"] for r in daily] == sorted(r["day"] for r in daily) and len(daily) == 30
    with (folder / "groups.csv").open(encoding="utf-8") as fh:
        groups = list(csv.DictReader(fh))
    # The groups cover every unanswered or 👎 question once, largest first, each with its closest entry.
    storage = Storage(db, KEY, 180)
    try:
        rows = storage.questions_since()
    finally:
        storage.close()
    assert sum(int(g["count"]) for g in groups) == len(to_group(rows))
    assert [int(g["count"]) for g in groups] == sorted((int(g["count"]) for g in groups), reverse=True)
    assert all(g["closest_id"].startswith(("faq:", "measure:")) for g in groups)
    # Typing variants of one question fall into one group, not several.
    first = groups[0]
    assert int(first["count"]) > 20
    # Its typing variants (a dropped letter, lower case) are in it, not groups of their own.
    assert len(first["examples"].split(" | ")) >= 2
    for other in groups[1:]:
        similar = difflib.SequenceMatcher(None, normalise(other["question"]), normalise(first["question"])).ratio()
        assert similar < 0.9, (other["question"], first["question"])

    # --since keeps only the later days.
    code, out = run_report(db, tmp_path, "-o", str(tmp_path / "week.html"), "--csv", str(tmp_path / "week"),
                           "--since", (TODAY - dt.timedelta(days=7)).isoformat())
    with (tmp_path / "week" / "daily.csv").open(encoding="utf-8") as fh:
        week = list(csv.DictReader(fh))
    assert code == 0 and week and all(r["day"] >= (TODAY - dt.timedelta(days=7)).isoformat() for r in week)
    assert sum(int(r["questions"]) for r in week) < 3000


def test_the_report_in_headless_chromium(report: tuple[Path, Path, str], tmp_path: Path) -> None:
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed: apt-get install -y chromium (Debian) to run the browser test")
    html = report[0]
    with Browser(binary) as browser:
        browser.open(html.as_uri())
        assert browser.evaluate("document.title") == "Sportello — rapporto"
        charts = browser.evaluate(
            "[...document.querySelectorAll('svg.chart')].map(s => [s.dataset.chart, "
            "[...s.querySelectorAll('rect[data-value]')].reduce((n, r) => n + Number(r.dataset.value), 0), "
            "Math.round(s.getBoundingClientRect().width)])")
        assert {name for name, _, _ in charts} == {"days", "shares", "feedback"}
        totals = {name: total for name, total, _ in charts}
        assert totals["days"] == 3000 and totals["shares"] == 3000 and totals["feedback"] > 0
        # Charts fit a phone's width (412 px window).
        assert all(0 < width <= 412 for _, _, width in charts), charts
        groups = browser.evaluate(
            "[...document.querySelectorAll('.group')].map(g => [Number(g.dataset.count), "
            "g.querySelector('.closest').dataset.closest, Number(g.querySelector('.closest').dataset.score), "
            "g.querySelectorAll('li').length])")
        assert groups and groups[0][0] >= groups[-1][0]
        assert any(closest.startswith(("faq:", "measure:")) and 0 < score <= 1 and examples >= 1
                   for _, closest, score, examples in groups)
        assert browser.evaluate("document.documentElement.scrollWidth") <= 412
        shot = browser.screenshot(tmp_path / "report.png")
        assert browser.errors() == []
    assert shot.stat().st_size > 10_000
    print(f"\nscreenshot of the report: {shot}")


@pytest.mark.slow  # starts chromium: seconds, not milliseconds
def test_the_browser_check_catches_errors(tmp_path: Path) -> None:
    """The no-errors check can fail: a page with a console error, an exception and a missing image."""
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed: apt-get install -y chromium (Debian) to run the browser test")
    page = tmp_path / "broken.html"
    page.write_text('<!doctype html><p>x</p><img src="missing.png"><script>console.error("rotto");'
                    "nonEsiste();</script>", encoding="utf-8")
    with Browser(binary) as browser:
        browser.open(page.as_uri())
        browser.evaluate("1")
        errors = browser.errors()
    assert any("rotto" in e for e in errors)
    assert any("nonEsiste" in e for e in errors)
    assert any("missing.png" in e for e in errors)


def test_figures_count_days_feedback_and_closed_measures(tmp_path: Path) -> None:
    """Fast: the counting alone, on a small log written through Storage, with no model."""
    knowledge = load_knowledge(KNOWLEDGE)
    clock = [dt.datetime(2026, 11, 20, 10, tzinfo=dt.timezone.utc).timestamp()]
    storage = Storage(tmp_path / "s.db", KEY, 180, clock=lambda: clock[0])
    closed = next(m for m in knowledge.measures if m.close_date and m.close_date < TODAY)
    faq = knowledge.faqs[0]
    try:
        a = storage.log(1, "it", "domanda uno", "answer", 0.9, [(f"faq:{faq.id}", 0.9)])
        storage.feedback(a, 1, 1)
        clock[0] += 2 * 86400
        b = storage.log(2, "it", "il bando chiuso", "answer", 0.8, [(f"measure:{closed.id}#0/0", 0.8)])
        storage.feedback(b, 2, -1)
        storage.log(3, "it", "boh", "decline", 0.1, [])
        rows = storage.questions_since()
    finally:
        storage.close()
    counted = figures(rows, knowledge, TODAY, None)
    assert [(d.day.isoformat(), d.answer, d.decline) for d in counted.days] == \
        [("2026-11-20", 1, 0), ("2026-11-21", 0, 0), ("2026-11-22", 1, 1)]
    assert counted.feedback_by_area[faq.area][0] == 1
    assert sum(down for _, down in counted.feedback_by_area.values()) == 1
    assert [(m.id, m.status, m.times) for m in counted.measures] == [(closed.id, "closed", 1)]
    assert to_group(rows)[0].question in ("il bando chiuso", "boh")


def test_handovers_and_the_median_wait_for_the_first_staff_reply(tmp_path: Path) -> None:
    """Fast: cases opened through Storage (the handover's own records), counted and shown on the page."""
    from bot.report.page import render

    knowledge = load_knowledge(KNOWLEDGE)
    clock = [dt.datetime(2026, 11, 20, 10, tzinfo=dt.timezone.utc).timestamp()]
    storage = Storage(tmp_path / "s.db", KEY, 180, clock=lambda: clock[0])
    try:
        assert figures([], knowledge, TODAY, None, handovers=storage.handovers_since()).handovers == 0
        storage.log(1, "it", "una domanda difficile", "decline", 0.1, [])
        cases = [storage.open_case(user, "una domanda difficile", False) for user in (1, 2, 3)]
        for case, hours in zip(cases, (1, 3)):   # the third case is still waiting
            clock[0] += hours * 3600
            storage.staff_replied(case)
            clock[0] += 600
            storage.staff_replied(case)          # a second reply does not move the first
        rows, handovers = storage.questions_since(), storage.handovers_since()
    finally:
        storage.close()
    counted = figures(rows, knowledge, TODAY, None, handovers=handovers)
    assert (counted.handovers, counted.replied) == (3, 2)
    # Waits: 1 h for the first case, 1 h + 10 min + 3 h for the second (both asked at 10:00).
    assert counted.median_reply_hours == pytest.approx((1 + (1 + 1 / 6 + 3)) / 2)
    page = render(counted, [], dt.datetime(2026, 11, 25, 9, 0))
    assert "<b>3</b>passate a una persona" in page
    assert "<b>2.6 h</b>attesa mediana della prima risposta (2 risposte)" in page
    # A database without the handover table (an older log): the figures say so and the page leaves them out.
    assert "passate a una persona" not in render(figures(rows, knowledge, TODAY, None), [], dt.datetime(2026, 11, 25))
