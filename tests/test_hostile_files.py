"""Hostile files given to `sportello validate`, `build` and `import` (issue 13, part 1).

Every broken, huge, tricky or malicious file must end in a clear error that names the file (and its
line or record): never a traceback, never code run, never a file written outside the knowledge
folder, never a changed index. Generated cases (hypothesis, profiles in tests/hypothesis_profiles.py)
and hand-made ones; through the library and through the command line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from bot.cli import main
from bot.errors import KnowledgeError, Problem
from bot.knowledge.load import load_knowledge
from bot.knowledge.schema import MAX_TEXT_CHARS
from bot.knowledge.yamlfile import MAX_DEPTH, MAX_FILE_BYTES, parse_yaml
from bot.measures.importer import MAX_SOURCE_BYTES, import_files
from bot.measures.schema import MAX_AMOUNT
from conftest import KNOWLEDGE, REPO

TODAY = dt.date(2026, 11, 25)
MEASURE = "3265-voucher-3i-investire-in-innovazione"
PWNED = "pwned-by-yaml"  # the file a payload would create if any YAML tag ran code
# YAML that would run code if it were ever loaded with an unsafe loader.
PAYLOADS = [
    f"!!python/object/apply:os.system ['touch {PWNED}']",
    f"!!python/object/apply:subprocess.check_output [['touch', '{PWNED}']]",
    "!!python/name:os.system",
    f"!!python/object/new:builtins.exec [\"open('{PWNED}', 'w')\"]",
    "!!python/module:os",
]
FRAGMENTS = [
    "entries:", "\n", "  ", "    ", "- ", "id: ", "question: ", "answer: ", "area: ", "source: ", "phrasings: ",
    "title: ", "sections: ", "heading: ", "text: ", ":", "[", "]", "{", "}", ", ", "&a ", "*a", "&b ", "*b",
    "!!binary aGVsbG8=", "!!set ", "!!omap ", "!custom ", "!!str ", "!!int ", "!!float ", "!!timestamp ",
    "<<: ", "? ", '"', "'", "|", ">-", "---", "...", "# ", "\t", "\x00", "\x07", "\x1b", "\x85", "\u200b",
    "\u202e", "\u2066", "\ufeff", "\ud7ff", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "2026-02-30", "9" * 60,
    "1e999", ".inf", ".nan", "~", "null", "true", "0x1F", "0o17", "1_000", "export-aiuti", "../../etc/passwd",
    "CON", "con", "protocollo-rt-unioncamere#ambiti", "internazionalizzazione", "é", "😀", "\r\n", "\r",
    "\\x41", "\\u0000", "\"\\0\"", "## Heading {#id}", "{#../x}", " page=0}", *PAYLOADS,
]
yaml_like = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=60).map("".join)
# Any value YAML or JSON can carry, nested: wrong types everywhere.
scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**15, max_value=10**40)
           | st.floats() | st.text(max_size=30) | st.dates() | st.sampled_from(FRAGMENTS))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | st.sampled_from(FRAGMENTS),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
HOSTILE_IDS = ["../../etc/passwd", "..", ".", "/etc/passwd", "CON", "con", "nul", "com1", "lpt9", "a" * 200,
               "x/y", "x\\y", "a b", "é", "\u200bexport", "export\x00", "-x", "x--y", "", "C:\\Windows"]


def problem_lines(text: str) -> list[str]:
    """Lines of the form `path:line: message`."""
    return [line for line in text.splitlines() if re.match(r"^\S.*:\d+: \S", line)]


def tree(folder: Path) -> dict[str, Any]:
    """Every entry under `folder`: the bytes of files, the target of links, None for folders."""
    out: dict[str, Any] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if rel.startswith(".hypothesis"):
            continue
        out[rel] = ("link", os.readlink(path)) if path.is_symlink() else None if path.is_dir() else path.read_bytes()
    return out


def names(problems: list[Problem], path: Path) -> list[Problem]:
    """The problems reported at `path` (shown relative to the working folder or absolute)."""
    return [p for p in problems if Path(p.path).resolve() == path.resolve()]


FAQ = """entries:
  - id: export-aiuti
    question: "Ci sono aiuti per vendere all'estero?"
    phrasings: ["sostegno per esportare", "Is there any support for exporting?"]
    answer: "L'internazionalizzazione è il primo dei tre ambiti di azione del protocollo."
    area: internazionalizzazione
    source: protocollo-rt-unioncamere#ambiti
  - id: startup
    question: "Aiuti per le start up?"
    answer: "Le nuove imprese e le start up innovative sono il terzo ambito."
    area: nuove-imprese
    source: protocollo-rt-unioncamere#ambiti
