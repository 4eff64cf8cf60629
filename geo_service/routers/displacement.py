"""``GET /v1/displacement``: the Weighted Displacement Quotient of a target area, the buffer ring
around it and a control area, before and after a change, as JSON or a map page. The numbers come
from ``pipelines.planning.displacement_check``, the same function ``hotspots displacement`` calls.

Over HTTP the target and control are always ``SET:CODE`` of a stored area, never a file path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from geo_service.dependencies import (
    BoundaryStoreDep,
    ResponsesDep,
    SettingsDep,
    StoreDep,
    current_version,
    require_read_access,
)
from geo_service.errors import NotFound
from geo_service.maps.displacement_map import displacement_map_html
from geo_service.models import responses_with_text
from geo_service.pages import map_response
from geo_service.query_params import (
    FINITE,
    Categories,
    Force,
    optional_force,
    parse_categories,
)
from pipelines.planning.displacement_areas import (
    MAX_BUFFER_M,
    MIN_BUFFER_M,
    UnknownAreaError,
    split_area_spec,
    stored_area,
)
from pipelines.planning.displacement_check import (
    check_periods,
    displacement_check,
    parse_period,
)

router = APIRouter(tags=["planning"], dependencies=[Depends(require_read_access)])

PERIOD = {"json_schema_extra": {"pattern": r"^[0-9]{4}-[0-9]{2}:[0-9]{4}-[0-9]{2}$"}}


class Counts(BaseModel):
    target: float
    buffer: float
    control: float


class PlaceInfo(BaseModel):
    spec: str
    boundary_set: str | None
    code: str | None
    name: str | None


class OddsRatio(BaseModel):
    value: float  # (place before / after) / (control before / after): above 1, fell vs control
    low: float
    high: float
    confidence: float
    zero_corrected: bool  # 0.5 added to every count because one was zero
    significant: bool  # the interval excludes 1
    direction: str  # "fell", "rose" or "no significant change", relative to the control


class Displacement(BaseModel):
    success_measure: float  # A1/C1 - A0/C0: negative, the target improved against the control
    buffer_displacement_measure: float  # B1/C1 - B0/C0
    wdq: float | None  # BDM / SM; None when SM is 0
    total_net_effect: float  # crimes saved (positive) in target and buffer, control-adjusted
    reading: str  # Bowers and Johnson (2003) class, only where the odds ratios support one
    target_odds_ratio: OddsRatio
    buffer_odds_ratio: OddsRatio
    explanation: str  # the result in plain words
    before: Counts
    after: Counts
    buffer_m: float
    before_period: str
    after_period: str
    target: PlaceInfo
    control: PlaceInfo
    provenance: dict[str, Any]


_HTML = responses_with_text(
    "The WDQ as JSON, or with format=html a map of the three places.", "text/html"
)


# Plain `def` route: the work is disk and CPU bound, so FastAPI runs it in its thread pool.
@router.get(
    "/displacement",
    response_model=Displacement,
    responses=_HTML,
    summary="Did crime move next door? The Weighted Displacement Quotient",
)
def displacement(
    request: Request,
    store: StoreDep,
    boundaries: BoundaryStoreDep,
    responses: ResponsesDep,
    settings: SettingsDep,
    target: Annotated[
        str, Query(description="SET:CODE of the stored area where the change happened.")
    ],
    control: Annotated[
        str, Query(description="SET:CODE of a comparable area clear of the target's buffer.")
    ],
    buffer_m: Annotated[
        float,
        Query(
            ge=MIN_BUFFER_M,
            le=MAX_BUFFER_M,
            description=f"Width of the buffer ring around the target, {MIN_BUFFER_M}-"
            f"{MAX_BUFFER_M} metres.",
            **FINITE,
        ),
    ],
    before: Annotated[
        str, Query(description="Months before the change, YYYY-MM:YYYY-MM (inclusive).", **PERIOD)
    ],
    after: Annotated[
        str, Query(description="Months after the change, YYYY-MM:YYYY-MM (inclusive).", **PERIOD)
    ],
    categories: Categories = None,
    force: Force = None,
    format: Annotated[
        Literal["json", "html"], Query(description="json, or html for the map page.")
    ] = "json",
) -> Response:
    """Crimes in the target, the ring of ``buffer_m`` metres around it and the control, in each
    period; the success measure, buffer displacement measure, WDQ, total net effect and their
    reading, with the months each period has stored and the rules used (Bowers and Johnson
    2003)."""
    periods = parse_period(before, "before"), parse_period(after, "after")
    check_periods(*periods, "before", "after")
    force = optional_force(force)
    set_names = [split_area_spec(target, "target")[0], split_area_spec(control, "control")[0]]
    version = current_version(request, *set_names)

    def build() -> Response:
        try:
            places = (
                stored_area(boundaries, target, "target"),
                stored_area(boundaries, control, "control"),
            )
        except UnknownAreaError as error:
            raise NotFound(str(error)) from error
        check = displacement_check(
            store, *places, buffer_m, *periods, categories=categories, force=force
        )
        headers = {"X-Data-Version": version}
        if format == "html":
            page = displacement_map_html(check, settings.tiles)
            return map_response(page, settings.tiles, boundaries, set_names, headers)
        body = check.to_dict()
        body["provenance"]["data_version"] = version
        model = Displacement.model_validate(body)
        return JSONResponse(model.model_dump(mode="json"), headers=headers)

    key = (target, control, buffer_m, periods, parse_categories(categories), force, format)
    key += (settings.tiles,) if format == "html" else ()  # a page bakes its tiles in
    return responses.respond(request, version, build, key=key)
