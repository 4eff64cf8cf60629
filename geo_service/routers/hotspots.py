"""``GET /v1/hotspots``: a hotspot study of a region, from the study cache, as JSON, GeoJSON or CSV.

CSV has no place for the provenance, so a CSV response links to it (``Link: <...>;
rel="describedby"``), at ``/v1/hotspots/provenance`` with the same query: the study is cached, so
fetching it costs no second computation.

The provenance carries ``backtest``: the hit rate and PAI the newest recorded backtest with the
same settings scored (geo_service.backtest_report), or null with a hint how to run one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from boundaries.area_names import resolve_areas
from boundaries.store import BoundaryStore
from geo_service.backtest_report import backtest_provenance, version_with_backtests
from geo_service.dependencies import (
    BoundaryStoreDep,
    CacheDep,
    CursorsDep,
    ResponsesDep,
    StoreDep,
    require_read_access,
    version_source,
)
from geo_service.downloads import csv_response, same_query_url
from geo_service.hotspot_output import cell_records, csv_text, plain, stream_feature_collection
from geo_service.hotspot_query import HotspotQuery, hotspot_query
from geo_service.models import (
    ERRORS,
    HighCountPlace,
    HighCountPlaces,
    Hotspots,
    Provenance,
)
from geo_service.paging import CursorSigner
from geo_service.results import StudyCache, data_version
from pipelines.analysis.ranking import rank_cells, shortfall_note
from pipelines.analysis.study import StudyRequest
from pipelines.freshness import store_freshness
from pipelines.store import CrimeStore
from pipelines.store.atomic import file_version
from pipelines.update_record import record_path

router = APIRouter(tags=["hotspots"], dependencies=[Depends(require_read_access)])

_OTHER_FORMATS = {
    "content": {
        "application/geo+json": {
            "schema": {
                "type": "object",
                "description": "A GeoJSON FeatureCollection of cell hexagons "
                "(models.HotspotFeatures): properties as the JSON cells, provenance at the top.",
            }
        },
        "text/csv": {"schema": {"type": "string"}},
    },
    "description": "Every cell of the region, or the ranked list when top is given.",
}

_STALE_CURSOR = {
    "model": ERRORS[422]["model"],
    "description": "A page cursor issued before the data changed: start again from the first page",
}


@router.get(
    "/hotspots",
    response_model=Hotspots,
    responses={**ERRORS, 200: _OTHER_FORMATS, 409: _STALE_CURSOR},
    summary="Hot spots of crime or harm in a region",
)
def hotspots(
    query: Annotated[HotspotQuery, Depends(hotspot_query)],
    request: Request,
    cache: CacheDep,
    boundary_store: BoundaryStoreDep,
    store: StoreDep,
    responses: ResponsesDep,
    cursors: CursorsDep,
) -> Response:
    """Every H3 cell of the region with count, value, z, p, adjusted p and class (zero-crime
    cells included), or with ``top`` the ranked list of significant hot spots; provenance
    (including ``data_version``) travels with the result."""
    return responses.respond(
        request,
        _answer_version(request, query, store),
        lambda: _hotspots_response(query, request, cache, boundary_store, store, cursors),
        key=query,
    )


def _answer_version(request: Request, query: HotspotQuery, store: CrimeStore) -> Callable[[], str]:
    """How to work out the cache key's data version of an answer that carries a study's
    provenance (a function: a repeat of the same URL works it out again, see response_cache)."""
    crimes = version_source(request, query.study.boundaries)
    root, set_name = store.root, query.study.boundaries

    def version() -> str:
        # The answer reports the recorded backtest, so a new record changes the key too, and
        # the provenance states when police.uk was last checked, which changes with no new data.
        with_backtests = version_with_backtests(crimes(), root, set_name)
        return with_backtests + ":" + file_version(record_path(root))

    return version


def _hotspots_response(
    query: HotspotQuery,
    request: Request,
    cache: StudyCache,
    boundary_store: BoundaryStore,
    store: CrimeStore,
    cursors: CursorSigner,
) -> Response:
    cells, provenance = _study(query, cache, boundary_store, store)
    headers = {"X-Data-Version": provenance["data_version"]}
    note = None
    if query.top is not None:
        ranked = rank_cells(
            cells,
            by=query.rank_by,
            top=query.top,
            per_area=query.per_area,
            min_separation_m=query.min_separation_m,
        )
        significance = (
            f"at alpha {provenance['alpha']} with {provenance['multiple_testing']} control"
        )
        note = shortfall_note(
            cells, ranked, query.top, query.per_area, query.min_separation_m, significance
        )
        cells = ranked
    if note:
        headers["X-Hotspots-Note"] = note  # CSV has no place for it in the body
    if query.format == "csv":
        link = same_query_url(request, "hotspot_provenance")
        return csv_response(csv_text(cells), "hotspots.csv", link, headers)
    # JSON and GeoJSON come a page at a time (geo_service/paging.py).
    version, bound_to = provenance["data_version"], query.paging_key()
    page = cursors.page_of(query.limit, query.cursor, version, bound_to)
    info = cursors.info(page, len(cells), version, bound_to)
    records = cell_records(cells.iloc[page.offset : page.offset + page.limit])
    if query.format == "geojson":
        return StreamingResponse(
            stream_feature_collection(records, provenance, info, note),
            media_type="application/geo+json",
            headers=headers,
        )
    # Validated against the documented model once, when built; repeats are served as bytes.
    model = Hotspots.model_validate(
        {"provenance": provenance, "page": info, "note": note, "cells": records}
    )
    return JSONResponse(model.model_dump(mode="json", by_alias=True), headers=headers)


@router.get(
    "/high-count-places",
    response_model=HighCountPlaces,
    responses=ERRORS,
    summary="High-count places: cells with far more crime than the region (not hot spots)",
)
def high_count_places(
    query: Annotated[HotspotQuery, Depends(hotspot_query)],
    request: Request,
    cache: CacheDep,
    boundary_store: BoundaryStoreDep,
    store: StoreDep,
    responses: ResponsesDep,
) -> Response:
    """The cells whose own crime count is significantly above the region's over-dispersed
    (negative-binomial) expectation, most crimes first (``top`` limits the list). This is a
    concentration answer beside the Gi* hot spots of ``/v1/hotspots``: a lone busy street is a
    high-count place, a cluster of busy cells is a hot spot. ``test`` states the test."""

    def build() -> Response:
        cells, provenance = _study(query, cache, boundary_store, store)
        places = cells[cells["high_count"]].sort_values(
            ["count", "high_count_p_adjusted", "h3"], ascending=[False, True, True]
        )
        places = places.head(query.top) if query.top is not None else places
        places = places.assign(rank=range(1, len(places) + 1))
        columns = list(HighCountPlace.model_fields)
        body = HighCountPlaces.model_validate(
            {
                "provenance": provenance,
                "test": provenance["high_count_places"],
                "places": cell_records(places[columns]),
            }
        )
        headers = {"X-Data-Version": provenance["data_version"]}
        return JSONResponse(body.model_dump(mode="json"), headers=headers)

    return responses.respond(request, _answer_version(request, query, store), build, key=query)


@router.get(
    "/hotspots/provenance",
    response_model=Provenance,
    responses=ERRORS,
    name="hotspot_provenance",
    summary="Only the provenance of a hotspot query",
)
def hotspot_provenance(
    query: Annotated[HotspotQuery, Depends(hotspot_query)],
    response: Response,
    cache: CacheDep,
    boundary_store: BoundaryStoreDep,
    store: StoreDep,
) -> Provenance:
    """The provenance of the same query on ``/v1/hotspots`` (what a CSV response links to)."""
    _, provenance = _study(query, cache, boundary_store, store)
    response.headers["X-Data-Version"] = provenance["data_version"]
    return Provenance.model_validate(provenance)


def _study(
    query: HotspotQuery, cache: StudyCache, boundary_store: BoundaryStore, store: CrimeStore
) -> tuple:
    study = resolved_study(boundary_store, query.study)
    result, version = cache.get(study)
    # Backtests are recorded on the whole store's version (a pinned window's own version
    # covers only its months); the resolution studied: the guard may have changed it.
    whole = data_version(store, boundary_store, study.boundaries)
    backtest = backtest_provenance(store.root, study, result.provenance["resolution"], whole)
    freshness = {"freshness": store_freshness(store).as_dict()}
    return result.cells, plain(
        {**result.provenance, "data_version": version, **backtest, **freshness}
    )


def resolved_study(boundary_store: BoundaryStore, study: StudyRequest) -> StudyRequest:
    """The study with its areas as codes (each given by code or exact name), checked before any
    study is run: 404 for an unknown set or area, naming the closest areas."""
    boundary_store.describe(study.boundaries)
    return replace(study, areas=resolve_areas(boundary_store, study.boundaries, study.areas))
