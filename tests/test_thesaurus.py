"""The general Italian thesaurus (bot/search/thesaurus.py): reading MyThes files, keeping what the
knowledge holds, widening questions, and what a build does with a good, missing or broken file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from bot.errors import IndexMismatch
from bot.search import thesaurus
from bot.search.embedding import Embedder
from bot.search.index import META, current_folder, load, read_meta, thesaurus_drift
from bot.search.retriever import Retriever
from bot.search.service import build_index
from bot.search.thesaurus import Thesaurus, ThesaurusError, read_mythes
from conftest import KNOWLEDGE

SMALL = """UTF-8
fabbrica|2
(s.f.)|costruzione|edificio
(s.f.)|manifattura|officina|punto di lavoro
attività|1
(s.f.)|lavoro|Operosità
"""


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "th_test.dat"
    path.write_bytes(text.encode(encoding))
    return path


def test_a_mythes_file_is_read_as_words_and_single_word_synonyms(tmp_path: Path) -> None:
    found = read_mythes(_write(tmp_path, SMALL))
    assert found == {
        "fabbrica": {"costruzione", "edificio", "manifattura", "officina"},  # "punto di lavoro": several words
        "attivita": {"lavoro", "operosita"},  # normalised as the analyzer does: no accents, lower case
    }


def test_the_encoding_named_on_the_first_line_is_used(tmp_path: Path) -> None:
    found = read_mythes(_write(tmp_path, SMALL.replace("UTF-8", "ISO8859-15"), "iso8859-15"))
    assert found["attivita"] == {"lavoro", "operosita"}


@pytest.mark.parametrize(("text", "where"), [
    ("UTF-8\nfabbrica|1\n(s.f.)|edificio\nofficina\n", r"th_test\.dat:4: expected an entry `word\|count`"),
    ("UTF-8\nfabbrica|due\n(s.f.)|edificio\n", r"th_test\.dat:2: expected an entry"),
    ("UTF-8\nfabbrica|3\n(s.f.)|edificio\n", r"th_test\.dat:2: 'fabbrica' announces 3 meanings, the file ends after 1"),
    ("NO-SUCH-ENCODING\nfabbrica|1\n(s.f.)|edificio\n", r"th_test\.dat:1: cannot be read as 'NO-SUCH-ENCODING'"),
])
def test_a_broken_file_is_named_with_its_line(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(ThesaurusError, match=where):
        read_mythes(_write(tmp_path, text))


def test_only_synonyms_the_knowledge_holds_are_kept() -> None:
    entries = {"fabbrica": {"manifattura", "edificio", "fabbricazione"}, "casa": {"manifattura"},
               "arnese": {"edificio"}}
    # The knowledge's stems: "manifattura" and "fabbricazione" ("fabbric", the head's own stem) only.
    kept = Thesaurus.for_knowledge(entries, {"manifattur", "fabbric"})
    assert kept.words == {"fabbrica": ("manifattura",), "casa": ("manifattura",)}
    assert len(Thesaurus.for_knowledge({"bar": {"manifattura"}}, {"manifattur"})) == 0  # too short to widen


def test_a_question_is_widened_once_per_synonym_and_never_with_its_own_words(tmp_path: Path) -> None:
    found = Thesaurus({"fabbrica": ("manifattura", "officina"), "officina": ("fabbrica", "manifattura")})
    assert found.extra_terms("Ho una fabbrica e un'officina") == ["manifattura"]
    assert found.extra_terms("nessuna parola nota") == []
    assert found.extra_terms("Ho una fabbrica e un'officina", skip={"fabbrica"}) == ["manifattura"]
    assert found.extra_terms("Ho una fabbrica", skip={"fabbrica"}) == []
    found.save(tmp_path)
    assert Thesaurus.load(tmp_path / thesaurus.FILE).words == found.words


# A made-up head word, so the test does not depend on Debian's file: only this thesaurus links it.
OPIFICIO = "UTF-8\nopificio|1\n(s.m.)|manifattura|stabilimento\n"
QUESTION = "qualcosa per un opificio"
TARGET = "faq:nuove-imprese-manifattura-servizi"


def _settings(tmp_path: Path, source: Path) -> tuple[Settings, dict[str, str]]:
    """Settings reading the thesaurus at `source`, and the same as the CLI's environment."""
    env = {"SPORTELLO_PATHS__KNOWLEDGE": str(KNOWLEDGE), "SPORTELLO_PATHS__INDEX": str(tmp_path / "index"),
           "SPORTELLO_PATHS__DATABASE": str(tmp_path / "sportello.db"), "SPORTELLO_RETRIEVAL__THESAURUS": str(source)}
    return Settings.load(None, env, cwd=tmp_path), env


def _built(tmp_path: Path, embedder: Embedder) -> tuple[Path, Settings, Path]:
    """The OPIFICIO thesaurus, settings reading it, and the build folder made with them."""
    source = _write(tmp_path, OPIFICIO)
    settings, _ = _settings(tmp_path, source)
    return source, settings, build_index(settings, embedder)


def test_words_of_a_synonym_group_phrase_are_not_widened(retriever: Retriever) -> None:
    """In "camera di commercio" (a term of `knowledge/synonyms.yaml`) "camera" is not a room nor a
    parliament: the thesaurus widens the question's other words only."""
    saved = retriever.index.thesaurus
    retriever.index.thesaurus = Thesaurus({"camera": ("stanza", "parlamento"), "ditta": ("societa",)})
    try:
        named = retriever.extra_terms("come iscrivo la ditta alla camera di commercio")
        alone = retriever.extra_terms("una camera per le riunioni")
    finally:
        retriever.index.thesaurus = saved
    assert "cciaa" in named and "societa" in named
    assert "stanza" not in named and "parlamento" not in named
    assert "stanza" in alone and "parlamento" in alone