"""
DOCUMENT = """id: protocollo-rt-unioncamere
title: Comunicato di prova
source: Un comunicato
language: it
areas: [internazionalizzazione, nuove-imprese]
sections:
  - id: ambiti
    heading: Gli ambiti
    text: Internazionalizzazione, innovazione, nuove imprese.
"""
SMALL_MEASURE = """id: prova-misura
title: Misura di prova
summary: Una misura di prova per i test.
open_date: 2026-01-01
close_date: 2026-12-31
regions: [Toscana]
sizes: [micro]
areas: [innovazione]
amounts: {budget: 100000, support_max: 5000}
url: https://example.org/bando
sections:
  - heading: Cos'è
    text: Una misura di prova per i test.
provenance:
  source: Regione Toscana
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small valid knowledge folder (small, so generated cases load fast): the shipped areas, a
    synonym group, a one-section document, two FAQ entries and one measure."""
    root = tmp_path_factory.mktemp("hostile") / "knowledge"
    (root / "faq").mkdir(parents=True)
    (root / "measures").mkdir()
    shutil.copy(KNOWLEDGE / "areas.yaml", root / "areas.yaml")
    (root / "synonyms.yaml").write_text("groups:\n  - [PMI, piccole e medie imprese]\n", encoding="utf-8")
    (root / "documents").mkdir()
    (root / "documents" / "doc.yaml").write_text(DOCUMENT, encoding="utf-8")
    (root / "faq" / "small.yaml").write_text(FAQ, encoding="utf-8")
    (root / "measures" / "prova-misura.yaml").write_text(SMALL_MEASURE, encoding="utf-8")
    load_knowledge(root)  # valid as it is
    return root


@contextlib.contextmanager
def hostile_file(root: Path, rel: str, data: bytes) -> Iterator[Path]:
    """`data` written at `root/rel` for the duration of the block (the folder is shared by examples)."""
    path = root / rel
    original = path.read_bytes() if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        yield path
    finally:
        if original is None:
            path.unlink()
        else:
            path.write_bytes(original)


def load_outcome(root: Path, path: Path) -> list[Problem]:
    """Load the knowledge: nothing but success or a KnowledgeError; return the problems naming `path`."""
    try:
        load_knowledge(root)
    except KnowledgeError as exc:
        assert exc.problems, "an error with no problem listed"
        for p in exc.problems:
            assert str(p).startswith(f"{p.path}:{p.line}: ") and p.message.strip() and p.line >= 0
            assert "Traceback" not in p.message
        return names(exc.problems, path)
    return []


# --- generated knowledge files ---------------------------------------------------------------------

@given(rel=st.sampled_from(["faq/hostile.yaml", "documents/hostile.yaml", "measures/hostile.yaml", "areas.yaml",
                            "synonyms.yaml"]), text=yaml_like)
def test_any_yaml_like_text_is_loaded_or_refused_naming_the_file(base, rel, text):
    with hostile_file(base, rel, text.encode("utf-8", "surrogatepass")) as path:
        try:
            load_knowledge(base)
        except KnowledgeError as exc:
            assert names(exc.problems, path) or all(p.path for p in exc.problems), exc
    assert not Path(PWNED).exists(), "a YAML tag ran code"


@given(text=yaml_like)
@example(text="entries:\x85\x85entries:")  # NEL breaks lines for YAML: the problem is on line 3
def test_parse_yaml_never_raises_and_every_problem_has_a_line(text):
    parsed, problems = parse_yaml(text, Path("x.yaml"))
    assert parsed is not None or problems
    # The line breaks YAML counts: \n, \r (and \r\n, counted here twice: an upper bound), NEL, LS, PS.
    breaks = sum(text.count(b) for b in ("\n", "\r", "\x85", "\u2028", "\u2029"))
    for p in problems:
        assert p.path == Path("x.yaml") and 1 <= p.line <= breaks + 2
    assert not Path(PWNED).exists()


@given(data=st.binary(max_size=400))
def test_any_bytes_as_a_faq_file_are_refused_with_the_file_named(base, data):
    with hostile_file(base, "faq/bytes.yaml", data) as path:
        mine = load_outcome(base, path)
        try:
            loaded = yaml.safe_load(data.decode("utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError, ValueError, RecursionError):
            loaded = "unreadable"
        if loaded is not None and not (isinstance(loaded, dict) and loaded.get("entries") == []):
            assert mine, f"{data!r} was not reported"


@given(position=st.integers(0, 10**6), junk=st.binary(min_size=1, max_size=12), cut=st.booleans())
def test_a_damaged_faq_file_is_refused_or_still_valid(base, position, junk, cut):
    original = FAQ.encode()
    at = position % len(original)
    data = original[:at] + (b"" if cut else junk) + original[at + (len(junk) if cut else 0):]
    with hostile_file(base, "faq/small.yaml", data) as path:
        load_outcome(base, path)  # only a KnowledgeError with well-formed problems, or success


@given(field=st.sampled_from(["id", "title", "summary", "open_date", "close_date", "regions", "sizes", "amounts",
                              "url", "sections", "provenance", "areas", "window_note"]),
       value=values | st.sampled_from(HOSTILE_IDS) | st.dictionaries(st.sampled_from(
           ["budget", "support_min", "support_max", "currency"]), scalars, max_size=3))
def test_a_measure_field_of_any_type_or_size_is_validated(base, field, value):
    data = yaml.safe_load(SMALL_MEASURE)
    data[field] = value
    text = yaml.safe_dump(data, allow_unicode=False)
    with hostile_file(base, "measures/prova-misura.yaml", text.encode()) as path:
        mine = load_outcome(base, path)
        if not mine:  # accepted: then the value really is a sane one
            measure = next(m for m in load_knowledge(base).measures if m.id == "prova-misura")
            for amount in measure.amounts.model_dump().values():
                assert not isinstance(amount, (int, float)) or 0 <= amount <= MAX_AMOUNT
            assert all(ch.isprintable() or ch in "\n\t" for ch in measure.title + measure.summary)


@given(body=yaml_like, front=yaml_like)
def test_markdown_documents_with_any_body_or_front_matter(base, body, front):
    good_front = "id: md-doc\ntitle: Doc\nsource: Fonte\nlanguage: it\nareas: [protocollo]\n"
    for text in (f"---\n{good_front}---\n{body}", f"---\n{front}\n---\n## A {{#a}}\ntesto\n"):
        with hostile_file(base, "documents/hostile.md", text.encode("utf-8", "surrogatepass")) as path:
            load_outcome(base, path)
    assert not Path(PWNED).exists()


# --- hand-made knowledge files -----------------------------------------------------------------------

BOMB = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                 + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)])
NASTY_FILES: dict[str, tuple[str, bytes, str]] = {
    # name: (file, bytes, what the message says)
    "python-object": ("faq/x.yaml", f"entries: {PAYLOADS[0]}\n".encode(), "malformed YAML"),
    "python-name-in-value": ("faq/x.yaml", f"entries:\n  - id: {PAYLOADS[2]}\n".encode(), "malformed YAML"),
    "billion-laughs": ("faq/x.yaml", BOMB.encode(), "aliases"),
    "self-alias": ("faq/x.yaml", b"entries: &e\n  - *e\n", "aliases"),
    "deep-flow": ("faq/x.yaml", b"entries: " + b"[" * 100_000 + b"]" * 100_000, "nested more than"),
    "deep-block": ("faq/x.yaml", b"entries:\n" + b"".join(b"  " * i + b"- \n" for i in range(1, 200)),
                   "nested more than"),
    "deep-mapping": ("measures/x.yaml", b"".join(b"  " * i + b"k:\n" for i in range(100)), "nested more than"),
    "nul": ("faq/x.yaml", b"entries:\n  - id: a\x00b\n", "U+0000"),
    "escape": ("faq/x.yaml", b"entries:\n\n\n  - id: \x1b[31m\n", "U+001B"),
    "latin-1": ("faq/x.yaml", "entries:\n  - question: perché\n".encode("latin-1"), "not valid UTF-8"),
    "utf-16": ("faq/x.yaml", "entries: []\n".encode("utf-16"), "not valid UTF-8"),
    "long-number": ("faq/x.yaml", b"entries:\n  - id: " + b"9" * 5000 + b"\n", "too long to read"),
    "impossible-date": ("measures/x.yaml", b"id: x\nopen_date: 2026-02-30\n", "not a real date"),
    "unhashable-key": ("faq/x.yaml", b"? [a, b]\n: 1\n", "unhashable"),
    "two-documents": ("faq/x.yaml", b"entries: []\n---\nentries: []\n", "another document"),
    "binary-tag": ("faq/x.yaml", b"entries: !!binary aGVsbG8=\n", "must be a list"),
    "custom-tag": ("faq/x.yaml", b"entries:\n  - id: !custom x\n", "malformed YAML"),
    "zero-width-in-id": ("faq/x.yaml", "entries:\n  - id: export\u200b-aiuti\n".encode(), "lowercase letters"),
    "rtl-override-in-text": ("faq/small.yaml", None, "U+202E"),  # built below from the shipped file
    "path-id": ("measures/x.yaml", b"id: ../../etc/passwd\n", "lowercase letters"),
    "windows-id": ("measures/con.yaml", b"id: con\n", "cannot be a file name on Windows"),
    "huge-amount": ("measures/x.yaml", b"id: x\namounts: {budget: 1.0e+300}\n", "is more than"),
    "infinite-amount": ("measures/x.yaml", b"id: x\namounts: {budget: .inf}\n", "must be a number"),
    "nan-amount": ("measures/x.yaml", b"id: x\namounts: {budget: .nan}\n", "must be a number"),
    "huge-text": ("faq/small.yaml", None, "is too long"),  # built below
    "markdown-unclosed": ("documents/x.md", b"---\nid: x\n", "never closed"),
    "markdown-tag": ("documents/x.md", f"---\nid: {PAYLOADS[0]}\n---\n## A {{#a}}\nt\n".encode(), "malformed YAML"),
    "markdown-path-section": ("documents/x.md", b"---\nid: x\ntitle: T\nsource: S\nlanguage: it\nareas: [protocollo]"
                              b"\n---\n## A {#../../etc/passwd}\ntesto\n", "lowercase letters"),
    "markdown-nul": ("documents/x.md", b"---\nid: x\x00\n---\n", "U+0000"),
}


def _nasty_bytes(name: str, rel: str, data: bytes | None) -> bytes:
    if data is not None:
        return data
    text = FAQ
    if name == "rtl-override-in-text":
        return text.replace("answer: ", "answer: \u202etxt.exe ", 1).encode()
    return text.replace("answer: ", "answer: " + "lungo " * (MAX_TEXT_CHARS // 5), 1).encode()


@pytest.mark.parametrize("name", list(NASTY_FILES))
def test_nasty_knowledge_file_gets_a_clear_error_from_validate(base, name, capsys, tmp_path):
    rel, data, expected = NASTY_FILES[name]
    knowledge = tmp_path / "knowledge"
    shutil.copytree(base, knowledge)
    path = knowledge / rel
    path.write_bytes(_nasty_bytes(name, rel, data))
    outside = tree(tmp_path)
    code = main(["validate"], {"SPORTELLO_PATHS__KNOWLEDGE": str(knowledge),
                               "SPORTELLO_PATHS__INDEX": str(tmp_path / "index")})
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    shown = f"knowledge/{rel}"
    mine = [line for line in problem_lines(err) if line.startswith(shown + ":")]
    assert mine and any(expected in line for line in mine), err
    assert tree(tmp_path) == outside  # nothing written anywhere
    assert not Path(PWNED).exists()


def test_a_file_over_the_size_limit_is_refused_without_being_read(base, tmp_path, capsys):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(base, knowledge)
    huge = knowledge / "faq" / "huge.yaml"
    with huge.open("wb") as handle:  # sparse: the test writes almost nothing
        handle.truncate(MAX_FILE_BYTES + 1)
    assert main(["validate"], {"SPORTELLO_PATHS__KNOWLEDGE": str(knowledge)}) == 1
    err = capsys.readouterr().err
    assert "knowledge/faq/huge.yaml:1: the file is too big" in err


def test_links_out_of_the_knowledge_folder_are_refused_and_never_read(base, tmp_path, capsys):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(base, knowledge)
    secret = tmp_path / "outside" / "secret.yaml"
    secret.parent.mkdir()
    secret.write_text("entries: []\n# SECRET-CONTENT\n", encoding="utf-8")
    (knowledge / "faq" / "passwd.yaml").symlink_to("/etc/passwd")
    (knowledge / "faq" / "secret.yaml").symlink_to(secret)
    (knowledge / "extra").symlink_to(secret.parent, target_is_directory=True)
    (knowledge / "faq" / "loop.yaml").symlink_to(knowledge / "faq" / "loop.yaml")
    inside = knowledge / "faq" / "same.yaml"
    inside.symlink_to(knowledge / "faq" / "small.yaml")  # a link inside the folder is harmless...
    assert main(["validate"], {"SPORTELLO_PATHS__KNOWLEDGE": str(knowledge)}) == 1
    err = capsys.readouterr().err
    for rel in ("faq/passwd.yaml", "faq/secret.yaml", "extra", "faq/loop.yaml"):
        assert f"knowledge/{rel}:1: a link to something outside the knowledge folder" in err, err
    assert "root:" not in err and "SECRET-CONTENT" not in err
    assert "duplicate FAQ id" in err  # ...but it is read like any file: here, the same ids twice


@pytest.mark.parametrize("name", ["python-object", "billion-laughs", "deep-flow", "nul", "latin-1", "huge-amount"])
def test_the_real_command_line_says_where_without_a_traceback(base, name, tmp_path):
    rel, data, expected = NASTY_FILES[name]
    knowledge = tmp_path / "knowledge"
    shutil.copytree(base, knowledge)
    (knowledge / rel).write_bytes(_nasty_bytes(name, rel, data))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPORTELLO_")}
    env.update(SPORTELLO_PATHS__KNOWLEDGE=str(knowledge), SPORTELLO_PATHS__INDEX=str(tmp_path / "index"))
    done = subprocess.run([sys.executable, "-m", "bot.cli", "validate"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert any(line.startswith(f"knowledge/{rel}:") and expected in line for line in problem_lines(done.stderr))
    assert not (tmp_path / PWNED).exists()


# --- a failed build leaves the index byte-identical --------------------------------------------------

def fake_previous_index(index: Path) -> None:
    """An index folder as a previous build left it (the bytes do not matter: they must not change)."""
    build = index / "builds" / "20260101T000000.000000Z-abcdef"
    build.mkdir(parents=True)
    (build / "meta.json").write_text('{"format": 0}', encoding="utf-8")
    (build / "passages.json").write_bytes(os.urandom(256))
    (index / "current").symlink_to(Path("builds") / build.name)


@pytest.mark.parametrize("name", ["python-object", "billion-laughs", "deep-flow", "nul", "latin-1", "path-id",
                                  "huge-amount", "markdown-path-section"])
def test_a_build_from_a_hostile_file_fails_and_leaves_the_index_as_it_was(base, name, tmp_path, capsys):
    rel, data, expected = NASTY_FILES[name]
    knowledge = tmp_path / "knowledge"
    shutil.copytree(base, knowledge)
    (knowledge / rel).write_bytes(_nasty_bytes(name, rel, data))
    index = tmp_path / "index"
    fake_previous_index(index)
    before = tree(tmp_path)
    code = main(["build"], {"SPORTELLO_PATHS__KNOWLEDGE": str(knowledge), "SPORTELLO_PATHS__INDEX": str(index)})
    err = capsys.readouterr().err
    assert code == 1 and "nothing was built" in err and "Traceback" not in err
    assert any(line.startswith(f"knowledge/{rel}:") for line in problem_lines(err))
    assert tree(tmp_path) == before


def test_a_failed_build_leaves_a_real_index_byte_identical(small_knowledge, tmp_path, embedder, capsys):
    from bot.search import index as search_index
    from conftest import make_settings

    settings = make_settings(tmp_path, small_knowledge)
    search_index.build(settings, embedder)
    before = tree(settings.paths.index)
    (small_knowledge / "faq" / "bomb.yaml").write_text(BOMB, encoding="utf-8")
    code = main(["build"], {"SPORTELLO_PATHS__KNOWLEDGE": str(small_knowledge),
                            "SPORTELLO_PATHS__INDEX": str(settings.paths.index)})
    assert code == 1 and "aliases" in capsys.readouterr().err
    assert tree(settings.paths.index) == before
    assert search_index.read_meta(settings.paths.index)["counts"]["faq"] == 1  # still loadable, still the old one


# --- imports: catalogue JSON and staff CSV -------------------------------------------------------------

def fresh_knowledge() -> tuple[Path, Path]:
    """A temporary folder holding knowledge/ (areas only) and an input file's place: (parent, knowledge)."""
    parent = Path(tempfile.mkdtemp(prefix="hostile-import-"))
    root = parent / "knowledge"
    root.mkdir()
    shutil.copy(KNOWLEDGE / "areas.yaml", root / "areas.yaml")
    return parent, root


