"""Import measures from the catalogue or a staff spreadsheet into `knowledge/measures/`, one YAML
file per measure, keeping what staff edited by hand since the last import."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path
from typing import Any

from bot.errors import Problem, SportelloError
from bot.knowledge.schema import visible_text
from bot.knowledge.yamlfile import YamlFile, read_yaml
from bot.measures.files import dump_measure, measure_values, plain_values, to_json, write_atomic
from bot.measures.incentivi import looks_like_catalogue, read_catalogue
from bot.measures.report import ImportReport, KeptEdit, RecordError
from bot.measures.schema import MEASURES_DIR, Measure, parse_measure_text, read_measure_file, validate_measure
from bot.measures.source import Candidate
from bot.measures.spreadsheet import read_spreadsheet

logger = logging.getLogger(__name__)

FORMATS = ("incentivi", "csv")
# The largest source file read (documented in knowledge/README.md, "Limits"): the whole catalogue,
# a few thousand records, is a few tens of MB; anything larger is refused before it is read.
MAX_SOURCE_BYTES = 64 * 1024 * 1024
# The last imported values of each measure. The leading dot makes the knowledge loader skip it.
STATE_FILE = ".import-state.json"
STATE_FORMAT = 1
# Changes on every capture without saying anything new about the measure: never a reason to rewrite.
VOLATILE = {("provenance", "captured")}

FieldPath = tuple[str, ...]
_MISSING: Any = object()


class MeasureImportError(SportelloError):
    """The import cannot start (unknown format); problems with single records go in the report."""


def import_files(paths: list[Path], knowledge_root: Path, fmt: str | None = None, *,
                 today: dt.date) -> ImportReport:
    """Import every measure in `paths` into `knowledge_root/measures/` and say what happened."""
    if fmt is not None and fmt not in FORMATS:
        raise MeasureImportError(f"unknown import format {fmt!r}: use one of {', '.join(FORMATS)}")
    run = _Run(Path(knowledge_root), today)
    if not run.folder_is_safe():
        run.report.errors.append(RecordError(str(run.folder), "", "the measures folder is a link to a place outside "
                                             "the knowledge folder: nothing was imported"))
        return run.report
    for path in paths:
        candidates, problems = _read_source(Path(path), fmt, today)
        run.report.errors.extend(RecordError(str(path), "", problem) for problem in problems)
        for cand in candidates:
            run.import_one(cand, str(path))
    run.save_state()
    return run.report


def detect_format(path: Path, text: str) -> str:
    """'incentivi' for the catalogue's JSON, 'csv' for a spreadsheet: by extension, else by content."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "incentivi"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    start = text.lstrip("\ufeff \t\r\n")[:1]
    if start in ("{", "["):
        try:
            if looks_like_catalogue(json.loads(text)):
                return "incentivi"
        except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
            return "incentivi"  # it meant to be JSON: let the reader say where it breaks
    return "csv"


def _read_source(path: Path, fmt: str | None, today: dt.date) -> tuple[list[Candidate], list[str]]:
    try:
        if not path.is_file():  # a folder, a pipe or a device would block or never end
            return [], ["not a file" if path.exists() else "no such file"]
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            return [], [f"the file is too big ({size:,} bytes; at most {MAX_SOURCE_BYTES:,})"]
        raw = path.read_bytes()
    except OSError as exc:
        return [], [f"cannot read the file ({exc.strerror or exc})"]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return [], [f"line {line}: not valid UTF-8; save the file as UTF-8 (CSV UTF-8 in Excel)"]
    kind = fmt or detect_format(path, text)
    return read_catalogue(text, today) if kind == "incentivi" else read_spreadsheet(text, today)


