"""Writing measure files: readable YAML in a fixed key order, replaced atomically."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bot.measures.schema import FIELD_ORDER, Amounts, Measure, Provenance

SUB_ORDER: dict[str, tuple[str, ...]] = {
    "amounts": tuple(Amounts.model_fields),
    "provenance": tuple(Provenance.model_fields),
    "sections": ("heading", "text"),
}


class _Dumper(yaml.SafeDumper):
    """Block style with list items indented under their key, as people write YAML by hand."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Texts with paragraphs are written as `|` blocks and long one-line texts as folded `>` blocks:
    # both read as plain prose, with no quotes to escape ("dell'invenzione", not "dell''invenzione").
    style = None
    if "\n" in value:
        style = "|"
    elif len(value) > 70 and " " in value and value == value.strip():
        style = ">"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def measure_values(measure: Measure) -> dict[str, Any]:
    """The measure as the plain values a file holds: fields in order, nothing unset or empty."""
    return plain_values(measure.model_dump())


def plain_values(data: dict[str, Any]) -> dict[str, Any]:
    """`data` in file order, dropping None, empty lists and amounts that state nothing."""
    out: dict[str, Any] = {}
    for key in [*FIELD_ORDER, *(k for k in data if k not in FIELD_ORDER)]:
        if key not in data:
            continue
        value = data[key]
        if key in SUB_ORDER and isinstance(value, dict):
            value = _ordered(value, SUB_ORDER[key])
            if key == "amounts" and set(value) <= {"currency"}:
                continue
        elif key == "sections" and isinstance(value, list):
            value = [_ordered(s, SUB_ORDER["sections"]) if isinstance(s, dict) else s for s in value]
        if value is None or value == [] or value == {}:
            continue
        out[key] = value
    return out


def _ordered(mapping: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    keys = [*(k for k in order if k in mapping), *(k for k in mapping if k not in order)]
    return {k: mapping[k] for k in keys if mapping[k] is not None}


def dump_measure(values: dict[str, Any], header: str = "") -> str:
    """YAML text of a measure: block style, unicode kept, dates as unquoted ISO, a comment on top."""
    body = yaml.dump(values, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False,
                     width=100, indent=2)
    comment = "".join(f"# {line}\n" for line in header.splitlines()) if header else ""
    return comment + body


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`: a reader (or a
    crash) sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name starts with "." so the knowledge loader ignores it if it is ever left behind.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def to_json(value: Any) -> Any:
    """Dates as ISO strings, recursively: the form kept in the import state file."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value
