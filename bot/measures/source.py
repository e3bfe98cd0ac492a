"""What an importer's parser yields: one candidate measure per source record, or why it is unusable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Candidate:
    """A measure read from one record of a source file, before validation."""

    label: str                      # names the record in messages: "record 3 (nid 2748, «Avviso…»)"
    data: dict[str, Any]            # measure fields, as in a knowledge/measures/*.yaml file
    errors: list[str] = field(default_factory=list)   # "close_date: cannot read '31-31-2024'"
    # Where each measure field came from in the source (e.g. close_date -> zs_field_close_date),
    # so a validation error can name the field the person sees in their file.
    origins: dict[str, str] = field(default_factory=dict)
    # True when `areas` was worked out from the purposes (not written by a person): areas that the
    # knowledge does not define are then dropped instead of reported.
    areas_derived: bool = False
    # True when the id was made from the record (catalogue node id + title), not written by a person:
    # only such an id gives way to the one the record got at its first import.
    id_derived: bool = True

    @property
    def record_key(self) -> tuple[str, str] | None:
        """(source, record id) when the source has stable record ids: keeps a measure's id stable."""
        prov = self.data.get("provenance") or {}
        source, record_id = prov.get("source"), prov.get("record_id")
        return (str(source), str(record_id)) if source and record_id else None
