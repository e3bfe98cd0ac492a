"""An embedding cache beside the builds, so `sportello build` embeds only new or changed texts.

One SQLite file (`index/cache/embeddings.sqlite3` by default) maps a key to a passage vector, or to
the vector of a tuning question (a build's calibration searches every one of them). The key is the
SHA-256 of everything that decides the vector: cache format, backend, model name, the weights'
SHA-256, the prompt (and, for a question, that it is one) and the text itself. Another model, other weights or another prompt give
other keys, so a stale vector can never be served; the old ones simply age out.

The file is bounded (`embedding.cache_mb`): after each build the least recently used vectors go
until it fits. "Recently" counts uses, not clock time: each opening (a build opens it twice: for
passages, then for the tuning questions) is one generation.

The cache only saves time. A missing, unreadable or corrupt file is set aside with a warning and the
build embeds everything, exactly as without a cache.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1  # part of every key: a change of layout or meaning starts afresh
CACHE_FOLDER = "cache"
CACHE_FILE = "embeddings.sqlite3"
# SQLite's own overhead per row (key, generation, page slack), counted against the size bound.
_ROW_OVERHEAD = 64


class PassageEncoder(Protocol):
    """What the cache needs of an Embedder: its identity and passage (and question) encoding."""

    backend: str
    name: str
    weights_sha256: str

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


@dataclass
class CacheStats:
    """What one cached encoding did: texts asked for, distinct texts, and how many were embedded."""

    texts: int = 0
    distinct: int = 0
    embedded: int = 0

    @property
    def reused(self) -> int:
        return self.distinct - self.embedded


def default_path(index_root: Path) -> Path:
    """Where the cache lives for an index folder: beside `builds/`, never inside one build."""
    return index_root / CACHE_FOLDER / CACHE_FILE


def namespace(embedder: PassageEncoder, prompt: str, kind: str = "passage") -> bytes:
    """The part of the key that names the model: backend, model, weights, prompt (and "query" for
    question vectors: an engine may prompt questions itself, whatever the settings' prompt)."""
    parts = [f"sportello-embedding-cache/{CACHE_FORMAT}", embedder.backend, embedder.name,
             embedder.weights_sha256, prompt]
    if kind != "passage":  # passage keys stay as they were before question vectors were cached
        parts.append(kind)
    # Length-prefixed, so no two different tuples can collide by concatenation.
    return b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts)


def key(space: bytes, text: str) -> bytes:
    """The cache key of one text under a model's namespace."""
    return hashlib.sha256(space + text.encode("utf-8")).digest()


class EmbeddingCache:
    """Passage vectors by key, in one SQLite file, at most `max_bytes` large after `prune`."""

    def __init__(self, path: Path, max_bytes: int):
        self.path = path
        self.max_bytes = max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._open()
        self.generation = self._next_generation()

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.OperationalError:  # locked, unwritable: not the file's fault, keep it
            raise
        except sqlite3.DatabaseError as exc:
            # A cache is disposable: a broken file must not stop a build, nor be trusted.
            aside = self.path.with_name(self.path.name + ".broken")
            logger.warning("embedding cache %s is unreadable (%s): moved to %s, starting an empty one",
                           self.path, exc, aside)
            self.path.replace(aside)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30.0)
        try:
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL, "
                       "used INTEGER NOT NULL) WITHOUT ROWID")
            db.execute("CREATE INDEX IF NOT EXISTS vectors_used ON vectors (used)")
            db.execute("CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            db.execute("SELECT count(*) FROM vectors").fetchone()  # reads a page: a corrupt file fails here
            db.commit()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _next_generation(self) -> int:
        row = self._db.execute("SELECT value FROM state WHERE name = 'generation'").fetchone()
        generation = (row[0] if row else 0) + 1
        self._db.execute("INSERT OR REPLACE INTO state VALUES ('generation', ?)", (generation,))
        self._db.commit()
        return generation

    def close(self) -> None:
        self._db.close()

    def get_many(self, keys: Sequence[bytes], dimension: int | None = None) -> dict[bytes, np.ndarray]:
        """The cached vectors of those `keys` that are present (marking them used in this generation)."""
        found: dict[bytes, np.ndarray] = {}
        for start in range(0, len(keys), 500):  # SQLite bounds the number of parameters of a statement
            chunk = list(keys[start:start + 500])
            marks = ",".join("?" * len(chunk))
            for k, blob in self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk):
                vector = np.frombuffer(blob, dtype=np.float32)
                if dimension is None or vector.shape[0] == dimension:
                    found[bytes(k)] = vector
            self._db.execute(f"UPDATE vectors SET used = ? WHERE key IN ({marks})", [self.generation, *chunk])
        self._db.commit()
        return found

    def put_many(self, items: Sequence[tuple[bytes, np.ndarray]]) -> None:
        """Store vectors (float32) under their keys."""
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes(), self.generation) for k, v in items]
        self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
        self._db.commit()

    def size_bytes(self) -> int:
        """The vectors' bytes plus a fixed allowance per row (what the bound counts)."""
        count, total = self._db.execute("SELECT count(*), coalesce(sum(length(vector)), 0) FROM vectors").fetchone()
        return int(total) + _ROW_OVERHEAD * int(count)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def prune(self) -> int:
        """Drop least recently used vectors until the cache fits `max_bytes`; return how many went
        (0, with a warning, if the file cannot be changed now: the next build tries again)."""
        try:
            return self._prune()
        except sqlite3.Error as exc:
            logger.warning("embedding cache %s could not be trimmed (%s)", self.path, exc)
            return 0

    def _prune(self) -> int:
        excess = self.size_bytes() - self.max_bytes
        if excess <= 0:
            return 0
        dropped = 0
        # Oldest generations first; within the oldest one that must be split, any rows will do.
        for used, count, total in self._db.execute(
            "SELECT used, count(*), sum(length(vector)) FROM vectors GROUP BY used ORDER BY used"
        ).fetchall():
            size = int(total) + _ROW_OVERHEAD * int(count)
            if size <= excess:
                self._db.execute("DELETE FROM vectors WHERE used = ?", (used,))
                excess -= size
                dropped += int(count)
            else:
                per_row = size / count
                n = int(np.ceil(excess / per_row))
                self._db.execute("DELETE FROM vectors WHERE key IN (SELECT key FROM vectors WHERE used = ? "
                                 "ORDER BY key LIMIT ?)", (used, n))
                dropped += n
                excess = 0
            if excess <= 0:
                break
        self._db.commit()
        self._db.execute("VACUUM")  # give the space back to the file system: the bound is on the file
        return dropped