def check_import(source: Path, fmt: str | None = None) -> None:
    """Import `source`: no exception; errors name it (and the record); only knowledge/measures is
    written, and everything written validates."""
    parent = source.parent
    root = parent / "knowledge"
    outside = {k: v for k, v in tree(parent).items() if not k.startswith("knowledge")}
    report = import_files([source], root, fmt, today=TODAY)
    for error in report.errors:
        assert error.source == str(source) and error.message.strip()
        assert error.record == "" or re.match(r"^(record \d+|line \d+)\b", error.record), error
    for path in report.written:
        assert path.resolve().parent == (root / "measures").resolve()
    assert {k: v for k, v in tree(parent).items() if not k.startswith("knowledge")} == outside
    load_knowledge(root)  # whatever was written is valid knowledge
    assert not Path(PWNED).exists()


def catalogue_record(**fields: Any) -> dict[str, Any]:
    base = json.loads((Path(__file__).parent / "data" / "incentivi-records.json").read_text(encoding="utf-8"))
    docs = base["docs"] if isinstance(base, dict) and "docs" in base else base.get("response", {}).get("docs", base)
    return {**docs[0], **fields}


CATALOGUE_FIELDS = ["zs_nid", "zs_title", "tum_X3b_it_body_ft", "zs_body", "zs_field_open_date",
                    "zs_field_close_date", "zm_field_regions_value", "zm_field_dimensions_value",
                    "zs_field_budget_allocation", "zs_field_support_grant_type_max", "zm_field_costs", "zs_field_link",
                    "zs_url", "ds_last_update", "zm_field_scopes_value", "zs_field_close_date_descriptor"]


