"""Finished studies in the on-disk cache: one entry per (validated request, data version).

The key is the request with its window spelled out (:func:`canonical_request`: the default window
and the same months named are one question) and the data version (:func:`data_version`: the
store manifest's version, or for a pinned window the partition files of its months, and a
fingerprint of the boundary set's file). So an answer is never served for data it was not
computed on, and the CLI, every server worker and precompute batches share the entries.

The value is a :class:`CachedStudy`: the cells as columns of plain Python values (with each
column's numpy dtype), the provenance, the window and the adjustments. Keeping one needs no
pandas, and reading one back neither numpy nor pandas, so
``hotspots analyse`` answers a repeated question without loading the numerical stack
(:func:`find_cached`); :meth:`CachedStudy.to_result` gives the service its ``StudyResult``.
Only a study that ran is cached, so a key always holds a request that passed every check.

This module imports nothing heavy; keep it so (tests/test_study_cache.py checks).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pipelines.analysis.output import encode_cells
from pipelines.analysis.request import StudyRequest
from pipelines.analysis.window import StudyWindow, choose_window
from pipelines.cache.disk import DiskCache, cache_dir_for, open_cache
from pipelines.store.atomic import file_version
from pipelines.store.view import ManifestView

if TYPE_CHECKING:
    from pipelines.analysis.study import StudyResult
    from pipelines.store import CrimeStore

STUDY_KIND = "study"
LATEST_KIND = "study-latest"
# The shape of the cached value, part of every key: an entry of another shape is never read.
STUDY_VALUE = ("cached-study", 3)


class BoundaryFiles(Protocol):
    """Where a boundary set's file is (``boundaries.store.BoundaryStore`` is one)."""

    def path(self, name: str) -> Path: ...


class BoundaryFolder:
    """``<data dir>/boundaries/<name>.parquet``, the layout of ``BoundaryStore``, without
    geopandas: enough to fingerprint a set's file for a cache key."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "boundaries"

    def path(self, name: str) -> Path:
        return self.root / f"{name}.parquet"


def data_version(
    store: CrimeStore | ManifestView,
    boundaries: BoundaryFiles,
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


def months_version(snapshot: ManifestView, up_to: str) -> str:
    """16 hex digits naming the partition files of every month up to ``up_to``.

    A pure function of the manifest's version (which names exactly its files) and ``up_to``,
    so it is worked out once per process: one command asks it up to four times, and a national
    store's manifest lists 1,440 partitions."""
    key = (snapshot.version, up_to)
    known = _months_versions.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256(b"up-to:" + up_to.encode())
    partitions = snapshot.manifest.partitions
    for force, month in snapshot.partitions(last=up_to):
        name = partitions[force, month].file.rsplit("/", 1)[-1]  # the partition file's name
        digest.update(f"{force}/{month}={name}\n".encode())
    if len(_months_versions) >= 1024:  # a long-running service sees a version per ingest
        _months_versions.clear()
    version = _months_versions[key] = digest.hexdigest()[:16]
    return version


# (manifest version, up_to) -> months_version; the manifest's version is a digest of every
# (force, month, file), so the key determines the answer.
_months_versions: dict[tuple[str, str], str] = {}


def canonical_request(store: CrimeStore | ManifestView, request: StudyRequest) -> StudyRequest:
    """``request`` with its window spelled out: the default window (latest 12 stored months)
    and the same months named explicitly are one question, so they share one cache key and
    one computation (the area profile names its months; a hotspot list usually does not)."""
    if request.first is not None and request.last is not None:
        return request
    try:
        window = choose_window(store, request.force, request.first, request.last)
    except ValueError:
        return request  # no such window: the study says why, under the request as asked
    return dataclasses.replace(request, first=window.first, last=window.last)


def study_key(request: StudyRequest, version: str) -> tuple:
    return (request, version, STUDY_VALUE)


@dataclass(frozen=True)
class CachedStudy:
    """A finished study as kept on disk (plain Python values only)."""

    columns: dict[str, list[Any]]  # the cells, column by column
    dtypes: dict[str, str]  # each column's numpy dtype, to rebuild the study's columns exactly
    provenance: dict
    window: StudyWindow
    adjustments: list[str]
    computed_at: str  # UTC, ISO 8601
    cells_json: bytes  # the cells as a JSON answer holds them (output.encode_cells)

    @classmethod
    def from_result(cls, result: StudyResult) -> CachedStudy:
        columns = {name: _plain_list(values) for name, values in result.columns.items()}
        return cls(
            columns=columns,
            dtypes={name: _dtype(values) for name, values in result.columns.items()},
            provenance=result.provenance,
            window=result.window,
            adjustments=list(result.adjustments),
            computed_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            cells_json=encode_cells(columns),
        )

    def to_result(self) -> StudyResult:
        """The ``StudyResult`` this was made from (its columns equal, dtypes included)."""
        import numpy as np

        from pipelines.analysis.study import StudyResult

        columns: dict[str, Any] = {}
        for name, values in self.columns.items():
            if self.dtypes[name] == "list":
                columns[name] = list(values)
            elif self.dtypes[name] == "object":
                column = np.empty(len(values), dtype=object)  # never a 2-D array of lists
                column[:] = values
                columns[name] = column
            else:
                columns[name] = np.array(values, dtype=self.dtypes[name])
        return StudyResult(columns, self.provenance, self.window, list(self.adjustments))

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))


def _plain_list(values: Any) -> list[Any]:
    """A column as plain Python values (numpy scalars become Python's)."""
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _dtype(values: Any) -> str:
    """A column's numpy dtype; "list" for a list (the streets: a list of names a cell)."""
    return "list" if isinstance(values, list) else str(values.dtype)


@dataclass(frozen=True)
class CacheHit:
    study: CachedStudy
    data_version: str  # of the data the question as asked reads (what answers report)


def remember(
    disk: DiskCache,
    asked: StudyRequest,
    request: StudyRequest,
    version: str,
    study: CachedStudy,
) -> bool:
    """Keep ``study`` (the answer to ``request``, canonical, on data ``version``); an answer on
    older data of the same question as ``asked`` can no longer be asked for, so it goes at
    once rather than waiting for least-recently-used eviction (the store only moves forward)."""
    kept = disk.set(STUDY_KIND, study_key(request, version), study)
    older = disk.get(LATEST_KIND, (asked,))
    if older is not None and tuple(older) != (request, version):
        disk.delete(STUDY_KIND, study_key(*older))
    disk.set(LATEST_KIND, (asked,), (request, version))
    return kept


def find_cached(
    data_dir: Path, asked: StudyRequest, view: ManifestView | None = None
) -> CacheHit | None:
    """The cached answer to ``asked`` on the store's current data, read from the manifest and
    the cache alone (no pyarrow, numpy or pandas); None on a miss or anything unusual (the
    full path then computes, or says what is wrong). ``view``: the store's current manifest,
    when the caller has read it already (it is not read again)."""
    try:
        view = ManifestView.current(data_dir) if view is None else view
        if not view.manifest.partitions:
            return None
        boundaries = BoundaryFolder(data_dir)
        if not boundaries.path(asked.boundaries).is_file():
            return None
        request = canonical_request(view, asked)
        version = data_version(view, boundaries, request.boundaries, up_to=request.last)
        disk = open_cache(cache_dir_for(data_dir))
        study = disk.get(STUDY_KIND, study_key(request, version))
        if not isinstance(study, CachedStudy):
            return None
        reported = data_version(view, boundaries, asked.boundaries, up_to=asked.last)
        return CacheHit(study, reported)
    except Exception:  # any doubt is a miss: the full path gives the real answer or error
        return None
