"""Read a YAML file and remember the line of every value, so errors can say `file:line`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.errors import Problem

Location = tuple[str | int, ...]

# Limits on what a knowledge file may be, so a hostile or broken file costs an error, not the
# machine's memory or a crash (documented in knowledge/README.md). The largest shipped file is
# under 20 KB; an official text of a few hundred pages is well under 5 MB.
MAX_FILE_BYTES = 5 * 1024 * 1024
# Knowledge files nest at most four levels (a measure's amounts); 20 leaves room and stops a file
# of ten thousand "[" before PyYAML's recursive constructor (or Python's recursion limit) is reached.
MAX_DEPTH = 20


class YamlFile:
    """A parsed YAML file: its data and the 1-based line of each key path."""

    def __init__(self, path: Path, data: Any, lines: dict[Location, int]):
        self.path = path
        self.data = data
        self.lines = lines

    def line_of(self, location: Location) -> int:
        """Line of the value at `location`, or of the nearest enclosing value that exists."""
        loc = tuple(location)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), 1)

    def problem(self, location: Location, message: str) -> Problem:
        """A Problem pointing at `location`, worded `where: what`."""
        where = format_location(location)
        return Problem(self.path, self.line_of(location), f"{where}: {message}" if where else message)


def format_location(location: Location) -> str:
    """('entries', 3, 'answer') -> 'entries[3].answer'."""
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_text(path: Path, shown: Path) -> tuple[str | None, list[Problem]]:
    """The file's text, or None with a problem: too big, unreadable, or the line of the first byte
    that is not UTF-8."""
    try:
        # The size is checked before reading, so a huge (or endless) file is never loaded.
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [Problem(shown, 1, f"the file is too big ({size:,} bytes; at most {MAX_FILE_BYTES:,})")]
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(shown, 1, f"cannot read the file ({exc.strerror or exc})")]
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(shown, line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8")]


def read_yaml(path: Path, shown_as: Path | None = None) -> tuple[YamlFile | None, list[Problem]]:
    """Parse `path`; return the file, or None with the problems that stopped parsing."""
    shown = shown_as or path
    text, problems = read_text(path, shown)
    if text is None:
        return None, problems
    return parse_yaml(text, shown)


# libyaml's C parser, when PyYAML was built with it: the 5,000-entry synthetic FAQ files (bench/) load
# in about 1 s instead of 14 s, which was most of a rebuild. Without it, the pure-Python parser does it all.
C_LOADER: type[Any] | None = getattr(yaml, "CSafeLoader", None) if getattr(yaml, "__with_libyaml__", False) else None

# Text that libyaml and PyYAML's own parser read differently (found by comparing the two on generated
# files, see tests/test_yaml_fast.py): a tab after a plain value ("a\tb", which PyYAML refuses), a
# byte order mark past the first character, and the Unicode line breaks (NEL, LS, PS). A file with
# any of them takes the pure-Python loader, so the result never depends on which parser is installed.
# So does a comment glued to a block scalar's header ("|#", ">-#"): libyaml reads it as a comment,
# PyYAML refuses it (a comment needs a space before it).
_C_DIFFERS = re.compile(r"[\t\ufeff\x85\u2028\u2029]|[|>][-+0-9]*#")


def c_reads_alike(text: str) -> bool:
    """Whether libyaml reads `text` as PyYAML's own parser does (see _C_DIFFERS)."""
    return _C_DIFFERS.search(text) is None


def parse_yaml(text: str, shown: Path, first_line: int = 1) -> tuple[YamlFile | None, list[Problem]]:
    """Parse YAML text that starts at line `first_line` of file `shown` (for front matter)."""
    if C_LOADER is not None and c_reads_alike(text):
        parsed, problems = parse_with(C_LOADER, text, shown, first_line, c_parser=True)
        # libyaml words its errors differently: a file with any problem (or with what the two parsers
        # read differently, see _compose) is parsed again by the pure-Python loader, so every message
        # and line is the one it gives. Such files are rare; a clean file is parsed once.
        if parsed is not None and not problems:
            return parsed, problems
    return parse_with(yaml.SafeLoader, text, shown, first_line)


