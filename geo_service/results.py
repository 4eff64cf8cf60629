"""Study results computed once per (question, data version), kept in the on-disk cache.

The key is the validated ``StudyRequest`` and the data version (the store manifest's version and
the boundary set's fingerprint), so a cached answer is never served for data it was not
computed on, and every process sharing the cache folder (CLI, server workers) shares results.
A study the data guard refuses (``StudyError``: too few cells or crimes for the question) is
kept too, under the same key, as its message: the refusal is the answer for that data, and
about half of a London borough's wards get it at resolution 9, so without it every ask (and
every restart's warm-up) would run the study again only to refuse it.
A study not in the cache runs through admission control (a bounded pool with a deadline).
"""

from __future__ import annotations

import threading

from boundaries.store import BoundaryStore
from geo_service.admission import Admission
from pipelines.analysis.scope import shown_result, studied_request
from pipelines.analysis.study import StudyError, StudyRequest, StudyResult, run_study
from pipelines.cache import DiskCache, cache_dir_for, caching_in, open_cache
from pipelines.cache.studies import (
    STUDY_KIND,
    CachedStudy,
    canonical_request,
    data_version,
    months_version,
    remember,
    study_key,
)
from pipelines.store import CrimeStore

# Moved to pipelines.cache.studies (the CLI shares them); still importable from here.
__all__ = ["StudyCache", "canonical_request", "data_version", "months_version"]


# The cache kind of a refused study's message (same key as its result would have).
_REFUSED = "study-refused"


class StudyCache:
    """Studies from the disk cache; one computation per key in this process even when
    requests arrive together."""

    def __init__(
        self,
        store: CrimeStore,
        boundaries: BoundaryStore,
        disk: DiskCache | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.store = store
        self.boundaries = boundaries
        # Default: the store's own cache folder, the one the service and the CLI share.
        self.disk = disk if disk is not None else open_cache(cache_dir_for(store.root))
        self.admission = admission
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, threading.Lock] = {}
        # Answered-from-cache vs computed counts of this process: /health reports them.
        self.hits = 0
        self.misses = 0

    def holds(self, request: StudyRequest) -> tuple[bool, str | None]:
        """(whether the answer to ``request`` on the current data is in the cache, its refusal
        message when that answer is a refusal); reads no result, only keys (a restart's
        warm-up checks every study this way)."""
        request = studied_request(request)
        snapshot = self.store.snapshot()
        request = canonical_request(snapshot, request)
        version = data_version(snapshot, self.boundaries, request.boundaries, up_to=request.last)
        key = study_key(request, version)
        if self.disk.contains(STUDY_KIND, key):
            return True, None
        refusal = self.disk.get(_REFUSED, key)
        return refusal is not None, refusal

    def get(self, request: StudyRequest) -> tuple[StudyResult, str]:
        """The result for ``request`` on the current data, and that data's version. Areas
        judged against their set (the default scope) are the set's one cached study cut down
        to their cells (pipelines/analysis/scope.py), so every ward shares it."""
        result, version = self._study(studied_request(request))
        return shown_result(request, result), version

    def _study(self, request: StudyRequest) -> tuple[StudyResult, str]:
        snapshot = self.store.snapshot()  # the study and its version read one store version
        asked, request = request, canonical_request(snapshot, request)
        version = data_version(snapshot, self.boundaries, request.boundaries, up_to=request.last)
        # The version reported is that of the data the question as asked reads: the store's
        # for a default window (a new month changes it), the months' for a pinned one.
        reported = data_version(snapshot, self.boundaries, asked.boundaries, up_to=asked.last)
        key = study_key(request, version)
        result = self._cached(key)
        if result is not None:
            return result, reported
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # a second caller for the same key waits for the first one's answer
            try:
                result = self._cached(key)
                if result is not None:
                    return result, reported

                def compute() -> StudyResult:
                    boundary_set = self.boundaries.read(request.boundaries)
                    with caching_in(self.disk):  # its cover goes to this cache too
                        return run_study(snapshot, boundary_set, request)

                try:
                    result = self.admission.run(compute) if self.admission else compute()
                except StudyError as refusal:
                    self.disk.set(_REFUSED, key, str(refusal))
                    self._count(hit=False)
                    raise
                # Kept as plain columns, the form the CLI reads without pandas; an answer on
                # older data of the same question goes at once (pipelines.cache.studies).
                remember(self.disk, asked, request, version, CachedStudy.from_result(result))
                self._count(hit=False)
            finally:
                # Also when the study fails (bad input), so failed keys do not pile up locks.
                with self._lock:
                    self._key_locks.pop(key, None)
        return result, reported

    def _cached(self, key: tuple) -> StudyResult | None:
        """The cached result of ``key``; raises its cached refusal (StudyError) if it has one."""
        value = self.disk.get(STUDY_KIND, key)
        result = value.to_result() if isinstance(value, CachedStudy) else None
        if result is None:
            refusal = self.disk.get(_REFUSED, key)
            if refusal is None:
                return None
            self._count(hit=True)
            raise StudyError(refusal)
        self._count(hit=True)
        return result

    def __len__(self) -> int:
        """Studies held in the cache (counts keys: for tests and reports, not for requests)."""
        return self.disk.count(STUDY_KIND)

    def refusals(self) -> int:
        """Refused studies held in the cache (counts keys, like ``len``)."""
        return self.disk.count(_REFUSED)

    def _count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1
