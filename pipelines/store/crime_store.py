"""Files and atomic swaps: one Parquet file per force and month under ``<data dir>/crimes``.

Layout: ``crimes/<force>/<YYYY-MM>.parquet``. DuckDB, pandas and QGIS read the files directly
(``read_parquet('data/crimes/*/*.parquet')``). A partition is replaced atomically
(``pipelines.store.atomic``), so a reader or a killed writer only ever sees the old file or the
new one, never half of either.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.forces import check_force
from pipelines.months import in_range, is_month
from pipelines.schema import BASE_H3_RESOLUTION, CRIME_SCHEMA
from pipelines.store.atomic import atomic_write, remove_stale_temporaries
from pipelines.store.coverage import METADATA_KEY, PartitionCoverage

DATA_DIR_ENV = "HOTSPOTS_DATA_DIR"
_H3_KEY = b"hotspots.h3_resolution"


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """--data-dir if given, else $HOTSPOTS_DATA_DIR, else ./data."""
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(DATA_DIR_ENV) or "data")


class StoreError(Exception):
    """A store that cannot be used as asked (wrong schema, unreadable partition)."""


class CrimeStore:
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.crimes_dir = self.root / "crimes"

    def partition_path(self, force: str, month: str) -> Path:
        return self.crimes_dir / check_force(force) / f"{month}.parquet"

    # -- writing -------------------------------------------------------------------------------

    def write_partition(self, table: pa.Table, coverage: PartitionCoverage) -> Path:
        """Replace the force-month partition with ``table`` atomically (write, fsync, rename)."""
        if table.schema.remove_metadata() != CRIME_SCHEMA:
            raise StoreError(f"rows do not match the canonical schema:\n{table.schema}")
        if coverage.stored != table.num_rows:
            raise StoreError(
                f"coverage says {coverage.stored} rows stored but the table has {table.num_rows}"
            )
        path = self.partition_path(coverage.force, coverage.month)
        # One writer per partition at a time: concurrent ingests of one force-month are not
        # supported, so anything left beside it is from a writer that was killed.
        remove_stale_temporaries(path)
        table = table.replace_schema_metadata(
            {METADATA_KEY: coverage.to_json().encode(), _H3_KEY: str(BASE_H3_RESOLUTION).encode()}
        )
        with atomic_write(path) as tmp_path:
            pq.write_table(table, tmp_path, compression="zstd")
        return path

    # -- reading -------------------------------------------------------------------------------

    def partitions(
        self, force: str | None = None, first: str | None = None, last: str | None = None
    ) -> list[tuple[str, str]]:
        """(force, month) of every stored partition, sorted."""
        if not self.crimes_dir.is_dir():
            return []
        found = []
        force_dirs = (
            [self.crimes_dir / check_force(force)] if force else sorted(self.crimes_dir.iterdir())
        )
        for force_dir in force_dirs:
            if not force_dir.is_dir() or force_dir.name.startswith("."):
                continue
            for file in force_dir.glob("*.parquet"):
                month = file.stem
                if is_month(month) and in_range(month, first, last):
                    found.append((force_dir.name, month))
        return sorted(found)

    def forces(self) -> list[str]:
        return sorted({force for force, _ in self.partitions()})

    def coverage_of(self, force: str, month: str) -> PartitionCoverage | None:
        path = self.partition_path(force, month)
        if not path.exists():
            return None
        metadata = pq.read_schema(path).metadata or {}
        if METADATA_KEY not in metadata:
            raise StoreError(f"{path} has no coverage record; re-ingest {force} {month}")
        return PartitionCoverage.from_json(metadata[METADATA_KEY])

    def coverage(
        self, force: str | None = None, first: str | None = None, last: str | None = None
    ) -> list[PartitionCoverage]:
        """Coverage records of stored partitions, read from file footers only (no row data)."""
        records = []
        for part_force, month in self.partitions(force, first, last):
            record = self.coverage_of(part_force, month)
            if record is not None:
                records.append(record)
        return records

    def read_partition(self, force: str, month: str) -> pa.Table | None:
        path = self.partition_path(force, month)
        if not path.exists():
            return None
        return pq.read_table(path).replace_schema_metadata(None)

    def read(
        self,
        force: str | None = None,
        first: str | None = None,
        last: str | None = None,
        columns: Iterable[str] | None = None,
    ) -> pa.Table:
        """Stored crimes for a force (or all forces) and an inclusive month range."""
        wanted = list(columns) if columns is not None else None
        tables = []
        for part_force, month in self.partitions(force, first, last):
            path = self.partition_path(part_force, month)
            tables.append(pq.read_table(path, columns=wanted).replace_schema_metadata(None))
        if not tables:
            schema = (
                CRIME_SCHEMA
                if wanted is None
                else pa.schema([CRIME_SCHEMA.field(name) for name in wanted])
            )
            return schema.empty_table()
        return pa.concat_tables(tables)