def parse_with(loader_class: type[Any], text: str, shown: Path, first_line: int = 1,
               c_parser: bool = False) -> tuple[YamlFile | None, list[Problem]]:
    """Parse with one loader class (yaml.SafeLoader or C_LOADER): one pass over the events, checked
    and composed into nodes, then built into Python values. With `c_parser`, what libyaml reads
    differently from PyYAML's parser is refused as a problem (see _compose)."""
    offset = first_line - 1
    try:
        # The reader refuses control characters (NUL, ESC...) already when the loader is made.
        loader = loader_class(text)
    except yaml.reader.ReaderError as exc:
        return None, [_reader_problem(exc, text, shown, offset)]
    except (ValueError, yaml.YAMLError):  # the C parser cannot take a str with lone surrogates
        return None, [Problem(shown, first_line, "malformed YAML: the text cannot be read")]
    try:
        node, refused = _compose(loader, c_parser)
        if refused is not None:
            line, message = refused
            return None, [Problem(shown, line + 1 + offset, message)]
        try:
            data = loader.construct_document(node) if node is not None else None
        except yaml.YAMLError:
            raise
        except Exception:  # noqa: BLE001 - PyYAML's constructors raise bare Python errors
            # For values it cannot build, PyYAML raises whatever Python raised: a date that does
            # not exist (2026-02-30) a ValueError, an empty "!!int" an IndexError, "!!bool x" a KeyError.
            return None, _unconstructible(node, shown, offset)
    except yaml.reader.ReaderError as exc:
        return None, [_reader_problem(exc, text, shown, offset)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or exc.context or "cannot parse"
        return None, [Problem(shown, line + offset, f"malformed YAML: {what}")]
    except yaml.YAMLError as exc:
        return None, [Problem(shown, first_line, f"malformed YAML: {exc}")]
    except (ValueError, OverflowError) as exc:
        # PyYAML's own scanner lets a bare ValueError or OverflowError out for an escape naming no
        # character ("\U00999999" in a double-quoted text); it stopped reading at the line of that text.
        mark = loader.get_mark() if hasattr(loader, "get_mark") else None
        line = mark.line + 1 if mark is not None else 1
        return None, [Problem(shown, line + offset, f"malformed YAML: a quoted text cannot be read ({exc})")]
    finally:
        loader.dispose()
    lines: dict[Location, int] = {}
    problems: list[Problem] = []
    if node is not None:
        _walk(node, (), lines, problems, shown)
    if offset:
        lines = {loc: line + offset for loc, line in lines.items()}
        problems = [Problem(p.path, p.line + offset, p.message) for p in problems]
    return YamlFile(shown, data, lines), problems


def _compose(loader: Any, c_parser: bool = False) -> tuple[yaml.Node | None, tuple[int, str] | None]:
    """The root node of the stream's first document, composed from the parser's events in one pass
    (as PyYAML's Composer does, but without recursion), or a refusal: (0-based line, message).

    Aliases (*name) are refused: a self-referencing one makes a cyclic structure, nested ones grow
    exponentially ("billion laughs"), and staff files have no use for either. So is nesting deeper
    than MAX_DEPTH: the constructor that builds values recurses. The whole stream is read before a
    composer error (a second document, a duplicate anchor) is raised, so a syntax error, alias or
    depth anywhere in the file is reported first, as the checks that read all events first did.

    With `c_parser`, two things libyaml reads differently from PyYAML's parser are refused: an empty
    plain value (libyaml places some, at the end of the text or in a flow collection, elsewhere, so
    their line may differ) and a '?' in a plain value inside [...] or {...} (PyYAML refuses it)."""
    deferred: yaml.composer.ComposerError | None = None
    anchors: dict[str, yaml.Node] = {}
    root: yaml.Node | None = None
    open_nodes: list[list[Any]] = []  # [collection node, key node waiting for its value or None]
    documents = 0
    nesting: list[bool] = []  # for each collection the parser is inside: is it a flow one, [...] or {...}?
    flow = 0
    while True:
        event = loader.get_event()
        kind = type(event)
        if kind is yaml.ScalarEvent or kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
            if kind is not yaml.ScalarEvent:
                nesting.append(bool(event.flow_style))
                flow += nesting[-1]
                if len(nesting) > MAX_DEPTH:
                    return None, (event.start_mark.line, f"nested more than {MAX_DEPTH} levels deep: knowledge "
                                                         "files are flat lists of fields")
            if documents > 1:
                continue  # only the first document is composed; the rest is read for the checks
            tag = event.tag
            if kind is yaml.ScalarEvent:
                if c_parser and not event.style and (not event.value or (flow and "?" in event.value)):
                    return None, (event.start_mark.line, "a value libyaml may read differently")
                if tag is None or tag == "!":
                    tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
                # libyaml marks a plain scalar's style '' where PyYAML says None.
                node: yaml.Node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark,
                                                  style=event.style or None)
            else:
                node_class = yaml.SequenceNode if kind is yaml.SequenceStartEvent else yaml.MappingNode
                if tag is None or tag == "!":
                    tag = loader.resolve(node_class, None, event.implicit)
                node = node_class(tag, [], event.start_mark, None, flow_style=event.flow_style)
            anchor = event.anchor
            if anchor is not None:
                if anchor in anchors and deferred is None:
                    deferred = yaml.composer.ComposerError(
                        f"found duplicate anchor {anchor!r}; first occurrence", anchors[anchor].start_mark,
                        "second occurrence", event.start_mark)
                anchors[anchor] = node
            if kind is not yaml.ScalarEvent:
                open_nodes.append([node, None])
                continue
        elif kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
            flow -= nesting.pop()
            if documents > 1:
                continue
            node = open_nodes.pop()[0]
            node.end_mark = event.end_mark
        elif kind is yaml.AliasEvent:
            return None, (event.start_mark.line, f"aliases (*{event.anchor}) are not supported in knowledge "
                                                 "files: write the value out")
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents == 2 and deferred is None and root is not None:
                deferred = yaml.composer.ComposerError("expected a single document in the stream", root.start_mark,
                                                       "but found another document", event.start_mark)
            continue
        elif kind is yaml.DocumentEndEvent:
            anchors = {}
            continue
        elif kind is yaml.StreamEndEvent:
            break
        else:  # StreamStartEvent
            continue
        # A finished node (a scalar, or a collection just closed) goes into the collection around it.
        if not open_nodes:
            root = node
            continue
        parent = open_nodes[-1]
        if type(parent[0]) is yaml.SequenceNode:
            parent[0].value.append(node)
        elif parent[1] is None:
            parent[1] = node
        else:
            parent[0].value.append((parent[1], node))
            parent[1] = None
    if deferred is not None:
        raise deferred
    return root, None