@given(changes=st.lists(st.tuples(st.sampled_from(CATALOGUE_FIELDS), json_values), min_size=1, max_size=4),
       wrap=st.sampled_from(["docs", "response", "list"]))
def test_catalogue_records_with_any_values_import_or_fail_by_record(changes, wrap):
    parent, _ = fresh_knowledge()
    try:
        record = catalogue_record(**dict(changes))
        data: Any = {"docs": [record]} if wrap == "docs" else {"response": {"docs": [record]}} \
            if wrap == "response" else [record]
        source = parent / "records.json"
        source.write_text(json.dumps(data, allow_nan=True), encoding="utf-8")
        check_import(source)
    finally:
        shutil.rmtree(parent)


@given(document=json_values)
def test_any_json_document_is_imported_or_refused(document):
    parent, _ = fresh_knowledge()
    try:
        source = parent / "records.json"
        source.write_text(json.dumps(document, allow_nan=True), encoding="utf-8")
        check_import(source)
    finally:
        shutil.rmtree(parent)


CSV_COLUMNS = ["id", "title", "summary", "description", "open_date", "close_date", "regions", "sizes",
               "budget", "support_max", "url", "source", "record_id", "areas", "window_note"]
cells = st.one_of(st.text(max_size=20), st.sampled_from(FRAGMENTS + HOSTILE_IDS + [
    "31/12/2026", "2026-12-31", "31.02.2026", "1.000,50", "1e400", "nan", "inf", "-5", "99999999999999999999",
    "Toscana; Umbria", "Tutta Italia", "micro; grande", "https://example.org/x", "javascript:alert(1)",
    "=cmd|' /C calc'!A0", "@SUM(1+1)", "<b>bold</b>", "<a href='https://evil'>x</a>"]))


