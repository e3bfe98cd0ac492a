"""Build, save and load the search index: FAISS vectors + BM25 + the passage table + metadata.

On disk, `index/` holds `builds/<id>/` folders and a `current` symlink to the one in use. A build is
written in full under a temporary name, then `current` is switched with one atomic rename, so a
failed build never touches the index in use and a running bot can keep reading the old one.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss  # imported here first, before torch, everywhere: their OpenMP runtimes clash otherwise

from bot import __version__
from bot.config import Settings
from bot.search.embedding import Embedder
from bot.errors import IndexBusy, IndexMismatch, IndexMissing, KnowledgeError
from bot.knowledge.load import Knowledge, knowledge_hash, load_knowledge
from bot.knowledge import sentences
from bot.knowledge.schema import Area
from bot.measures.schema import Measure
from bot.search import analyzer
from bot.search import bridge
from bot.search import embed_cache
from bot.search import integrity
from bot.search.dense import INDEX_FILE as DENSE_FILE, DenseIndex, DenseParams
from bot.search.passages import Passage, passages
from bot.search.bridge import WordBridge
from bot.search import scope as scope_examples
from bot.search import thesaurus
from bot.search.scope import ScopeExamples
from bot.search.lexical import LexicalIndex
from bot.search.thesaurus import Thesaurus

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3  # 2: the analyzer's fingerprint is recorded; 3: measures.json
CURRENT = "current"
BUILDS = "builds"
META = "meta.json"
PASSAGES = "passages.json"
KNOWLEDGE = "knowledge.json"
MEASURES = "measures.json"
LEXICAL = "lexical"
KEEP_BUILDS = 2  # the current build and the one before it


@dataclass
class SearchIndex:
    """A loaded index: everything retrieval needs, in memory."""

    folder: Path
    meta: dict[str, Any]
    passages: list[Passage]
    areas: list[Area]
    synonyms: list[list[str]]
    dense: DenseIndex
    measures: dict[str, Measure]  # by id: measure hits carry their whole record (dates, regions...)
    lexical: LexicalIndex
    bridge: WordBridge | None = None  # English questions' words to the knowledge's (bridge.py)
    scope: ScopeExamples | None = None  # tuning questions judged in or out of scope (scope.py)
    thesaurus: Thesaurus | None = None  # everyday words' synonyms found in the knowledge (thesaurus.py)
    warning: str | None = None  # set when serving the last good index: the knowledge is broken, or not built


@dataclass(frozen=True)
class Fitted:
    """What a build's calibration returns: the fitted model for meta.json, and the judged examples
    its scope signal reads (stored beside the index)."""

    calibration: dict[str, Any]
    scope: ScopeExamples | None = None


Calibrate = Callable[["SearchIndex"], "Fitted | None"]


def build(settings: Settings, embedder: Embedder, progress: bool = False, calibrate: Calibrate | None = None) -> Path:
    """Build the index from the knowledge files and switch it in; return the new build's folder.

    `calibrate`, given the new index before it is switched in, returns the confidence model fitted
    on it (see `service.build_index`); it is saved in meta.json."""
    root = settings.paths.index
    knowledge = load_knowledge(settings.paths.knowledge)  # raises before anything is written
    digest = knowledge_hash(settings.paths.knowledge)
    root.mkdir(parents=True, exist_ok=True)
    with _build_lock(root):
        builds = root / BUILDS
        builds.mkdir(exist_ok=True)
        _remove_leftovers(root)
        # Names sort in build order (old builds are pruned by name): UTC, to the microsecond.
        now = time.time()
        build_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now))}.{int(now * 1e6) % 1_000_000:06d}Z"
        build_id += "-" + uuid.uuid4().hex[:6]
        tmp = builds / f".tmp-{build_id}"
        try:
            _write_build(tmp, knowledge, digest, settings, embedder, progress, calibrate)
            final = builds / build_id
            os.rename(tmp, final)
            _switch_current(root, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _remove_old_builds(root, final)
    logger.info("index built in %s", final)
    return final


def _write_build(
    folder: Path, knowledge: Knowledge, digest: str, settings: Settings, embedder: Embedder, progress: bool,
    calibrate: Calibrate | None = None,
) -> None:
    entries, thesaurus_meta = _read_thesaurus(settings)  # first: a broken file stops the build before any work
    items = passages(knowledge, settings.retrieval.chunk_chars)
    texts: list[str] = []
    rows: list[int] = []
    for number, passage in enumerate(items):
        for t in passage.embedding_texts():
            texts.append(t)
            rows.append(number)
    vectors = _encode_passages(settings, embedder, texts, progress)
    params = DenseParams.for_settings(len(texts), settings.retrieval)
    dense = DenseIndex.build(vectors, rows, params)
    synonyms = knowledge.synonyms
    # Each passage's words, once: BM25 and the bridge's vocabulary both start from them.
    words_of = [analyzer.content_words(p.lexical_text()) for p in items]
    lexical = LexicalIndex.from_words(
        words_of, extra_words={w for group in synonyms for term in group for w in analyzer.content_words(term)})
    words = _bridge(settings, embedder, words_of)
    synonyms_of = Thesaurus.for_knowledge(entries, lexical.stems) if entries is not None else None
    if synonyms_of is not None and thesaurus_meta is not None:
        thesaurus_meta["words"] = len(synonyms_of)
    folder.mkdir(parents=True)
    dense.save(folder)
    lexical.save(folder / LEXICAL)
    if words is not None:
        words.save(folder)
    if synonyms_of is not None:
        synonyms_of.save(folder)
    _write_json(folder / PASSAGES, [dataclasses.asdict(p) for p in items])
    _write_json(folder / KNOWLEDGE, {
        "areas": [a.model_dump() for a in knowledge.areas],
        "synonyms": synonyms,
    })
    _write_json(folder / MEASURES, [m.model_dump(mode="json") for m in knowledge.measures])
    meta = {
        "format_version": FORMAT_VERSION,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sportello_version": __version__,
        "knowledge_hash": digest,
        "knowledge_files": [str(p.relative_to(knowledge.root)) for p in knowledge.files],
        "model": model_meta(settings, embedder, int(vectors.shape[1])),
        "chunk_chars": settings.retrieval.chunk_chars,
        "sentence_splitter": sentences.fingerprint(),
        "analyzer": analyzer.fingerprint(),
        "counts": {
            "passages": len(items),
            "faq": sum(p.kind == "faq" for p in items),
            "document_passages": sum(p.kind == "passage" for p in items),
            "measures": len(knowledge.measures),
            "measure_passages": sum(p.kind == "measure" for p in items),
            "vectors": dense.size,
        },
        "faiss_version": faiss.__version__,
        "dense": params.as_meta(),
        "bridge": {"words": len(words)} if words is not None else None,
        "thesaurus": thesaurus_meta,
    }
    if calibrate is not None:
        fresh = SearchIndex(folder=folder, meta=meta, passages=items, areas=list(knowledge.areas),
                            synonyms=synonyms, dense=dense, measures={m.id: m for m in knowledge.measures},
                            lexical=lexical, bridge=words, thesaurus=synonyms_of)
        fitted = calibrate(fresh)
        if fitted is not None:
            meta["calibration"] = fitted.calibration
            if fitted.scope is not None:
                fitted.scope.save(folder)
                meta["scope"] = fitted.scope.describe()
    # Metadata last: a folder with meta.json is complete. It records each file's SHA-256, so loading
    # can refuse a damaged or mixed-up folder (see integrity.py).
    meta[integrity.FILES] = integrity.digests(folder)
    _write_json(folder / META, meta)


def _encode_passages(settings: Settings, embedder: Embedder, texts: list[str], progress: bool) -> Any:
    """Passage vectors, embedding only the texts the embedding cache beside the builds lacks."""
    return _through_cache(settings, "texts", lambda cache: embed_cache.encode_passages(
        embedder, texts, settings.embedding.passage_prompt, cache, progress))


def _bridge(settings: Settings, embedder: Embedder, words_of: list[list[str]]) -> WordBridge | None:
    """The knowledge's words embedded as questions are (bridge.py), when the settings and the
    backend call for a bridge; words already embedded by an earlier build come from the cache."""
    retrieval = settings.retrieval
    if not retrieval.bridge or bridge.min_cosine(settings.embedding.backend, retrieval.bridge_min_cosine) is None:
        return None
    words = bridge.vocabulary(words_of)
    if not words:
        return None
    vectors = _through_cache(settings, "words", lambda cache: embed_cache.encode_queries(
        embedder, words, settings.embedding.query_prompt, cache))
    return WordBridge(words, vectors)


def _read_thesaurus(settings: Settings) -> tuple[dict[str, set[str]] | None, dict[str, Any] | None]:
    """The thesaurus' entries, and what meta.json records of it: where it comes from and that file's
    SHA-256 (None, None when the setting is off). A missing file gives an index without one, recorded
    as such; an unreadable one stops the build (ThesaurusError, naming the line)."""
    path = settings.retrieval.thesaurus
    if path is None:
        return None, None
    if not path.is_file():
        logger.warning("no thesaurus at %s (Debian: apt-get install mythes-it): the index is built without one", path)
        return None, {"source": str(path), "found": False}
    return thesaurus.read_mythes(path), {"source": str(path), "found": True, "sha256": thesaurus.digest(path)}


def _through_cache(settings: Settings, what: str,
                   encode: Callable[[embed_cache.EmbeddingCache | None], tuple[Any, embed_cache.CacheStats]]) -> Any:
    """`encode`'s vectors, given the embedding cache beside the builds (None when it is off or unusable)."""
    cache = None
    if settings.embedding.cache_mb > 0:
        cache = embed_cache.open_cache(embed_cache.default_path(settings.paths.index),
                                       settings.embedding.cache_mb * 1024 * 1024)
    try:
        vectors, stats = encode(cache)
        if cache is not None:
            cache.prune()
    finally:
        if cache is not None:
            cache.close()
    logger.info("embedded %d of %d distinct %s (%d from the cache)", stats.embedded, stats.distinct, what,
                stats.reused)
    return vectors


