"""Dense retrieval: normalised embeddings in a FAISS inner-product index, saved as plain files.

Same verbs as the lexical index: build, save, load, scores; plus `top_k` (the best passages only) and
`passage_scores` (exact cosines of chosen passages), which do not grow with the knowledge the way
`scores` does. The model itself lives in `embedding`.

Up to `retrieval.approximate_above` vectors the index is exact (flat); above it, approximate, of the
kind `retrieval.approximate` names: a graph (HNSW: each vector linked to its nearest, searched greedily
with a queue of `ef_search`) or an inverted file (IVF: k-means cells, `nprobe` of them searched per
question; the default, see bench/README.md for why). Its parameters are recorded in meta.json by the
build and checked against the file when it is loaded.

The vectors are not centred, though the model's all lie in a narrow cone: the HNSW graph links unit
vectors by inner product, which orders neighbours as distance does and distance ignores a common
shift; for IVF, cells from L2 k-means (shift-invariant) gave the same recall as the spherical
k-means used here, and spherical k-means on centred vectors a lower one (bench/README.md).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import faiss  # before torch, everywhere: their OpenMP runtimes clash otherwise
import numpy as np

from bot.errors import IndexMismatch

if TYPE_CHECKING:
    from bot.config import RetrievalSettings

INDEX_FILE = "dense.faiss"
ROWS_FILE = "dense_rows.npy"
# IVF: k-means cells trained on at most this many vectors per cell (FAISS's own default is 256; fewer
# keep a million-vector build within a couple of minutes on two cores at the same recall).
TRAIN_PER_CELL = 64
TRAIN_SEED = 20240601  # fixed: the same vectors always give the same cells
TRAIN_ITERATIONS = 10  # k-means rounds: cells barely move after ten, and each round costs a pass
# HNSW: the queue kept while linking a new vector (FAISS's default, 40). A longer one builds a
# slightly better graph at a cost linear in it, and the build is the slow part on two cores.
EF_CONSTRUCTION = 40

Kind = Literal["flat", "ivf", "hnsw"]


@dataclass(frozen=True)
class DenseParams:
    """How the dense index searches: exactly (flat), in `nprobe` of `nlist` IVF cells, or over an HNSW
    graph of `m` links per vector with a search queue of `ef_search`."""

    kind: Kind = "flat"
    nlist: int = 0
    nprobe: int = 0
    m: int = 0
    ef_search: int = 0
    ef_construction: int = 0

    @classmethod
    def choose(cls, vectors: int, approximate_above: int, nprobe: int, approximate: Literal["ivf", "hnsw"] = "ivf",
               m: int = 32, ef_search: int = 128) -> DenseParams:
        """Exact up to `approximate_above` vectors; above it HNSW with `m` links, or IVF with about
        4·√n cells."""
        if vectors <= approximate_above:
            return cls()
        if approximate == "hnsw":
            return cls("hnsw", m=m, ef_search=ef_search, ef_construction=EF_CONSTRUCTION)
        # 4·√n cells is FAISS's rule of thumb; at least 39 training vectors per cell keep k-means sound.
        nlist = max(1, min(int(4 * math.sqrt(vectors)), vectors // 39))
        return cls("ivf", nlist, min(nprobe, nlist))

    @classmethod
    def for_settings(cls, vectors: int, retrieval: RetrievalSettings) -> DenseParams:
        """What `choose` gives for `vectors` vectors under the retrieval settings."""
        return cls.choose(vectors, retrieval.approximate_above, retrieval.ivf_nprobe, retrieval.approximate,
                          retrieval.hnsw_m, retrieval.hnsw_ef_search)

    def layout(self) -> tuple[Any, ...]:
        """What the file itself is (kind and build-time parameters); the search-time ones may differ."""
        layouts = {"flat": ("flat",), "ivf": ("ivf", self.nlist), "hnsw": ("hnsw", self.m, self.ef_construction)}
        return layouts[self.kind]

    def searching(self, nprobe: int | None = None, ef_search: int | None = None) -> DenseParams:
        """The same index searched with other search-time parameters (None: keep the recorded one)."""
        if self.kind == "ivf" and nprobe is not None:
            return DenseParams("ivf", self.nlist, min(nprobe, self.nlist))
        if self.kind == "hnsw" and ef_search is not None:
            return DenseParams("hnsw", m=self.m, ef_search=ef_search, ef_construction=self.ef_construction)
        return self

    def describe(self) -> str:
        """In words, for messages."""
        if self.kind == "ivf":
            return f"approximate (IVF, {self.nlist} cells)"
        if self.kind == "hnsw":
            return f"approximate (HNSW, {self.m} links per vector)"
        return "exact"

    def as_meta(self) -> dict[str, Any]:
        """The record kept in meta.json."""
        if self.kind == "ivf":
            return {"kind": "ivf", "metric": "inner_product", "nlist": self.nlist, "nprobe": self.nprobe,
                    "train_per_cell": TRAIN_PER_CELL, "train_iterations": TRAIN_ITERATIONS}
        if self.kind == "hnsw":
            return {"kind": "hnsw", "metric": "inner_product", "m": self.m, "ef_construction": self.ef_construction,
                    "ef_search": self.ef_search}
        return {"kind": "flat", "metric": "inner_product"}

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> DenseParams:
        """Read the record back; an index from before the record existed is flat."""
        meta = meta or {"kind": "flat"}
        try:
            if meta.get("kind") == "flat":
                return cls()
            if meta.get("kind") == "ivf":
                return cls("ivf", int(meta["nlist"]), int(meta["nprobe"]))
            if meta.get("kind") == "hnsw":
                return cls("hnsw", m=int(meta["m"]), ef_search=int(meta["ef_search"]),
                           ef_construction=int(meta["ef_construction"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexMismatch(f"meta.json: the dense index record {meta!r} is incomplete or malformed ({exc!r}): "
                                "run `sportello build`") from exc
        raise IndexMismatch(f"unknown dense index kind {meta.get('kind')!r} in meta.json: run `sportello build`")


class DenseIndex:
    """Cosine similarity of a question vector with the passages (a passage may own several rows)."""

    def __init__(self, index: faiss.Index, rows: np.ndarray, params: DenseParams = DenseParams()):
        self.index = index
        self.rows = np.asarray(rows, dtype=np.int32)  # FAISS row -> passage number
        self.params = params
        if params.kind == "ivf":
            self.index.nprobe = params.nprobe
            # Exact cosines of chosen rows (passage_scores) read vectors back by row number.
            if self.index.direct_map.type == faiss.DirectMap.NoMap:
                self.index.make_direct_map()
        elif params.kind == "hnsw":
            self.index.hnsw.efSearch = params.ef_search
        # Passage -> its rows, as one sorted array and offsets (no per-passage Python objects).
        self._order = np.argsort(self.rows, kind="stable").astype(np.int64)
        passages = int(self.rows.max()) + 1 if self.rows.size else 0
        self._offsets = np.zeros(passages + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.rows, minlength=passages), out=self._offsets[1:])

    @classmethod
    def build(cls, vectors: np.ndarray, rows: list[int] | np.ndarray, params: DenseParams = DenseParams()) -> DenseIndex:
        """Index normalised `vectors`; `rows[i]` is the passage vector i stands for."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        d = vectors.shape[1]
        if params.kind == "flat":
            # Inner product on normalised vectors is cosine similarity; a flat index is exact.
            index: faiss.Index = faiss.IndexFlatIP(d)
        elif params.kind == "hnsw":
            # On unit vectors inner product orders neighbours as distance does, so the graph is the
            # one an L2 graph would be, and search returns cosines directly.
            index = faiss.IndexHNSWFlat(d, params.m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = params.ef_construction
        else:
            quantizer = faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, params.nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.spherical = True  # cells of unit vectors: centroids normalised, like the data
            index.cp.seed = TRAIN_SEED
            index.cp.max_points_per_centroid = TRAIN_PER_CELL
            index.cp.niter = TRAIN_ITERATIONS
            sample = vectors
            if len(vectors) > TRAIN_PER_CELL * params.nlist:
                pick = np.random.default_rng(TRAIN_SEED).choice(len(vectors), TRAIN_PER_CELL * params.nlist,
                                                                replace=False)
                sample = vectors[np.sort(pick)]
        # Searches run on one thread (embedding.search_threads); building a large index uses every core.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(max(threads, _cores()))
        try:
            if params.kind == "ivf":
                index.train(sample)
            index.add(vectors)
        finally:
            faiss.omp_set_num_threads(threads)
        return cls(index, np.asarray(rows, dtype=np.int32), params)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    @property
    def size(self) -> int:
        """Number of vectors."""
        return int(self.index.ntotal)

    def sample(self, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to `limit` stored vectors, evenly spread over the index, and the passage of each: for
        measuring how the model's cosines lie over the whole knowledge (the dense floor)."""
        pick = np.unique(np.linspace(0, self.size - 1, num=min(limit, self.size)).astype(np.int64))
        vectors = self.index.reconstruct_batch(pick) if self.size else np.zeros((0, self.dimension), np.float32)
        return np.asarray(vectors, dtype=np.float32), self.rows[pick]

    def save(self, folder: Path) -> None:
        faiss.write_index(self.index, str(folder / INDEX_FILE))
        np.save(folder / ROWS_FILE, self.rows)

    @classmethod
    def load(cls, folder: Path, params: DenseParams = DenseParams(), nprobe: int | None = None,
             ef_search: int | None = None) -> DenseIndex:
        """Read the index and check it is what meta.json says (`params`); `nprobe` (IVF) and
        `ef_search` (HNSW) override the recorded search-time parameters (not properties of the file)."""
        index = faiss.read_index(str(folder / INDEX_FILE))
        rows = np.load(folder / ROWS_FILE)
        where = folder / INDEX_FILE
        found = ("ivf" if isinstance(index, faiss.IndexIVFFlat) else "hnsw" if isinstance(index, faiss.IndexHNSWFlat)
                 else "flat" if isinstance(index, faiss.IndexFlat) else None)
        if found != params.kind:
            raise IndexMismatch(f"{where} is a '{found or type(index).__name__}' index, meta.json records "
                                f"'{params.kind}': run `sportello build`")
        if params.kind == "ivf" and index.nlist != params.nlist:
            raise IndexMismatch(f"{where} has {index.nlist} IVF cells, meta.json records {params.nlist}: "
                                "run `sportello build`")
        if params.kind == "hnsw" and (index.hnsw.nb_neighbors(1), index.hnsw.efConstruction) != (
                params.m, params.ef_construction):
            raise IndexMismatch(f"{where} is an HNSW graph of {index.hnsw.nb_neighbors(1)} links per vector built "
                                f"with a queue of {index.hnsw.efConstruction}, meta.json records {params.m} and "
                                f"{params.ef_construction}: run `sportello build`")
        if index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise IndexMismatch(f"{where} does not rank by inner product: run `sportello build`")
        if len(rows) != index.ntotal:
            raise IndexMismatch(f"{where} holds {index.ntotal} vectors, {folder / ROWS_FILE} maps {len(rows)}: "
                                "run `sportello build`")
        return cls(index, rows, params.searching(nprobe, ef_search))

    def scores(self, vector: np.ndarray, passages: int) -> np.ndarray:
        """Cosine of one query vector (shape 1×d) with each of `passages` passages, its best row;
        -1 for a passage with no row (with IVF: also for one outside the cells searched)."""
        # An HNSW search can only reach its queue's length: score every row on the stored vectors.
        index = faiss.downcast_index(self.index.storage) if self.params.kind == "hnsw" else self.index
        sims, rows = index.search(_query(vector), self.size)
        found = rows[0] >= 0
        scores = np.full(passages, -1.0, dtype=np.float32)
        # Rows come sorted best first, so the first row seen for a passage is its best one.
        np.maximum.at(scores, self.rows[rows[0][found]], sims[0][found])
        return scores

    def top_k(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` passages most similar to one query vector (shape d or 1×d), best first: their
        passage numbers (int64) and cosines (float32, each passage's best row). Fewer when the index
        has fewer passages (or, with IVF, fewer in the cells searched)."""
        query = _query(vector)
        want = min(self.size, max(4 * k, k + 16))  # a FAQ owns several rows: ask for more than k
        while True:
            sims, ids = self.index.search(query, want)
            found = ids[0] >= 0
            passages = self.rows[ids[0][found]].astype(np.int64)
            cosines = sims[0][found]
            # Best first, so a passage's first occurrence is its best row.
            _, first = np.unique(passages, return_index=True)
            if len(first) >= k or want >= self.size or found.sum() < want:
                break
            want = min(self.size, want * 4)
        keep = np.sort(first)[:k]
        return passages[keep], cosines[keep].astype(np.float32)

    def passage_scores(self, vector: np.ndarray, passages: np.ndarray) -> np.ndarray:
        """Exact cosine of one query vector with each of `passages` (passage numbers), its best row;
        -1 for a passage with no row. For candidates found by another ranking (e.g. BM25 top-k)."""
        passages = np.asarray(passages, dtype=np.int64)
        known = (passages >= 0) & (passages < len(self._offsets) - 1)
        safe = np.where(known, passages, 0)
        starts = self._offsets[safe]
        counts = np.where(known, self._offsets[safe + 1] - starts, 0)
        out = np.full(len(passages), -1.0, dtype=np.float32)
        total = int(counts.sum())
        if total == 0:
            return out
        owner = np.repeat(np.arange(len(passages)), counts)
        within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        row_ids = self._order[np.repeat(starts, counts) + within]
        vectors = self.index.reconstruct_batch(row_ids)
        np.maximum.at(out, owner, vectors @ _query(vector)[0])
        return out


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _query(vector: np.ndarray) -> np.ndarray:
    """One query vector as FAISS wants it: float32, C-contiguous, shape 1×d."""
    return np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
