"""Answer latency at 1k, 10k and 100k passages, as ratios to embedding one question (same run).

Synthetic knowledge (bench/synthetic.py: 80% document sections, 20% FAQ entries of four texts each)
is built through `sportello build`'s own path (service.build_index: FAISS, exact or IVF as the
settings choose, BM25, the calibration on the tuning sets). The questions are every question of
knowledge/eval/*.yaml, asked through `Retriever.search` as the bot asks them, embedding included.
The floor is embedding the same question alone, measured right before each search.

Passage vectors: embedding 100k passages takes about an hour on this machine, so only the first
`--pool` distinct passage texts (by default all of the 1k knowledge, whose texts begin the larger
ones: the generator is seeded) are embedded by the model; every other text gets the vector of a
pool text chosen by its hash, moved by seeded noise to a cosine of about 0.8 from it (a distinct
vector, as near its neighbours as paraphrases are). FAISS's cost does not depend on the values of
the vectors for exact search, and for IVF only through how they cluster, which the pool keeps. The
lexical side, the questions and their vectors are all real. So the figure measures search at that
size, not the answer quality of a 100k knowledge (that needs the real vectors).

    python bench/latency.py [--sizes 1000 10000 100000] [--rounds 2] [--pool 1600] [--pool-file F.npz]
                            [--keep DIR] [--profile]

`--keep DIR` builds each size's knowledge and index under DIR/<size> and reuses them on the next
run (a 100k build takes a quarter of an hour here); without it they go in a temporary folder.
"""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import argparse
import cProfile
import hashlib
import io
import logging
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.config import Settings
from bot.evaluation import load_items
from bot.search.embedding import Embedder
from bot.search.retriever import Retriever, clean_question
from bot.search.service import build_index

from synthetic import generate

REPO = Path(__file__).resolve().parent.parent
TARGETS = {10_000: 1.25, 100_000: 1.5}
P99_TARGET = 2.0


