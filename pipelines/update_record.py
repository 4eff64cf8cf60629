"""The record of the last ``hotspots update``: when police.uk was checked, what it offered, when
the data last changed, and the last failure. ``<data dir>/update_record.json``, replaced
atomically; the service reads it for /health and the freshness line (it never asks police.uk
itself)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipelines.store.atomic import atomic_write

RECORD_FILE = "update_record.json"


@dataclass
class ForceOffer:
    source: str  # "api" or "archive"
    offered_last: str | None  # newest month police.uk (or the archive) offered at the check
    stored_last: str | None  # newest month stored after the check


@dataclass
class UpdateRecord:
    checked_at: str | None = None  # ISO time of the last successful check of the source(s)
    updated_at: str | None = None  # ISO time an update last changed stored data
    forces: dict[str, ForceOffer] = field(default_factory=dict)
    last_error: dict | None = None  # {"at", "message"} of the last failed update, until one works
    last_changes: dict = field(default_factory=dict)  # {"added": [...], "revised": [...]}

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"


def read_record(data_dir: Path) -> UpdateRecord:
    """The record, or an empty one when no update has run (or the file cannot be read: a
    damaged record must not take the service's /health down; the next update rewrites it)."""
    path = Path(data_dir) / RECORD_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        forces = {name: ForceOffer(**offer) for name, offer in raw.pop("forces", {}).items()}
        return UpdateRecord(forces=forces, **raw)
    except (OSError, ValueError, TypeError):
        return UpdateRecord()


def write_record(data_dir: Path, record: UpdateRecord) -> None:
    with atomic_write(Path(data_dir) / RECORD_FILE) as tmp:
        tmp.write_text(record.to_json(), encoding="utf-8")


def record_path(data_dir: Path) -> Path:
    return Path(data_dir) / RECORD_FILE
