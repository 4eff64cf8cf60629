"""Area profiles: JSON for systems, a printable page for a ward panel. HTTP only; the numbers
come from geo_service.profile."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from boundaries.area_names import area_directory
from boundaries.store import BoundaryStore
from geo_service.briefing_page import render_briefing_html
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
from geo_service.profile_map import profile_map
from geo_service.query_params import MONTH_SCHEMA, MonthQuery
from geo_service.results import StudyCache
from geo_service.site import area_crumbs, briefing_url, hotspot_map_url, profile_url
from pipelines.briefing import briefing, facts_from_profile
from pipelines.months import window_words
from pipelines.store import CrimeStore

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


@dataclass(frozen=True)
class ProfileQuery:
    """One area's profile question, as every profile route asks it: the area (given by code or
    name, held as its code), the window's last month, the weights, the force and whether small
    counts are suppressed (a suppressed copy is another answer)."""

    set_name: str
    code: str
    to: str | None
    weights: str
    force: str | None
    suppress: bool = False

    def profile(
        self, store: CrimeStore, boundaries: BoundaryStore, cache: StudyCache
    ) -> AreaProfile:
        return gather_profile(
            store,
            boundaries,
            cache,
            self.set_name,
            self.code,
            self.to,
            self.weights,
            self.force,
            self.suppress,
        )

    @property
    def key(self) -> tuple:
        """The response-cache key (the route is in the request the cache sees)."""
        return (self.set_name, self.code, self.to, self.weights, self.force, self.suppress)


def area_query(
    set_name: str,
    code: str,
    boundaries: BoundaryStoreDep,
    to: To = None,
    weights: Weights = DEFAULT_WEIGHTS,
    force: Force = None,
) -> ProfileQuery:
    """The area's question; 404 (naming the closest areas) for an unknown set or area."""
    code = area_directory(boundaries, set_name).resolve(code)  # a code or the area's name
    return ProfileQuery(set_name, code, to, weights, force)


def profile_query(
    area: Annotated[ProfileQuery, Depends(area_query)], suppress: Suppress = False
) -> ProfileQuery:
    return replace(area, suppress=suppress)


AreaQuery = Annotated[ProfileQuery, Depends(area_query)]
ProfileQueryDep = Annotated[ProfileQuery, Depends(profile_query)]


# Plain `def` routes: the work is disk and CPU bound, so FastAPI runs them in its thread pool.
@router.get(
    "/boundaries/{set_name}/areas/{code}/profile",
    response_model=AreaProfile,
    responses=ERRORS,
    summary="Area profile (JSON)",
)
def area_profile(
    query: ProfileQueryDep,
    request: Request,
    store: StoreDep,
    boundaries: BoundaryStoreDep,
    cache: CacheDep,
    responses: ResponsesDep,
) -> Response:
    """Crime by category (last 12 months against the 12 before, rates, parent, rank), harm,
    monthly trend, top hot spots, outcomes and data notes for one area of a boundary set."""

    def build() -> Response:
        profile = query.profile(store, boundaries, cache)
        return JSONResponse(profile.model_dump(mode="json", by_alias=True))

    version = current_version(request, query.set_name)
    return responses.respond(request, version, build, key=query.key)


@router.get(
    "/boundaries/{set_name}/areas/{code}/profile.html",
    response_class=HTMLResponse,
    responses=ERRORS,
    summary="Area profile (printable page)",
)
def area_profile_page(
    query: ProfileQueryDep,
    request: Request,
    store: StoreDep,
    boundaries: BoundaryStoreDep,
    cache: CacheDep,
    responses: ResponsesDep,
) -> Response:
    """The same profile as a one-page, self-contained HTML document for print (A4)."""
    set_name, code = query.set_name, query.code

    def build() -> Response:
        profile = query.profile(store, boundaries, cache)
        boundary_set = boundaries.read(set_name)
        areas = boundary_set.areas
        geometry = areas.to_crs(4326).geometry[areas["code"] == code].iloc[0]
        page = render_profile_html(
            profile,
            # Not on a suppressed profile: its sentences would say the counts suppressed.
            [] if query.suppress else briefing(facts_from_profile(profile)),
            profile_map(geometry, profile.hotspots.items, size=150),
            area_crumbs(set_name, code, profile.area.name, boundary_set.display_name),
            [
                ("Hot spot map", _hotspot_map_of(profile, set_name, code)),
                ("Briefing", briefing_url(set_name, code)),
            ],
            set_title=boundary_set.display_name,
        )
        return html_response(page, boundaries, [set_name])

    version = current_version(request, set_name)
    return responses.respond(request, version, build, key=query.key)


def _hotspot_map_of(profile: AreaProfile, set_name: str, code: str) -> str:
    """The map of the hot spots the profile lists: its weights, resolution and window."""
    hotspots = profile.hotspots
    url = hotspot_map_url(set_name, code, hotspots.weights)
    if not hotspots.available:
        return url
    query = [("res", str(hotspots.resolution)), ("from", hotspots.first), ("to", hotspots.last)]
    return url + "&" + urlencode([(name, value) for name, value in query if value])


class BriefingSentence(BaseModel):
    rule: str = Field(description="The rule that wrote it (docs/briefing.md lists each).")
    text: str
    sources: dict[str, str] = Field(
        description="Each number the sentence says: the profile field it comes from -> value."
    )


class Briefing(BaseModel):
    area: str
    code: str
    boundary_set: str
    window: str = Field(description="The profile's 12 months, in words.")
    sentences: list[BriefingSentence]
    profile: str = Field(description="The profile page the numbers are on.")
    method: str


BRIEFING_METHOD = (
    "Sentences are written by fixed rules from the profile's numbers only (docs/briefing.md). "
    "A change is called a rise or a fall only where a significance test says so."
)


@router.get(
    "/boundaries/{set_name}/areas/{code}/briefing",
    response_model=Briefing,
    responses={**ERRORS, 200: {"content": {"text/html": {}}}},
    summary="Plain-English briefing of an area (JSON or HTML)",
)
def area_briefing(
    query: AreaQuery,
    request: Request,
    store: StoreDep,
    boundaries: BoundaryStoreDep,
    cache: CacheDep,
    responses: ResponsesDep,
    format: Annotated[Literal["json", "html"], Query(description="json or html.")] = "json",
) -> Response:
    """A few sentences for a ward panel, each traceable to a number on the area's profile."""
    set_name, code = query.set_name, query.code

    def build() -> Response:
        profile = query.profile(store, boundaries, cache)
        body = Briefing(
            area=profile.area.name,
            code=code,
            boundary_set=set_name,
            window=window_words(profile.window.first, profile.window.last),
            sentences=[
                BriefingSentence(rule=s.rule, text=s.text, sources=s.sources)
                for s in briefing(facts_from_profile(profile))
            ],
            profile=profile_url(set_name, code),
            method=BRIEFING_METHOD,
        )
        if format == "html":
            crumbs = area_crumbs(
                set_name, code, profile.area.name, boundaries.display_name(set_name)
            )
            names = [row.name for row in profile.categories]
            page = render_briefing_html(body.model_dump(), crumbs, names)
            return html_response(page, boundaries, [set_name])
        return JSONResponse(body.model_dump(mode="json"))

    key = (*query.key[:5], format)  # one route, two formats
    return responses.respond(request, current_version(request, set_name), build, key=key)
