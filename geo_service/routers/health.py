"""``GET /health``: is the service up, and what does it hold? Open even when reads are keyed, so
a load balancer or a partner can check it without a key."""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from fastapi import APIRouter, Request

from geo_service.admission import Admission
from geo_service.dependencies import get_settings
from geo_service.models import (
    AdmissionStatus,
    CacheStatus,
    DataFreshness,
    ForceHeld,
    Health,
    StoreProblem,
    StoreStatus,
    WarmUpStatus,
)
from geo_service.results import StudyCache
from geo_service.warm_up_status import shared_status
from pipelines.attribution import ATTRIBUTION
from pipelines.freshness import store_freshness
from pipelines.store import Snapshot, StoreUnavailable
from pipelines.store.manifest import Manifest

# Seconds a check of the partition files' sizes is reused: /health is polled.
_PROBLEMS_MAX_AGE = 5.0

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health)
async def health(request: Request) -> Health:
    """Store status (months held per force, damaged files), boundary sets, cache use and
    software version. Runs on the event loop itself, never in the thread pool that studies
    wait in, and reads only the manifest and file sizes, so it answers during a flood."""
    state = request.app.state
    store, boundary_store, cache = state.store, state.boundary_store, state.cache
    try:
        snapshot = store.latest()
        problems = store.problems(max_age=_PROBLEMS_MAX_AGE)
    except StoreUnavailable as error:  # e.g. an unreadable manifest: still answer, in words
        return _degraded(request, str(error))
    partitions = snapshot.partitions()
    months: dict[str, list[str]] = {}
    for force, month in partitions:
        months.setdefault(force, []).append(month)
    forces = [
        ForceHeld(force=force, months=len(held), first=held[0], last=held[-1])
        for force, held in sorted(months.items())
    ]
    status = "degraded" if problems else "ok" if partitions else "empty"
    return Health(
        status=status,
        version=software_version(),
        api_version=request.app.version,
        read_access=get_settings(request).read_access,
        store=StoreStatus(
            partitions=len(partitions),
            version=snapshot.version,
            forces=forces,
            problems=[StoreProblem(file=f, problem=why) for f, why in problems.items()],
        ),
        boundary_sets=boundary_store.names(),
        cache=cache_status(cache),
        admission=admission_status(state.admission),
        warm_up=warm_up_status(state),
        freshness=DataFreshness(**store_freshness(snapshot).as_dict()),
        attribution=ATTRIBUTION,
    )


def _degraded(request: Request, problem: str) -> Health:
    state = request.app.state
    return Health(
        status="degraded",
        version=software_version(),
        api_version=request.app.version,
        read_access=get_settings(request).read_access,
        store=StoreStatus(
            partitions=0,
            version="unknown",
            forces=[],
            problems=[StoreProblem(file="crimes/manifest.json", problem=problem)],
        ),
        boundary_sets=state.boundary_store.names(),
        cache=cache_status(state.cache),
        admission=admission_status(state.admission),
        warm_up=warm_up_status(state),
        freshness=DataFreshness(**_record_only_freshness(state.store.root)),
        attribution=ATTRIBUTION,
    )


def _record_only_freshness(root: Path) -> dict:
    """Freshness when no partition can be named: from the update record alone."""
    return store_freshness(Snapshot(root, Manifest())).as_dict()


def cache_status(cache: StudyCache) -> CacheStatus:
    """The cache's state and size. Never fails: a damaged database is rebuilt on the way (by
    this process or another), and a cache that cannot answer reports 0 entries and bytes."""
    disk = cache.disk
    entries, used = len(disk), disk.volume()
    state, problem = disk.state()  # after them: what they found is in it
    return CacheStatus(
        state=state,
        problem=problem,
        entries=entries,
        capacity=disk.size_limit,
        bytes=used,
        hits=cache.hits,
        misses=cache.misses,
    )


def admission_status(admission: Admission) -> AdmissionStatus:
    return AdmissionStatus(
        workers=admission.workers,
        queue=admission.queue,
        in_progress=admission.in_progress,
        refused=admission.refused,
        deadline_seconds=admission.deadline,
    )


def warm_up_status(state: object) -> WarmUpStatus:
    """Progress of the background warm-up (geo_service.precompute): this process's own, or the
    one another process of the service publishes in the shared cache folder."""
    warming = getattr(state, "precompute", None)
    if warming is not None:
        return WarmUpStatus(**warming.status())
    if not getattr(state, "precompute_elsewhere", False):
        return WarmUpStatus(state="off")
    shared = shared_status(Path(state.settings.cache_dir))  # type: ignore[attr-defined]
    return WarmUpStatus(**shared) if shared else WarmUpStatus(state="elsewhere")


@functools.cache
def software_version() -> str:
    """The installed package's version, read once (parsing its metadata cost 0.6 ms a poll)."""
    try:
        return version("crime-hotspots")
    except PackageNotFoundError:
        return "unknown"