@given(columns=st.lists(st.sampled_from(CSV_COLUMNS), min_size=1, max_size=8, unique=True),
       rows=st.lists(st.lists(cells, max_size=10), max_size=4), delimiter=st.sampled_from([",", ";", "\t"]))
def test_staff_csv_with_any_cells_imports_or_fails_by_line(columns, rows, delimiter):
    import csv

    parent, _ = fresh_knowledge()
    try:
        header = ["title", "source", *[c for c in columns if c not in ("title", "source")]]
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
        source = parent / "misure.csv"
        source.write_text(buffer.getvalue(), encoding="utf-8", errors="surrogatepass")
        check_import(source)
    finally:
        shutil.rmtree(parent)


@given(suffix=st.sampled_from([".json", ".csv", ".txt", ".dat"]), data=st.binary(max_size=300))
def test_any_bytes_given_to_import_are_refused_or_imported_cleanly(suffix, data):
    parent, _ = fresh_knowledge()
    try:
        source = parent / f"input{suffix}"
        source.write_bytes(data)
        check_import(source)
    finally:
        shutil.rmtree(parent)


NASTY_IMPORTS: dict[str, tuple[str, bytes | None, str]] = {
    "json-syntax": ("records.json", b'{"docs": [ {"zs_nid": 1,, } ]}', "line 1: not valid JSON"),
    "json-deep": ("records.json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "json-long-number": ("records.json", b'{"docs": [{"zs_nid": ' + b"9" * 5000 + b"}]}", "not readable JSON"),
    "json-nan-budget": ("records.json", None, "zs_field_budget_allocation"),
    "json-huge-budget": ("records.json", None, "is more than"),
    "json-path-nid": ("records.json", None, "zs_nid: missing or not a number"),
    "json-not-records": ("records.json", b'{"hello": "world"}', "not an incentivi.gov.it export"),
    "json-latin-1": ("records.json", '{"docs": [{"zs_title": "perché"}]}'.encode("latin-1"), "not valid UTF-8"),
    "csv-path-id": ("misure.csv", b"id,title,summary,source\n../../etc/passwd,T,Una frase.,F\n", "line 2"),
    "csv-windows-id": ("misure.csv", b"id,title,summary,source\nCON,T,Una frase.,F\n", "line 2"),
    "csv-windows-id-lower": ("misure.csv", b"id,title,summary,source\nnul,T,Una frase.,F\n", "Windows"),
    "csv-huge-cell": ("misure.csv", b"title,summary,source\nT," + b"x" * 200_000 + b",F\n", "line 2"),
    "csv-unknown-column": ("misure.csv", b"title,source,__import__('os')\nT,F,x\n", "unknown column"),
    "csv-infinite-amount": ("misure.csv", b"title,summary,source,budget\nT,Una frase.,F,1e400\n", "budget"),
}


