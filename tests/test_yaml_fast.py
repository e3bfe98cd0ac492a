"""Knowledge YAML read with libyaml's C parser when it is there, with PyYAML's own parser when not
(issue 12): the same data, the same line of every value, the same problems, word for word.

`bot/knowledge/yamlfile.py` reads a clean file once with libyaml; a file with any problem, or with
what the two parsers are known to read differently, is read by the pure-Python loader, whose
messages are the ones staff see. These tests compare the two paths on the shipped knowledge, on
every hostile file of tests/test_hostile_files.py, on the known differences, and on generated text.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import KnowledgeError
from bot.knowledge import yamlfile
from bot.knowledge.load import knowledge_files, load_knowledge
from bot.knowledge.yamlfile import C_LOADER, parse_with, parse_yaml
from conftest import KNOWLEDGE, REPO
from test_hostile_files import FRAGMENTS, NASTY_FILES, _nasty_bytes, hostile_file, values, yaml_like

needs_libyaml = pytest.mark.skipif(C_LOADER is None, reason="PyYAML was built without libyaml")
SHOWN = Path("knowledge/faq/x.yaml")


def outcome(result: tuple[yamlfile.YamlFile | None, list[Any]]) -> tuple[Any, ...]:
    """What a caller can see of a parse: the data (types included), the line of every location, the problems."""
    parsed, problems = result
    if parsed is None:
        return None, None, [str(p) for p in problems]
    return repr(parsed.data), sorted(parsed.lines.items(), key=repr), [str(p) for p in problems]


def without_libyaml(monkeypatch: pytest.MonkeyPatch, text: str, first_line: int = 1) -> tuple[Any, ...]:
    """parse_yaml as it runs where PyYAML has no libyaml."""
    with monkeypatch.context() as patch:
        patch.setattr(yamlfile, "C_LOADER", None)
        return outcome(parse_yaml(text, SHOWN, first_line))


def load_outcome(root: Path) -> tuple[str, list[str]]:
    """The loaded knowledge (as text) or the problems it is refused with."""
    try:
        return repr(load_knowledge(root)), []
    except KnowledgeError as exc:
        return "", [str(p) for p in exc.problems]


@needs_libyaml
@pytest.mark.parametrize("path", [p for p in knowledge_files(KNOWLEDGE) if p.suffix == ".yaml"]
                         + sorted((KNOWLEDGE / "eval").glob("*.yaml")), ids=lambda p: p.relative_to(KNOWLEDGE).as_posix())
def test_every_shipped_file_takes_the_c_parser_and_reads_as_with_pyyaml(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    pure = outcome(parse_with(yaml.SafeLoader, text, SHOWN))
    assert pure[2] == [] and pure[0] == repr(yaml.safe_load(text))  # the data PyYAML's own safe_load gives
    assert outcome(parse_yaml(text, SHOWN)) == pure
    if yamlfile.c_reads_alike(text):  # a tab, say, sends a file to PyYAML's parser
        assert outcome(parse_with(C_LOADER, text, SHOWN, c_parser=True)) == pure, "read by libyaml, the same"


def test_the_shipped_knowledge_loads_the_same_without_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    with_c = load_outcome(KNOWLEDGE)
    monkeypatch.setattr(yamlfile, "C_LOADER", None)
    assert load_outcome(KNOWLEDGE) == with_c and with_c[0]


@pytest.mark.parametrize("name", list(NASTY_FILES))
def test_every_hostile_file_gets_the_same_problems_with_or_without_libyaml(name, tmp_path, monkeypatch):
    rel, data, _ = NASTY_FILES[name]
    root = tmp_path / "knowledge"
    (root / "faq").mkdir(parents=True)
    (root / "areas.yaml").write_bytes((KNOWLEDGE / "areas.yaml").read_bytes())
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(_nasty_bytes(name, rel, data))
    with_c = load_outcome(root)
    monkeypatch.setattr(yamlfile, "C_LOADER", None)
    without = load_outcome(root)
    assert with_c == without
    assert without[1], "a hostile file must be refused"


# Bad files of tests/test_knowledge.py and others, as text: each with the line and message expected.
BAD_TEXTS = {
    "mapping-in-value": ("entries:\n  - id: a\n    question: Domanda: con due punti: qui\n",
                         ["knowledge/faq/x.yaml:3: malformed YAML: mapping values are not allowed here"]),
    "bad-indentation": ("entries:\n  - id: a\n    answer: b\n   - id: storto\n", None),
    "duplicate-key": ("entries:\n  - id: a\n    answer: uno\n    answer: due\n",
                      ["knowledge/faq/x.yaml:4: entries[0].answer: duplicate key"]),
    "unclosed-quote": ('entries:\n  - id: "a\n', None),
    "unclosed-flow": ("entries: [a, b\n", None),
    "tab-indent": ("entries:\n\t- id: a\n", None),
    "two-documents-second-broken": ("a: 1\n---\nb: [\n", None),
    "duplicate-anchor": ("a: &x 1\nb: &x 2\n", None),
    "anchor-then-alias": ("a: &x 1\nb: *x\n", None),
    "bad-escape-big": ('entries:\n  - answer: "x\\U99999999"\n', None),
    "bad-escape": ('entries:\n  - answer: "x\\U00999999"\n',
                   ["knowledge/faq/x.yaml:2: malformed YAML: a quoted text cannot be read "
                    "(chr() arg not in range(0x110000))"]),
    "bad-bool": ("draft: !!bool forse\n", ["knowledge/faq/x.yaml:1: 'forse' cannot be read as bool"]),
    "unknown-tag": ("entries: !nuovo x\n", None),
}


@pytest.mark.parametrize("name", list(BAD_TEXTS))
def test_bad_text_gets_the_same_problems_with_or_without_libyaml(name, monkeypatch):
    text, expected = BAD_TEXTS[name]
    result = outcome(parse_yaml(text, SHOWN))
    assert result == without_libyaml(monkeypatch, text) == outcome(parse_with(yaml.SafeLoader, text, SHOWN))
    assert result[2], "a problem must be reported"
    if expected is not None:
        assert result[2] == expected
    for first_line in (1, 7):  # also as a Markdown document's front matter, which starts further down
        assert outcome(parse_yaml(text, SHOWN, first_line)) == without_libyaml(monkeypatch, text, first_line)


# What libyaml and PyYAML's parser are known to read differently: each must come out as PyYAML reads it.
DIFFERENCES = {
    "tab-after-plain-value": "entries:\n  - id: a\tb\n",
    "tab-in-quoted-value": 'entries:\n  - id: "a\tb"\n',
    "second-byte-order-mark": "\ufeff\ufeffentries: []\n",
    "first-byte-order-mark": "\ufeffentries: []\n",
    "next-line": "entries:\x85  - id: a\n",
    "line-separator": "entries:\n  - id: a\u2028b\n",
    "empty-document": "---",
    "empty-value-at-the-end": "entries:\n  - id: a\n    answer:",
    "empty-item-at-the-end": "areas:\n  -",
    "empty-value-in-flow": "entries: [{id: }, ]",
    "question-mark-in-flow": "entries: [a?, b]\n",
    "question-mark-key-in-flow": "{? a: 1}\n",
    "crlf": "entries:\r\n  - id: a\r\n    answer: b\r\n",
    "cr": "entries:\r  - id: a\r",
    "no-newline-at-end": "entries:\n  - id: a\n    answer: b",
    "comment-glued-to-block-header": "|## Heading {#id}",
    "comment-glued-to-folded-header": "entries:\n  - answer: >-#note\n      text\n",
}


@pytest.mark.parametrize("name", list(DIFFERENCES))
def test_what_the_parsers_read_differently_comes_out_as_pyyaml_reads_it(name, monkeypatch):
    text = DIFFERENCES[name]
    assert outcome(parse_yaml(text, SHOWN)) == without_libyaml(monkeypatch, text)
    assert outcome(parse_yaml(text, SHOWN, 4)) == without_libyaml(monkeypatch, text, 4)


def assert_same_with_and_without_libyaml(text):
    with pytest.MonkeyPatch.context() as patch:
        fast = outcome(parse_yaml(text, SHOWN))
        patch.setattr(yamlfile, "C_LOADER", None)
        assert fast == outcome(parse_yaml(text, SHOWN))


@given(text=yaml_like)
def test_any_yaml_like_text_reads_the_same_with_or_without_libyaml(text):
    assert_same_with_and_without_libyaml(text)


# YAML as a program writes it (block and flow styles, any values), sometimes with a fragment pasted in.
dumped = st.builds(
    lambda data, flow, width, cut, fragment: (lambda text: text[:cut % (len(text) + 1)] + fragment
                                               + text[cut % (len(text) + 1):])(
        yaml.safe_dump({"entries": [data, {"id": "x", "answer": data}]}, default_flow_style=flow, width=width,
                       allow_unicode=True)),
    values, st.sampled_from([False, True, None]), st.sampled_from([20, 80, 10**6]), st.integers(0, 10**6),
    st.sampled_from(["", "", "\n", "  ", "- ", ": ", "#", *FRAGMENTS]))


@given(text=dumped)
def test_dumped_yaml_reads_the_same_with_or_without_libyaml(text):
    assert_same_with_and_without_libyaml(text)


class Counting(yaml.SafeLoader):
    """The pure-Python loader, counting how many are made and how many events they give."""

    made = 0
    events = 0

    def __init__(self, stream: str) -> None:
        type(self).made += 1
        super().__init__(stream)

    def get_event(self) -> Any:
        type(self).events += 1
        return super().get_event()


def test_a_file_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (KNOWLEDGE / "faq" / "internazionalizzazione.yaml").read_text(encoding="utf-8")
    Counting.made = Counting.events = 0
    monkeypatch.setattr(yamlfile, "C_LOADER", None)
    monkeypatch.setattr(yamlfile.yaml, "SafeLoader", Counting)
    parsed, problems = parse_yaml(text, SHOWN)
    assert parsed is not None and not problems and parsed.data["entries"]
    assert Counting.made == 1
    assert Counting.events == sum(1 for _ in yaml.parse(text, Loader=yaml.loader.SafeLoader))


@needs_libyaml
def test_a_clean_file_is_not_read_again_by_the_pure_python_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (KNOWLEDGE / "faq" / "internazionalizzazione.yaml").read_text(encoding="utf-8")
    Counting.made = Counting.events = 0
    monkeypatch.setattr(yamlfile.yaml, "SafeLoader", Counting)
    parsed, problems = parse_yaml(text, SHOWN)
    assert parsed is not None and not problems
    assert Counting.made == 0
    parse_yaml(text + "  - *alias\n", SHOWN)  # a problem: read again, to word it as PyYAML does
    assert Counting.made == 1


def test_without_libyaml_at_all_the_pure_python_loader_gives_the_same_knowledge(tmp_path: Path) -> None:
    """A Python whose PyYAML has no libyaml (`yaml.__with_libyaml__` False) loads the same knowledge and
    words the same problems."""
    broken = tmp_path / "knowledge"
    broken.mkdir()
    for path in knowledge_files(KNOWLEDGE):
        target = broken / path.relative_to(KNOWLEDGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    with hostile_file(broken, "faq/rotto.yaml", b"entries:\n  - id: a\n    answer: [uno\n"):
        script = (
            "import json, sys, yaml\n"
            "yaml.__with_libyaml__ = False\n"
            "from bot.knowledge import yamlfile\n"
            "assert yamlfile.C_LOADER is None\n"
            "from bot.errors import KnowledgeError\n"
            "from bot.knowledge.load import load_knowledge\n"
            "out = []\n"
            "for root in sys.argv[1:]:\n"
            "    try:\n"
            "        out.append([repr(load_knowledge(root)), []])\n"
            "    except KnowledgeError as exc:\n"
            "        out.append(['', [str(p) for p in exc.problems]])\n"
            "print(json.dumps(out))\n")
        done = subprocess.run([sys.executable, "-c", script, str(KNOWLEDGE), str(broken)], capture_output=True,
                              text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
        assert done.returncode == 0, done.stderr
        pure = [tuple(x) for x in json.loads(done.stdout)]
        cwd = os.getcwd()
        os.chdir(REPO)  # problems name files relative to the working folder, as in the subprocess
        try:
            assert pure == [load_outcome(KNOWLEDGE), load_outcome(broken)]
        finally:
            os.chdir(cwd)
    assert pure[1][1] and any("rotto.yaml:4: malformed YAML" in p for p in pure[1][1])