def model_meta(settings: Settings, embedder: Embedder, dimension: int) -> dict[str, Any]:
    """What identifies the model an index was built with."""
    return {
        "backend": settings.embedding.backend,
        "name": settings.embedding.model,
        "weights_sha256": embedder.weights_sha256,
        "dimension": dimension,
        "query_prompt": settings.embedding.query_prompt,
        "passage_prompt": settings.embedding.passage_prompt,
    }


def current_folder(root: Path) -> Path:
    """The folder of the index in use; IndexMissing if there is none."""
    link = root / CURRENT
    if not (link / META).is_file():
        raise IndexMissing(f"no index in {root}: run `sportello build`")
    return link.resolve()


def read_meta(root: Path) -> dict[str, Any]:
    return json.loads((current_folder(root) / META).read_text(encoding="utf-8"))


def check(meta: dict[str, Any], settings: Settings, embedder: Embedder | None,
          serve_unbuilt: bool = False) -> str | None:
    """Refuse an index built with another format, model or knowledge.

    Exceptions, on purpose, where the index is the last good state and is served with a warning
    (returned) instead of being refused: the knowledge changed but no longer validates (a typo in a
    file being edited must not take the bot down); and, with `serve_unbuilt` (the bot's start-up),
    the knowledge changed validly but was not built yet (a restart must not take the bot down either:
    it serves the last build, as a running bot keeps doing). Elsewhere (`sportello ask`,
    `/reload`) a valid change must be built before it is served. A thesaurus file other than the one
    the index was built with is a warning too (`thesaurus_drift`); several warnings come one per line.
    """
    if meta.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(
            f"the index has format {meta.get('format_version')}, this Sportello reads format {FORMAT_VERSION}: "
            "run `sportello build`"
        )
    model = meta.get("model", {})
    if model.get("backend", "sentence-transformers") != settings.embedding.backend:
        raise IndexMismatch(
            f"the index was built with the embedding backend '{model.get('backend', 'sentence-transformers')}', "
            f"the settings ask for '{settings.embedding.backend}': run `sportello build` (or set embedding.backend back)"
        )
    if model.get("name") != settings.embedding.model:
        raise IndexMismatch(
            f"the index was built with model '{model.get('name')}', the settings ask for "
            f"'{settings.embedding.model}': run `sportello build` (or set embedding.model back)"
        )
    if embedder is not None and model.get("weights_sha256") != embedder.weights_sha256:
        raise IndexMismatch(
            f"the index was built with other weights of model '{model.get('name')}': run `sportello build`"
        )
    prompts = (settings.embedding.query_prompt, settings.embedding.passage_prompt)
    if (model.get("query_prompt", ""), model.get("passage_prompt", "")) != prompts:
        raise IndexMismatch("the index was built with other model prompts: run `sportello build`")
    if meta.get("chunk_chars") != settings.retrieval.chunk_chars:
        raise IndexMismatch(
            f"the index cut documents into passages of {meta.get('chunk_chars')} characters, the settings ask "
            f"for {settings.retrieval.chunk_chars} (retrieval.chunk_chars): run `sportello build`"
        )
    built = DenseParams.from_meta(meta.get("dense"))
    wanted = DenseParams.for_settings(int(meta.get("counts", {}).get("vectors", 0)), settings.retrieval)
    if built.layout() != wanted.layout():
        raise IndexMismatch(
            f"{settings.paths.index / CURRENT / DENSE_FILE} is {built.describe()}, the settings ask for "
            f"{wanted.describe()} (retrieval.approximate_above, retrieval.approximate, retrieval.hnsw_m): "
            "run `sportello build`"
        )
    if meta.get("sentence_splitter") != sentences.fingerprint():
        raise IndexMismatch(
            "the index cut documents into sentences by another rule (the sentence splitter changed in this "
            "version of Sportello): run `sportello build`"
        )
    if meta.get("analyzer") != analyzer.fingerprint():
        raise IndexMismatch(
            "the index was built with another text analyzer (stop words, stemmer or normalisation changed "
            "in this version of Sportello): run `sportello build`"
        )
    return _joined(_knowledge_warning(meta, settings, serve_unbuilt), thesaurus_drift(meta, settings))


