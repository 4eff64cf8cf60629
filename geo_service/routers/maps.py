"""Map pages (HTML): hot spots on H3 cells, and area choropleths. Building them is in
``geo_service.maps``; this module only reads the query, fetches the data and returns the page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from boundaries.area_names import area_directory
from geo_service.backtest_report import (
    backtest_provenance,
    recorded_backtest_url,
    version_with_backtests,
)
from geo_service.dependencies import (
    BoundaryStoreDep,
    CacheDep,
    ResponsesDep,
    SettingsDep,
    StoreDep,
    current_version,
    require_read_access,
)
from geo_service.maps.area_map import METRICS, area_map_html, area_metrics, check_metric
from geo_service.maps.hotspot_map import hotspot_map_html
from geo_service.maps.map_text import (
    alone_words,
    map_title,
    place_words,
    scope_words,
    window_words,
)
from geo_service.maps.outlines import member_wards, region_outlines
from geo_service.pages import map_response
from geo_service.query_params import (
    Alpha,
    Categories,
    First,
    Last,
    ScopeParam,
    built_in_weights,
    month_range,
    parse_categories,
    split_values,
)
from geo_service.site import (
    area_crumbs,
    area_page_url,
    breadcrumbs_html,
    hotspot_list_url,
    hotspot_map_url,
    profile_url,
)
from pipelines.analysis.scope import check_scope_has_areas, judged_against_set
from pipelines.analysis.study import StudyRequest

router = APIRouter(prefix="/maps", tags=["maps"], dependencies=[Depends(require_read_access)])


@router.get("/hotspots", response_class=HTMLResponse, summary="Hot spot map of a region (HTML)")
def hotspot_map(
    request: Request,
    responses: ResponsesDep,
    settings: SettingsDep,
    cache: CacheDep,
    store: StoreDep,
    boundary_store: BoundaryStoreDep,
    boundaries: Annotated[str, Query(description="boundary set name")],
    area: Annotated[
        list[str] | None, Query(description="area code(s) or exact name(s); default: all")
    ] = None,
    res: Annotated[int, Query(description="H3 resolution, 7-10")] = 9,
    first: First = None,
    last: Last = None,
    categories: Categories = None,
    weights: str = "count",
    method: str = "gistar",
    alpha: Alpha = 0.05,
    scope: ScopeParam = "set",
) -> HTMLResponse:
    check_scope_has_areas(scope, split_values(area))
    directory = area_directory(boundary_store, boundaries)
    codes = directory.resolve_all(split_values(area))
    first, last = month_range(first, last)
    study = StudyRequest(
        boundaries=boundaries,
        areas=codes,
        resolution=res,
        first=first,
        last=last,
        categories=parse_categories(categories),
        weights=built_in_weights(weights),
        method=method,
        alpha=alpha,
        scope=scope,
    )

    # Links from this page ask the same question: window, resolution, categories and method.
    same_settings = _settings_query(res, first, last, categories, method, alpha)

    # Backtests are recorded on the whole store's version, as /v1/hotspots compares them: the
    # version of a pinned window's own study covers only its months and would call every run
    # of another window stale.
    whole = current_version(request, boundaries)

    def build() -> HTMLResponse:
        result, _ = cache.get(study)
        boundary_set = boundary_store.read(boundaries)
        outlines = region_outlines(boundary_store, boundary_set, codes)
        names = [directory.name_of(code) for code in codes]
        set_title = boundary_set.display_name  # the set's name for people; URLs keep the code
        place = place_words(
            set_title, names, boundary_set.scheme, len(directory.codes), bool(boundary_set.title)
        )
        window = result.window
        title = map_title(weights, place, window.first, window.last, method)
        if judged_against_set(study):
            title = f"{title} ({scope_words(set_title, place)})"
        elif codes and len(codes) < len(directory.codes):
            title = f"{title} ({alone_words(place)})"
        resolution = result.provenance["resolution"]
        backtest = backtest_provenance(store.root, study, resolution, whole)["backtest"]
        if len(codes) == 1:
            code = codes[0]
            crumbs = area_crumbs(boundaries, code, names[0], set_title)
            links = [
                ("Area profile", profile_url(boundaries, code) + _profile_settings(last, weights)),
                (
                    "Top 10 list (CSV)",
                    hotspot_list_url(boundaries, code, "csv", weights, scope) + same_settings,
                ),
                ("Whole set", hotspot_map_url(boundaries, None, weights) + same_settings),
            ]
        else:
            crumbs = area_crumbs(boundaries, set_title=set_title)
            links = [
                (name, area_page_url(boundaries, code))
                for code, name in zip(codes, names, strict=True)
            ]
        tested = recorded_backtest_url(store.root, study, resolution)
        if tested:  # the backtest of these very settings, scope included
            links.append(("Backtest", tested))
        page = hotspot_map_html(
            result,
            outlines,
            settings.tiles,
            title,
            breadcrumbs_html(crumbs, "Hot spot map"),
            links,
            backtest,
        )
        return map_response(page, settings.tiles, boundary_store, [boundaries])

    # The page reports the recorded backtest, so a new record must change the cache key too.
    version = version_with_backtests(whole, store.root, boundaries)
    # The tiles are baked into the page and its CSP: a server started with other tiles (the
    # on-disk cache outlives it) must not serve this page.
    return responses.respond(request, version, build, key=(study, settings.tiles))


def _profile_settings(last: object | None, weights: str) -> str:
    """``?to=..&weights=..``: the profile of the same weights whose window ends where this
    map's does (a profile always covers 12 months; it takes no resolution or categories)."""
    query = [("weights", weights)] + ([("to", str(last))] if last else [])
    return "?" + urlencode(query)


def _settings_query(
    res: int,
    first: object | None,
    last: object | None,
    categories: list[str] | None,
    method: str,
    alpha: float,
) -> str:
    """``&res=..&from=..`` for a link that must keep this page's settings (weights and scope are
    placed by the link builders)."""
    query: list[tuple[str, str]] = [("res", str(res))]
    query += [(name, str(month)) for name, month in (("from", first), ("to", last)) if month]
    query += [("categories", value) for value in categories or []]
    query += [("method", method), ("alpha", f"{alpha:g}")]
    return "&" + urlencode(query)


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
    first, last = month_range(first, last)

    def build() -> HTMLResponse:
        boundary_set = boundary_store.read(boundaries)
        check_metric(metric, boundary_set, weights)
        table = built_in_weights(weights or "count")
        metrics = area_metrics(store, boundary_set, first, last, table)
        wards = member_wards(boundary_store, boundary_set)
        extra = [wards] if wards else []
        window = metrics.window
        set_title = boundary_set.display_name
        title = (
            f"{METRICS[metric]} by area of {set_title}, {window_words(window.first, window.last)}"
        )
        crumbs = breadcrumbs_html(area_crumbs(boundaries, set_title=set_title), "Map of every area")
        page = area_map_html(boundary_set, metrics, metric, settings.tiles, extra, title, crumbs)
        return map_response(page, settings.tiles, boundary_store, [boundaries])

    key = (boundaries, metric, first, last, weights, settings.tiles)  # tiles: baked into the page
    return responses.respond(request, current_version(request, boundaries), build, key=key)
