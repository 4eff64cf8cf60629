"""Study results computed once per (question, data version) and kept in memory.

The data version changes whenever a crime partition or the boundary set's file is rewritten
(ingest, boundary load), so a cached answer is never served for data it was not computed on.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from boundaries.store import BoundaryStore
from pipelines.analysis.study import StudyRequest, StudyResult, run_study
from pipelines.store import CrimeStore
from pipelines.store.atomic import file_version


def data_version(store: CrimeStore, boundaries: BoundaryStore, set_name: str) -> str:
    """A short fingerprint of every crime partition and the boundary set's file (name, size,
    modification time): cheap to compute on each request, and changed by every atomic rewrite."""
    digest = hashlib.sha256()
    paths = sorted(store.crimes_dir.glob("*/*.parquet")) if store.crimes_dir.is_dir() else []
    paths.append(boundaries.path(set_name))
    for path in paths:
        stat = file_version(path)
        digest.update(f"{path.relative_to(store.root)}:{stat}\n".encode())
    return digest.hexdigest()[:16]


class StudyCache:
    """LRU of study results; one computation per key even when requests arrive together."""

    def __init__(self, store: CrimeStore, boundaries: BoundaryStore, entries: int = 256) -> None:
        self.store = store
        self.boundaries = boundaries
        self.entries = entries
        self._results: OrderedDict[tuple, StudyResult] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, threading.Lock] = {}
        # Served-from-memory vs computed counts: /health reports them, tests assert on them.
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._results)

    def get(self, request: StudyRequest) -> tuple[StudyResult, str]:
        """The result for ``request`` on the current data, and that data's version."""
        version = data_version(self.store, self.boundaries, request.boundaries)
        key = (request, version)
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                self.hits += 1
                return self._results[key], version
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # a second caller for the same key waits for the first one's answer
            with self._lock:
                if key in self._results:
                    self.hits += 1
                    return self._results[key], version
            try:
                result = run_study(self.store, self.boundaries.read(request.boundaries), request)
            finally:
                # Also when the study fails (bad input), so failed keys do not pile up locks.
                with self._lock:
                    self._key_locks.pop(key, None)
            with self._lock:
                self.misses += 1
                self._results[key] = result
                while len(self._results) > self.entries:
                    self._results.popitem(last=False)
        return result, version