class _Run:
    """One import: the state file, the ids seen so far, and the report being written."""

    def __init__(self, root: Path, today: dt.date):
        self.root = root
        self.folder = root / MEASURES_DIR
        self.today = today
        self.report = ImportReport()
        self.area_ids = _area_ids(root)
        self.state, self.state_text = self._load_state()
        self.ids_by_record: dict[tuple[str, str], str] = {
            (entry["source"], entry["record_id"]): measure_id
            for measure_id, entry in self.state.items() if entry.get("source") and entry.get("record_id")
        }
        if not self.state:
            self.ids_by_record.update(self._ids_from_files())
        self.seen: dict[str, str] = {}

    def folder_is_safe(self) -> bool:
        """False when `measures/` is a link leading outside the knowledge folder (never written through)."""
        try:
            return not self.folder.exists() or self.folder.resolve().is_relative_to(self.root.resolve())
        except (OSError, RuntimeError):
            return False

    # --- one measure ---------------------------------------------------------------------------

    def import_one(self, cand: Candidate, source: str) -> None:
        """Validate, merge with the file on disk, write if anything changed, and record the outcome."""
        def fail(message: str) -> None:
            self.report.errors.append(RecordError(source, cand.label, message))

        if cand.errors:
            for message in cand.errors:
                fail(message)
            return
        key = cand.record_key
        if cand.id_derived and key and key in self.ids_by_record:
            # The title (and so the fresh id) may have changed in the source: keep the file it has.
            cand.data["id"] = self.ids_by_record[key]
        measure, messages = self._validate(cand)
        if measure is None:
            for message in messages:
                fail(message)
            return
        if measure.id in self.seen:
            fail(f"id: '{measure.id}' is also the id of {self.seen[measure.id]}; give each measure its own id")
            return
        self.seen[measure.id] = f"{cand.label} in {source}"

        incoming = measure_values(measure)
        target = self.folder / f"{measure.id}.yaml"
        entry = self.state.get(measure.id)
        if target.is_symlink():
            # Reading through it would import another file's text; writing would replace the link.
            fail(f"{target.name} is a symbolic link: replace it with the file itself, then import again")
            return
        current, current_text, unreadable = _current(target)
        if unreadable:
            fail(f"the existing file cannot be read ({unreadable}); fix it or delete it, then import again")
            return
        merged, kept = merge(current, incoming, entry["values"] if entry else None)
        text = dump_measure(merged, _header(measure))
        problems = self._problems(text, target, merged)
        if problems:
            reason = "; ".join(p.message for p in problems)
            fail(f"with the hand edits kept, {target.name} would not be valid ({reason}); fix the file by hand, "
                 "then import again" if kept or current is not None else f"{target.name} would not be valid ({reason})")
            return
        changed = [] if current is None else _differences(current, merged)
        if current is None or changed:
            try:
                write_atomic(target, text)
            except OSError as exc:
                fail(f"cannot write {target} ({exc.strerror or exc}); the previous file is unchanged")
                return
            self.report.written.append(target)
            if current is None:
                self.report.added.append(measure.id)
                if entry is not None:
                    self.report.recreated.append(measure.id)
            else:
                self.report.changed[measure.id] = changed
                if _comments(current_text) - _comments(text):
                    self.report.notes.append(f"{target.name}: comments written by hand were not kept "
                                             "(the file was rewritten)")
        else:
            self.report.unchanged.append(measure.id)
        for path in kept:
            self.report.kept.append(KeptEdit(measure.id, ".".join(path), _get(merged, path), _get(incoming, path)))
        values = to_json(incoming)
        if entry is None or entry.get("values") != values:
            # The date moves only when the source says something new, so the state file (kept in
            # git with the measures) does not change on every run.
            self.state[measure.id] = {"source": measure.provenance.source, "record_id": measure.provenance.record_id,
                                      "imported": self.today.isoformat(), "values": values}

    def _problems(self, text: str, target: Path, merged: dict[str, Any]) -> list[Problem]:
        """What is wrong with the text about to be written (nothing, normally)."""
        parsed, problems = parse_measure_text(text, target)
        if parsed is not None and not problems:
            validate_measure(parsed, problems, self.area_ids)
            if not problems and to_json(parsed.data) != to_json(merged):
                # Never write a file that would read back as something else.
                problems.append(Problem(target, 1, "the YAML written would not read back the same"))
        return problems

    def _validate(self, cand: Candidate) -> tuple[Measure | None, list[str]]:
        data = dict(cand.data)
        if cand.areas_derived and self.area_ids is not None:
            data["areas"] = [a for a in data.get("areas", []) if a in self.area_ids]
        data = plain_values(_visible(data))
        problems: list[Problem] = []
        # A YamlFile without lines: validation's wording is reused, its locations name the fields.
        measure = validate_measure(YamlFile(Path("record"), data, {}), problems, self.area_ids)
        return measure, [_with_origin(p.message, cand.origins) for p in problems]

    # --- state ---------------------------------------------------------------------------------

    def _load_state(self) -> tuple[dict[str, dict[str, Any]], str]:
        path = self.folder / STATE_FILE
        if not path.exists():
            return {}, ""
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text)
            measures = data["measures"]
            if data.get("format") != STATE_FORMAT or not isinstance(measures, dict):
                raise ValueError("unknown format")
            return measures, text
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Without the state every difference counts as a hand edit: nothing is overwritten.
            self.report.notes.append(f"{path}: unreadable ({exc}); differences from the source are kept as hand edits")
            return {}, ""

    def save_state(self) -> None:
        """Write the last imported values, if they changed (atomically, like the measures)."""
        text = json.dumps({"format": STATE_FORMAT, "measures": self.state}, ensure_ascii=False, indent=1,
                          sort_keys=True) + "\n"
        if text == self.state_text or not self.state:
            return
        try:
            write_atomic(self.folder / STATE_FILE, text)
        except OSError as exc:
            self.report.errors.append(RecordError(str(self.folder / STATE_FILE), "",
                                                  f"cannot write the import state ({exc.strerror or exc})"))

    def _ids_from_files(self) -> dict[tuple[str, str], str]:
        """(source, record id) -> id from the measure files, when the state file is missing."""
        found: dict[tuple[str, str], str] = {}
        for path in sorted(self.folder.glob("*.yaml")) if self.folder.is_dir() else []:
            parsed, _ = read_measure_file(path)
            data = parsed.data if parsed else None
            prov = data.get("provenance") if isinstance(data, dict) else None
            if isinstance(prov, dict) and prov.get("source") and prov.get("record_id"):
                found[(str(prov["source"]), str(prov["record_id"]))] = path.stem
        return found


