"""The crime store: Parquet files per force and month, a manifest per version, coverage ledger.

Public API: ``CrimeStore(root)``; ``store.snapshot()`` pins one version for reading (its
``version`` is the data version); ``with store.writer() as w: w.write(table, coverage)`` stages
partitions under file locks and publishes them as one new version.

The names are imported when first used (PEP 562), so the light modules of the package
(``atomic``, ``manifest``, ``view``) can be used without pyarrow: an answer from the study
cache never needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.store.coverage import PartitionCoverage
    from pipelines.store.crime_store import (
        CrimeStore,
        StoreWriter,
        pinned_reads,
    )
    from pipelines.store.errors import (
        CorruptPartition,
        PartitionLocked,
        SnapshotExpired,
        StoreError,
        StoreUnavailable,
        StoreWriteError,
    )
    from pipelines.store.paths import resolve_data_dir
    from pipelines.store.snapshot import Snapshot

_HOMES = {
    "CorruptPartition": "pipelines.store.errors",
    "CrimeStore": "pipelines.store.crime_store",
    "PartitionCoverage": "pipelines.store.coverage",
    "PartitionLocked": "pipelines.store.errors",
    "Snapshot": "pipelines.store.snapshot",
    "SnapshotExpired": "pipelines.store.errors",
    "StoreError": "pipelines.store.errors",
    "StoreUnavailable": "pipelines.store.errors",
    "StoreWriteError": "pipelines.store.errors",
    "StoreWriter": "pipelines.store.crime_store",
    "pinned_reads": "pipelines.store.crime_store",
    "resolve_data_dir": "pipelines.store.paths",
}

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


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pipelines.store' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
