"""Top-k APIs of the dense and lexical indexes, and the approximate (IVF) dense index: recall against
exact search, parameters recorded in meta.json and checked on load."""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import json
from pathlib import Path

import numpy as np
import pytest

from bot.errors import IndexMismatch
from bot.search import index as search_index
from bot.search.dense import DenseIndex, DenseParams
from bot.config import EmbeddingSettings
from bot.search.embedding import Embedder, configure_threads
from bot.search.lexical import LexicalIndex, top_k
from tests.conftest import KNOWLEDGE, make_settings


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(n: int, d: int, topics: int, rng: np.random.Generator) -> np.ndarray:
    """Random unit vectors around random topic directions, as sentence embeddings are. (Uniform
    random vectors have no neighbourhood at all in high dimension: every point is about as far
    from a query as every other, so no approximate index beats a full scan on them.)"""
    centres = unit(rng.standard_normal((topics, d)))
    return unit(centres[rng.integers(0, topics, n)] + rng.standard_normal((n, d)) * 1.2 / np.sqrt(d))


@pytest.fixture(scope="module")
def vectors() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """12,000 database vectors of dimension 64 (two rows per passage) and 200 queries."""
    configure_threads(EmbeddingSettings())  # one FAISS thread per search, as the bot runs
    rng = np.random.default_rng(7)
    data = clustered(12_200, 64, 300, rng)
    rows = np.arange(12_000) // 2
    return data[:12_000], rows, data[12_000:]


def test_approximate_index_recall_at_10_against_exact(vectors: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    data, rows, queries = vectors
    params = DenseParams.choose(len(data), approximate_above=5_000, nprobe=32)
    assert params.kind == "ivf" and params.nlist == min(int(4 * np.sqrt(len(data))), len(data) // 39)
    approx = DenseIndex.build(data, rows, params)
    exact = DenseIndex.build(data, rows)
    recall = np.mean([len(set(approx.top_k(q, 10)[0]) & set(exact.top_k(q, 10)[0])) / 10 for q in queries])
    assert recall >= 0.95
    # Fewer cells searched must cost recall: the number really is used.
    approx.index.nprobe = 1
    low = np.mean([len(set(approx.top_k(q, 10)[0]) & set(exact.top_k(q, 10)[0])) / 10 for q in queries])
    assert low < recall


def test_dense_top_k_matches_the_full_ranking(vectors: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    data, rows, queries = vectors
    exact = DenseIndex.build(data, rows)
    passages = int(rows.max()) + 1
    for q in queries[:20]:
        full = exact.scores(q[None, :], passages)
        found, cosines = exact.top_k(q, 15)
        assert len(set(found.tolist())) == 15  # distinct passages, not rows
        np.testing.assert_allclose(cosines, np.sort(full)[::-1][:15], atol=1e-6)
        np.testing.assert_allclose(full[found], cosines, atol=1e-6)
        pick = np.array([3, int(found[0]), 5_999, 6_000, -1])
        expected = np.concatenate([full[[3, int(found[0]), 5_999]], [-1.0, -1.0]])
        np.testing.assert_allclose(exact.passage_scores(q, pick), expected, atol=1e-6)


def test_ivf_passage_scores_are_exact(vectors: tuple[np.ndarray, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    data, rows, queries = vectors
    params = DenseParams.choose(len(data), 5_000, 32)
    DenseIndex.build(data, rows, params).save(tmp_path)
    approx = DenseIndex.load(tmp_path, params)
    pick = np.arange(0, 6_000, 97)
    expected = np.maximum(data[2 * pick] @ queries[0], data[2 * pick + 1] @ queries[0])
    np.testing.assert_allclose(approx.passage_scores(queries[0], pick), expected, atol=1e-6)


def test_loading_refuses_an_index_unlike_its_meta(vectors: tuple[np.ndarray, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    data, rows, _ = vectors
    params = DenseParams.choose(len(data), 5_000, 32)
    DenseIndex.build(data, rows, params).save(tmp_path)
    assert DenseIndex.load(tmp_path, DenseParams.from_meta(params.as_meta()), nprobe=8).params.nprobe == 8
    with pytest.raises(IndexMismatch, match="meta.json records 'flat'"):
        DenseIndex.load(tmp_path, DenseParams())
    with pytest.raises(IndexMismatch, match="IVF cells"):
        DenseIndex.load(tmp_path, DenseParams("ivf", params.nlist + 1, 32))
    np.save(tmp_path / "dense_rows.npy", rows[:-1])
    with pytest.raises(IndexMismatch, match="maps 11999"):
        DenseIndex.load(tmp_path, params)


def test_lexical_top_k_matches_the_full_ranking() -> None:
    docs = [p for f in sorted((KNOWLEDGE / "faq").glob("*.yaml")) for p in f.read_text(encoding="utf-8").split("\n\n")]
    lexical = LexicalIndex.build(docs)
    stems, _ = lexical.query_tokens("aiuti per l'internazionalizzazione e l'export delle imprese")
    extra, _ = lexical.query_tokens("estero")
    full = lexical.scores(stems) + np.float32(0.2) * lexical.scores(extra)
    found, scores = lexical.top_k(stems, 5, extra, 0.2)
    assert len(found) == 5
    np.testing.assert_allclose(scores, np.sort(full)[::-1][:5], rtol=1e-6)
    np.testing.assert_allclose(full[found], scores)
    # Zero scores are never candidates; ties keep the lower passage number first.
    idx, vals = top_k(np.array([0.0, 2.0, 1.0, 2.0, 0.0, 3.0], dtype=np.float32), 3)
    assert idx.tolist() == [5, 1, 3] and vals.tolist() == [3.0, 2.0, 2.0]
    assert top_k(np.zeros(4, dtype=np.float32), 3)[0].size == 0
    assert top_k(np.array([1.0, 0.5], dtype=np.float32), 10)[0].tolist() == [0, 1]


def test_build_records_ivf_and_settings_change_is_refused(tmp_path: Path, small_knowledge: Path, embedder: Embedder) -> None:
    settings = make_settings(tmp_path, knowledge=small_knowledge, SPORTELLO_RETRIEVAL__APPROXIMATE_ABOVE="4")
    folder = search_index.build(settings, embedder)
    meta = json.loads((folder / search_index.META).read_text(encoding="utf-8"))
    assert meta["dense"]["kind"] == "ivf" and meta["dense"]["nlist"] >= 1
    loaded = search_index.load(settings, embedder)
    assert loaded.dense.params.kind == "ivf"
    question = embedder.encode_queries(["aiuti per esportare"])
    found, cosines = loaded.dense.top_k(question, 3)
    assert len(found) >= 1 and cosines[0] > 0.3
    exact_settings = make_settings(tmp_path, knowledge=small_knowledge)
    with pytest.raises(IndexMismatch, match="approximate_above"):
        search_index.load(exact_settings, embedder)
