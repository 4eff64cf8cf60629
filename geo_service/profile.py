"""Area profile: one area's crime, harm, trend, hot spots and outcomes, as a board sees them.

Each part is a pure function on tables (``category_rows``, ``harm_summary``, ``monthly_trend``,
``outcome_breakdown``, ``top_hotspots``, ``trend_chart``) joined by ``build_profile``; tests check
them against hand counts with no server and no disk. ``gather_profile`` at the end is the one
function that reads the stores, and ``render_profile_html`` turns a profile into the printable page.

Definitions (docs/profile.md explains each number):
- window: the 12 months ending with ``to``; the previous window is the 12 months before it;
- parent area: the whole boundary set (every area of it); siblings: the set's other areas;
- rate: crimes per 1,000 residents, from the set's ``population`` column, never estimated here;
- rank: 1 = the highest rate (or count, when population is not loaded) among the set's areas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from boundaries.assign import AreaIndex, assign_table
from boundaries.sets import BoundarySet
from boundaries.store import BoundaryStore
from geo_service.errors import NotFound
from geo_service.pages import template_environment
from geo_service.query_params import built_in_weights
from geo_service.results import StudyCache, data_version
from pipelines.analysis.classes import CLASS_LABELS
from pipelines.analysis.ranking import rank_cells
from pipelines.analysis.study import StudyRequest
from pipelines.attribution import ATTRIBUTION
from pipelines.categories import CATEGORY_NAMES
from pipelines.harm import HarmTable, load_table
from pipelines.months import months_between, parse_month, shift_month
from pipelines.store import CrimeStore

PROFILE_MONTHS = 12
# Pounds read straight to a board ("£1.2m of harm"); count and cchi are one parameter away.
DEFAULT_WEIGHTS = "home-office-2018"
TOP_HOTSPOTS = 5
HOTSPOT_RESOLUTION = 9
TOTAL = "all-crime"
TOTAL_NAME = "All crime (incl. anti-social behaviour)"
ASB = "anti-social-behaviour"
RETIRED = "public-disorder-weapons"
NO_OUTCOME = "No outcome recorded"
POPULATION_NOT_LOADED = "population not loaded"
_SHOWN_CODES = 30  # areas named in a "no such area" message before "and N more"
_COLUMNS = ["month", "force", "category", "last_outcome", "longitude", "latitude"]

Trend = Literal["up", "down", "same"]


class ProfileError(ValueError):
    """A profile that cannot be made as asked (bad month, weights, window): HTTP 400."""


# -- the response model ------------------------------------------------------------------------


class MonthWindow(BaseModel):
    first: str
    last: str
    months: list[str]
    months_missing: list[str]  # not stored for at least one force of the profile
    has_data: bool  # at least one month of the window is stored


class AreaInfo(BaseModel):
    code: str
    name: str
    population: float | None
    area_km2: float


class ParentInfo(BaseModel):
    boundary_set: str
    scheme: str
    vintage: str
    areas: int
    population: float | None
    definition: str


class WeightsInfo(BaseModel):
    name: str
    version: str
    title: str
    unit: str  # per crime, as the table states it
    total_unit: str  # the unit of a sum of weights


class CategoryRow(BaseModel):
    category: str  # police.uk slug, or "all-crime" for the total row
    name: str
    count: int  # the last 12 months
    count_previous: int | None  # the 12 months before; None when none of them is stored
    change_pct: float | None  # None without a previous count above zero
    trend: Trend | None
    rate_per_1000: float | None  # None when population is not loaded
    parent_count: int
    parent_rate_per_1000: float | None
    rank: int | None  # 1 = highest among the set's areas
    rank_of: int
    rank_by: Literal["rate", "count"]
    harm: float


class HarmSummary(BaseModel):
    total: float
    total_previous: float | None
    change_pct: float | None
    trend: Trend | None
    per_1000: float | None
    parent_total: float
    parent_per_1000: float | None
    share_of_parent: float | None  # 0..1
    rank: int | None
    rank_of: int
    rank_by: Literal["rate", "count"]


class TrendPoint(BaseModel):
    month: str
    window: Literal["current", "previous"]
    count: int | None  # None: no force of the profile has this month stored
    harm: float | None
    complete: bool  # every force of the profile has this month stored


class Hotspot(BaseModel):
    rank: int
    h3: str
    lat: float
    lng: float
    crimes: int
    harm: float
    z: float
    p_adjusted: float
    confidence: str
    streets: list[str]


class HotspotSection(BaseModel):
    available: bool
    reason: str | None = None  # why there is no list, when there is none
    resolution: int | None = None
    first: str | None = None
    last: str | None = None
    weights: str
    adjustments: list[str] = []
    items: list[Hotspot] = []


class OutcomeRow(BaseModel):
    outcome: str
    count: int
    share: float  # of the area's crimes (anti-social behaviour excluded)


class OutcomeSection(BaseModel):
    crimes: int  # the area's crimes in the window, anti-social behaviour excluded
    anti_social_behaviour: int  # ASB incidents: police.uk gives them no outcome
    items: list[OutcomeRow]


class DataNotes(BaseModel):
    forces: list[str]
    no_location_current: int
    no_location_previous: int
    map_points: int  # distinct snapped map points of the area's crimes, last 12 months
    shared_edge_points: int  # map points on a boundary shared by two areas, settled by rule
    months_missing: dict[str, list[str]]  # force -> months of both windows not stored
    population: str
    messages: list[str]


class AreaProfile(BaseModel):
    area: AreaInfo
    parent: ParentInfo
    window: MonthWindow
    previous_window: MonthWindow
    weights: WeightsInfo
    categories: list[CategoryRow]
    total: CategoryRow
    harm: HarmSummary
    trend: list[TrendPoint]
    hotspots: HotspotSection
    outcomes: OutcomeSection
    notes: DataNotes
    attribution: str = ATTRIBUTION
    data_version: str | None = None


# -- windows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileWindows:
    current: list[str]
    previous: list[str]

    @property
    def first(self) -> str:
        return self.previous[0]

    @property
    def last(self) -> str:
        return self.current[-1]


def profile_windows(last: str, months: int = PROFILE_MONTHS) -> ProfileWindows:
    """The ``months`` months ending with ``last`` and the same number just before them."""
    current = months_between(shift_month(last, 1 - months), last)
    previous = months_between(shift_month(last, 1 - 2 * months), shift_month(last, -months))
    return ProfileWindows(current, previous)


def month_status(
    stored: dict[str, set[str]], months: list[str]
) -> tuple[dict[str, list[str]], dict[str, tuple[bool, bool]]]:
    """Months missing per force, and per month (stored by any force, stored by every force)."""
    missing = {force: [m for m in months if m not in held] for force, held in stored.items()}
    status = {
        month: (
            any(month in held for held in stored.values()),
            bool(stored) and all(month in held for held in stored.values()),
        )
        for month in months
    }
    return missing, status


def _window(months: list[str], status: dict[str, tuple[bool, bool]]) -> MonthWindow:
    return MonthWindow(
        first=months[0],
        last=months[-1],
        months=months,
        months_missing=[m for m in months if not status[m][1]],
        has_data=any(status[m][0] for m in months),
    )


# -- counts, rates, ranks ----------------------------------------------------------------------


def _by_area(frame: pd.DataFrame, codes: pd.Index, column: str | None = None) -> pd.Series:
    """Crimes (or the sum of ``column``) per area code, every area present (zeros included)."""
    if column is None:
        sums = frame.groupby("area_code").size()
    else:
        sums = frame.groupby("area_code")[column].sum()
    return sums.reindex(codes, fill_value=0).astype(float)


def per_1000(amount: float, population: float | None) -> float | None:
    """``amount`` per 1,000 residents; None without a positive population."""
    if population is None or not np.isfinite(population) or population <= 0:
        return None
    return amount * 1000.0 / population


def sibling_rank(values: pd.Series, code: str) -> tuple[int | None, int]:
    """Rank of ``code`` among the areas with a value (1 = highest; ties share the best rank)."""
    known = values.dropna()
    if code not in known.index:
        return None, len(known)
    return int((known > known[code]).sum()) + 1, len(known)


def change(current: float, previous: float | None) -> tuple[float | None, Trend | None]:
    """Percentage change and its direction; no % from a previous value of zero."""
    if previous is None:
        return None, None
    trend: Trend = "up" if current > previous else "down" if current < previous else "same"
    if previous <= 0:
        return None, trend
    return round((current - previous) * 100.0 / previous, 1), trend


def parent_population(population: pd.Series | None) -> float | None:
    """The set's population: the sum over its areas, only when every area has a figure."""
    if population is None or population.isna().any() or len(population) == 0:
        return None
    return float(population.sum())