def merge(current: dict[str, Any] | None, incoming: dict[str, Any],
          last: dict[str, Any] | None) -> tuple[dict[str, Any], list[FieldPath]]:
    """The values to write, and the fields kept because staff edited them by hand.

    A field is edited by hand when the file no longer holds what the last import wrote (`last`);
    then the file wins. With no record of the last import, any difference counts as a hand edit:
    keeping a value is safe, overwriting one is not.
    """
    if current is None:
        return incoming, []
    now, new = _flatten(current), _flatten(incoming)
    before = _flatten(last) if last is not None else None
    chosen: dict[FieldPath, Any] = {}
    kept: list[FieldPath] = []
    for path in [*new, *(p for p in now if p not in new)]:
        here, there = now.get(path, _MISSING), new.get(path, _MISSING)
        if path in VOLATILE:
            value = there
        else:
            imported = before.get(path, _MISSING) if before is not None else there
            edited = _json(here) != _json(imported)
            value = here if edited else there
            if edited and _json(here) != _json(there):
                kept.append(path)
        if value is not _MISSING:
            chosen[path] = value
    # Only the capture date moved: keep the file's, so an unchanged measure is not rewritten.
    if all(_json(chosen.get(p, _MISSING)) == _json(now.get(p, _MISSING)) for p in chosen.keys() | now.keys()
           if p not in VOLATILE):
        for path in VOLATILE:
            if path in now:
                chosen[path] = now[path]
    return plain_values(_unflatten(chosen)), kept


def _flatten(values: dict[str, Any]) -> dict[FieldPath, Any]:
    # Nested mappings (amounts, provenance) are compared field by field, lists as a whole.
    flat: dict[FieldPath, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                flat[(key, sub)] = inner
        else:
            flat[(key,)] = value
    return flat


def _unflatten(flat: dict[FieldPath, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in flat.items():
        if len(path) == 1:
            out[path[0]] = value
        else:
            out.setdefault(path[0], {})[path[1]] = value
    return out


def _json(value: Any) -> Any:
    return value if value is _MISSING else to_json(value)


def _differences(current: dict[str, Any], merged: dict[str, Any]) -> list[str]:
    old, new = _flatten(current), _flatten(merged)
    paths = [*new, *(p for p in old if p not in new)]
    return [".".join(p) for p in paths if _json(old.get(p, _MISSING)) != _json(new.get(p, _MISSING))]


def _get(values: dict[str, Any], path: FieldPath) -> Any:
    value: Any = values
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _current(target: Path) -> tuple[dict[str, Any] | None, str, str]:
    """The file's values (None when there is no file), its text, and why it cannot be read ('' if it can)."""
    if not target.exists():
        return None, "", ""
    parsed, problems = read_measure_file(target)
    if parsed is None or problems or not isinstance(parsed.data, dict):
        return None, "", str(problems[0]) if problems else f"{target}: not a mapping of fields"
    return plain_values(parsed.data), target.read_text(encoding="utf-8"), ""


def _header(measure: Measure) -> str:
    source = " ".join(measure.provenance.source.split())
    return (f"Misura importata da: {source}. Le modifiche fatte a mano restano ai prossimi import "
            "(vedi README.md).\n"
            f"Imported from: {source}. Hand edits are kept on re-import (see README.md).")


def _comments(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.lstrip().startswith("#")}


def _visible(value: Any) -> Any:
    """`value` with invisible characters removed from every text (zero-width spaces and direction
    marks come with text copied from web pages; the knowledge refuses them)."""
    if isinstance(value, str):
        return "".join(ch for ch in value if _shows(ch))
    if isinstance(value, dict):
        return {k: _visible(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_visible(v) for v in value]
    return value


def _shows(char: str) -> bool:
    try:
        visible_text(char)
        return True
    except ValueError:
        return False


def _with_origin(message: str, origins: dict[str, str]) -> str:
    """'close_date: …' -> 'close_date (zs_field_close_date): …', naming the field of the source."""
    where, sep, what = message.partition(": ")
    if not sep:
        return message
    key = re.sub(r"\[\d+\]", "", where)
    origin = origins.get(key) or origins.get(key.split(".")[0])
    return f"{where} ({origin}): {what}" if origin and origin != key else message


def _area_ids(root: Path) -> set[str] | None:
    """The area ids defined in areas.yaml, or None when it is missing or unreadable."""
    path = root / "areas.yaml"
    if not path.exists():
        return None
    parsed, problems = read_yaml(path)
    data = parsed.data if parsed and not problems else None
    areas = data.get("areas") if isinstance(data, dict) else None
    if not isinstance(areas, list):
        return None
    return {a["id"] for a in areas if isinstance(a, dict) and isinstance(a.get("id"), str)}
