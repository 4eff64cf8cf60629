"""What one force-month partition holds and what was left out of it, kept inside the partition.

The record travels in the Parquet file's footer, so rows and their counts are swapped in by the
same atomic rename and can never disagree.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from pipelines.months import missing_months

METADATA_KEY = b"hotspots.coverage"


@dataclass
class PartitionCoverage:
    force: str
    month: str
    source: str  # "archive", "api", or both joined by "+" when a month mixes them
    source_rows: int  # rows the source offered (data rows read, or distinct crimes returned)
    stored: int  # rows kept in the partition, including those with no location
    no_location: int  # stored rows with no map point ("No location" / crimes-no-location)
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> rows not stored
    warnings: dict[str, int] = field(default_factory=dict)  # kept rows worth knowing about
    provenance: list[dict] = field(default_factory=list)  # files or API requests behind the rows
    # One entry per republication `hotspots update` swapped in: when, and rows added, removed and
    # changed (pipelines/ingest/revisions.py); empty for a month as first loaded.
    revisions: list[dict] = field(default_factory=list)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> PartitionCoverage:
        return cls(**json.loads(text))

    def as_row(self) -> dict:
        """The public shape printed by ``hotspots coverage --json`` and served by the API."""
        row = asdict(self)
        row["status"] = "stored"
        return row


def coverage_rows(records: list[PartitionCoverage]) -> list[dict]:
    """One row per force and month, with the months missing inside each force's stored range
    added as ``status: "missing"`` rows so a gap can never pass unseen."""
    rows = [record.as_row() for record in records]
    for force in sorted({record.force for record in records}):
        for month in missing_months(r.month for r in records if r.force == force):
            rows.append(
                {
                    "force": force,
                    "month": month,
                    "status": "missing",
                    "source": None,
                    "source_rows": 0,
                    "stored": 0,
                    "no_location": 0,
                    "rejected": {},
                    "warnings": {},
                    "provenance": [],
                    "revisions": [],
                }
            )
    return sorted(rows, key=lambda row: (row["force"], row["month"]))
