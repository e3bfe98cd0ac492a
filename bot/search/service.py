"""Open the search for a settings object: the one way the CLI, the bot and the benchmarks get a
Retriever. Prints nothing; what a person should hear comes back as warnings."""

from __future__ import annotations

from collections.abc import Callable

from bot.config import Settings
from bot.errors import IndexMissing
from bot.search import index as search_index
from bot.search.embedding import Embedder
from bot.search.retriever import Retriever


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
        search_index.build(settings, embedder, progress=progress)
        retriever = Retriever.open(settings, embedder)
    return retriever, [retriever.index.warning] if retriever.index.warning else []
