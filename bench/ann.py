"""Approximate dense search over 1,000,000 vectors of the model's dimension: recall@10 against exact
search, p50/p99 latency, build time and memory of the index `sportello build` makes above
retrieval.approximate_above (IVF by default; `--hnsw` adds the HNSW graph of retrieval.approximate: hnsw).

Floors measured in the same run: exact (flat) search over the same vectors, and embedding one
question. Searches run on one FAISS thread, as the bot's do (embedding.search_threads); builds use
both cores, as `sportello build` does.

How the vectors are made. Uniform noise would be meaningless (in 384 dimensions every random point
is about as far from a query as any other, and no approximate index beats a full scan), so they
follow the model's own embeddings:
1. bases: the model embeds `--bases` passages of synthetic Italian (bench/synthetic.py's bigram model
   of the real sources), 3,000 by default: real embeddings of text like the knowledge's;
2. each vector is a base moved towards one of its 10 nearest bases by a random fraction in [0, 0.5)
   (text between two related passages), plus Gaussian noise shaped by the bases' own covariance (the
   directions in which real embeddings differ, not all 384 alike) times a scale s, then normalised;
3. s is fitted in the run, not chosen: the bases are split in two halves; one half generates as many
   vectors as the other half holds, and s (0.40 to 1.00 by 0.05) is the one whose vectors are as
   close to their nearest neighbour (median cosine) and to the questions (mean top-10 cosine) as the
   held-out real embeddings are (least sum of the two differences).
The queries are the real questions of knowledge/eval/, embedded by the model.

    python bench/ann.py [--vectors 1000000] [--bases 3000] [--queries 300] [--hnsw] [--cache FILE]

`--cache FILE` keeps the bases' embeddings in an embedding cache (bot/search/embed_cache.py), so a
second run does not embed them again.
"""

from __future__ import annotations

import faiss

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bot.config import Settings
from bot.evaluation import load_items
from bot.search import embed_cache
from bot.search.dense import DenseIndex, DenseParams
from bot.search.embedding import Embedder

from synthetic import Bigrams, source_sentences

REPO = Path(__file__).resolve().parent.parent

NEIGHBOURS = 10  # a base is mixed with one of its this many nearest bases
NOISE_GRID = [round(0.40 + 0.05 * i, 2) for i in range(13)]