class PoolEmbedder:
    """The real embedder for questions and for the first `pool` distinct passage texts; every other
    passage text gets a pool vector moved by seeded noise (see the module docstring)."""

    def __init__(self, inner: Embedder, pool: int, noise: float = 0.75):
        self.inner, self.pool, self.noise = inner, pool, noise
        self.known: dict[str, np.ndarray] = {}
        self.real = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        fresh = [t for t in dict.fromkeys(texts) if t not in self.known][: max(0, self.pool - len(self.known))]
        if fresh:
            self.known.update(zip(fresh, self.inner.encode_passages(fresh, progress=progress)))
            self.real += len(fresh)
        base = list(self.known.values())
        out = np.empty((len(texts), self.inner.dimension), dtype=np.float32)
        for n, text in enumerate(texts):
            vector = self.known.get(text)
            if vector is None:
                seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
                rng = np.random.default_rng(seed)
                moved = base[seed % len(base)] + self.noise * rng.standard_normal(len(out[n])) / np.sqrt(len(out[n]))
                vector = moved / np.linalg.norm(moved)
            out[n] = vector
        return out


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def measure(retriever: Retriever, embedder: Embedder, questions: list[str], rounds: int
            ) -> tuple[list[float], list[float], list[float]]:
    """Seconds to embed each question alone and to answer it (embedding included), interleaved; and
    the CPU seconds of the search alone, given the question's vector (search runs on one thread, so
    its CPU time is what it costs, however busy the machine is)."""
    embed, answer, search = [], [], []
    for _ in range(rounds):
        # Every round pays for its typo corrections again: new questions bring new words.
        retriever.index.lexical.speller._cache.clear()
        getattr(retriever.index.lexical, "_word_info", {}).clear()  # and their stems
        for q in questions:
            start = time.perf_counter()
            vector = embedder.encode_queries([clean_question(q)])
            embed.append(time.perf_counter() - start)
            start = time.perf_counter()
            retriever.search(q)
            answer.append(time.perf_counter() - start)
            start = time.process_time()
            retriever.search(q, vector=vector[0])
            search.append(time.process_time() - start)
    return embed, answer, search


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pool", type=int, default=1600)
    parser.add_argument("--pool-file", type=Path, help="keep the pool's real vectors here between runs "
                        "(an .npz; reused only for the same model and weights)")
    parser.add_argument("--keep", type=Path, help="build under this folder and reuse the builds found there")
    parser.add_argument("--profile", action="store_true", help="print where search time goes at each size")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    items = load_items(sorted((REPO / "knowledge" / "eval").glob("*.yaml")))
    questions = [i.question for i in items]
    rows = []
    inner: Embedder | None = None
    pool: PoolEmbedder | None = None
    with tempfile.TemporaryDirectory(prefix="sportello-latency-") as tmp:
        for size in args.sizes:
            root = (args.keep or Path(tmp)) / str(size)
            knowledge = root / "knowledge"
            reuse = args.keep is not None and (root / "index" / "current").exists()
            if not reuse:
                generate(knowledge, sections=size * 4 // 5, faq=size // 5)
            env = {"SPORTELLO_PATHS__KNOWLEDGE": str(knowledge), "SPORTELLO_PATHS__INDEX": str(root / "index"),
                   "SPORTELLO_PATHS__DATABASE": str(root / "db.sqlite3"),
                   "SPORTELLO_EMBEDDING__CACHE_MB": "0"}  # made-up vectors must not enter a cache
            settings = Settings.load(None, env, cwd=root)
            if inner is None:
                inner = Embedder(settings.embedding)
                inner.encode_queries(["avvio"])
                pool = PoolEmbedder(inner, args.pool)
                if args.pool_file and args.pool_file.is_file():
                    saved = np.load(args.pool_file, allow_pickle=False)
                    if str(saved["weights"]) == inner.weights_sha256:
                        pool.known = dict(zip(saved["texts"].tolist(), saved["vectors"]))
            assert pool is not None
            start = time.perf_counter()
            if not reuse:
                build_index(settings, pool)  # type: ignore[arg-type]
            built = time.perf_counter() - start
            if args.pool_file and pool.real:
                np.savez(args.pool_file, texts=np.array(list(pool.known)), weights=np.array(inner.weights_sha256),
                         vectors=np.stack(list(pool.known.values())))
            retriever = Retriever.open(settings, inner)
            retriever.search(questions[0])  # warm up
            embed, answer, search = measure(retriever, inner, questions, args.rounds)
            floor50, floor99 = percentile(embed, 50), percentile(embed, 99)
            p50, p99 = percentile(answer, 50), percentile(answer, 99)
            meta = retriever.index.meta
            rows.append((size, meta["counts"]["passages"], meta["counts"]["vectors"], meta["dense"]["kind"],
                         floor50, floor99, p50, p99, built, len(retriever.index.lexical.words),
                         percentile(search, 50), percentile(search, 99)))
            print(f"{size}: {meta['counts']['passages']} passages, {meta['counts']['vectors']} vectors "
                  f"({meta['dense']['kind']}), {len(retriever.index.lexical.words)} known words, built in "
                  f"{built:.0f} s; embed p50 {floor50 * 1000:.1f} ms; answer p50 {p50 * 1000:.1f} ms "
                  f"p99 {p99 * 1000:.1f} ms", flush=True)
            if args.profile:
                profile = cProfile.Profile()
                profile.enable()
                for q in questions:
                    retriever.search(q)
                profile.disable()
                out = io.StringIO()
                pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
                print(out.getvalue())
    assert pool is not None
    print(f"\n{len(questions)} questions × {args.rounds} rounds; {len(pool.known)} passage texts embedded by the "
          f"model ({pool.real} in this run), the rest derived from them; load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'passages':>9} {'vectors':>8} {'dense':>5} {'p50 ×':>7} {'p99 ×':>7} {'p99 × p99':>10} "
          f"{'cpu p50':>8} {'cpu p99':>8}  target")
    for size, passages, vectors, kind, f50, f99, p50, p99, _, _, s50, s99 in rows:
        target = f"p50 <= {TARGETS[size]}, p99 <= {P99_TARGET}" if size in TARGETS else "-"
        print(f"{passages:>9} {vectors:>8} {kind:>5} {p50 / f50:>7.2f} {p99 / f50:>7.2f} {p99 / f99:>10.2f} "
              f"{s50 * 1000:>8.2f} {s99 * 1000:>8.2f}  {target}")
    print("p50 × and p99 ×: the answer's percentile over embedding one question's p50; "
          "p99 × p99: over embedding's own p99.")
    print("cpu p50/p99: milliseconds of CPU the search takes without the embedding, given the question's vector "
          "(steady under load, unlike the wall-clock ratios).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