def _import_bytes(name: str, data: bytes | None) -> bytes:
    if data is not None:
        return data
    record = catalogue_record()
    if name == "json-nan-budget":
        record["zs_field_budget_allocation"] = float("nan")
    elif name == "json-huge-budget":
        record["zs_field_budget_allocation"] = "1e300"
    else:
        record["zs_nid"] = "../../etc/passwd"
    return json.dumps({"docs": [record]}, allow_nan=True).encode()


@pytest.mark.parametrize("name", list(NASTY_IMPORTS))
def test_nasty_import_file_gets_a_clear_error_naming_file_and_record(name, tmp_path, capsys):
    file_name, data, expected = NASTY_IMPORTS[name]
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    shutil.copy(KNOWLEDGE / "areas.yaml", knowledge / "areas.yaml")
    source = tmp_path / file_name
    source.write_bytes(_import_bytes(name, data))
    before = tree(tmp_path)
    code = main(["import", str(source)], {"SPORTELLO_PATHS__KNOWLEDGE": str(knowledge),
                                          "SPORTELLO_MEASURES__TODAY": TODAY.isoformat()})
    out = capsys.readouterr()
    assert code == 1 and "Traceback" not in out.out + out.err
    errors = [line for line in out.out.splitlines() if line.strip().startswith("✗")]
    assert errors and all(str(source) in line for line in errors), out.out
    assert any(expected in line for line in errors), out.out
    after = tree(tmp_path)
    assert {k for k in after if k not in before} <= {"knowledge/measures"}  # nothing written
    assert not list(Path("/etc").glob("passwd.yaml"))


