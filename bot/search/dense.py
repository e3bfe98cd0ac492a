"""Dense retrieval: normalised embeddings in an exact FAISS inner-product index, saved as plain files.

Same verbs as the lexical index: build, save, load, scores. The model itself lives in `embedding`.
"""

from __future__ import annotations

from pathlib import Path

import faiss  # before torch, everywhere: their OpenMP runtimes clash otherwise
import numpy as np

INDEX_FILE = "dense.faiss"
ROWS_FILE = "dense_rows.npy"


class DenseIndex:
    """Cosine similarity of a question vector with every passage (a passage may own several rows)."""

    def __init__(self, index: faiss.Index, rows: np.ndarray):
        self.index = index
        self.rows = rows  # FAISS row -> passage number (a FAQ entry has one row per phrasing)

    @classmethod
    def build(cls, vectors: np.ndarray, rows: list[int]) -> DenseIndex:
        """Index normalised `vectors`; `rows[i]` is the passage vector i stands for."""
        # Inner product on normalised vectors is cosine similarity; an exact flat index is both
        # fastest to build and exact at this size.
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return cls(index, np.asarray(rows, dtype=np.int32))

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    @property
    def size(self) -> int:
        """Number of vectors."""
        return int(self.index.ntotal)

    def save(self, folder: Path) -> None:
        faiss.write_index(self.index, str(folder / INDEX_FILE))
        np.save(folder / ROWS_FILE, self.rows)

    @classmethod
    def load(cls, folder: Path) -> DenseIndex:
        return cls(faiss.read_index(str(folder / INDEX_FILE)), np.load(folder / ROWS_FILE))

    def scores(self, vector: np.ndarray, passages: int) -> np.ndarray:
        """Cosine of one query vector (shape 1×d) with each of `passages` passages, its best row;
        -1 for a passage with no row."""
        sims, rows = self.index.search(vector, self.size)
        scores = np.full(passages, -1.0, dtype=np.float32)
        # Rows come sorted best first, so the first row seen for a passage is its best one.
        np.maximum.at(scores, self.rows[rows[0]], sims[0])
        return scores
