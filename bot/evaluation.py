"""Measure answer quality on question sets (hit@k, MRR, abstention) and fit the confidence model."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import EvalFileError, Problem
from bot.knowledge.yamlfile import read_yaml
from bot.search.retriever import Retriever, features

MODES = ("dense", "lexical", "hybrid")


STATUSES = ("open", "closing", "upcoming", "closed", "unknown")


@dataclass(frozen=True)
class EvalItem:
    question: str
    expect: list[re.Pattern[str]] | None  # None: the bot must decline
    where: str                            # file:line, for the per-question report
    status: str | None = None             # the status the first measure answered must have
    today: dt.date | None = None          # the file's reference date for measure status

    @property
    def in_scope(self) -> bool:
        return self.expect is not None


def load_items(paths: Sequence[Path]) -> list[EvalItem]:
    """Read question sets; every mistake is reported as file:line, all at once."""
    items: list[EvalItem] = []
    problems: list[Problem] = []
    for path in paths:
        if not Path(path).is_file():
            problems.append(Problem(Path(path), 0, "file not found"))
            continue
        parsed, parse_problems = read_yaml(Path(path))
        problems += parse_problems
        if parsed is None:
            continue
        data, prefix, today = parsed.data, (), None
        if isinstance(data, dict):
            # The long form: {today: YYYY-MM-DD, questions: [...]}, for questions about measures.
            unknown = set(data) - {"today", "questions"}
            if unknown:
                problems.append(parsed.problem((sorted(unknown)[0],), "unknown field (allowed: today, questions)"))
            today = data.get("today")
            if today is not None and not isinstance(today, dt.date):
                problems.append(parsed.problem(("today",), "today must be a date written YYYY-MM-DD"))
                today = None
            data, prefix = data.get("questions"), ("questions",)
        if not isinstance(data, list):
            problems.append(parsed.problem(prefix, "an eval file is a list of items {q: ..., expect: [...]}, "
                                                   "or {today: YYYY-MM-DD, questions: [items]}"))
            continue
        for i, raw in enumerate(data):
            at = (*prefix, i)
            if not isinstance(raw, dict):
                problems.append(parsed.problem(at, "an item must be a mapping with q and expect"))
                continue
            unknown = set(raw) - {"q", "expect", "status"}
            if unknown:
                problems.append(parsed.problem((*at, sorted(unknown)[0]), "unknown field (allowed: q, expect, status)"))
            status = raw.get("status")
            if status is not None and status not in STATUSES:
                problems.append(parsed.problem((*at, "status"), f"status must be one of {', '.join(STATUSES)}"))
                continue
            if status is not None and today is None:
                problems.append(parsed.problem((*at, "status"), "a status needs the file's today: date"))
                continue
            q = raw.get("q")
            if not isinstance(q, str) or not q.strip():
                problems.append(parsed.problem((*at, "q"), "q must be a non-empty question"))
                continue
            if "expect" not in raw:
                problems.append(parsed.problem(at, "expect is required (a list of regexes, or null)"))
                continue
            expect = raw["expect"]
            patterns: list[re.Pattern[str]] | None = None
            if expect is not None:
                if not isinstance(expect, list) or not expect or not all(isinstance(e, str) and e for e in expect):
                    problems.append(parsed.problem((*at, "expect"), "expect must be a list of regexes, or null"))
                    continue
                patterns = []
                for j, pattern in enumerate(expect):
                    try:
                        patterns.append(re.compile(pattern, re.IGNORECASE))
                    except re.error as exc:
                        problems.append(parsed.problem((*at, "expect", j), f"invalid regex: {exc}"))
            items.append(EvalItem(q.strip(), patterns, f"{parsed.path}:{parsed.line_of(at)}", status, today))
    if problems:
        raise EvalFileError(problems)
    return items


@dataclass
class Outcome:
    item: EvalItem
    decision: str
    confidence: float
    rank: int | None          # 1-based rank of the first right passage in the ranking, if any
    top: str                  # source of the best passage
    status: str | None = None  # status of the first measure among the answers (None: no measure)
    shown: int = 0             # how many answers were shown (the head of the ranking; 0 unless answered)

    @property
    def declined(self) -> bool:
        return self.decision != "answer"

    @property
    def right_shown(self) -> bool:
        """A right passage is among the answers shown: the answers are the ranking's first ones."""
        return self.rank is not None and self.rank <= self.shown


