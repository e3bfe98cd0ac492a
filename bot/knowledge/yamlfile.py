"""Read a YAML file and remember the line of every value, so errors can say `file:line`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.errors import Problem

Location = tuple[str | int, ...]


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
    """The file's text, or None with a problem at the line of the first byte that is not UTF-8."""
    raw = path.read_bytes()
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
    loader = yaml.SafeLoader(text)
    try:
        # Aliases (*name) are refused before composing: a self-referencing one makes a cyclic
        # structure, nested ones grow exponentially, and staff files have no use for either.
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                return None, [Problem(shown, event.start_mark.line + 1 + offset,
                                      f"aliases (*{event.anchor}) are not supported in knowledge files: "
                                      "write the value out")]
        node = loader.get_single_node()
        try:
            data = loader.construct_document(node) if node is not None else None
        except (ValueError, OverflowError):
            # PyYAML raises a bare ValueError for a date that does not exist (2026-02-30).
            return None, _unconstructible(node, loader, shown, offset)
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


def _unconstructible(node: yaml.Node, loader: yaml.SafeLoader, shown: Path, offset: int) -> list[Problem]:
    """The scalars that cannot become values (impossible dates), each at its line."""
    problems: list[Problem] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            stack.extend(v for pair in current.value for v in pair)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.ScalarNode) and current.tag == "tag:yaml.org,2002:timestamp":
            try:
                loader.construct_yaml_timestamp(current)
            except (ValueError, OverflowError) as exc:
                problems.append(Problem(shown, current.start_mark.line + 1 + offset,
                                        f"{current.value!r} is not a real date ({exc})"))
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