def _joined(*warnings: str | None) -> str | None:
    found = [w for w in warnings if w]
    return "\n".join(found) if found else None


def _knowledge_warning(meta: dict[str, Any], settings: Settings, serve_unbuilt: bool) -> str | None:
    """The warning for knowledge files changed since the build that are served as built (broken, or
    `serve_unbuilt`: see `check`); None when they did not change; IndexMismatch when they must be built first."""
    knowledge = settings.paths.knowledge
    if knowledge.is_dir() and meta.get("knowledge_hash") != knowledge_hash(knowledge):
        try:
            load_knowledge(knowledge)
        except KnowledgeError as exc:
            count = len(exc.problems)
            return (
                f"the knowledge files in {knowledge} have {count} problem{'s' if count != 1 else ''} "
                f"(run `sportello validate`): serving the last good index, built {meta.get('built_at')}"
            )
        if serve_unbuilt:
            return (
                f"the knowledge files in {knowledge} changed since the index in use was built "
                f"({meta.get('built_at')}): serving that index, without the changes. Run `sportello build`, "
                "then /reload (or restart), to serve them"
            )
        raise IndexMismatch(
            f"the index was built from other knowledge: the files in {knowledge} changed "
            "since. Run `sportello validate`, then `sportello build`"
        )
    return None