def rss_mb() -> float:
    """Resident memory of this process, MB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def timings_ms(fn: Callable[[np.ndarray], object], queries: np.ndarray) -> tuple[float, float]:
    """p50 and p99 of one call per query, ms."""
    times = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1000, times[min(len(times) - 1, int(0.99 * len(times)))] * 1000


def mixes(bases: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """`n` unit vectors: a base moved towards one of its nearest bases, plus noise of the bases'
    covariance times `noise` (see the module's docstring)."""
    bases = np.asarray(bases, dtype=np.float32)
    centred = bases - bases.mean(axis=0)
    values, axes = np.linalg.eigh(np.cov(centred.T))
    shape = (axes * np.sqrt(np.clip(values, 0, None))).T.astype(np.float32)  # z @ shape ~ N(0, cov)
    sims = bases @ bases.T
    np.fill_diagonal(sims, -np.inf)
    near = np.argsort(-sims, axis=1)[:, :NEIGHBOURS]
    d = bases.shape[1]
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        i = rng.integers(0, len(bases), m)
        j = near[i, rng.integers(0, NEIGHBOURS, m)]
        t = rng.random((m, 1), dtype=np.float32) * 0.5
        x = (1 - t) * bases[i] + t * bases[j] + noise * (rng.standard_normal((m, d), dtype=np.float32) @ shape)
        out[start:start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def closeness(vectors: np.ndarray, queries: np.ndarray) -> tuple[float, float]:
    """Median cosine of each vector with its nearest other one; mean top-10 cosine of the queries."""
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1.0)
    return float(np.median(sims.max(axis=1))), float(np.sort(queries @ vectors.T, axis=1)[:, -10:].mean())


def fit_noise(bases: np.ndarray, queries: np.ndarray) -> tuple[float, tuple[float, float], tuple[float, float]]:
    """The noise scale whose vectors, at the size of a held-out half of the bases, are as close to
    their neighbours and to the questions as those real embeddings; with both closenesses."""
    order = np.random.default_rng(0).permutation(len(bases))
    half = len(bases) // 2
    made, held = bases[order[:half]], bases[order[half:]]
    real = closeness(held, queries)
    best = min(NOISE_GRID, key=lambda s: sum(abs(a - b) for a, b in zip(
        closeness(mixes(made, len(held), s, np.random.default_rng(1)), queries), real)))
    return best, real, closeness(mixes(made, len(held), best, np.random.default_rng(1)), queries)


def embed_bases(embedder: Embedder, settings: Settings, count: int, cache: Path | None) -> np.ndarray:
    """The model's embeddings of `count` synthetic passages (the same ones every run)."""
    model = Bigrams(source_sentences(), random.Random(5))
    texts = [model.passage() for _ in range(count)]
    store = embed_cache.open_cache(cache, 1 << 30) if cache else None
    try:
        vectors, _ = embed_cache.encode_passages(embedder, texts, settings.embedding.passage_prompt, store,
                                                 progress=True)
    finally:
        if store is not None:
            store.close()
    return vectors


def measure(name: str, approx: DenseIndex, set_param: Callable[[int], None], values: list[int], chosen: int,
            queries: np.ndarray, truth: list[set[int]], exact_p50: float, embed_one: float) -> None:
    """Recall@10 and latency of `approx` for each search-time parameter value."""
    print(f"{name:>9} {'recall@10':>9} {'p50 ms':>7} {'p99 ms':>7} {'vs exact':>8} {'vs embed':>8}")
    for value in values:
        set_param(value)
        recall = statistics.mean(len(set(approx.top_k(q, 10)[0].tolist()) & t) / 10 for q, t in zip(queries, truth))
        p50, p99 = timings_ms(lambda q: approx.top_k(q, 10), queries)
        mark = "  <- settings" if value == chosen else ""
        print(f"{value:>9} {recall:>9.3f} {p50:>7.2f} {p99:>7.2f} {p50 / exact_p50:>8.3f} "
              f"{p50 / embed_one:>8.3f}{mark}", flush=True)


def build(vectors: np.ndarray, rows: np.ndarray, params: DenseParams) -> tuple[DenseIndex, float, float, float]:
    """The index, its build time (s), resident memory it added and its file size (MB)."""
    before = rss_mb()
    start = time.perf_counter()
    index = DenseIndex.build(vectors, rows, params)
    seconds = time.perf_counter() - start
    grown = rss_mb() - before
    with tempfile.TemporaryDirectory() as tmp:
        index.save(Path(tmp))
        file_mb = (Path(tmp) / "dense.faiss").stat().st_size / 2**20
    return index, seconds, grown, file_mb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--bases", type=int, default=3000, help="passages the model embeds as bases")
    parser.add_argument("--noise", type=float, help="noise scale (default: fitted, see above)")
    parser.add_argument("--hnsw", action="store_true", help="also build and measure HNSW (slow to build)")
    parser.add_argument("--cache", type=Path, help="embedding cache file for the bases")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    settings = Settings.load(None, {}, cwd=REPO)
    embedder = Embedder(settings.embedding)  # also sets FAISS's threads (embedding.search_threads)
    bases = embed_bases(embedder, settings, args.bases, args.cache)
    questions = [i.question for i in load_items(sorted((REPO / "knowledge" / "eval").glob("*.yaml")))]
    queries = embedder.encode_queries(questions[: args.queries])
    embed_one, _ = timings_ms(lambda q: embedder.encode_queries([q]), np.array(questions[:50], dtype=object))

    if args.noise is None:
        noise, real, made = fit_noise(bases, queries)
        print(f"noise scale fitted: {noise} (nearest-neighbour median cosine, questions' top-10 cosine: real "
              f"{real[0]:.3f}, {real[1]:.3f}; synthetic {made[0]:.3f}, {made[1]:.3f})")
    else:
        noise = args.noise
    vectors = mixes(bases, args.vectors, noise, np.random.default_rng(3))
    n, d = vectors.shape
    rows = np.arange(n, dtype=np.int32)
    exact = DenseIndex.build(vectors, rows)
    truth = [set(exact.top_k(q, 10)[0].tolist()) for q in queries]
    exact_p50, exact_p99 = timings_ms(lambda q: exact.top_k(q, 10), queries)
    del exact
    print(f"{n:,} vectors of dimension {d} from {len(bases):,} bases; {len(queries)} real questions; FAISS threads "
          f"per search: {faiss.omp_get_max_threads()}; raw vectors {n * d * 4 / 2**20:.0f} MB")
    print(f"floors: exact search p50 {exact_p50:.2f} ms (p99 {exact_p99:.2f}), embedding one question p50 "
          f"{embed_one:.2f} ms")

    # As `sportello build` would choose above the threshold (forced below it, for small trial runs).
    retrieval = settings.retrieval.model_copy(update={"approximate_above": min(settings.retrieval.approximate_above,
                                                                               n - 1)})
    for kind in ["ivf", "hnsw"] if args.hnsw else ["ivf"]:
        params = DenseParams.for_settings(n, retrieval.model_copy(update={"approximate": kind}))
        approx, seconds, grown, file_mb = build(vectors, rows, params)
        print(f"\n{params.describe()}: {params.as_meta()}")
        print(f"built in {seconds:.0f} s; memory +{grown:.0f} MB resident ({file_mb:.0f} MB on disk)", flush=True)
        if kind == "ivf":
            def set_nprobe(v: int, index: DenseIndex = approx) -> None:
                index.index.nprobe = v
            measure("nprobe", approx, set_nprobe, sorted({32, 64, 96, 128, 192, 256, params.nprobe}),
                    params.nprobe, queries, truth, exact_p50, embed_one)
        else:
            def set_ef(v: int, index: DenseIndex = approx) -> None:
                index.index.hnsw.efSearch = v
            measure("efSearch", approx, set_ef, sorted({32, 64, 128, 256, 512, params.ef_search}),
                    params.ef_search, queries, truth, exact_p50, embed_one)
        del approx
    print("targets: p50 <= 5 ms, recall@10 >= 0.95")
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
