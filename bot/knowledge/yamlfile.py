"""Read a YAML file and remember the line of every value, so errors can say `file:line`."""

from __future__ import annotations

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
# of ten thousand "[" before PyYAML's recursive composer overflows the stack.
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


def parse_yaml(text: str, shown: Path, first_line: int = 1) -> tuple[YamlFile | None, list[Problem]]:
    """Parse YAML text that starts at line `first_line` of file `shown` (for front matter)."""
    offset = first_line - 1
    try:
        # The reader refuses control characters (NUL, ESC...) already when the loader is made.
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        return None, [_reader_problem(exc, text, shown, offset)]
    try:
        # Aliases (*name) are refused before composing: a self-referencing one makes a cyclic
        # structure, nested ones grow exponentially ("billion laughs"), and staff files have no use
        # for either. Depth is checked here too: the event parser is iterative, the composer is not.
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                return None, [Problem(shown, event.start_mark.line + 1 + offset,
                                      f"aliases (*{event.anchor}) are not supported in knowledge files: "
                                      "write the value out")]
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return None, [Problem(shown, event.start_mark.line + 1 + offset,
                                          f"nested more than {MAX_DEPTH} levels deep: knowledge files are "
                                          "flat lists of fields")]
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        node = loader.get_single_node()
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
