"""Boundary schemes compared: ``GET /v1/compare`` (JSON or CSV) and the side-by-side map page
``GET /v1/maps/compare``. The numbers come from ``pipelines.planning.compare.compare_schemes``
(the CLI's ``hotspots compare`` calls the same function); this module reads the query, checks
it, and serves the result through the response cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from boundaries.sets import BoundarySet, check_name
from boundaries.store import BoundaryStore
from geo_service.dependencies import (
    BoundaryStoreDep,
    ResponsesDep,
    SettingsDep,
    StoreDep,
    current_version,
    require_read_access,
)
from geo_service.downloads import csv_response, spreadsheet_safe_csv
from geo_service.maps.compare_map import (
    DEFAULT_METRIC,
    MAX_MAPS,
    METRICS,
    check_compare_metric,
    compare_page_html,
)
from geo_service.models import ERRORS, responses_with_text
from geo_service.pages import map_response
from geo_service.query_params import (
    FINITE,
    First,
    Force,
    Last,
    Weights,
    built_in_weights,
    month_range,
    optional_force,
    range_schema,
)
from pipelines.errors import InputError
from pipelines.planning.compare import Comparison, check_comparison, compare_schemes
from pipelines.quoting import quoted
from pipelines.store import CrimeStore

router = APIRouter(tags=["planning"], dependencies=[Depends(require_read_access)])

DEFAULT_WEIGHTS = "home-office-2018"  # pounds read straight to a board, as the CLI defaults


# -- the response models -----------------------------------------------------------------------


class CompareProvenance(BaseModel):
    """Every choice behind the comparison; the fields listed are always present."""

    model_config = ConfigDict(extra="allow")
    data_version: str = Field(description="Fingerprint of the stored crimes and every set.")
    reference_set: str = Field(description="The set whose region defines the crimes and cells.")
    sets: list[str]
    window: dict[str, Any]
    weights: dict[str, Any]
    resolution: int
    neighbours: dict[str, Any]
    hot_cells: dict[str, Any] = Field(description="How hot cells are found: alpha, correction.")
    cells: int
    crimes_in_reference_region: int
    crime_rule: str
    cell_rule: str
    attribution: str


class CompareArea(BaseModel):
    code: str
    name: str
    crimes: int
    harm: float
    harm_per_km2: float | None
    population: float | None = None
    rate_per_1000: float | None = None
    rank: int = Field(description="1 = the most harm; ties share the better rank.")


class SchemeMeasures(BaseModel):
    name: str
    scheme: str
    vintage: str
    gini_harm: float = Field(description="Gini of harm across the areas (0 = equal).")
    top20_harm_share: float = Field(description="Share of harm in the top 20 % of areas.")
    areas_holding_half_harm: int
    hot_cells: int
    straddling_hot_cells: int = Field(description="Hot cells whose k-ring crosses a boundary.")
    straddling_hot_harm: float
    hot_harm: float
    between_share: float = Field(description="Between-area share of cell-harm variance.")
    within_variance: float
    between_variance: float
    outside_crimes: int = Field(description="Reference-region crimes in no area of the scheme.")
    areas: list[CompareArea]


class HomeArea(BaseModel):
    code: str
    rank: int


class RankMove(BaseModel):
    """A reference area: its code and name, then one key per set (the set's name): its rank in
    the reference set (an integer), and in each other set its home area (the area holding most
    of its cells) with that area's rank, or null when no area of that set holds its cells."""

    model_config = ConfigDict(extra="allow")
    code: str
    name: str


class HotCell(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    h3: str
    crimes: int
    harm: float
    class_: int = Field(alias="class", description="Gi_Bin class, 1..3 (90/95/99 %).")
    straddles: list[str] = Field(description="Sets whose area boundaries the cell straddles.")


class SchemeComparison(BaseModel):
    provenance: CompareProvenance
    schemes: list[SchemeMeasures]
    rank_moves: list[RankMove]
    hot_cells: list[HotCell]


# -- the query -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompareQuery:
    sets: tuple[str, ...]
    first: str | None
    last: str | None
    force: str | None
    weights: str
    resolution: int
    k: int
    alpha: float


def set_names(values: list[str] | None) -> tuple[str, ...]:
    """Set names from repeated and/or comma-separated values, in order, repeats kept (so that
    naming one set twice is refused rather than silently merged)."""
    return tuple(
        part.strip() for value in values or () for part in value.split(",") if part.strip()
    )


def compare_query(
    boundaries: Annotated[
        list[str],
        Query(
            description="Two to four boundary sets, comma-separated (or repeated); the first is "
            "the reference: its region defines the crimes and cells compared.",
        ),
    ],
    first: First = None,
    last: Last = None,
    force: Force = None,
    weights: Weights = DEFAULT_WEIGHTS,
    res: Annotated[
        int,
        Query(description="H3 resolution, 7-10; 9 is about 0.1 km² a cell.", **range_schema(7, 10)),
    ] = 9,
    k: Annotated[
        int, Query(description="Neighbour rings around each cell (1-3).", **range_schema(1, 3))
    ] = 1,
    alpha: Annotated[
        float,
        Query(
            description="Significance level of a hot cell, after correction (0.000001 to 0.5).",
            **range_schema(1e-6, 0.5),
            **FINITE,
        ),
    ] = 0.05,
) -> CompareQuery:
    """The checked query; InputError (422) with what to change, before any data is read."""
    names = set_names(boundaries)
    if len(names) > MAX_MAPS:
        raise InputError(f"compare at most {MAX_MAPS} boundary sets at once, got {len(names)}")
    check_comparison(list(names), res, k, alpha)
    for name in names:
        check_name(name)  # a malformed name is a 422 before it reaches the file system
    window = month_range(first, last)
    built_in_weights(weights)
    force = optional_force(force)
    return CompareQuery(names, window[0], window[1], force, weights, res, k, alpha)


QueryDep = Annotated[CompareQuery, Depends(compare_query)]


def read_sets(query: CompareQuery, boundary_store: BoundaryStore) -> list[BoundarySet]:
    """The sets, in the order asked; an unknown one is a 404 that names it."""
    return [boundary_store.read(name) for name in query.sets]


def run_comparison(query: CompareQuery, store: CrimeStore, sets: list[BoundarySet]) -> Comparison:
    return compare_schemes(
        store,
        sets,
        query.first,
        query.last,
        query.force,
        query.weights,
        query.resolution,
        query.k,
        query.alpha,
    )


# -- the endpoints ---------------------------------------------------------------------------------

_CSV = responses_with_text(
    "The comparison; format=csv gives one row per scheme and area.", "text/csv"
)


@router.get(
    "/compare",
    response_model=SchemeComparison,
    responses=_CSV,
    summary="Boundary schemes compared on the same crimes, cells and weights",
)
def compare(
    query: QueryDep,
    request: Request,
    store: StoreDep,
    boundary_store: BoundaryStoreDep,
    responses: ResponsesDep,
    format: Annotated[
        Literal["json", "csv"], Query(description="json (everything) or csv (the areas).")
    ] = "json",
) -> Response:
    """Per scheme: each area's crimes, harm, harm per km², rate and rank; the Gini of harm, the
    top-20 % share, the areas holding half the harm, hot cells and those straddling a boundary,
    and the between-area share of variance. ``rank_moves`` follows each reference area to its
    home area in the other schemes; ``hot_cells`` lists the significant cells."""
    version = current_version(request, *query.sets)

    def build() -> Response:
        comparison = run_comparison(query, store, read_sets(query, boundary_store))
        headers = {"X-Data-Version": version}
        if format == "csv":
            json_url = str(request.url.include_query_params(format="json"))
            return csv_response(areas_csv(comparison), "compare.csv", json_url, headers)
        body = comparison.to_dict()
        body["provenance"] = {**body["provenance"], "data_version": version}
        # Validated against the documented model once, when built; repeats are served as bytes.
        # Unset optional fields (population and rate of a set without residents) stay absent.
        model = SchemeComparison.model_validate(body)
        content = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return JSONResponse(content, headers=headers)

    return responses.respond(request, version, build, key=(query, format))


@router.get(
    "/maps/compare",
    response_class=HTMLResponse,
    responses=ERRORS,
    tags=["maps"],
    summary="Boundary schemes side by side on synchronised maps (HTML)",
)
def compare_map(
    query: QueryDep,
    request: Request,
    store: StoreDep,
    boundary_store: BoundaryStoreDep,
    responses: ResponsesDep,
    settings: SettingsDep,
    metric: Annotated[
        str,
        Query(
            description="What the maps colour: harm_per_km2 (default) or rate compare across "
            "schemes (shared classes); harm and count are totals (classes per map).",
            json_schema_extra={"enum": list(METRICS)},
        ),
    ] = DEFAULT_METRIC,
) -> HTMLResponse:
    """One choropleth per scheme, the significant hot cells over each, maps that pan and zoom
    together, and the measures, per-area ranks, rank moves and provenance beneath."""
    if metric not in METRICS:
        raise InputError(f"metric must be one of {', '.join(METRICS)}, got {quoted(metric)}")
    version = current_version(request, *query.sets)

    def build() -> Response:
        sets = read_sets(query, boundary_store)
        check_compare_metric(metric, sets)  # before the statistics, which take the time
        comparison = run_comparison(query, store, sets)
        page = compare_page_html(comparison, sets, metric, settings.tiles, version)
        headers = {"X-Data-Version": version}
        return map_response(page, settings.tiles, boundary_store, query.sets, headers)

    # The tiles are baked into the page: another server's tiles must not share its entry.
    return responses.respond(request, version, build, key=(query, metric, settings.tiles))


# -- CSV -------------------------------------------------------------------------------------------

_CSV_COLUMNS = [
    "boundary_set",
    "scheme",
    "code",
    "name",
    "crimes",
    "harm",
    "harm_per_km2",
    "population",
    "rate_per_1000",
    "rank",
]


def areas_csv(comparison: Comparison) -> str:
    """One row per scheme and area. Text that a spreadsheet would run as a formula is quoted."""
    frames = []
    for summary in comparison.schemes:
        frame = summary.areas.copy()
        frame.insert(0, "scheme", summary.scheme)
        frame.insert(0, "boundary_set", summary.name)
        frames.append(frame.reindex(columns=_CSV_COLUMNS))
    return spreadsheet_safe_csv(pd.concat(frames, ignore_index=True))
