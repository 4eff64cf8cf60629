"""The crime store: Parquet files per force and month, a manifest per version, coverage ledger.

Public API: ``CrimeStore(root)``; ``store.snapshot()`` pins one version for reading (its
``version`` is the data version); ``with store.writer() as w: w.write(table, coverage)`` stages
partitions under file locks and publishes them as one new version.
"""

from pipelines.store.coverage import PartitionCoverage
from pipelines.store.crime_store import CrimeStore, StoreWriter, pinned_reads, resolve_data_dir
from pipelines.store.errors import (
    CorruptPartition,
    PartitionLocked,
    SnapshotExpired,
    StoreError,
    StoreUnavailable,
    StoreWriteError,
)
from pipelines.store.snapshot import Snapshot

__all__ = [
    "CorruptPartition",
    "CrimeStore",
    "PartitionCoverage",
    "PartitionLocked",
    "Snapshot",
    "SnapshotExpired",
    "StoreError",
    "StoreUnavailable",
    "StoreWriteError",
    "StoreWriter",
    "pinned_reads",
    "resolve_data_dir",
]
