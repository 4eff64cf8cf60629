"""The area profile page: the service's way in to ``pipelines.profile`` and the printable page.

The numbers live in ``pipelines/profile`` (shared with the JSON, the CLI and the briefing); this
module only passes the service's study cache and data version in, turns a missing area into a
404, and draws the page (the trend chart's geometry and the template).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from boundaries.store import BoundaryStore
from geo_service.errors import NotFound
from geo_service.pages import template_environment
from geo_service.profile_map import SvgMap
from geo_service.query_params import built_in_weights
from geo_service.results import StudyCache, data_version
from geo_service.site import Crumb
from pipelines.analysis.rates import SUPPRESSED
from pipelines.briefing import Sentence
from pipelines.profile.gather import ProfileNotFound
from pipelines.profile.gather import gather_profile as gather_from_stores
from pipelines.profile.model import AreaProfile, TrendPoint
from pipelines.profile.numbers import DEFAULT_WEIGHTS, POPULATION_NOT_LOADED
from pipelines.store import CrimeStore

__all__ = ["DEFAULT_WEIGHTS", "AreaProfile", "gather_profile", "render_profile_html"]


def gather_profile(
    store: CrimeStore,
    boundaries: BoundaryStore,
    cache: StudyCache,
    set_name: str,
    code: str,
    to: str | None = None,
    weights: str = DEFAULT_WEIGHTS,
    force: str | None = None,
    suppress_small: bool = False,
) -> AreaProfile:
    """The profile of area ``code``: built-in weights only (a path in a URL would read server
    files), hot spots from the service's study cache, a missing area or force a 404."""
    built_in_weights(weights)
    try:
        return gather_from_stores(
            store,
            boundaries,
            lambda request: cache.get(request)[0],
            set_name,
            code,
            to,
            weights,
            force,
            data_version=data_version(store, boundaries, set_name),
            suppress_small=suppress_small,
        )
    except ProfileNotFound as error:
        raise NotFound(str(error)) from error


# -- the chart ---------------------------------------------------------------------------------


@dataclass
class ChartPoint:
    x: float
    y: float
    month: str
    count: int
    complete: bool


@dataclass
class TrendChart:
    """Geometry of the monthly trend chart, in SVG user units; the template draws it."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    lines: list[str]  # polyline "x,y x,y" runs, broken where a month has no data
    points: list[ChartPoint]
    y_ticks: list[tuple[float, int]]  # (y, value)
    x_labels: list[tuple[float, str]]  # (x, "Jan 20")
    gaps: list[tuple[float, str]]  # (x, month) of months with no data
    suppressed: list[tuple[float, str]]  # (x, month) of months whose count (1-4) is suppressed
    current_x: tuple[float, float]  # the last-12-months band, left and right edge
    description: str


_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def nice_ceiling(value: float) -> int:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above ``value`` (at least 1), for axis tops."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return math.ceil(step * power)
    return int(10 * power)


def trend_chart(points: list[TrendPoint], width: int = 680, height: int = 220) -> TrendChart:
    """Scale the monthly counts into an SVG box: x by month, y from zero to a round top."""
    left, right, top, bottom = 44.0, width - 12.0, 14.0, height - 30.0
    counts = [p.count for p in points if p.count is not None]
    y_max = nice_ceiling(max(counts, default=0))
    step = (right - left) / max(len(points) - 1, 1)

    def x_of(i: int) -> float:
        return round(left + i * step, 1)

    def y_of(value: float) -> float:
        return round(bottom - (bottom - top) * value / y_max, 1)

    lines: list[str] = []
    run: list[str] = []
    chart_points = []
    gaps = []
    suppressed = []
    for i, point in enumerate(points):
        if point.count is None:
            (suppressed if point.suppressed else gaps).append((x_of(i), point.month))
            if len(run) > 1:
                lines.append(" ".join(run))
            run = []
            continue
        run.append(f"{x_of(i)},{y_of(point.count)}")
        chart_points.append(
            ChartPoint(x_of(i), y_of(point.count), point.month, point.count, point.complete)
        )
    if len(run) > 1:
        lines.append(" ".join(run))
    ticks = [(y_of(y_max * k / 4), round(y_max * k / 4)) for k in range(5)]
    labels = [
        (x_of(i), f"{_MONTH_ABBR[int(p.month[5:]) - 1]} {p.month[2:4]}")
        for i, p in enumerate(points)
        if i % 3 == 0 or i == len(points) - 1
    ]
    first_current = next((i for i, p in enumerate(points) if p.window == "current"), 0)
    band = (round(x_of(first_current) - step / 2, 1), round(min(right + step / 2, width), 1))
    shown = ", ".join(f"{p.month}: {'no data' if p.count is None else p.count}" for p in points)
    return TrendChart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        lines=lines,
        points=chart_points,
        y_ticks=ticks,
        x_labels=labels,
        gaps=gaps,
        suppressed=suppressed,
        current_x=band,
        description=f"Crimes per month: {shown}.",
    )


# -- the page ----------------------------------------------------------------------------------

# Arrows only for a significant change (pipelines/analysis/rates.py); otherwise words.
_ARROWS = {"up": "▲", "down": "▼"}


def _percent(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:+,.{digits}f}%"


def _harm(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit.startswith("GBP"):
        return f"£{value:,.0f}"
    return f"{value:,.0f} {unit}"


_environment = template_environment(percent=_percent, harm=_harm)
_environment.globals.update(
    arrows=_ARROWS,
    not_loaded=POPULATION_NOT_LOADED,
    suppressed_text=SUPPRESSED,
    comparisons={"higher": "higher", "similar": "similar", "lower": "lower"},
)


def render_profile_html(
    profile: AreaProfile,
    sentences: Sequence[Sentence] = (),
    area_map: SvgMap | None = None,
    crumbs: Sequence[Crumb] = (),
    links: Sequence[tuple[str, str]] = (),
    set_title: str | None = None,
) -> str:
    """The printable one-page profile: inline CSS and SVG, no script, no external resource;
    with the briefing's ``sentences``, the small ``area_map`` and the breadcrumbs when given.
    ``set_title`` names the boundary set for people (default: its code)."""
    chart = trend_chart(profile.trend, height=135)  # low enough for one A4 page
    return _environment.get_template("profile.html").render(
        p=profile,
        chart=chart,
        sentences=list(sentences),
        area_map=area_map,
        crumbs=list(crumbs),
        links=list(links),
        set_title=set_title or profile.parent.boundary_set,
    )