def _population(areas: pd.DataFrame) -> pd.Series | None:
    if "population" not in areas:
        return None
    return pd.Series(areas["population"].to_numpy(dtype=float), index=areas["code"].to_numpy())


def _compare(
    current: pd.Series,
    previous: pd.Series | None,
    population: pd.Series | None,
    code: str,
) -> dict:
    """Shared by every table row: the area's value, change, rate, parent and rank."""
    area_pop = None if population is None else float(population[code])
    rates = None if population is None else (current * 1000.0 / population.where(population > 0))
    ranked_by_rate = rates is not None and area_pop is not None and np.isfinite(area_pop)
    rank, rank_of = sibling_rank(rates if ranked_by_rate else current, code)
    value = float(current[code])
    previous_value = None if previous is None else float(previous[code])
    change_pct, trend = change(value, previous_value)
    parent_total = float(current.sum())
    return {
        "value": value,
        "previous": previous_value,
        "change_pct": change_pct,
        "trend": trend,
        "rate": _round(per_1000(value, area_pop), 2),
        "parent_total": parent_total,
        "parent_rate": _round(per_1000(parent_total, parent_population(population)), 2),
        "rank": rank,
        "rank_of": rank_of,
        "rank_by": "rate" if ranked_by_rate else "count",
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def category_rows(
    crimes: pd.DataFrame,
    areas: pd.DataFrame,
    code: str,
    windows: ProfileWindows,
    previous_has_data: bool = True,
) -> tuple[list[CategoryRow], CategoryRow]:
    """One row per police.uk category, and the all-crime row.

    ``crimes``: the set's located crimes with month, category, area_code and harm columns.
    ``areas``: code[, population] for every area of the set.
    """
    codes = pd.Index(areas["code"])
    population = _population(areas)
    current = crimes[crimes["month"].isin(windows.current)]
    previous = crimes[crimes["month"].isin(windows.previous)]
    slugs = [s for s in CATEGORY_NAMES if s != RETIRED]
    if (crimes["category"] == RETIRED).any():  # only pre-2013 months carry it
        slugs.append(RETIRED)

    def row(slug: str, name: str, cur: pd.DataFrame, prev: pd.DataFrame) -> CategoryRow:
        parts = _compare(
            _by_area(cur, codes),
            _by_area(prev, codes) if previous_has_data else None,
            population,
            code,
        )
        return CategoryRow(
            category=slug,
            name=name,
            count=int(parts["value"]),
            count_previous=None if parts["previous"] is None else int(parts["previous"]),
            change_pct=parts["change_pct"],
            trend=parts["trend"],
            rate_per_1000=parts["rate"],
            parent_count=int(parts["parent_total"]),
            parent_rate_per_1000=parts["parent_rate"],
            rank=parts["rank"],
            rank_of=parts["rank_of"],
            rank_by=parts["rank_by"],
            harm=round(float(cur.loc[cur["area_code"] == code, "harm"].sum()), 2),
        )

    rows = [
        row(
            slug,
            CATEGORY_NAMES[slug],
            current[current["category"] == slug],
            previous[previous["category"] == slug],
        )
        for slug in slugs
    ]
    return rows, row(TOTAL, TOTAL_NAME, current, previous)


def harm_summary(
    crimes: pd.DataFrame,
    areas: pd.DataFrame,
    code: str,
    windows: ProfileWindows,
    previous_has_data: bool = True,
) -> HarmSummary:
    """Harm total, per 1,000 residents, its change, and the area's share of the set's harm."""
    codes = pd.Index(areas["code"])
    current = _by_area(crimes[crimes["month"].isin(windows.current)], codes, "harm")
    previous = (
        _by_area(crimes[crimes["month"].isin(windows.previous)], codes, "harm")
        if previous_has_data
        else None
    )
    parts = _compare(current, previous, _population(areas), code)
    parent_total = parts["parent_total"]
    return HarmSummary(
        total=round(parts["value"], 2),
        total_previous=_round(parts["previous"], 2),
        change_pct=parts["change_pct"],
        trend=parts["trend"],
        per_1000=parts["rate"],
        parent_total=round(parent_total, 2),
        parent_per_1000=parts["parent_rate"],
        share_of_parent=round(parts["value"] / parent_total, 4) if parent_total > 0 else None,
        rank=parts["rank"],
        rank_of=parts["rank_of"],
        rank_by=parts["rank_by"],
    )


def monthly_trend(
    crimes: pd.DataFrame,
    code: str,
    windows: ProfileWindows,
    status: dict[str, tuple[bool, bool]],
) -> list[TrendPoint]:
    """The area's crimes and harm in each month of both windows; None where nothing is stored."""
    mine = crimes[crimes["area_code"] == code]
    counts = mine.groupby("month").size()
    harm = mine.groupby("month")["harm"].sum()
    points = []
    for window, months in (("previous", windows.previous), ("current", windows.current)):
        for month in months:
            stored, complete = status.get(month, (False, False))
            points.append(
                TrendPoint(
                    month=month,
                    window=window,
                    count=int(counts.get(month, 0)) if stored else None,
                    harm=round(float(harm.get(month, 0.0)), 2) if stored else None,
                    complete=complete,
                )
            )
    return points


def outcome_breakdown(crimes: pd.DataFrame, code: str, windows: ProfileWindows) -> OutcomeSection:
    """The area's crimes in the window by last outcome, most frequent first.

    Anti-social behaviour is counted apart: police.uk records no outcome for it, so it would
    otherwise swell "no outcome recorded" with incidents that never could have one.
    """
    mine = crimes[(crimes["area_code"] == code) & crimes["month"].isin(windows.current)]
    asb = mine["category"] == ASB
    outcomes = mine.loc[~asb, "last_outcome"].fillna(NO_OUTCOME).replace("", NO_OUTCOME)
    total = len(outcomes)
    counts = outcomes.value_counts()
    order = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return OutcomeSection(
        crimes=total,
        anti_social_behaviour=int(asb.sum()),
        items=[
            OutcomeRow(outcome=str(name), count=int(n), share=round(n / total, 4))
            for name, n in order
        ],
    )


def top_hotspots(cells: pd.DataFrame, top: int = TOP_HOTSPOTS) -> list[Hotspot]:
    """The area's ``top`` significant hot cells by Gi* z that hold crime, each with its streets.

    Gi* scores a cell's neighbourhood, so an empty cell beside a busy one can be "hot"; it has
    no street to name and nothing to patrol, so the list skips it and ranks the next one.
    """
    ranked = rank_cells(cells, by="z")
    ranked = ranked[ranked["count"] > 0].head(top)
    return [
        Hotspot(
            rank=rank,
            h3=str(cell["h3"]),
            lat=float(cell["lat"]),
            lng=float(cell["lng"]),
            crimes=int(cell["count"]),
            harm=round(float(cell["value"]), 2),
            z=round(float(cell["z"]), 3),
            p_adjusted=float(cell["p_adjusted"]),
            confidence=CLASS_LABELS.get(int(cell["class"]), str(cell["class"])),
            streets=[str(s) for s in cell["streets"]],
        )
        for rank, (_, cell) in enumerate(ranked.iterrows(), start=1)
    ]


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
    for i, point in enumerate(points):
        if point.count is None:
            gaps.append((x_of(i), point.month))
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
        current_x=band,
        description=f"Crimes per month: {shown}.",
    )


