"""The scope signal: a question's resemblance to judged out-of-scope examples rather than in-scope ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.errors import IndexMismatch
from bot.search import scope
from bot.search.embedding import Embedder
from bot.search.index import META, current_folder, load
from bot.search.retriever import Retriever
from bot.search.scope import ScopeExamples
from bot.search.service import build_index
from conftest import make_settings


def _unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def _examples(neighbours: int = 2, scale: float = 20.0) -> ScopeExamples:
    """Out-of-scope examples around the first axis, in-scope ones around the second."""
    questions = ["fuori uno", "fuori due", "dentro uno", "dentro due", "dentro tre"]
    vectors = np.stack([_unit(1, 0.1, 0), _unit(1, 0, 0.1), _unit(0.1, 1, 0), _unit(0, 1, 0.1), _unit(0.1, 1, 0.1)])
    return ScopeExamples(questions, np.array([False, False, True, True, True]), vectors, neighbours, scale)


def test_a_question_near_the_out_of_scope_examples_gets_a_positive_signal() -> None:
    examples = _examples()
    outside = examples.signal(_unit(1, 0.05, 0.05), "qualcosa di fuori")
    inside = examples.signal(_unit(0.05, 1, 0.05), "qualcosa di dentro")
    assert 0 < outside <= 1.0
    assert -1.0 <= inside < 0


def test_the_signal_is_the_scaled_difference_of_the_nearest_cosines_clipped() -> None:
    examples = _examples(neighbours=1)
    question = _unit(0.6, 0.8, 0.0)
    sims = examples.vectors @ question
    expected = np.clip((sims[:2].max() - sims[2:].max()) * 20.0, -1, 1)
    assert examples.signal(question, "altro") == pytest.approx(float(expected), abs=1e-6)
    far = ScopeExamples(["a", "b"], np.array([False, True]), np.stack([_unit(1, 0, 0), _unit(0, 1, 0)]), 1, 20.0)
    assert far.signal(_unit(1, 0, 0), "vicino ad a") == 1.0


def test_an_example_identical_to_the_question_is_left_out() -> None:
    """Otherwise each tuning question would find itself at cosine 1 while the calibration is fitted."""
    examples = _examples(neighbours=1, scale=1.0)  # unclipped
    vector = examples.vectors[0]
    with_itself = examples.signal(vector, "una domanda nuova")
    without = examples.signal(vector, "  Fuori UNO ")  # the same question, written differently
    assert with_itself > without
    lonely = ScopeExamples(["sola fuori", "dentro"], np.array([False, True]), np.stack([_unit(1, 0), _unit(0, 1)]))
    assert lonely.signal(_unit(1, 0), "sola fuori") == 0.0  # no out-of-scope example left


def test_fewer_examples_than_neighbours_are_averaged_as_they_are() -> None:
    examples = _examples(neighbours=50)
    assert 0 < examples.signal(_unit(1, 0, 0), "fuori") <= 1.0


def test_mismatched_examples_are_refused() -> None:
    with pytest.raises(ValueError, match="2 questions, 3 labels"):
        ScopeExamples(["a", "b"], np.array([True, False, True]), np.zeros((2, 3)))


def test_the_examples_file_round_trips(tmp_path: Path) -> None:
    examples = _examples(neighbours=3)
    examples.save(tmp_path)
    loaded = ScopeExamples.load(tmp_path / scope.FILE)
    assert loaded.questions == examples.questions
    assert loaded.in_scope.tolist() == examples.in_scope.tolist()
    assert (loaded.neighbours, loaded.scale) == (3, 20.0)
    question = _unit(0.7, 0.3, 0.1)
    assert loaded.signal(question, "x") == pytest.approx(examples.signal(question, "x"), abs=0.02)


# --- with the real model, on the shipped knowledge -------------------------------------------------

def test_the_build_stores_the_tuning_questions_as_examples(built_settings: Settings, retriever: Retriever) -> None:
    folder = current_folder(built_settings.paths.index)
    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    fitted = meta["calibration"]
    assert meta["scope"]["examples"] == fitted["questions"] == len(retriever.index.scope)
    assert 0 < meta["scope"]["in_scope"] < meta["scope"]["examples"]
    # The fitted model learned that resembling the out-of-scope examples means declining.
    assert fitted["calibration"]["scope"] < 0


def test_questions_like_the_judged_ones_lean_their_way(retriever: Retriever) -> None:
    """Paraphrases (not copies) of tuning questions: like "quando si paga l'imu quest'anno" (out of
    scope) and "chi ha firmato il protocollo" (in scope)."""
    outside = retriever.search("entro che giorno va pagata l'imu quest'anno").signals["scope"]
    inside = retriever.search("da chi è stato firmato il protocollo?").signals["scope"]
    assert outside > 0 > inside


def test_without_examples_there_is_no_scope_signal(tmp_path: Path, embedder: Embedder) -> None:
    settings = make_settings(tmp_path, SPORTELLO_RETRIEVAL__SCOPE_EXAMPLES="false")
    build_index(settings, embedder)
    folder = current_folder(settings.paths.index)
    assert not (folder / scope.FILE).exists()
    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    assert "scope" not in meta and meta["calibration"]["calibration"]["scope"] == 0.0
    assert "scope" not in Retriever.open(settings, embedder).search("chi ha firmato il protocollo").signals


def test_an_index_whose_examples_disagree_with_its_record_is_refused(built_settings: Settings, embedder: Embedder,
                                                                     tmp_path: Path) -> None:
    root = tmp_path / "index"
    shutil.copytree(built_settings.paths.index, root, symlinks=True)
    settings = built_settings.model_copy(update={"paths": built_settings.paths.model_copy(update={"index": root})})
    folder = current_folder(root)
    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    meta["scope"]["examples"] -= 1
    (folder / META).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(IndexMismatch, match=scope.FILE):
        load(settings, embedder)