def test_an_import_source_over_the_size_limit_is_refused_unread(tmp_path):
    parent, root = fresh_knowledge()
    try:
        source = parent / "records.json"
        with source.open("wb") as handle:
            handle.truncate(MAX_SOURCE_BYTES + 1)
        report = import_files([source, parent / "missing.csv", parent], root, today=TODAY)
        assert [e.message for e in report.errors] == [
            f"the file is too big ({MAX_SOURCE_BYTES + 1:,} bytes; at most {MAX_SOURCE_BYTES:,})",
            "no such file", "not a file"]
    finally:
        shutil.rmtree(parent)


def test_import_never_writes_through_a_link_out_of_the_knowledge_folder(tmp_path):
    records = Path(__file__).parent / "data" / "incentivi-records.json"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("keep me\n", encoding="utf-8")
    # 1. measures/ itself is a link to a folder elsewhere: nothing is imported.
    root = tmp_path / "k1"
    root.mkdir()
    shutil.copy(KNOWLEDGE / "areas.yaml", root / "areas.yaml")
    (root / "measures").symlink_to(outside, target_is_directory=True)
    report = import_files([records], root, today=TODAY)
    assert not report.written and [e.record for e in report.errors] == [""]
    assert "link to a place outside" in report.errors[0].message
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    # 2. one measure's file is a link to a file elsewhere: that record fails, the file stays a link.
    root = tmp_path / "k2"
    (root / "measures").mkdir(parents=True)
    shutil.copy(KNOWLEDGE / "areas.yaml", root / "areas.yaml")
    (root / "measures" / f"{MEASURE}.yaml").symlink_to(outside / "victim.txt")
    report = import_files([records], root, today=TODAY)
    failed = [e for e in report.errors if "symbolic link" in e.message]
    assert len(failed) == 1 and "nid 3265" in failed[0].record
    assert (root / "measures" / f"{MEASURE}.yaml").is_symlink()
    assert (outside / "victim.txt").read_text(encoding="utf-8") == "keep me\n"
    assert len(report.added) == 9


