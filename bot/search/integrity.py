"""Is a build folder what its meta.json says? Checked when an index is loaded (at start-up and by
/reload), so a damaged or mixed-up folder is refused with the file named instead of being served.

A build records the SHA-256 of each of its files in meta.json (written last); loading compares every
file with that record, then checks that the parts agree with each other and with meta.json (passage,
vector and document counts, the vectors' dimension). A truncated FAISS file, a passages file from
another build, a missing BM25 file: each is refused with what to run, never served, never a traceback.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from bot.errors import IndexMismatch

FILES = "files"  # the key of the digests in meta.json
META = "meta.json"
_CHUNK = 1 << 20

T = TypeVar("T")


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of a build folder but meta.json, by path relative to the folder."""
    return {p.relative_to(folder).as_posix(): _sha256(p)
            for p in sorted(folder.rglob("*")) if p.is_file() and p.relative_to(folder).as_posix() != META}


def verify_files(folder: Path, meta: dict[str, Any]) -> None:
    """Refuse a folder whose files are not the ones its meta.json records (an index built before the
    record existed has none, and is checked by `verify_parts` only)."""
    recorded = meta.get(FILES)
    if recorded is None:
        return
    if not isinstance(recorded, dict):
        raise IndexMismatch(f"{folder / META}: '{FILES}' is not a record of files: {_REBUILD}")
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {META}
    for name in sorted(set(recorded) - present):
        raise IndexMismatch(f"{folder / name} is missing from the index: {_REBUILD}")
    for name in sorted(present - set(recorded)):
        raise IndexMismatch(f"{folder / name} is not part of this build (meta.json does not list it): {_REBUILD}")
    for name in sorted(recorded):
        if _sha256(folder / name) != recorded[name]:
            raise IndexMismatch(
                f"{folder / name} is damaged or belongs to another build (its SHA-256 is not the one "
                f"meta.json records): {_REBUILD}"
            )


def verify_parts(folder: Path, meta: dict[str, Any], passages: int, vectors: int, dimension: int,
                 rows: np.ndarray, lexical_documents: int, measures: int) -> None:
    """Refuse a loaded index whose parts disagree with each other or with meta.json (`rows`: the
    passage number of each vector)."""
    counts = meta.get("counts") or {}
    model = meta.get("model") or {}
    checks = [
        (counts.get("passages") == passages,
         f"{folder / 'passages.json'} holds {passages} passages, meta.json records {counts.get('passages')}"),
        (counts.get("vectors") == vectors,
         f"{folder / 'dense.faiss'} holds {vectors} vectors, meta.json records {counts.get('vectors')}"),
        (model.get("dimension") in (None, dimension),
         f"{folder / 'dense.faiss'} holds vectors of dimension {dimension}, the model of meta.json "
         f"gives {model.get('dimension')}"),
        (lexical_documents == passages,
         f"{folder / 'lexical'} indexes {lexical_documents} passages, passages.json holds {passages}"),
        (counts.get("measures", measures) == measures,
         f"{folder / 'measures.json'} holds {measures} measures, meta.json records {counts.get('measures')}"),
    ]
    for ok, message in checks:
        if not ok:
            raise IndexMismatch(f"{message}: {_REBUILD}")
    bad = rows[(rows < 0) | (rows >= passages)]
    if bad.size:
        raise IndexMismatch(f"{folder / 'dense_rows.npy'} points to passage {int(bad[0])}, passages.json holds "
                            f"{passages}: {_REBUILD}")


def read(path: Path, reader: Callable[[Path], T]) -> T:
    """`reader(path)`, with any failure to read or parse the file turned into IndexMismatch naming it
    (FAISS says RuntimeError, NumPy ValueError or EOFError, JSON ValueError, a missing file OSError)."""
    try:
        return reader(path)
    except IndexMismatch:
        raise
    except (OSError, ValueError, RuntimeError, EOFError, KeyError, TypeError, AttributeError, IndexError) as exc:
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise IndexMismatch(f"{path} cannot be read ({reason}): the index is damaged; {_REBUILD}") from None


_REBUILD = "run `sportello build`"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
