"""Area profiles: JSON for systems, a printable page for a ward panel. HTTP only; the numbers
come from geo_service.profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from boundaries.area_names import area_directory
from geo_service.dependencies import (
    BoundaryStoreDep,
    CacheDep,
    ResponsesDep,
    StoreDep,
    current_version,
    require_read_access,
)
from geo_service.models import ERRORS
from geo_service.pages import html_response
from geo_service.profile import DEFAULT_WEIGHTS, AreaProfile, gather_profile, render_profile_html
from geo_service.query_params import MONTH_SCHEMA, MonthQuery

router = APIRouter(tags=["profiles"], dependencies=[Depends(require_read_access)])

To = Annotated[
    MonthQuery | None,
    Query(
        **MONTH_SCHEMA,
        description="Last month of the profile, YYYY-MM (default: the latest month stored for "
        "the forces with crimes in the boundary set).",
    ),
]
Weights = Annotated[
    str,
    Query(description="Built-in harm table: home-office-2018 (default, £), cchi (days) or count."),
]
Force = Annotated[
    str | None, Query(description="Only this force's crimes (police.uk slug); default: all.")
]
Suppress = Annotated[
    bool,
    Query(
        description='For published outputs: counts of 1 to 4 shown as "<5" (null in JSON), '
        "with the rates, changes and harm that would reveal them."
    ),
]


# Plain `def` routes: the work is disk and CPU bound, so FastAPI runs them in its thread pool.
@router.get(
    "/boundaries/{set_name}/areas/{code}/profile",
    response_model=AreaProfile,
    responses=ERRORS,
    summary="Area profile (JSON)",
)
def area_profile(
    set_name: str,
    code: str,
    request: Request,
    store: StoreDep,
    boundaries: BoundaryStoreDep,
    cache: CacheDep,
    responses: ResponsesDep,
    to: To = None,
    weights: Weights = DEFAULT_WEIGHTS,
    force: Force = None,
    suppress: Suppress = False,
) -> Response:
    """Crime by category (last 12 months against the 12 before, rates, parent, rank), harm,
    monthly trend, top hot spots, outcomes and data notes for one area of a boundary set."""

    code = area_directory(boundaries, set_name).resolve(code)  # a code or the area's name

    def build() -> Response:
        profile = gather_profile(
            store, boundaries, cache, set_name, code, to, weights, force, suppress
        )
        return JSONResponse(profile.model_dump(mode="json", by_alias=True))

    key = (set_name, code, to, weights, force, suppress)
    return responses.respond(request, current_version(request, set_name), build, key=key)


@router.get(
    "/boundaries/{set_name}/areas/{code}/profile.html",
    response_class=HTMLResponse,
    responses=ERRORS,
    summary="Area profile (printable page)",
)
def area_profile_page(
    set_name: str,
    code: str,
    request: Request,
    store: StoreDep,
    boundaries: BoundaryStoreDep,
    cache: CacheDep,
    responses: ResponsesDep,
    to: To = None,
    weights: Weights = DEFAULT_WEIGHTS,
    force: Force = None,
    suppress: Suppress = False,
) -> Response:
    """The same profile as a one-page, self-contained HTML document for print (A4)."""

    code = area_directory(boundaries, set_name).resolve(code)

    def build() -> Response:
        profile = gather_profile(
            store, boundaries, cache, set_name, code, to, weights, force, suppress
        )
        return html_response(render_profile_html(profile), boundaries, [set_name])

    key = (set_name, code, to, weights, force, suppress)
    return responses.respond(request, current_version(request, set_name), build, key=key)