# -- the whole profile -------------------------------------------------------------------------


@dataclass
class ProfileInputs:
    """Everything a profile is computed from, already read from the stores."""

    boundary_set: BoundarySet
    code: str
    windows: ProfileWindows
    crimes: pd.DataFrame  # the set's located crimes, both windows: month, category,
    #                       last_outcome, area_code, harm, longitude, latitude
    table: HarmTable
    stored: dict[str, set[str]]  # force -> months stored (the profile's forces only)
    no_location_current: int
    no_location_previous: int
    shared_edge_points: int
    hotspots: HotspotSection
    data_version: str | None = None


def parent_definition(boundary_set: BoundarySet) -> str:
    n = len(boundary_set.areas)
    return (
        f"Parent area = all {n} areas of boundary set {boundary_set.name} "
        f"({boundary_set.scheme}, {boundary_set.vintage}) taken together: for a set of the wards "
        f"of one local authority, the borough. Siblings = the other {n - 1} areas of the set; "
        "rank 1 is the highest rate among them (the highest count when population is not loaded)."
    )


def _population_note(boundary_set: BoundarySet) -> str:
    if "population" not in boundary_set.areas:
        return (
            f"{POPULATION_NOT_LOADED}: rates per 1,000 residents need "
            f"`hotspots boundaries population {boundary_set.name} --population FILE`"
        )
    method = boundary_set.extra.get("population", {})
    how = method.get("method", "unknown method")
    source = method.get("source", "unknown source")
    return f"resident population from {source} ({how})"


