"""The crime store of a precompute worker: partition files read once and held in memory.

Warming runs hundreds of small studies (one per ward) in a row, and each reads its region's rows
from the same dozen partition files: on the London store that read was a third of a ward's
study (38 ms of Parquet footers and row groups, two or three times per study when the data
guard changes the resolution). A worker therefore reads each file of the current version whole,
once, and answers every region read from memory, with the rows, order and columns the file read
gives (``pipelines.store.region``: rows in file order whose ``h3_cell`` lies in the ranges).

Only while the files held stay under ``max_rows`` rows in all (default 4 M, about 400 MB): on a
national store the worker reads from disk as any process does. The files are named by the
manifest, and a new data version names new files, so nothing held can be stale; files the
current version no longer names are dropped.
"""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa

from pipelines.index.h3_ranges import in_ranges
from pipelines.store import CrimeStore, Snapshot
from pipelines.store.manifest import PartitionEntry

DEFAULT_MAX_ROWS = 4_000_000
_H3 = "h3_cell"


class _HeldFile:
    """One partition file's rows, with its ``h3_cell`` numbers (0 for null) and whether they
    are sorted (as ``region_ordered`` writes them), so a range is two binary searches."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table.combine_chunks()  # one chunk per column: take() is fast on those
        self.cells = table[_H3].fill_null(0).to_numpy().astype(np.uint64, copy=False)
        placed = len(self.cells) - table[_H3].null_count
        head = self.cells[:placed]
        # Rows without a point come last in the written order; anything else is read by mask.
        self.sorted = bool(np.all(head[:-1] <= head[1:])) and not self.cells[placed:].any()
        self.placed = placed

    def rows_in(self, ranges: np.ndarray, columns: list[str]) -> pa.Table:
        """The rows in ``ranges`` (file order) of ``columns``."""
        table = self.table.select(columns)
        if not len(ranges):
            return table.slice(0, 0)
        if not self.sorted:
            return table.filter(pa.array(in_ranges(ranges, self.cells)))
        head = self.cells[: self.placed]
        starts = np.searchsorted(head, ranges[:, 0], side="left")
        stops = np.searchsorted(head, ranges[:, 1], side="right")
        pieces = [np.arange(a, b) for a, b in zip(starts, stops, strict=True) if b > a]
        rows = np.concatenate(pieces) if pieces else np.empty(0, dtype=np.int64)
        return table.take(pa.array(rows, type=pa.int64()))


class HeldFiles:
    """Partition files held by one process (thread-safe), bounded by ``max_rows``."""

    def __init__(self, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.max_rows = max_rows
        self._files: dict[str, _HeldFile] = {}
        self._too_many: set[str] = set()  # files left on disk: holding them would pass the bound
        self._lock = threading.Lock()

    def get(self, snapshot: Snapshot, entry: PartitionEntry) -> _HeldFile | None:
        """The file of ``entry`` (read now if need be), or None when holding it would pass
        the bound: the caller then reads from disk."""
        with self._lock:
            held = self._files.get(entry.file)
            if held is not None or entry.file in self._too_many:
                return held
        # The snapshot's own read: the same damage checks and messages as any other read.
        held = _HeldFile(Snapshot._read_file(snapshot, entry, None))
        named = {e.file for e in snapshot.manifest.partitions.values()}
        with self._lock:
            for name in [name for name in self._files if name not in named]:
                del self._files[name]  # an older version's file: never asked for again
            rows = sum(len(f.cells) for f in self._files.values())
            if rows + len(held.cells) > self.max_rows:
                self._too_many.add(entry.file)
                return None
            return self._files.setdefault(entry.file, held)


class HeldSnapshot(Snapshot):
    """A snapshot whose region reads come from :class:`HeldFiles` where they can."""

    def __init__(self, snapshot: Snapshot, held: HeldFiles) -> None:
        super().__init__(snapshot.root, snapshot.manifest, snapshot._current)
        self._held = held

    def _read_region_file(
        self, entry: PartitionEntry, columns: list[str], ranges: np.ndarray
    ) -> pa.Table:
        held = self._held.get(self, entry)
        if held is None:
            return self._read_file(entry, columns, ranges)
        return held.rows_in(ranges, columns)


class HeldCrimeStore(CrimeStore):
    """A CrimeStore whose snapshots read regions from memory (one per precompute worker)."""

    def __init__(self, root: object, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        super().__init__(root)
        self.held = HeldFiles(max_rows)

    def snapshot(self) -> Snapshot:
        snapshot = super().snapshot()
        if isinstance(snapshot, HeldSnapshot):
            return snapshot
        return HeldSnapshot(snapshot, self.held)
