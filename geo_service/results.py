"""Study results computed once per (question, data version) and kept in memory.

The data version changes with every new store version (ingest) or boundary set file, so a
cached answer is never served for data it was not computed on.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from boundaries.store import BoundaryStore
from pipelines.analysis.study import StudyRequest, StudyResult, run_study
from pipelines.store import CrimeStore, Snapshot
from pipelines.store.atomic import file_version


def data_version(
    store: CrimeStore | Snapshot,
    boundaries: BoundaryStore,
    *set_names: str,
    up_to: str | None = None,
) -> str:
    """The version an answer about the boundary set(s) is computed on: the store manifest's
    version (which names exactly the crime files read), a dot, and 8 hex digits fingerprinting
    the sets' files. Inside a request the store's snapshot is pinned, so this is the version of
    the very files the answer read.

    With ``up_to`` (a pinned window's last month) only the partitions up to that month count:
    a study of a pinned window reads nothing later, so a newly published month leaves its
    version, and its cached answer, as they were."""
    digest = hashlib.sha256()
    for name in set_names:
        digest.update(f"{name}:{file_version(boundaries.path(name))}\n".encode())
    snapshot = store.snapshot()
    crimes = snapshot.version if up_to is None else months_version(snapshot, up_to)
    return f"{crimes}.{digest.hexdigest()[:8]}"


def months_version(snapshot: Snapshot, up_to: str) -> str:
    """16 hex digits naming the partition files of every month up to ``up_to``."""
    digest = hashlib.sha256(b"up-to:" + up_to.encode())
    for force, month in snapshot.partitions(last=up_to):
        path = snapshot.partition_path(force, month)
        digest.update(f"{force}/{month}={path.name if path else ''}\n".encode())
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
        # The version each request was last computed on: a newer one makes the older answer
        # unreachable (the store only moves forward), so it is dropped at once, not left to LRU.
        self._latest: dict[StudyRequest, str] = {}
        # Served-from-memory vs computed counts: /health reports them, tests assert on them.
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._results)

    def get(self, request: StudyRequest) -> tuple[StudyResult, str]:
        """The result for ``request`` on the current data, and that data's version."""
        snapshot = self.store.snapshot()  # the study and its version read one store version
        version = data_version(snapshot, self.boundaries, request.boundaries, up_to=request.last)
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
                result = run_study(snapshot, self.boundaries.read(request.boundaries), request)
            finally:
                # Also when the study fails (bad input), so failed keys do not pile up locks.
                with self._lock:
                    self._key_locks.pop(key, None)
            with self._lock:
                self.misses += 1
                self._results[key] = result
                older = self._latest.get(request)
                if older is not None and older != version:
                    self._results.pop((request, older), None)
                self._latest[request] = version
                while len(self._results) > self.entries:
                    (evicted, evicted_version), _ = self._results.popitem(last=False)
                    if self._latest.get(evicted) == evicted_version:
                        del self._latest[evicted]
        return result, version
