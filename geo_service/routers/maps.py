"""Map pages (HTML): hot spots on H3 cells, and area choropleths. Building them is in
``geo_service.maps``; this module only reads the query, fetches the data and returns the page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from boundaries.store import BoundaryStore
from geo_service.dependencies import (
    current_version,
    get_boundary_store,
    get_cache,
    get_response_cache,
    get_settings,
    get_store,
    require_read_access,
)
from geo_service.maps.area_map import METRICS, area_map_html, area_metrics, check_metric
from geo_service.maps.hotspot_map import hotspot_map_html
from geo_service.maps.outlines import member_wards, region_outlines
from geo_service.maps.styling import content_security_policy
from geo_service.response_cache import ResponseCache
from geo_service.results import StudyCache
from geo_service.settings import Settings
from geo_service.synthetic import add_banner, boundary_set_is_synthetic
from pipelines.analysis.study import StudyRequest
from pipelines.harm import list_tables
from pipelines.store import CrimeStore

router = APIRouter(prefix="/maps", tags=["maps"], dependencies=[Depends(require_read_access)])

SettingsDep = Annotated[Settings, Depends(get_settings)]
CacheDep = Annotated[StudyCache, Depends(get_cache)]
StoreDep = Annotated[CrimeStore, Depends(get_store)]
BoundaryStoreDep = Annotated[BoundaryStore, Depends(get_boundary_store)]
ResponsesDep = Annotated[ResponseCache, Depends(get_response_cache)]
MONTH = r"^\d{4}-\d{2}$"
First = Annotated[str | None, Query(alias="from", pattern=MONTH, description="YYYY-MM")]
Last = Annotated[str | None, Query(alias="to", pattern=MONTH, description="YYYY-MM, inclusive")]


def _listed(values: list[str] | None) -> tuple[str, ...]:
    """Repeated parameters and comma-separated lists alike (area=A&area=B or area=A,B)."""
    parts = (part.strip() for value in values or () for part in value.split(","))
    return tuple(part for part in parts if part)


def _built_in_weights(weights: str) -> str:
    # Only named tables over HTTP: a custom table is a file path, which a URL must never name.
    if weights not in list_tables():
        raise HTTPException(
            400, f"weights must be one of {', '.join(list_tables())}, got {weights!r}"
        )
    return weights


def _page(
    html: str, settings: Settings, boundary_store: BoundaryStore, set_name: str
) -> HTMLResponse:
    if boundary_set_is_synthetic(boundary_store, set_name):
        html = add_banner(html)
    # The browser itself refuses anything not served here (and the tile host, when configured).
    return HTMLResponse(
        html, headers={"Content-Security-Policy": content_security_policy(settings.tiles)}
    )


@router.get("/hotspots", response_class=HTMLResponse, summary="Hot spot map of a region (HTML)")
def hotspot_map(
    request: Request,
    responses: ResponsesDep,
    settings: SettingsDep,
    cache: CacheDep,
    boundary_store: BoundaryStoreDep,
    boundaries: Annotated[str, Query(description="boundary set name")],
    area: Annotated[list[str] | None, Query(description="area code(s); default: all")] = None,
    res: Annotated[int, Query(description="H3 resolution, 7-10")] = 9,
    first: First = None,
    last: Last = None,
    categories: Annotated[list[str] | None, Query(description="police.uk slugs")] = None,
    weights: str = "count",
    method: str = "gistar",
    alpha: Annotated[float, Query(gt=0, lt=1)] = 0.05,
) -> HTMLResponse:
    codes = _listed(area)
    study = StudyRequest(
        boundaries=boundaries,
        areas=codes,
        resolution=res,
        first=first,
        last=last,
        categories=_listed(categories),
        weights=_built_in_weights(weights),
        method=method,
        alpha=alpha,
    )

    def build() -> HTMLResponse:
        result, _ = cache.get(study)
        outlines = region_outlines(boundary_store, boundary_store.read(boundaries), codes)
        page = hotspot_map_html(result, outlines, settings.tiles)
        return _page(page, settings, boundary_store, boundaries)

    return responses.respond(request, current_version(request, boundaries), build)


@router.get("/areas", response_class=HTMLResponse, summary="Choropleth of areas (HTML)")
def area_map(
    request: Request,
    responses: ResponsesDep,
    settings: SettingsDep,
    store: StoreDep,
    boundary_store: BoundaryStoreDep,
    boundaries: Annotated[str, Query(description="boundary set name")],
    metric: Annotated[str, Query(description=", ".join(METRICS))] = "count",
    first: First = None,
    last: Last = None,
    weights: Annotated[str | None, Query(description="harm table, for harm metrics")] = None,
) -> HTMLResponse:

    def build() -> HTMLResponse:
        boundary_set = boundary_store.read(boundaries)
        check_metric(metric, boundary_set, weights)
        table = _built_in_weights(weights or "count")
        metrics = area_metrics(store, boundary_set, first, last, table)
        wards = member_wards(boundary_store, boundary_set)
        extra = [wards] if wards else []
        page = area_map_html(boundary_set, metrics, metric, settings.tiles, extra)
        return _page(page, settings, boundary_store, boundaries)

    return responses.respond(request, current_version(request, boundaries), build)