@pytest.mark.slow
def test_a_build_stores_the_synonyms_and_search_uses_them(tmp_path: Path, embedder: Embedder) -> None:
    source, settings, _ = _built(tmp_path, embedder)
    meta = read_meta(settings.paths.index)
    assert meta["thesaurus"] == {"source": str(source), "found": True, "sha256": thesaurus.digest(source), "words": 1}
    widened = Retriever.open(settings, embedder)
    assert widened.index.thesaurus is not None and widened.index.thesaurus.words == {"opificio": ("manifattura",)}
    assert widened.search(QUESTION).ranking[0].passage.id == TARGET
    # The same index read without the thesaurus: the entry is not first. The gain is the thesaurus'.
    plain = Retriever.open(settings, embedder)
    plain.index.thesaurus = None
    assert plain.search(QUESTION).ranking[0].passage.id != TARGET


@pytest.mark.slow
def test_a_missing_file_builds_without_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    absent = tmp_path / "absent.dat"
    settings, env = _settings(tmp_path, absent)
    assert main(["build"], env) == 0
    assert f"No thesaurus at {absent} (Debian: apt-get install mythes-it" in capsys.readouterr().out
    assert read_meta(settings.paths.index)["thesaurus"] == {"source": str(absent), "found": False}
    assert not (current_folder(settings.paths.index) / thesaurus.FILE).exists()


@pytest.mark.slow
def test_a_broken_file_stops_the_build_and_keeps_the_index_in_use(tmp_path: Path, embedder: Embedder,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    source, settings, good = _built(tmp_path, embedder)
    source.write_text("UTF-8\nopificio|4\n(s.m.)|manifattura\n", encoding="utf-8")
    _, env = _settings(tmp_path, source)
    assert main(["build"], env) == 1
    assert f"{source}:2: 'opificio' announces 4 meanings" in capsys.readouterr().err
    assert current_folder(settings.paths.index) == good.resolve()


@pytest.mark.slow
def test_an_index_whose_thesaurus_disagrees_with_its_record_is_refused(tmp_path: Path, embedder: Embedder) -> None:
    _, settings, _ = _built(tmp_path, embedder)
    folder = current_folder(settings.paths.index)
    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    meta["thesaurus"]["words"] += 1
    (folder / META).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(IndexMismatch, match=thesaurus.FILE):
        load(settings, embedder)


def _drift(tmp_path: Path, recorded: dict | None, setting: Path | None) -> str | None:
    settings, _ = _settings(tmp_path, tmp_path / "unused.dat")
    settings.retrieval.thesaurus = setting
    return thesaurus_drift({"thesaurus": recorded, "built_at": "2026-11-26T10:00:00+0000"}, settings)


def test_a_thesaurus_file_unlike_the_one_built_with_is_named(tmp_path: Path) -> None:
    source = _write(tmp_path, OPIFICIO)
    built = {"source": str(source), "found": True, "sha256": thesaurus.digest(source), "words": 1}
    assert _drift(tmp_path, built, source) is None
    assert _drift(tmp_path, {"source": str(tmp_path / "absent.dat"), "found": False}, tmp_path / "absent.dat") is None
    assert _drift(tmp_path, None, None) is None

    # Installed after a build made without it (or with the setting off then).
    for recorded in ({"source": str(source), "found": False}, None):
        assert f"a thesaurus is now at {source}, but the index in use was built without one" in _drift(
            tmp_path, recorded, source)
    # Updated, or another file named: the index keeps the synonyms it was built with.
    other = tmp_path / "other.dat"
    other.write_text(OPIFICIO, encoding="utf-8")
    for recorded, setting in (({**built, "sha256": "0" * 64}, source), (built, other)):
        assert (f"the thesaurus at {setting} is not the file the index in use was built with ({source}, "
                "built 2026-11-26T10:00:00+0000)") in _drift(tmp_path, recorded, setting)
    # Removed, or turned off: a rebuild would lose the synonyms the index still uses.
    assert f"no thesaurus at {tmp_path / 'gone.dat'} any more" in _drift(tmp_path, built, tmp_path / "gone.dat")
    assert "retrieval.thesaurus is off" in _drift(tmp_path, built, None)


@pytest.mark.slow
def test_an_index_serves_the_synonyms_it_was_built_with_and_warns_when_the_file_changes(
        tmp_path: Path, embedder: Embedder, capsys: pytest.CaptureFixture[str]) -> None:
    source, settings, _ = _built(tmp_path, embedder)
    assert load(settings, embedder).warning is None
    source.write_text(OPIFICIO.replace("opificio|1", "opifici|1"), encoding="utf-8")  # an update of the package
    index = load(settings, embedder)
    assert "is not the file the index in use was built with" in index.warning
    assert index.thesaurus is not None and index.thesaurus.words == {"opificio": ("manifattura",)}
    _, env = _settings(tmp_path, source)
    assert main(["diff"], env) == 0
    assert f"Thesaurus: the thesaurus at {source} is not the file" in capsys.readouterr().out
    assert main(["ask", QUESTION], env) == 0  # served, with the warning passed on
    assert "is not the file the index in use was built with" in capsys.readouterr().err