def build_profile(inputs: ProfileInputs) -> AreaProfile:
    """Join the parts into the profile, with the notes a reader needs to trust each number."""
    boundary_set, code, windows, crimes = (
        inputs.boundary_set,
        inputs.code,
        inputs.windows,
        inputs.crimes,
    )
    areas = boundary_set.areas
    area = areas[areas["code"] == code].iloc[0]
    population = _population(areas)
    months = windows.previous + windows.current
    missing, status = month_status(inputs.stored, months)
    current_window = _window(windows.current, status)
    previous_window = _window(windows.previous, status)
    rows, total = category_rows(crimes, areas, code, windows, previous_window.has_data)
    harm = harm_summary(crimes, areas, code, windows, previous_window.has_data)
    mine = crimes[(crimes["area_code"] == code) & crimes["month"].isin(windows.current)]
    map_points = len(mine[["longitude", "latitude"]].drop_duplicates())
    area_population = None if population is None else float(population[code])
    if area_population is not None and not np.isfinite(area_population):
        area_population = None
    table = inputs.table
    notes = DataNotes(
        forces=sorted(inputs.stored),
        no_location_current=inputs.no_location_current,
        no_location_previous=inputs.no_location_previous,
        map_points=map_points,
        shared_edge_points=inputs.shared_edge_points,
        months_missing={force: months for force, months in missing.items() if months},
        population=_population_note(boundary_set),
        messages=[],
    )
    profile = AreaProfile(
        area=AreaInfo(
            code=code,
            name=str(area["name"]),
            population=area_population,
            area_km2=round(float(area["area_m2"]) / 1e6, 3),
        ),
        parent=ParentInfo(
            boundary_set=boundary_set.name,
            scheme=boundary_set.scheme,
            vintage=boundary_set.vintage,
            areas=len(areas),
            population=parent_population(population),
            definition=parent_definition(boundary_set),
        ),
        window=current_window,
        previous_window=previous_window,
        weights=WeightsInfo(
            name=table.name,
            version=table.version,
            title=table.title,
            unit=table.unit,
            total_unit=table.total_unit,
        ),
        categories=rows,
        total=total,
        harm=harm,
        trend=monthly_trend(crimes, code, windows, status),
        hotspots=inputs.hotspots,
        outcomes=outcome_breakdown(crimes, code, windows),
        notes=notes,
        data_version=inputs.data_version,
    )
    profile.notes.messages = data_messages(profile)
    return profile