def thesaurus_drift(meta: dict[str, Any], settings: Settings) -> str | None:
    """How the thesaurus file the settings name differs from the one the index was built with, None
    when it does not. Not a reason to refuse the index: it keeps, in thesaurus.json, the synonyms it
    was built with, so its answers stay consistent; only the next build reads the file again."""
    if "thesaurus" not in meta:
        return None  # not a record of this format: `check` refuses it
    path = settings.retrieval.thesaurus
    recorded = meta["thesaurus"] or {}  # None: built with the setting off
    built_with = recorded.get("found") is True
    if path is None:
        if built_with:
            return (f"retrieval.thesaurus is off, but the index in use was built with {recorded.get('source')} and "
                    "still widens questions with its synonyms: run `sportello build` to build without")
        return None
    if not path.is_file():
        if built_with:
            return (f"no thesaurus at {path} any more: the index in use keeps the synonyms it was built with, "
                    "the next build will have none (Debian: apt-get install mythes-it)")
        return None
    if not built_with:
        return (f"a thesaurus is now at {path}, but the index in use was built without one: "
                "run `sportello build` to widen questions with it")
    if recorded.get("source") != str(path) or recorded.get("sha256") != thesaurus.digest(path):
        return (f"the thesaurus at {path} is not the file the index in use was built with "
                f"({recorded.get('source')}, built {meta.get('built_at')}): it keeps the synonyms of that one until "
                "`sportello build`")
    return None


