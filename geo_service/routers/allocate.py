"""``GET /v1/allocate``: share N whole units across a boundary set's areas by need, beside the
equal share, as JSON, CSV or a printable page. The numbers come from
``pipelines.planning.allocation_request``, the same function ``hotspots allocate`` calls.

CSV has no place for the provenance, so a CSV response links to it (``Link: <...>;
rel="describedby"``) at ``/v1/allocate/provenance`` with the same query, as ``/v1/hotspots`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from boundaries.store import BoundaryStore
from geo_service.allocation_page import render_allocation_html
from geo_service.dependencies import (
    BoundaryStoreDep,
    ResponsesDep,
    StoreDep,
    current_version,
    require_read_access,
)
from geo_service.downloads import csv_response, same_query_url, spreadsheet_safe_csv
from geo_service.models import ERRORS, responses_with_text
from geo_service.pages import html_response
from geo_service.query_params import (
    MONTH_SCHEMA,
    WEIGHTS_SCHEMA,
    First,
    Force,
    MonthQuery,
    built_in_weights,
    month_range,
    optional_force,
)
from pipelines.planning.allocation import HTTP_NAMES, MAX_UNITS
from pipelines.planning.allocation_request import AllocationRequest, allocate_by_need
from pipelines.store import CrimeStore

router = APIRouter(tags=["planning"], dependencies=[Depends(require_read_access)])

Measure = Literal["harm", "count", "rate"]
Format = Literal["json", "csv", "html"]


class AllocationRow(BaseModel):
    code: str
    name: str
    crimes: int
    harm: float
    population: float | None = None  # when the set has population attached
    rate: float | None = None  # crimes per 1,000 residents, when population is attached
    measure: float  # the need the units follow (harm, crimes or rate)
    exact_share: float  # the proportional share before rounding (floors and caps applied)
    units: int
    equal_share: float  # units / areas
    difference: float  # units - equal_share


class AllocationTotals(BaseModel):
    areas: int
    crimes: int
    harm: float
    population: float | None  # only when every area has a figure
    measure: float
    units: int  # always the units asked for
    equal_share: float


class AllocationProvenance(BaseModel):
    """Every choice behind an allocation; the fields a client relies on are typed, the rest
    (placement rules, areas without need) are passed through."""

    model_config = ConfigDict(extra="allow")
    boundaries: str = Field(description="The boundary set whose areas share the units.")
    areas: int = Field(description="Areas sharing the units.")
    units: int = Field(description="Whole units shared.")
    measure: str = Field(description="The need the units follow: harm, count or rate.")
    method: str = Field(description="How whole units were shared out.")
    weights: dict[str, Any] = Field(description="The harm table: name, version, source.")
    window: dict[str, Any] = Field(description="The months counted, and any missing.")
    data_version: str = Field(description="Fingerprint of the stored crimes and boundaries.")


class Allocation(BaseModel):
    provenance: AllocationProvenance
    rows: list[AllocationRow]
    totals: AllocationTotals


@dataclass(frozen=True)
class AllocateQuery:
    request: AllocationRequest
    format: str


def allocate_query(
    boundaries: Annotated[str, Query(description="Boundary set whose areas share the units.")],
    units: Annotated[
        int, Query(ge=0, le=MAX_UNITS, description="Whole units to share (officers, hours).")
    ],
    minimum: Annotated[
        int, Query(alias="min", ge=0, le=MAX_UNITS, description="Minimum units per area.")
    ] = 0,
    maximum: Annotated[
        int | None,
        Query(alias="max", ge=0, le=MAX_UNITS, description="Maximum units per area (none)."),
    ] = None,
    floor_rule: Annotated[
        Literal["minimum", "added"],
        Query(
            description="minimum: min is a true minimum (default); added: every area gets min "
            "first and the rest is shared on top."
        ),
    ] = "minimum",
    rounding: Annotated[
        Literal["webster", "largest-remainder"],
        Query(
            description="Whole units by the Webster / Sainte-Laguë divisor method (default; no "
            "Alabama paradox) or the largest remainder (Hamilton) method."
        ),
    ] = "webster",
    measure: Annotated[
        Measure, Query(description="Need: harm (weights), count (crimes) or rate per 1,000.")
    ] = "harm",
    weights: Annotated[
        str,
        Query(
            description="Harm table for measure=harm (GET /v1/weights describes each).",
            **WEIGHTS_SCHEMA,
        ),
    ] = "home-office-2018",
    first: First = None,
    last: Annotated[
        MonthQuery | None,
        Query(
            alias="to",
            description="Last month, YYYY-MM (inclusive); default: the latest 12 stored.",
            **MONTH_SCHEMA,
        ),
    ] = None,
    force: Force = None,
    format: Annotated[Format, Query(description="json, csv or html (a printable page).")] = "json",
) -> AllocateQuery:
    """The parsed query; InputError (422) naming the parameter when it is wrong."""
    window = month_range(first, last)
    built_in_weights(weights)
    request = AllocationRequest(
        boundaries,
        units,
        minimum,
        maximum,
        measure,
        weights,
        *window,
        optional_force(force),
        rounding=rounding,
        floor_rule=floor_rule,
    )
    return AllocateQuery(request, format)


Query_ = Annotated[AllocateQuery, Depends(allocate_query)]

_OTHER_FORMATS = responses_with_text(
    "One row per area: JSON, CSV (provenance linked) or a printable page.", "text/csv", "text/html"
)


# Plain `def` routes: the work is disk and CPU bound, so FastAPI runs them in its thread pool.
@router.get(
    "/allocate",
    response_model=Allocation,
    responses=_OTHER_FORMATS,
    summary="Share N units across areas by need, beside the equal share",
)
def allocate(
    query: Query_,
    request: Request,
    store: StoreDep,
    boundaries: BoundaryStoreDep,
    responses: ResponsesDep,
) -> Response:
    """Shares in proportion to the measure with min as a minimum (or a base added on top) and
    caps re-shared, whole units by the Webster divisor method (or the largest remainder); every
    row shows its units beside the equal share (units / areas)."""
    set_name = query.request.boundaries
    version = current_version(request, set_name)

    def build() -> Response:
        body = _allocation(query, store, boundaries, version)
        headers = {"X-Data-Version": version}
        if query.format == "csv":
            link = same_query_url(request, "allocation_provenance")
            text = spreadsheet_safe_csv(body["frame"])
            return csv_response(text, "allocation.csv", link, headers)
        model = Allocation.model_validate(body["json"])
        if query.format == "html":
            page = render_allocation_html(
                model.model_dump(mode="json", exclude_unset=True),
                boundaries.display_name(set_name),
            )
            return html_response(page, boundaries, [set_name], headers=headers)
        return JSONResponse(model.model_dump(mode="json", exclude_unset=True), headers=headers)

    return responses.respond(request, version, build, key=query)


@router.get(
    "/allocate/provenance",
    response_model=AllocationProvenance,
    responses=ERRORS,
    name="allocation_provenance",
    summary="Only the provenance of an allocation",
)
def allocation_provenance(
    query: Query_,
    request: Request,
    store: StoreDep,
    boundaries: BoundaryStoreDep,
    responses: ResponsesDep,
) -> Response:
    """The provenance of the same query on ``/v1/allocate`` (what a CSV response links to)."""
    version = current_version(request, query.request.boundaries)

    def build() -> Response:
        body = _allocation(query, store, boundaries, version)
        provenance = body["json"]["provenance"]
        return JSONResponse(provenance, headers={"X-Data-Version": version})

    return responses.respond(request, version, build, key=query)


def _allocation(
    query: AllocateQuery, store: CrimeStore, boundaries: BoundaryStore, version: str
) -> dict[str, Any]:
    boundary_set = boundaries.read(query.request.boundaries)  # 404 for an unknown set
    result = allocate_by_need(store, boundary_set, query.request, HTTP_NAMES)
    provenance = {**result.provenance, "data_version": version}
    return {
        "frame": result.frame,
        "json": {"provenance": provenance, "rows": result.rows(), "totals": result.totals()},
    }