@dataclass
class Report:
    mode: str
    outcomes: list[Outcome] = field(default_factory=list)
    backend: str = ""   # the embedding backend and model of the index asked

    def metrics(self) -> dict[str, float | int]:
        inside = [o for o in self.outcomes if o.item.in_scope]
        outside = [o for o in self.outcomes if not o.item.in_scope]

        def share(values: list[bool]) -> float:
            return sum(values) / len(values) if values else 0.0

        return {
            "questions": len(self.outcomes),
            "in_scope": len(inside),
            "out_of_scope": len(outside),
            "hit@1": share([o.rank == 1 for o in inside]),
            "hit@3": share([o.rank is not None and o.rank <= 3 for o in inside]),
            "mrr": sum(1 / o.rank for o in inside if o.rank) / len(inside) if inside else 0.0,
            "answered_right": share([not o.declined and o.rank == 1 for o in inside]),
            # Answered, and no passage shown is a right one: worse than declining, which hands over.
            "answered_wrong": share([not o.declined and not o.right_shown for o in inside]),
            "out_of_scope_declined": share([o.declined for o in outside]),
            "in_scope_wrongly_declined": share([o.declined for o in inside]),
            # Questions with an expected status: the first measure answered has it.
            "status_right": share([o.status == o.item.status for o in self.outcomes if o.item.status]),
            # Questions that expect an available measure but got a closed one first (must stay 0).
            "closed_first": share([o.status == "closed" for o in self.outcomes
                                   if o.item.status in ("open", "closing")]),
            "with_status": sum(1 for o in self.outcomes if o.item.status),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "backend": self.backend,
            "metrics": {k: round(v, 4) for k, v in self.metrics().items()},
            "questions": [
                {
                    "q": o.item.question, "where": o.item.where, "in_scope": o.item.in_scope,
                    "decision": o.decision, "confidence": round(o.confidence, 4), "rank": o.rank, "top": o.top,
                    "ok": (o.rank == 1 and not o.declined) if o.item.in_scope else o.declined,
                    "right_shown": o.right_shown,
                    "status": o.status, "expected_status": o.item.status,
                }
                for o in self.outcomes
            ],
        }


def evaluate(retriever: Retriever, items: list[EvalItem], mode: str, today: dt.date | None = None) -> Report:
    """Ask every question in `mode` and compare with what was expected. Measure status is computed
    for `today`, else the question file's `today`, else the retriever's reference date."""
    model = retriever.index.meta.get("model", {})
    report = Report(mode, backend=str(model.get("name", "")).split("/")[-1])
    for item in items:
        result = retriever.search(item.question, mode=mode, today=today or item.today)
        rank = None
        if item.expect is not None:
            for n, hit in enumerate(result.ranking[:10], start=1):
                if any(p.search(hit.text) for p in item.expect):
                    rank = n
                    break
        top = result.ranking[0].source if result.ranking else "-"
        first_measure = next((h.status for h in result.answers if h.measure is not None), None)
        report.outcomes.append(Outcome(item, result.decision, result.confidence, rank, top, first_measure,
                                       len(result.answers)))
    return report


def sweep(report: Report) -> list[tuple[float, float, float]]:
    """For answer thresholds 0.00..1.00: (threshold, in-scope wrongly declined, out-of-scope declined)."""
    inside = [o.confidence for o in report.outcomes if o.item.in_scope]
    outside = [o.confidence for o in report.outcomes if not o.item.in_scope]
    rows = []
    for step in range(0, 101):
        t = step / 100
        wrongly = sum(c < t for c in inside) / len(inside) if inside else 0.0
        declined = sum(c < t for c in outside) / len(outside) if outside else 0.0
        rows.append((t, wrongly, declined))
    return rows


FLOOR_SAMPLE = 50_000  # stored vectors the dense floor is measured on (all of them up to this many)


def dense_floor(retriever: Retriever, items: list[EvalItem]) -> float:
    """The cosine unrelated text reaches with this model over this knowledge: the median, over the
    questions, of each question's median cosine with the passages (a passage counts its best vector,
    as in search). Most passages are unrelated to any one question, so the median is their level."""
    if retriever.embedder is None or not items or retriever.index.dense.size == 0:
        return 0.0
    vectors, passages = retriever.index.dense.sample(FLOOR_SAMPLE)
    queries = retriever.embedder.encode_queries([i.question for i in items])
    medians = []
    for cosines in np.asarray(queries, dtype=np.float32) @ vectors.T:
        best = np.full(int(passages.max()) + 1, -np.inf, dtype=np.float32)
        np.maximum.at(best, passages, cosines)
        medians.append(float(np.median(best[np.isfinite(best)])))
    return round(float(np.median(medians)), 4)