def load(settings: Settings, embedder: Embedder | None, serve_unbuilt: bool = False) -> SearchIndex:
    """Load the index in use, after checking it matches the settings, model and knowledge, and that
    its files are the ones its build wrote (a damaged or mixed-up folder is refused, naming the file,
    whatever `serve_unbuilt` says: see `check`)."""
    folder = current_folder(settings.paths.index)
    meta = integrity.read(folder / META, _read_json)
    if not isinstance(meta, dict):
        raise IndexMismatch(f"{folder / META} is not an index record: run `sportello build`")
    warning = check(meta, settings, embedder, serve_unbuilt)  # reported by the caller (CLI message, bot log)
    integrity.verify_files(folder, meta)
    # Any file that still cannot be parsed (an index from before the digests) is named, not a traceback.
    items = integrity.read(folder / PASSAGES, _read_passages)
    areas, synonyms = integrity.read(folder / KNOWLEDGE, _read_knowledge)
    dense = integrity.read(folder / DENSE_FILE, lambda _: DenseIndex.load(
        folder, DenseParams.from_meta(meta.get("dense")), settings.retrieval.ivf_nprobe,
        settings.retrieval.hnsw_ef_search))
    measures = integrity.read(folder / MEASURES, _read_measures)
    lexical = integrity.read(folder / LEXICAL, LexicalIndex.load)
    words = integrity.read(folder / bridge.FILE, WordBridge.load) if meta.get("bridge") else None
    if words is not None and (len(words) != meta["bridge"].get("words") or words.vectors.shape[1] != dense.dimension):
        raise IndexMismatch(f"{folder / bridge.FILE} holds {len(words)} words of dimension {words.vectors.shape[1]}, "
                            f"meta.json records {meta['bridge'].get('words')} and the vectors {dense.dimension}: "
                            "run `sportello build`")
    examples = integrity.read(folder / scope_examples.FILE, ScopeExamples.load) if meta.get("scope") else None
    if examples is not None and (len(examples) != meta["scope"].get("examples")
                                 or examples.vectors.shape[1] != dense.dimension):
        raise IndexMismatch(f"{folder / scope_examples.FILE} holds {len(examples)} examples of dimension "
                            f"{examples.vectors.shape[1]}, meta.json records {meta['scope'].get('examples')} and "
                            f"the vectors {dense.dimension}: run `sportello build`")
    recorded = meta.get("thesaurus") or {}
    synonyms_of = (integrity.read(folder / thesaurus.FILE, Thesaurus.load) if recorded.get("found") else None)
    if synonyms_of is not None and len(synonyms_of) != recorded.get("words"):
        raise IndexMismatch(f"{folder / thesaurus.FILE} holds {len(synonyms_of)} words, meta.json records "
                            f"{recorded.get('words')}: run `sportello build`")
    integrity.verify_parts(folder, meta, passages=len(items), vectors=dense.size, dimension=dense.dimension,
                           rows=dense.rows, lexical_documents=int(lexical.bm25.scores.get("num_docs", -1)),
                           measures=len(measures))
    return SearchIndex(folder=folder, meta=meta, passages=items, areas=areas, synonyms=synonyms, dense=dense,
                       measures=measures, lexical=lexical, bridge=words, scope=examples,
                       thesaurus=synonyms_of, warning=warning)


def _read_passages(path: Path) -> list[Passage]:
    return [Passage(**p) for p in _read_json(path)]  # lists become tuples in Passage


def _read_knowledge(path: Path) -> tuple[list[Area], list[list[str]]]:
    extra = _read_json(path)
    return [Area.model_validate(a) for a in extra["areas"]], [list(group) for group in extra["synonyms"]]


def _read_measures(path: Path) -> dict[str, Measure]:
    return {m["id"]: Measure.model_validate(m) for m in _read_json(path)}


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def _switch_current(root: Path, final: Path) -> None:
    # A symlink replaced with rename() is atomic: readers see either the old build or the new one.
    tmp_link = root / f".{CURRENT}-{final.name}"
    os.symlink(Path(BUILDS) / final.name, tmp_link)
    os.replace(tmp_link, root / CURRENT)


def _remove_old_builds(root: Path, keep: Path) -> None:
    builds = sorted((p for p in (root / BUILDS).iterdir() if not p.name.startswith(".")), key=lambda p: p.name)
    for old in [p for p in builds if p != keep][: max(0, len(builds) - KEEP_BUILDS)]:
        shutil.rmtree(old, ignore_errors=True)


def _remove_leftovers(root: Path) -> None:
    """Remove what a build killed mid-way left (a half-written `.tmp-*` folder, a `.current-*` link
    never renamed): only called under the build lock, so no running build owns them."""
    for tmp in (root / BUILDS).glob(".tmp-*"):
        logger.info("removing %s, left by an interrupted build", tmp)
        shutil.rmtree(tmp, ignore_errors=True)
    for link in root.glob(f".{CURRENT}-*"):
        link.unlink(missing_ok=True)


class _build_lock:
    """An exclusive lock on the index folder, so two builds never interleave."""

    def __init__(self, root: Path):
        self.path = root / ".build.lock"
        self.fh = None

    def __enter__(self) -> None:
        self.fh = self.path.open("w")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.close()
            raise IndexBusy(f"another build is running on {self.path.parent}; try again when it ends") from None

    def __exit__(self, *exc: object) -> None:
        assert self.fh is not None
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()
