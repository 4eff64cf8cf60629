"""``GET /v1/hotspots``: a hotspot study of a region, from the study cache, as JSON, GeoJSON or CSV.

CSV has no place for the provenance, so a CSV response links to it (``Link: <...>;
rel="describedby"``), at ``/v1/hotspots/provenance`` with the same query: the study is cached, so
fetching it costs no second computation.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

import pyarrow.parquet as pq
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from boundaries.store import BoundaryStore
from geo_service.dependencies import (
    current_version,
    get_boundary_store,
    get_cache,
    get_response_cache,
    require_read_access,
)
from geo_service.errors import NotFound
from geo_service.hotspot_output import cell_records, csv_text, feature_collection, plain
from geo_service.hotspot_query import HotspotQuery, hotspot_query
from geo_service.models import ERRORS, Hotspots, Provenance
from geo_service.response_cache import ResponseCache
from geo_service.results import StudyCache
from pipelines.analysis.ranking import rank_cells
from pipelines.analysis.study import StudyRequest

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


@router.get(
    "/hotspots",
    response_model=Hotspots,
    responses={**ERRORS, 200: _OTHER_FORMATS},
    summary="Hot spots of crime or harm in a region",
)
def hotspots(
    query: Annotated[HotspotQuery, Depends(hotspot_query)],
    request: Request,
    cache: Annotated[StudyCache, Depends(get_cache)],
    boundary_store: Annotated[BoundaryStore, Depends(get_boundary_store)],
    responses: Annotated[ResponseCache, Depends(get_response_cache)],
) -> Response:
    """Every H3 cell of the region with count, value, z, p, adjusted p and class (zero-crime
    cells included), or with ``top`` the ranked list of significant hot spots; provenance
    (including ``data_version``) travels with the result."""
    version = current_version(request, query.study.boundaries)
    return responses.respond(
        request, version, lambda: _hotspots_response(query, request, cache, boundary_store)
    )


def _hotspots_response(
    query: HotspotQuery, request: Request, cache: StudyCache, boundary_store: BoundaryStore
) -> Response:
    cells, provenance = _study(query, cache, boundary_store)
    headers = {"X-Data-Version": provenance["data_version"]}
    if query.top is not None:
        cells = rank_cells(
            cells,
            by=query.rank_by,
            top=query.top,
            per_area=query.per_area,
            min_separation_m=query.min_separation_m,
        )
    if query.format == "csv":
        link = _provenance_url(request)
        headers["Link"] = f'<{link}>; rel="describedby"; type="application/json"'
        headers["Content-Disposition"] = 'attachment; filename="hotspots.csv"'
        return Response(csv_text(cells), media_type="text/csv; charset=utf-8", headers=headers)
    records = cell_records(cells)
    if query.format == "geojson":
        body = feature_collection(records, provenance)
        return JSONResponse(body, media_type="application/geo+json", headers=headers)
    # Validated against the documented model once, when built; repeats are served as bytes.
    model = Hotspots.model_validate({"provenance": provenance, "cells": records})
    return JSONResponse(model.model_dump(mode="json", by_alias=True), headers=headers)


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
    cache: Annotated[StudyCache, Depends(get_cache)],
    boundary_store: Annotated[BoundaryStore, Depends(get_boundary_store)],
) -> Provenance:
    """The provenance of the same query on ``/v1/hotspots`` (what a CSV response links to)."""
    _, provenance = _study(query, cache, boundary_store)
    response.headers["X-Data-Version"] = provenance["data_version"]
    return Provenance.model_validate(provenance)


def _study(query: HotspotQuery, cache: StudyCache, boundary_store: BoundaryStore) -> tuple:
    _check_areas(boundary_store, query.study)
    result, version = cache.get(query.study)
    return result.cells, plain({**result.provenance, "data_version": version})


def _check_areas(boundary_store: BoundaryStore, study: StudyRequest) -> None:
    """404 for an unknown set (describe raises) or area code, before any study is run."""
    boundary_store.describe(study.boundaries)
    if not study.areas:
        return
    # Only the code column: no geometry is read to check a code.
    path = boundary_store.path(study.boundaries)
    known = set(pq.read_table(path, columns=["code"]).column("code").to_pylist())
    unknown = [code for code in study.areas if code not in known]
    if unknown:
        raise NotFound(
            f"area code(s) {', '.join(unknown)} not in boundary set {study.boundaries!r}; "
            f"GET /v1/boundaries/{study.boundaries}/areas lists its areas"
        )


def _provenance_url(request: Request) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "format"]
    return str(request.url_for("hotspot_provenance").replace(query=urlencode(query)))