def data_messages(profile: AreaProfile) -> list[str]:
    """The data notes as sentences for the page, each with its consequence for the numbers."""
    notes = profile.notes
    forces = ", ".join(notes.forces) or "no force"
    messages = [
        f"No-location crimes: {notes.no_location_current:,} crimes recorded by {forces} in "
        f"{profile.window.first}..{profile.window.last} ({notes.no_location_previous:,} in the "
        "12 months before) have no map point; they cannot be placed in any area and are not "
        "counted here.",
        f"Snapped locations: police.uk moves every crime to the nearest of a fixed set of "
        f"anonymous map points; this area's crimes of the last 12 months sit on "
        f"{notes.map_points:,} distinct points. A crime near a boundary may be snapped across it. "
        f"{notes.shared_edge_points:,} map point(s) lie on a boundary shared by two areas of the "
        "set and were given to one of them by the documented edge rule.",
    ]
    if notes.months_missing:
        for force, months in sorted(notes.months_missing.items()):
            messages.append(
                f"Months missing: {force} has no data stored for {', '.join(months)}; counts "
                "for those months are low because there is no data, not because there was no "
                "crime."
            )
    else:
        messages.append(
            f"Months missing: none; every month of {profile.previous_window.first}.."
            f"{profile.window.last} is stored for {forces}."
        )
    if not profile.previous_window.has_data:
        messages.append(
            "No data is stored for the previous 12 months, so no change is shown; the trend "
            "compares nothing."
        )
    if not notes.forces:
        messages.append("No stored crimes fall in this boundary set; every count is zero.")
    messages.append(f"Population: {notes.population}.")
    return messages


