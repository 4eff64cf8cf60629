"""Boundary sets: list them and their areas; add custom or cluster sets; delete a set.

Writes need an API key (X-API-Key). A new set never silently replaces one of the same name:
that is a 409 unless the request says ``replace=true``.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response

from boundaries.clusters import build_clusters, check_not_own_wards
from boundaries.custom_areas import custom_areas_from_geojson
from boundaries.errors import BoundarySetExists
from boundaries.sets import BoundarySet, check_title, display_name
from geo_service.body_limit import KeyedLimitedBodyRoute
from geo_service.dependencies import (
    BoundaryStoreDep,
    SettingsDep,
    require_read_access,
    require_write_key,
)
from geo_service.models import (
    ERRORS,
    Area,
    AreaList,
    BoundarySetCreated,
    BoundarySets,
    BoundarySetSummary,
    ClusterSetRequest,
    Deleted,
    NewBoundarySet,
)
from pipelines.planning.backtest_record import delete_records
from pipelines.quoting import quoted

router = APIRouter(tags=["boundaries"])
reads = APIRouter(dependencies=[Depends(require_read_access)])
writes = APIRouter(route_class=KeyedLimitedBodyRoute, dependencies=[Depends(require_write_key)])

SetName = Annotated[str, Path(description="Boundary set name, e.g. torbay-wards-2019.")]
WRITE_ERRORS = {
    **ERRORS,
    409: {"model": ERRORS[422]["model"], "description": "A set of that name exists"},
    413: {"model": ERRORS[422]["model"], "description": "The body is too large"},
}


@reads.get("/boundaries", response_model=BoundarySets, responses=ERRORS)
def list_sets(store: BoundaryStoreDep) -> BoundarySets:
    """Every stored boundary set: name, scheme, vintage and number of areas."""
    return BoundarySets(sets=[_summary(description) for description in store.list()])


@reads.get("/boundaries/{set_name}/areas", response_model=AreaList, responses=ERRORS)
def list_areas(set_name: SetName, store: BoundaryStoreDep) -> AreaList:
    """The areas of a set: code, name, km² and resident population when attached."""
    boundary_set = store.read(set_name)
    frame = boundary_set.areas
    population = frame.get("population")
    members = frame.get("members")
    areas = [
        Area(
            code=code,
            name=name,
            km2=round(float(area_m2) / 1e6, 4),
            population=_number(population.iat[i]) if population is not None else None,
            members=str(members.iat[i]).split(";") if members is not None else None,
        )
        for i, (code, name, area_m2) in enumerate(
            zip(frame["code"], frame["name"], frame["area_m2"], strict=True)
        )
    ]
    return AreaList(set=_summary(boundary_set.metadata()), areas=areas)


# OpenAPI links: a client (and the stateful fuzzer) can follow a created set to its areas and
# to its deletion.
CREATED_LINKS = {
    "AreasOfTheNewSet": {
        "operationId": "list_areas_v1_boundaries__set_name__areas_get",
        "parameters": {"set_name": "$response.body#/name"},
    },
    "DeleteTheNewSet": {
        "operationId": "delete_set_v1_boundaries__set_name__delete",
        "parameters": {"set_name": "$response.body#/name"},
    },
}


@writes.post(
    "/boundaries",
    status_code=201,
    response_model=BoundarySetCreated,
    responses={**WRITE_ERRORS, 201: {"links": CREATED_LINKS}},
)
def create_set(
    body: NewBoundarySet,
    store: BoundaryStoreDep,
    response: Response,
    replace: Annotated[bool, Query(description="Overwrite a set of the same name.")] = False,
) -> BoundarySetCreated:
    """Add a custom set from GeoJSON (``scheme: custom``) or a cluster set from a ward-to-cluster
    mapping over a stored set (``scheme: cluster``)."""
    if isinstance(body, ClusterSetRequest):
        check_not_own_wards(body.name, body.wards)  # before the 409: replace=true cannot help
    if store.exists(body.name) and not replace:
        raise _exists(body.name)
    unassigned: list[str] = []
    if isinstance(body, ClusterSetRequest):
        result = build_clusters(store.read(body.wards), body.mapping, body.name, body.vintage)
        new_set: BoundarySet = result.clusters
        unassigned = result.unassigned
    else:
        new_set = custom_areas_from_geojson(body.geojson, body.name, body.vintage, source="api")
    if body.title is not None:
        new_set.title = check_title(body.title)
    try:
        store.save(new_set, replace=replace)
    except BoundarySetExists:  # made by another request meanwhile; the store's words are the CLI's
        raise _exists(body.name) from None
    response.headers["Location"] = f"/v1/boundaries/{new_set.name}/areas"
    metadata = new_set.metadata()
    return BoundarySetCreated(
        **_summary(metadata).model_dump(), notes=metadata["notes"], unassigned=unassigned
    )


@writes.delete("/boundaries/{set_name}", response_model=Deleted, responses=WRITE_ERRORS)
def delete_set(set_name: SetName, store: BoundaryStoreDep, settings: SettingsDep) -> Deleted:
    """Delete a stored boundary set and the backtests recorded on it (404 when there is no set
    of that name)."""
    store.delete(set_name)
    delete_records(settings.data_dir, set_name)  # runs on a deleted set go with it
    return Deleted(deleted=set_name)


router.include_router(reads)
router.include_router(writes)


def _exists(name: str) -> HTTPException:
    return HTTPException(
        409,
        f"a boundary set named {quoted(name)} already exists; choose another name or send "
        "replace=true to overwrite it",
    )


def _summary(description: dict) -> BoundarySetSummary:
    return BoundarySetSummary(
        name=description["name"],
        title=display_name(description),
        scheme=description["scheme"],
        vintage=description["vintage"],
        areas=description["areas"],
        source=description.get("source") or "",
        created=description.get("created") or "",
    )


def _number(value: object) -> float | None:
    number = float(value) if value is not None else math.nan
    return number if math.isfinite(number) else None
