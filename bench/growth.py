"""Answer quality as the knowledge grows: every eval set, on the shipped knowledge and with real,
unrelated Italian text added, each knowledge with the calibration its own build fitted.

The added text is Debian's `fortunes-it` (tests/distractors.py), one FAQ entry per quotation:
`tests/test_quality.py` checks the bar with 2,500 of them; this script measures any number, by
default all 6,054 (about 72 times the shipped knowledge's passages). Building that knowledge embeds
every quotation once, which takes several minutes; `--keep DIR` keeps each knowledge and index
under DIR so a second run only searches.

    python bench/growth.py [--distractors 0 2500 6054] [--keep DIR] [--sets holdout english-holdout]

Run it by hand from the repository folder (after `apt-get install fortunes-it`); it is not part of
the test suite. Held-back sets are measured, never fitted on.
"""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from distractors import grown_knowledge, quotations  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.evaluation import evaluate, load_items  # noqa: E402
from bot.search.embedding import Embedder  # noqa: E402
from bot.search.retriever import Retriever  # noqa: E402
from bot.search.service import build_index  # noqa: E402

KNOWLEDGE = REPO / "knowledge"
SETS = ["holdout", "measures-holdout", "english-holdout", "tune", "tune-extra", "measures-tune", "english-tune"]
COLUMNS = ["hit@1", "hit@3", "out_of_scope_declined", "in_scope_wrongly_declined", "answered_wrong"]


def retriever_for(folder: Path, distractors: int, embedder: Embedder) -> tuple[Retriever, float | None]:
    """The retriever over the shipped knowledge plus `distractors` quotations, built under `folder`
    unless an index of that knowledge is already there; and the build's seconds (None: reused)."""
    knowledge = folder / "knowledge"
    if not knowledge.exists():
        if distractors:
            grown_knowledge(KNOWLEDGE, knowledge, distractors)
        else:
            shutil.copytree(KNOWLEDGE, knowledge)
    settings = Settings.load(None, {"SPORTELLO_PATHS__KNOWLEDGE": str(knowledge),
                                    "SPORTELLO_PATHS__INDEX": str(folder / "index"),
                                    "SPORTELLO_PATHS__DATABASE": str(folder / "sportello.db")}, cwd=folder)
    seconds = None
    if not (folder / "index").exists():
        start = time.perf_counter()
        build_index(settings, embedder)
        seconds = time.perf_counter() - start
    return Retriever.open(settings, embedder), seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distractors", type=int, nargs="+", default=None,
                        help="quotations to add, one knowledge per number (default: 0, 2500 and all)")
    parser.add_argument("--keep", type=Path, help="build under this folder and reuse what is there")
    parser.add_argument("--sets", nargs="+", default=SETS, help="eval sets (names in knowledge/eval)")
    args = parser.parse_args()
    available = len(quotations(10**6))
    sizes = args.distractors if args.distractors is not None else [0, 2500, available]
    if max(sizes) > available:
        print(f"fortunes-it has {available} usable quotations, fewer than {max(sizes)}", file=sys.stderr)
        return 2
    embedder = Embedder(Settings().embedding)
    root = args.keep or Path(tempfile.mkdtemp(prefix="sportello-growth-"))
    shipped = None
    print(f"{'knowledge':<22} {'set':<18}" + "".join(f"{c[:14]:>15}" for c in COLUMNS))
    for size in sizes:
        retriever, seconds = retriever_for(root / str(size), size, embedder)
        passages = len(retriever.index.passages)
        if size == 0:
            shipped = passages
        label = f"+{size}" if size else "shipped"
        built = f"built in {seconds:.0f} s" if seconds is not None else "index reused"
        times = f", {passages / shipped:.0f}× the shipped" if shipped and size else ""
        print(f"# {label}: {passages} passages{times}; {built}; answer threshold "
              f"{retriever.settings.answer_threshold:.3f}")
        for name in args.sets:
            items = load_items([KNOWLEDGE / "eval" / f"{name}.yaml"])
            m = evaluate(retriever, items, "hybrid").metrics()
            print(f"{label:<22} {name:<18}" + "".join(f"{m[c]:>15.3f}" for c in COLUMNS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