# -- reading what a profile needs --------------------------------------------------------------


def find_area(boundary_set: BoundarySet, code: str) -> None:
    """NotFound naming the set's areas when ``code`` is not one of them."""
    if code in set(boundary_set.areas["code"]):
        return
    areas = boundary_set.areas
    named = [f"{c} ({n})" for c, n in zip(areas["code"], areas["name"], strict=True)]
    more = len(named) - _SHOWN_CODES
    listing = ", ".join(named[:_SHOWN_CODES]) + (f" and {more} more" if more > 0 else "")
    raise NotFound(
        f"no area {code!r} in boundary set {boundary_set.name!r}; its {len(named)} areas are: "
        f"{listing}"
    )


def _in_box(table: pa.Table, bounds: tuple[float, float, float, float]) -> pa.Table:
    """Rows whose point lies in the set's bounding box: a cheap cut before the exact test."""
    minx, miny, maxx, maxy = bounds
    lon, lat = table["longitude"], table["latitude"]
    keep = pc.and_(
        pc.and_(pc.greater_equal(lon, minx), pc.less_equal(lon, maxx)),
        pc.and_(pc.greater_equal(lat, miny), pc.less_equal(lat, maxy)),
    )
    return table.filter(pc.fill_null(keep, False))


def forces_in_set(store: CrimeStore, boundary_set: BoundarySet, index: AreaIndex) -> list[str]:
    """Stored forces with crimes in the set, judged on each force's latest stored month.

    A store can hold forces far apart (Devon and Cornwall, City of London); the profile's
    default month and missing-month notes must come from the forces that police the area.
    """
    bounds = tuple(boundary_set.areas.total_bounds)
    found = []
    for force in store.forces():
        latest = store.partitions(force)[-1][1]
        rows = _in_box(store.read(force, latest, latest, ["longitude", "latitude"]), bounds)
        if rows.num_rows and (assign_table(index, rows).area >= 0).any():
            found.append(force)
    return found


