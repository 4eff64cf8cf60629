"""``GET /health``: is the service up, and what does it hold? Open even when reads are keyed, so
a load balancer or a partner can check it without a key."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Request

from geo_service.dependencies import BoundaryStoreDep, CacheDep, StoreDep, get_settings
from geo_service.models import CacheStatus, DataFreshness, ForceHeld, Health, StoreStatus
from pipelines.attribution import ATTRIBUTION
from pipelines.freshness import store_freshness

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health)
def health(
    request: Request,
    store: StoreDep,
    boundary_store: BoundaryStoreDep,
    cache: CacheDep,
) -> Health:
    """Store status (months held per force), boundary sets, cache use and software version.
    Reads file names only, so it stays cheap enough to poll."""
    partitions = store.partitions()
    months: dict[str, list[str]] = {}
    for force, month in partitions:
        months.setdefault(force, []).append(month)
    forces = [
        ForceHeld(force=force, months=len(held), first=held[0], last=held[-1])
        for force, held in sorted(months.items())
    ]
    return Health(
        status="ok" if partitions else "empty",
        version=software_version(),
        api_version=request.app.version,
        read_access=get_settings(request).read_access,
        store=StoreStatus(partitions=len(partitions), forces=forces),
        boundary_sets=boundary_store.names(),
        cache=CacheStatus(
            entries=len(cache), capacity=cache.entries, hits=cache.hits, misses=cache.misses
        ),
        freshness=DataFreshness(**store_freshness(store).as_dict()),
        attribution=ATTRIBUTION,
    )


def software_version() -> str:
    try:
        return version("crime-hotspots")
    except PackageNotFoundError:
        return "unknown"