def open_cache(path: Path, max_bytes: int) -> EmbeddingCache | None:
    """The cache at `path`, or None (with a warning) when it cannot be opened: builds go on without it."""
    try:
        return EmbeddingCache(path, max_bytes)
    except (sqlite3.Error, OSError) as exc:
        logger.warning("embedding cache %s cannot be used (%s): embedding every text", path, exc)
        return None


def encode_passages(
    embedder: PassageEncoder, texts: list[str], prompt: str, cache: EmbeddingCache | None,
    progress: bool = False,
) -> tuple[np.ndarray, CacheStats]:
    """Passage vectors for `texts`, embedding only those the cache lacks (each distinct text once).

    `prompt` is the passage prompt the embedder applies (it is part of the key)."""
    return _encode(embedder, texts, prompt, cache, "passage", progress)


def encode_queries(
    embedder: PassageEncoder, texts: list[str], prompt: str, cache: EmbeddingCache | None,
) -> tuple[np.ndarray, CacheStats]:
    """Question vectors for `texts` (with the query prompt `prompt`), embedding only those the cache
    lacks, all in one model call: what a build's calibration asks of the tuning questions."""
    return _encode(embedder, texts, prompt, cache, "query", False)


def _encode(
    embedder: PassageEncoder, texts: list[str], prompt: str, cache: EmbeddingCache | None, kind: str,
    progress: bool,
) -> tuple[np.ndarray, CacheStats]:
    def embed(some: list[str]) -> np.ndarray:
        if kind == "query":
            return embedder.encode_queries(some)
        return embedder.encode_passages(some, progress=progress)

    stats = CacheStats(texts=len(texts))
    if cache is None or not texts:
        vectors = embed(texts)
        stats.distinct = stats.embedded = len(texts)
        return vectors, stats
    space = namespace(embedder, prompt, kind)
    keys = [key(space, t) for t in texts]
    distinct = list(dict.fromkeys(keys))
    stats.distinct = len(distinct)
    try:
        found = cache.get_many(distinct)
    except sqlite3.DatabaseError as exc:
        logger.warning("embedding cache %s failed (%s): embedding every text", cache.path, exc)
        vectors = embed(texts)
        stats.distinct = stats.embedded = len(texts)
        return vectors, stats
    dims = {v.shape[0] for v in found.values()}
    if len(dims) > 1:  # cannot happen with a sound key; never mix vectors of different sizes
        found = {}
    text_of = dict(zip(keys, texts))
    missing = [k for k in distinct if k not in found]
    stats.embedded = len(missing)
    if missing:
        fresh = embed([text_of[k] for k in missing])
        if found and fresh.shape[1] != next(iter(dims)):
            # Vectors of another size under the same key: trust only fresh ones, embed everything.
            return _encode(embedder, texts, prompt, None, kind, progress)
        new = list(zip(missing, fresh))
        try:
            cache.put_many(new)
        except sqlite3.DatabaseError as exc:
            logger.warning("embedding cache %s could not be written (%s)", cache.path, exc)
        found.update(new)
    return np.ascontiguousarray(np.stack([found[k] for k in keys]), dtype=np.float32), stats


class KnownQueries:
    """An embedder whose vectors for some questions are already at hand (embedded together, or read
    from the cache): those are served from memory, any other question goes to the model."""

    def __init__(self, embedder: PassageEncoder, questions: list[str], vectors: np.ndarray):
        self.embedder = embedder
        self.vectors = dict(zip(questions, np.asarray(vectors, dtype=np.float32)))

    def __getattr__(self, name: str) -> object:
        return getattr(self.embedder, name)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Vectors for questions, from memory when every one is known."""
        if texts and all(t in self.vectors for t in texts):
            return np.stack([self.vectors[t] for t in texts])
        return self.embedder.encode_queries(texts)


def known_queries(embedder: PassageEncoder, questions: list[str], prompt: str, path: Path | None,
                  max_bytes: int) -> KnownQueries:
    """`embedder` with `questions` embedded beforehand in one call, through the cache at `path`
    (None: no cache), so a rebuild's calibration embeds only questions it has not seen."""
    cache = open_cache(path, max_bytes) if path is not None else None
    try:
        vectors, stats = encode_queries(embedder, list(dict.fromkeys(questions)), prompt, cache)
    finally:
        if cache is not None:
            cache.close()
    logger.info("embedded %d of %d questions (%d from the cache)", stats.embedded, stats.distinct, stats.reused)
    return KnownQueries(embedder, list(dict.fromkeys(questions)), vectors)
