"""The way in for a person: the start page (choose a boundary set, find an area by typing part
of its name or code) and each area's page, linking its map, profile, briefing, hot spot list and
downloads. The area is named by code or exact name (boundaries.area_names), as everywhere."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from boundaries.area_names import AreaDirectory, UnknownAreaError, area_directory
from boundaries.errors import BoundaryError
from boundaries.sets import display_name
from geo_service.dependencies import BoundaryStoreDep, require_read_access
from geo_service.error_page import Link, error_page
from geo_service.pages import html_response, template_environment
from geo_service.site import (
    SITE_CSS,
    SITE_PAGE_POLICY,
    SITE_SCRIPT,
    area_crumbs,
    area_map_url,
    area_page_url,
    briefing_url,
    hotspot_list_url,
    hotspot_map_url,
    profile_url,
)
from pipelines.attribution import ATTRIBUTION
from pipelines.quoting import quoted, shortened

router = APIRouter(tags=["pages"], dependencies=[Depends(require_read_access)])
_environment = template_environment()
_SCHEME_WORDS = {"ward": "wards", "cluster": "ward clusters", "lsoa": "LSOAs", "custom": "areas"}

SetQuery = Annotated[
    str | None, Query(description="Boundary set to list (default: the first ward set).")
]


def _choose_set(sets: list[dict], wanted: str | None) -> dict | None:
    if wanted:
        chosen = [s for s in sets if s["name"] == wanted]
        if not chosen:
            known = ", ".join(s["name"] for s in sets) or "none yet"
            raise BoundaryError(f"no boundary set named {quoted(wanted)} (sets: {known})")
        return chosen[0]
    wards = [s for s in sets if s.get("scheme") == "ward"]
    return (wards or sets or [None])[0]


@router.get("/", response_class=HTMLResponse, summary="Start page (HTML)", include_in_schema=False)
def start_page(store: BoundaryStoreDep, boundaries: SetQuery = None) -> HTMLResponse:
    """Choose a boundary set, then find an area by typing part of its name or code."""
    sets = store.list()
    chosen = _choose_set(sets, boundaries)
    areas = []
    if chosen is not None:
        directory = area_directory(store, chosen["name"])
        areas = sorted(
            (
                {"code": code, "name": name, "url": area_page_url(chosen["name"], code)}
                for code, name in zip(directory.codes, directory.names, strict=True)
            ),
            key=lambda area: area["name"].casefold(),
        )
    page = _environment.get_template("start.html").render(
        sets=sets,
        chosen=chosen,
        planning=_planning_links(chosen, sets) if chosen else [],
        areas=areas,
        scheme_words=_SCHEME_WORDS,
        title_of=display_name,
        area_map=area_map_url(chosen["name"]) if chosen else None,
        css=SITE_CSS,
        script=SITE_SCRIPT,
        attribution=ATTRIBUTION,
    )
    return html_response(page, store, [chosen["name"]] if chosen else [], SITE_PAGE_POLICY)


def _planning_links(chosen: dict, sets: list[dict]) -> list[tuple[str, str, str]]:
    """(label, address, note) of the planning pages for the chosen set (sets by their titles
    in the notes, by their codes in the addresses)."""
    set_name = chosen["name"]
    others = [described for described in sets if described["name"] != set_name]
    compare = (
        (
            "Compare boundary schemes",
            f"/v1/maps/compare?boundaries={quote(set_name)},{quote(others[0]['name'])}",
            f"{display_name(chosen)} beside {display_name(others[0])}",
        )
        if others
        else (
            "Compare boundary schemes",
            "/docs#/planning",
            "needs a second boundary set of the same place, such as ward clusters",
        )
    )
    return [
        compare,
        (
            "Share patrol units by need",
            f"/v1/allocate?boundaries={quote(set_name)}&units=10&format=html",
            "10 units; change units= in the address",
        ),
        (
            "Test last period's hot spots against this period (backtest)",
            f"/v1/backtest/last?boundaries={quote(set_name)}&format=html",
            "the newest recorded run; `hotspots backtest` or POST /v1/backtest records one",
        ),
        (
            "Did crime move next door? (displacement check)",
            "/docs#/planning",
            "choose a target area, a control area and the periods before and after",
        ),
    ]


@router.get(
    "/area",
    # A page route: its errors (unknown set, no or several matches) are the HTML error page.
    response_class=HTMLResponse,
    summary="Go to an area by name or code",
    include_in_schema=False,
)
def find_area(
    request: Request,
    store: BoundaryStoreDep,
    boundaries: Annotated[str, Query(description="Boundary set name.")],
    area: Annotated[str, Query(description="Area code or exact name (any case).")],
) -> Response:
    """The start page's form without script: straight to the area's page, or a 404 page that
    links the closest areas (or each area sharing the name) and the way back."""
    directory = area_directory(store, boundaries)
    try:
        code = directory.resolve(area)
    except UnknownAreaError as error:
        links = [
            Link(f"{directory.name_of(code)} ({code})", area_page_url(boundaries, code))
            for code in _candidates(directory, area)
        ]
        return error_page(request, 404, shortened(str(error)), extra_links=links)
    return RedirectResponse(area_page_url(boundaries, code), status_code=303)


def _candidates(directory: AreaDirectory, wanted: str) -> list[str]:
    """Codes of the areas a person probably meant: every area with this exact name (when
    several share it), else the closest names and codes."""
    folded = wanted.strip().casefold()
    same_name = [
        c for c, n in zip(directory.codes, directory.names, strict=True) if n.casefold() == folded
    ]
    if same_name:
        return same_name
    codes = []
    for match in directory.close_matches(wanted.strip()):
        if match in directory.codes:
            codes.append(match)
        else:
            codes += [
                c for c, n in zip(directory.codes, directory.names, strict=True) if n == match
            ]
    return list(dict.fromkeys(codes))


@router.get(
    "/areas/{set_name}/{area}",
    response_class=HTMLResponse,
    summary="An area's page (HTML)",
    include_in_schema=False,
)
def area_page(
    store: BoundaryStoreDep,
    set_name: Annotated[str, Path(description="Boundary set name.")],
    area: Annotated[str, Path(description="Area code or exact name (any case).")],
) -> HTMLResponse:
    """Everything about one area, one click away: map, profile, briefing, hot spots, downloads."""
    directory = area_directory(store, set_name)
    code = directory.resolve(area)
    name = directory.name_of(code)
    description = store.describe(set_name)
    links = {
        "map": hotspot_map_url(set_name, code),
        "harm_map": hotspot_map_url(set_name, code, "home-office-2018"),
        "set_map": area_map_url(set_name),
        "profile": profile_url(set_name, code),
        "profile_json": profile_url(set_name, code, ""),
        "briefing": briefing_url(set_name, code),
        "briefing_json": briefing_url(set_name, code, "json"),
        "hotspots_json": hotspot_list_url(set_name, code),
        "hotspots_csv": hotspot_list_url(set_name, code, "csv"),
        "harm_hotspots_csv": hotspot_list_url(set_name, code, "csv", "home-office-2018"),
        "cells_geojson": hotspot_list_url(set_name, code, "geojson").replace("&top=10", ""),
    }
    crumbs = area_crumbs(set_name, set_title=display_name(description))
    page = _environment.get_template("area.html").render(
        name=name,
        code=code,
        set=description,
        set_title=display_name(description),
        scheme_words=_SCHEME_WORDS,
        links=links,
        crumbs=crumbs,
        css=SITE_CSS,
        attribution=ATTRIBUTION,
    )
    return html_response(page, store, [set_name], SITE_PAGE_POLICY)