def test_invisible_characters_in_catalogue_text_are_removed_on_import(tmp_path):
    parent, root = fresh_knowledge()
    try:
        record = catalogue_record(zs_title="Voucher\u200b 3I\u202e - Investire\ufeff in innovazione")
        source = parent / "records.json"
        source.write_text(json.dumps({"docs": [record]}), encoding="utf-8")
        report = import_files([source], root, today=TODAY)
        assert report.ok and len(report.added) == 1, report
        [measure] = load_knowledge(root).measures
        assert measure.title == "Voucher 3I - Investire in innovazione"
        csv_source = parent / "misure.csv"
        csv_source.write_bytes(b"title,summary,source\nProva\x00\xe2\x80\x8b NUL,Una frase\x1b.,Fonte\n")
        report = import_files([csv_source], root, today=TODAY)
        assert report.ok and report.added == ["prova-nul"], report
        assert next(m for m in load_knowledge(root).measures if m.id == "prova-nul").summary == "Una frase."
    finally:
        shutil.rmtree(parent)


def test_the_limits_are_documented():
    guide = (KNOWLEDGE / "README.md").read_text(encoding="utf-8")
    for figure in (f"{MAX_FILE_BYTES // 1024 // 1024} MB", f"{MAX_TEXT_CHARS:,}".replace(",", "."), str(MAX_DEPTH),
                   f"{MAX_SOURCE_BYTES // 1024 // 1024} MB"):
        assert figure in guide, figure
    assert ".hypothesis/" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_every_character_is_either_visible_or_refused_with_its_code() -> None:
    """`visible_text` over every code point: what it accepts prints (odd spaces become plain ones;
    tab, line breaks and the emoji joiners U+200C/U+200D stay); the rest is refused, naming it."""
    from pydantic_core import PydanticCustomError

    from bot.knowledge import schema

    for code in range(0x110000):
        char = chr(code)
        try:
            kept = schema.visible_text(f"a{char}b")
        except PydanticCustomError as exc:
            assert not char.isprintable() and char not in "\t\n\r\u200c\u200d", hex(code)
            assert exc.context is not None and exc.context["code"] == f"{code:04X}"
            continue
        assert all(c.isprintable() or c in "\t\n\r\u200c\u200d" for c in kept), hex(code)
    assert schema.visible_text("10\u00a0000 euro") == "10 000 euro"