def gather_profile(
    store: CrimeStore,
    boundaries: BoundaryStore,
    cache: StudyCache,
    set_name: str,
    code: str,
    to: str | None = None,
    weights: str = DEFAULT_WEIGHTS,
    force: str | None = None,
) -> AreaProfile:
    """Read the stores and build the profile of area ``code`` of boundary set ``set_name``."""
    last = parse_month(to, option="to") if to else None
    table = load_table(built_in_weights(weights))
    boundary_set = boundaries.read(set_name)
    find_area(boundary_set, code)
    index = AreaIndex.of(boundary_set)
    stored_forces = store.forces()
    if force is not None and force not in stored_forces:
        raise NotFound(
            f"no crimes stored for force {force!r}; forces stored: "
            f"{', '.join(stored_forces) or 'none (load some with `hotspots ingest archive`)'}"
        )
    forces = [force] if force else forces_in_set(store, boundary_set, index) or stored_forces
    stored = {f: {month for _, month in store.partitions(f)} for f in forces}
    held = sorted(set().union(*stored.values())) if stored else []
    if not held:
        raise ProfileError(
            "the crime store holds no crimes; load some with `hotspots ingest archive`"
        )
    if last is None:
        last = held[-1]
    elif last > held[-1]:
        raise ProfileError(
            f"to {last} is after the latest month stored for {', '.join(forces)} ({held[-1]})"
        )
    windows = profile_windows(last)
    if not any(m in held for m in windows.current):
        raise ProfileError(
            f"no crimes stored for {windows.current[0]}..{last}; the store holds "
            f"{held[0]}..{held[-1]} for {', '.join(forces)}"
        )
    stored = {f: {m for m in months if windows.first <= m <= last} for f, months in stored.items()}

    bounds = tuple(boundary_set.areas.total_bounds)
    parts = [_in_box(store.read(f, windows.first, last, _COLUMNS), bounds) for f in forces]
    rows = pa.concat_tables(parts)
    assignment = assign_table(index, rows)
    inside = assignment.area >= 0
    frame = rows.filter(pa.array(inside)).to_pandas()
    frame["area_code"] = np.asarray(assignment.codes, dtype=object)[assignment.area[inside]]
    frame["harm"] = table.weights_for(frame["category"].to_numpy(dtype=object))
    # Forces with no crime in the set still count for missing months only if asked for by name.
    located_forces = set(frame["force"]) if len(frame) else set()
    if not force and located_forces:
        stored = {f: months for f, months in stored.items() if f in located_forces}

    no_location = {
        name: sum(
            record.no_location
            for f in stored
            for record in store.coverage(f, months[0], months[-1])
        )
        for name, months in (("current", windows.current), ("previous", windows.previous))
    }
    hotspots = _hotspots(cache, set_name, code, windows, weights, force)
    return build_profile(
        ProfileInputs(
            boundary_set=boundary_set,
            code=code,
            windows=windows,
            crimes=frame,
            table=table,
            stored=stored,
            no_location_current=no_location["current"],
            no_location_previous=no_location["previous"],
            shared_edge_points=assignment.shared_edge_points,
            hotspots=hotspots,
            data_version=data_version(store, boundaries, set_name),
        )
    )


def _hotspots(
    cache: StudyCache,
    set_name: str,
    code: str,
    windows: ProfileWindows,
    weights: str,
    force: str | None,
) -> HotspotSection:
    request = StudyRequest(
        boundaries=set_name,
        areas=(code,),
        resolution=HOTSPOT_RESOLUTION,
        first=windows.current[0],
        last=windows.last,
        force=force,
        weights=weights,
    )
    try:
        result, _ = cache.get(request)
    except ValueError as error:  # the data guard refusing a thin area is an answer, not a fault
        return HotspotSection(available=False, reason=str(error), weights=weights)
    window = result.provenance["window"]
    return HotspotSection(
        available=True,
        resolution=int(result.provenance["resolution"]),
        first=window["first"],
        last=window["last"],
        weights=weights,
        adjustments=list(result.adjustments),
        items=top_hotspots(result.cells),
    )


# -- the page ----------------------------------------------------------------------------------

_ARROWS = {"up": "▲", "down": "▼", "same": "▶"}


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
_environment.globals.update(arrows=_ARROWS, not_loaded=POPULATION_NOT_LOADED)


def render_profile_html(profile: AreaProfile) -> str:
    """The printable one-page profile: inline CSS and SVG, no script, no external resource."""
    chart = trend_chart(profile.trend)
    return _environment.get_template("profile.html").render(p=profile, chart=chart)
