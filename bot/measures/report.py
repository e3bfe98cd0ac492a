"""What an import did, measure by measure, in words for the CLI (Italian or English)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class KeptEdit:
    """A field staff changed by hand since the last import: the file keeps it, the source differs."""

    measure_id: str
    field: str          # "title", "amounts.budget"
    kept: Any           # what the file says (missing: None)
    incoming: Any       # what the source says now (missing: None)


@dataclass(frozen=True)
class RecordError:
    """A record (or a whole source file) that could not be imported, and why."""

    source: str         # the input file
    record: str         # "record 3 (nid 2748, «Avviso…»)", "line 4 («Bando…»)" or "" for the whole file
    message: str        # "close_date (zs_field_close_date): must not be before open_date (2024-07-10)"

    def __str__(self) -> str:
        return ": ".join(part for part in (self.source, self.record, self.message) if part)


@dataclass
class ImportReport:
    """Counts and lists of what happened; `ok` is False when any record failed."""

    added: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)   # id -> fields that changed
    unchanged: list[str] = field(default_factory=list)
    kept: list[KeptEdit] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)           # added again after a hand deletion
    notes: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every record was imported (hand edits kept are not failures)."""
        return not self.errors

    @property
    def imported(self) -> int:
        """How many measures are now in step with the sources (added, changed or unchanged)."""
        return len(self.added) + len(self.changed) + len(self.unchanged)

    def lines(self, lang: Literal["it", "en"] = "it") -> list[str]:
        """A summary for people: counts first, then details (changes, kept edits, errors)."""
        en = lang == "en"
        out = [
            (f"{self.imported} measures imported: {len(self.added)} added, {len(self.changed)} changed, "
             f"{len(self.unchanged)} unchanged; {len(self.errors)} errors.") if en else
            (f"{self.imported} misure importate: {len(self.added)} nuove, {len(self.changed)} modificate, "
             f"{len(self.unchanged)} invariate; {len(self.errors)} errori.")
        ]
        for measure_id in self.added:
            again = measure_id in self.recreated
            note = (" (re-created: its file had been deleted)" if en else " (ricreata: il file era stato cancellato)")
            out.append(f"  + {measure_id}" + (note if again else ""))
        for measure_id, fields in self.changed.items():
            out.append(f"  ~ {measure_id}: {', '.join(fields)}")
        if self.kept:
            out.append("Hand edits kept (the source says otherwise):" if en
                       else "Modifiche a mano conservate (la fonte dice altro):")
            for edit in self.kept:
                incoming = "(nothing)" if en else "(niente)"
                if edit.incoming is not None:
                    incoming = _short(edit.incoming)
                out.append(f"  = {edit.measure_id}: {edit.field} — " + ("source: " if en else "fonte: ") + incoming)
        out.extend(f"  ! {note}" for note in self.notes)
        if self.errors:
            out.append("Not imported:" if en else "Non importati:")
            out.extend(f"  ✗ {error}" for error in self.errors)
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines("it"))


def _short(value: Any, limit: int = 80) -> str:
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
