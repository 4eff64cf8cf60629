"""One pinned version of the crime store: every read of a study goes through one snapshot.

A snapshot is a manifest held in memory. Its ``version`` is the data version the service reports
and keys caches by, and it names exactly the files the snapshot reads, so an answer can never
mix months of two versions: an ingest that finishes mid-study changes the next snapshot, not
this one (the files this one names stay on disk for the store's grace period).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.forces import check_force
from pipelines.schema import CRIME_SCHEMA
from pipelines.store.coverage import PartitionCoverage
from pipelines.store.errors import CorruptPartition, SnapshotExpired
from pipelines.store.manifest import Manifest, PartitionEntry
from pipelines.store.region import read_file_in_ranges
from pipelines.store.view import ManifestView

# Files found damaged by a read in this process: absolute path -> (what is wrong, the file's
# (size, mtime) then). /health reports them while the same file is still named and unchanged.
_damaged: dict[str, tuple[str, tuple[int, int] | None]] = {}
_damaged_lock = threading.Lock()


def damaged_files(root: Path) -> dict[str, str]:
    """Files under ``root`` found damaged by reads (relative name -> problem), unless repaired."""
    with _damaged_lock:
        noted = dict(_damaged)
    found = {}
    for path, (reason, stamp) in noted.items():
        try:
            relative = Path(path).relative_to(root)
        except ValueError:
            continue
        if _stamp(Path(path)) == stamp:
            found[str(relative)] = reason
    return found


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns)


def _note_damaged(root: Path, error: CorruptPartition) -> CorruptPartition:
    path = root / error.file
    with _damaged_lock:
        _damaged[str(path)] = (error.reason, _stamp(path))
    return error


class Snapshot(ManifestView):
    """Read-only view of one manifest; the reading methods of :class:`CrimeStore` live here."""

    def __init__(self, root: Path, manifest: Manifest, current: object = None) -> None:
        super().__init__(root, manifest)
        self._current = current  # callable -> the store's newest version (to tell expiry apart)

    def snapshot(self) -> Snapshot:
        """Itself: code that pins a snapshot at its top accepts a store or a snapshot."""
        return self

    def coverage_of(self, force: str, month: str) -> PartitionCoverage | None:
        try:
            return super().coverage_of(force, month)
        except CorruptPartition as error:
            raise _note_damaged(self.root, error) from None

    # -- rows -------------------------------------------------------------------------------

    def read_partition(self, force: str, month: str) -> pa.Table | None:
        entry = self.manifest.partitions.get((check_force(force), month))
        return self._read_file(entry, None) if entry else None

    def read(
        self,
        force: str | None = None,
        first: str | None = None,
        last: str | None = None,
        columns: Iterable[str] | None = None,
    ) -> pa.Table:
        """Stored crimes for a force (or all forces) and an inclusive month range."""
        wanted = list(columns) if columns is not None else None
        tables = [
            self._read_file(self.manifest.partitions[key], wanted)
            for key in self.partitions(force, first, last)
        ]
        if not tables:
            schema = (
                CRIME_SCHEMA
                if wanted is None
                else pa.schema([CRIME_SCHEMA.field(name) for name in wanted])
            )
            return schema.empty_table()
        return pa.concat_tables(tables)

    def read_region(
        self,
        ranges: np.ndarray,
        columns: Iterable[str],
        force: str | None = None,
        first: str | None = None,
        last: str | None = None,
    ) -> pa.Table:
        """Stored crimes whose H3 cell lies in ``ranges`` (``pipelines.index.h3_ranges``), of
        every force (or ``force``) and month in first..last: only the row groups that can hold
        such rows are read (``pipelines.store.region``)."""
        wanted = list(columns)
        # The manifest's index rules out most partitions before any file is opened.
        candidates = self.manifest.region_index.may_hold(ranges)
        tables = [
            self._read_region_file(self.manifest.partitions[key], wanted, ranges)
            for key in self.partitions(force, first, last)
            if key in candidates
        ]
        if not tables:
            return pa.schema([CRIME_SCHEMA.field(name) for name in wanted]).empty_table()
        return pa.concat_tables(tables)

    def _read_region_file(
        self, entry: PartitionEntry, columns: list[str], ranges: np.ndarray
    ) -> pa.Table:
        """One partition's rows in ``ranges``: the place a snapshot that holds files in memory
        (``geo_service.held_store``) answers from them instead of the disk."""
        return self._read_file(entry, columns, ranges)

    def _read_file(
        self, entry: PartitionEntry, columns: list[str] | None, ranges: np.ndarray | None = None
    ) -> pa.Table:
        path = self.crimes_dir / entry.file
        name = f"crimes/{entry.file}"
        try:
            size = path.stat().st_size
            if size != entry.bytes:
                raise _note_damaged(
                    self.root,
                    CorruptPartition(name, f"damaged ({size} bytes, {entry.bytes} written)"),
                )
            if ranges is not None and columns is not None:
                return read_file_in_ranges(path, ranges, columns)
            return pq.read_table(path, columns=columns).replace_schema_metadata(None)
        except FileNotFoundError:
            if self._current is not None and self._current() != self.version:
                raise SnapshotExpired(
                    f"the crime store changed while this was being answered (version "
                    f"{self.version} was collected); ask again"
                ) from None
            raise _note_damaged(self.root, CorruptPartition(name, "missing")) from None
        except (OSError, pa.ArrowException) as error:
            # pyarrow's own message carries the absolute path: keep it out of the answer.
            raise _note_damaged(
                self.root, CorruptPartition(name, f"unreadable ({type(error).__name__})")
            ) from None
