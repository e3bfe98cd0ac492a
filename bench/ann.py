"""Approximate dense search (FAISS IVF, as `sportello build` makes it above retrieval.approximate_above)
over 1,000,000 vectors of the model's dimension: p50 latency, recall@10 against exact search, memory.

Floors measured in the same run: exact (flat) search over the same vectors, and embedding one
question. The vectors are not uniform noise (on which no approximate index beats a full scan: in
384 dimensions every random point is about as far from a query as any other); they are spread along
the model's own embeddings: all-MiniLM-L6-v2 embeds 3,000 synthetic passages (bench/synthetic.py),
and each of the million vectors is a random mix of two of them plus noise, normalised. The queries
are the real questions of knowledge/eval/, embedded by the model.

    python bench/ann.py [--vectors 1000000] [--queries 300]
"""

from __future__ import annotations

import faiss

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.config import Settings
from bot.evaluation import load_items
from bot.search.dense import DenseIndex, DenseParams
from bot.search.embedding import Embedder

from synthetic import Bigrams, source_sentences

REPO = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    """Resident memory of this process, MB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def p50_ms(fn, queries: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    times = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--bases", type=int, default=3000)
    args = parser.parse_args()
    settings = Settings.load(None, {}, cwd=REPO)
    embedder = Embedder(settings.embedding)  # also sets FAISS's threads (embedding.search_threads)
    model = Bigrams(source_sentences(), random.Random(5))
    bases = embedder.encode_passages([model.passage() for _ in range(args.bases)])
    questions = [i.question for i in load_items(sorted((REPO / "knowledge" / "eval").glob("*.yaml")))]
    queries = embedder.encode_queries(questions[: args.queries])
    embed_one = p50_ms(lambda q: embedder.encode_queries([q]), np.array(questions[:50], dtype=object))

    rng = np.random.default_rng(3)
    n, d = args.vectors, bases.shape[1]
    vectors = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        a, b = bases[rng.integers(0, len(bases), m)], bases[rng.integers(0, len(bases), m)]
        mix = rng.random((m, 1), dtype=np.float32)
        x = mix * a + (1 - mix) * b + rng.standard_normal((m, d), dtype=np.float32) * (0.35 / np.sqrt(d))
        vectors[start:start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    rows = np.arange(n, dtype=np.int32)

    # As `sportello build` would choose above the threshold (forced below it, for small trial runs).
    params = DenseParams.choose(n, min(settings.retrieval.approximate_above, n - 1), settings.retrieval.ivf_nprobe)
    before = rss_mb()
    start = time.perf_counter()
    approx = DenseIndex.build(vectors, rows, params)
    build_s = time.perf_counter() - start
    approx_mb = rss_mb() - before
    with tempfile.TemporaryDirectory() as tmp:
        approx.save(Path(tmp))
        file_mb = (Path(tmp) / "dense.faiss").stat().st_size / 2**20
    exact = DenseIndex.build(vectors, rows)
    del vectors

    truth = [set(exact.top_k(q, 10)[0].tolist()) for q in queries]
    exact_p50 = p50_ms(lambda q: exact.top_k(q, 10), queries)
    print(f"{n:,} vectors of dimension {d}; {len(queries)} real questions; FAISS threads per search: "
          f"{faiss.omp_get_max_threads()}")
    print(f"IVF: {params.nlist} cells, built in {build_s:.0f} s; memory {approx_mb:.0f} MB resident "
          f"({file_mb:.0f} MB on disk); raw vectors alone: {n * d * 4 / 2**20:.0f} MB")
    print(f"floors: exact search p50 {exact_p50:.2f} ms, embedding one question p50 {embed_one:.2f} ms")
    print(f"{'nprobe':>6} {'recall@10':>9} {'p50 ms':>7} {'vs exact':>8} {'vs embed':>8}")
    for nprobe in sorted({8, 16, 32, 64, 128, params.nprobe}):
        approx.index.nprobe = nprobe
        recall = statistics.mean(len(set(approx.top_k(q, 10)[0].tolist()) & t) / 10 for q, t in zip(queries, truth))
        p50 = p50_ms(lambda q: approx.top_k(q, 10), queries)
        mark = "  <- retrieval.ivf_nprobe" if nprobe == params.nprobe else ""
        print(f"{nprobe:>6} {recall:>9.3f} {p50:>7.2f} {p50 / exact_p50:>8.3f} {p50 / embed_one:>8.3f}{mark}")
    print("targets: p50 <= 5 ms, recall@10 >= 0.95")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