def _reader_problem(exc: yaml.reader.ReaderError, text: str, shown: Path, offset: int) -> Problem:
    """A character YAML does not allow (NUL, ESC, other control characters), at its line."""
    line = text.count("\n", 0, max(exc.position, 0)) + 1
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return Problem(shown, line + offset, f"control character U+{ord(char):04X} is not allowed: delete it "
                                         "(it may have come with text pasted from another program)")


def _unconstructible(node: yaml.Node, shown: Path, offset: int) -> list[Problem]:
    """The values that cannot be built (impossible dates, numbers too long, "!!bool maybe"), each at its line."""
    loader = yaml.SafeLoader("")  # a fresh one: the failed attempt left its half-built state behind
    problems: list[Problem] = []
    tagged: list[yaml.Node] = []  # collections with an unusual tag (!!omap, !!pairs): suspects if no scalar fails
    stack = [node]
    while stack:
        current = stack.pop()
        line = current.start_mark.line + 1 + offset
        if isinstance(current, (yaml.MappingNode, yaml.SequenceNode)):
            stack.extend(v for pair in current.value for v in pair) if isinstance(current, yaml.MappingNode) \
                else stack.extend(current.value)
            if current.tag not in ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
                tagged.append(current)
            continue
        try:
            loader.construct_object(current)
        except Exception as exc:  # noqa: BLE001 - PyYAML's constructors raise bare Python errors
            kind = current.tag.rsplit(":", 1)[-1]
            if kind == "timestamp":
                message = f"{current.value[:40]!r} is not a real date" + (f" ({exc})" if isinstance(exc, ValueError) else "")
            elif kind == "int" and current.value.strip("+-_").isdigit():
                message = f"a number of {len(current.value)} digits is too long to read"
            else:
                message = f"{current.value[:40]!r} cannot be read as {kind}"
            problems.append(Problem(shown, line, message))
    if not problems and tagged:
        first = min(tagged, key=lambda n: n.start_mark.line)
        problems.append(Problem(shown, first.start_mark.line + 1 + offset,
                                f"malformed YAML: this value cannot be read as {first.tag.rsplit(':', 1)[-1]}"))
    return problems or [Problem(shown, 1 + offset, "malformed YAML: a value cannot be read")]


def _walk(node: yaml.Node, loc: Location, lines: dict[Location, int], problems: list[Problem], path: Path) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                where = format_location(loc + (key,))
                problems.append(Problem(path, key_node.start_mark.line + 1, f"{where}: duplicate key"))
            seen.add(key)
            lines[loc + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, loc + (key,), lines, problems, path)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[loc + (i,)] = item.start_mark.line + 1
            _walk(item, loc + (i,), lines, problems, path)