def calibrate(retriever: Retriever, items: list[EvalItem], min_declined: float = 0.9, l2: float = 0.01) -> dict[str, Any]:
    """Fit the confidence model (logistic regression on the hybrid signals) and choose thresholds.

    The label is "the knowledge answers this question" (in scope). The answer threshold is the
    lowest that still declines at least `min_declined` of the out-of-scope questions: answer as many
    answerable questions as possible without making things up. It sits halfway between the last
    out-of-scope confidence it must stay above and the next confidence up, not on a data point. The
    suggest threshold lets 95% of the in-scope questions at least get close questions offered.
    """
    inside = [i for i in items if i.in_scope]
    outside = [i for i in items if not i.in_scope]
    if not inside or not outside:
        raise EvalFileError([Problem(Path(items[0].where.split(":")[0]) if items else Path("."), 0,
                                      "calibration needs both in-scope and out-of-scope questions")])
    floor = dense_floor(retriever, items)
    retriever = Retriever(retriever.index, retriever.embedder,
                          retriever.settings.model_copy(update={"dense_floor": floor}), retriever.measures)
    names = ["coverage", "local", "dense", "lexical", "scope"]
    rows, labels = [], []
    for item in items:
        f = features(retriever.search(item.question, mode="hybrid", today=item.today).signals,
                     retriever.settings.calibration.lexical_half, floor)
        rows.append([f[n] for n in names])
        labels.append(1.0 if item.in_scope else 0.0)
    x = np.asarray(rows)
    y = np.asarray(labels)
    # Balanced weights: the two kinds of question count equally whatever their numbers.
    weights = np.where(y == 1, 0.5 / y.sum(), 0.5 / (1 - y).sum())
    w = np.zeros(x.shape[1])
    b = 0.0
    for _ in range(20000):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        grad = p - y
        w -= x.T @ (weights * grad) + l2 * w
        b -= float(weights @ grad)
    conf = 1 / (1 + np.exp(-(x @ w + b)))
    inside_conf = conf[y == 1]
    outside_conf = np.sort(conf[y == 0])[::-1]
    allowed = int(np.floor((1 - min_declined) * len(outside_conf) + 1e-9))  # out-of-scope we may answer
    floor_conf = float(outside_conf[allowed])
    above = conf[conf > floor_conf]
    answer = round((floor_conf + float(above.min())) / 2 if above.size else min(1.0, floor_conf + 0.01), 3)
    suggest = round(min(float(np.quantile(inside_conf, 0.05)), answer - 0.05), 3)
    return {
        "calibration": {"bias": round(b, 4), **{n: round(float(v), 4) for n, v in zip(names, w)}},
        "answer_threshold": answer,
        "suggest_threshold": max(0.0, suggest),
        "dense_floor": floor,
        "errors": {"in_scope_declined": float((inside_conf < answer).mean()),
                   "out_of_scope_answered": float((outside_conf >= answer).mean())},
    }


# --- text reports ---------------------------------------------------------------------------------

def per_question_text(report: Report) -> str:
    """One line per question: right or wrong, confidence, where it is, what came first."""
    lines = []
    for o in report.outcomes:
        if o.item.in_scope:
            ok = o.rank == 1 and not o.declined
            status = "ok " if ok else ("DECLINED" if o.declined and o.rank == 1 else f"rank={o.rank or '-'}")
        else:
            status = "ok " if o.declined else "ANSWERED"
        lines.append(f"{'✓' if status.startswith('ok') else '✗'} {status:<9} {o.confidence:.2f}  {o.item.question}"
                     f"  [{o.item.where}] → {o.top}")
    return "\n".join(lines) + "\n"


def table_text(reports: list[Report]) -> str:
    """The metrics of one or more modes side by side."""
    names = ["hit@1", "hit@3", "mrr", "answered_right", "answered_wrong", "out_of_scope_declined",
             "in_scope_wrongly_declined"]
    if any(r.metrics()["with_status"] for r in reports):
        names += ["status_right", "closed_first"]
    several = len({r.backend for r in reports}) > 1
    widths = [max(10, len(r.backend) + 2) if several else 10 for r in reports]
    header = f"{'metric':<28}" + "".join(f"{r.mode:>{w}}" for r, w in zip(reports, widths))
    rows = [header, "-" * len(header)]
    if several:  # the backends side by side: name each column's model above its mode
        rows.insert(0, f"{'model':<28}" + "".join(f"{r.backend:>{w}}" for r, w in zip(reports, widths)))
    metrics = [r.metrics() for r in reports]
    for name in names:
        rows.append(f"{name:<28}" + "".join(f"{m[name]:>{w}.3f}" for m, w in zip(metrics, widths)))
    m = metrics[0]
    rows.append(f"({m['in_scope']} in scope, {m['out_of_scope']} out of scope)")
    return "\n".join(rows)


def sweep_text(report: Report) -> str:
    """How the answer threshold trades wrongly declined for out-of-scope declined."""
    rows = [f"\nAnswer threshold sweep ({report.mode}):", f"{'threshold':>10} {'in-scope declined':>18} {'out-of-scope declined':>22}"]
    for t, wrongly, declined in sweep(report)[::5]:
        rows.append(f"{t:>10.2f} {wrongly:>18.3f} {declined:>22.3f}")
    return "\n".join(rows)
