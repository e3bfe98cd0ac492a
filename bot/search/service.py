"""Build and open the search for a settings object: the one way the CLI, the bot, the tests and the
benchmarks build an index and get a Retriever. Prints nothing; what a person should hear comes back
as warnings."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bot import evaluation
from bot.config import Settings
from bot.errors import IndexMissing
from bot.search import embed_cache
from bot.search import index as search_index
from bot.search.embedding import Embedder
from bot.search.index import Fitted, SearchIndex
from bot.search.retriever import Retriever, clean_question, ranking_settings
from bot.search.scope import ScopeExamples


def open_retriever(
    settings: Settings,
    embedder: Embedder | None = None,
    build_if_missing: bool = False,
    before_build: Callable[[], None] | None = None,
    progress: bool = False,
) -> tuple[Retriever, list[str]]:
    """The retriever over the index in use, and warnings to pass on (e.g. serving the last good
    index while the knowledge files are broken). With `build_if_missing`, a missing index is built
    first (`before_build` is called just before, to tell the user why it takes a while)."""
    embedder = embedder or Embedder(settings.embedding)
    try:
        retriever = Retriever.open(settings, embedder)
    except IndexMissing:
        if not build_if_missing:
            raise
        if before_build is not None:
            before_build()
        build_index(settings, embedder, progress=progress)
        retriever = Retriever.open(settings, embedder)
    return retriever, [retriever.index.warning] if retriever.index.warning else []


def build_index(settings: Settings, embedder: Embedder, progress: bool = False) -> Path:
    """Build the index and switch it in, with the confidence model fitted on the tuning sets against
    this very knowledge: as the knowledge grows, what "confident" means is measured again."""
    return search_index.build(settings, embedder, progress=progress, calibrate=calibrator(settings, embedder))


def calibrator(settings: Settings, embedder: Embedder) -> Callable[[SearchIndex], Fitted | None]:
    """A function that fits the calibration on a freshly built index, or returns None (and the
    settings' calibration applies) when there are no tuning sets with both kinds of question."""
    files = [settings.paths.knowledge / name for name in settings.retrieval.calibration_sets]
    files = [f for f in files if f.is_file()]

    def fit(index: SearchIndex) -> Fitted | None:
        if not files:
            return None
        items = evaluation.load_items(files)
        if not any(i.in_scope for i in items) or all(i.in_scope for i in items):
            return None
        manual = settings.retrieval.model_copy(update={"calibration_from": "settings"})
        # The tuning questions rarely change: their vectors come from the embedding cache (one model
        # call for those it lacks), so a rebuild after a small edit does not embed them all again.
        cache = (embed_cache.default_path(settings.paths.index) if settings.embedding.cache_mb > 0 else None)
        questions = [clean_question(i.question) for i in items]
        # The English questions' words the bridge looks up are embedded (and cached) with them.
        words = [w for q in questions for w in index.bridge.unknown_words(q, index.lexical.stems)] if index.bridge else []
        queries = embed_cache.known_queries(embedder, questions + words, settings.embedding.query_prompt, cache,
                                            settings.embedding.cache_mb * 1024 * 1024)
        # The tuning questions, judged, become the examples of the scope signal (scope.py).
        examples = (ScopeExamples(questions, np.array([i.in_scope for i in items]), queries.encode_queries(questions))
                    if settings.retrieval.scope_examples else None)
        index = dataclasses.replace(index, scope=examples)
        retriever = Retriever(index, queries, manual, settings.measures)  # type: ignore[arg-type]
        fitted = evaluation.calibrate(retriever, items)
        fitted["fitted_on"] = [f.relative_to(settings.paths.knowledge).as_posix() for f in files]
        fitted["questions"] = len(items)
        fitted["ranking"] = ranking_settings(settings.retrieval)  # what the fit depends on (retriever.py)
        return Fitted(fitted, examples)

    return fit
