"""An area profile's numbers: pure functions on tables, no store, no server, no drawing.

Each part (``category_rows``, ``harm_summary``, ``monthly_trend``, ``outcome_breakdown``,
``top_hotspots``) is a pure function on tables, joined by ``build_profile``; tests check them
against hand counts. ``pipelines.profile.gather`` reads the stores; the service, the CLI and the
briefing render what these functions return.

Definitions (docs/profile.md explains each number):
- window: the 12 months ending with ``to``; the previous window is the 12 months before it;
- parent area: the whole boundary set (every area of it); siblings: the set's other areas;
- rate: crimes per 1,000 residents, from the set's ``population`` column, never estimated here;
- rank: 1 = the highest rate (or count, when population is not loaded) among the set's areas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from boundaries.sets import BoundarySet
from pipelines.analysis.classes import CLASS_LABELS
from pipelines.analysis.ranking import rank_cells
from pipelines.analysis.rates import (
    ALPHA,
    CONFIDENCE,
    SMALL_COUNT_MAX,
    SUPPRESSED,
    Change,
    Rate,
    compare_with_parent,
    count_change,
    is_small,
    rate_with_interval,
    weighted_change,
)
from pipelines.categories import CATEGORY_NAMES
from pipelines.errors import InputError
from pipelines.harm import HarmTable
from pipelines.months import months_between, shift_month
from pipelines.profile.model import (
    AreaInfo,
    AreaProfile,
    CategoryRow,
    Comparison,
    DataNotes,
    Direction,
    HarmSummary,
    Hotspot,
    HotspotSection,
    MonthWindow,
    OutcomeRow,
    OutcomeSection,
    ParentInfo,
    StatisticsInfo,
    TrendPoint,
    WeightsInfo,
)
from pipelines.public_text import without_folders

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


class ProfileError(InputError):
    """A profile that cannot be made as asked (bad month, weights, window): HTTP 422."""


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


def change(current: float, previous: float | None) -> tuple[float | None, Direction | None]:
    """Percentage change and its raw direction (untested); no % from a previous value of 0."""
    if previous is None:
        return None, None
    trend: Direction = "up" if current > previous else "down" if current < previous else "same"
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
    change_pct, direction = change(value, previous_value)
    parent_total = float(current.sum())
    return {
        "value": value,
        "previous": previous_value,
        "change_pct": change_pct,
        "direction": direction,
        "area_population": area_pop if ranked_by_rate else None,
        "rate": _round(per_1000(value, area_pop), 2),
        "parent_total": parent_total,
        "parent_rate_exact": per_1000(parent_total, parent_population(population)),
        "parent_rate": _round(per_1000(parent_total, parent_population(population)), 2),
        "rank": rank,
        "rank_of": rank_of,
        "rank_by": "rate" if ranked_by_rate else "count",
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def tested_count_change(
    count: int, previous: float | None, exposure: tuple[float, float]
) -> Change | None:
    """The exact test of a change, or None without a stored previous window."""
    if previous is None or min(exposure) <= 0:
        return None
    return count_change(count, int(previous), exposure[0], exposure[1])


def rate_and_comparison(
    count: int, population: float | None, parent_rate: float | None
) -> tuple[Rate | None, Comparison | None]:
    """The rate per 1,000 with its exact interval, and Fingertips' comparison with the parent."""
    if population is None or not np.isfinite(population) or population <= 0:
        return None, None
    rate = rate_with_interval(count, population)
    return rate, None if parent_rate is None else compare_with_parent(rate, parent_rate)


def category_rows(
    crimes: pd.DataFrame,
    areas: pd.DataFrame,
    code: str,
    windows: ProfileWindows,
    previous_has_data: bool = True,
    exposure: tuple[float, float] = (PROFILE_MONTHS, PROFILE_MONTHS),
) -> tuple[list[CategoryRow], CategoryRow]:
    """One row per police.uk category, and the all-crime row.

    ``crimes``: the set's located crimes with month, category, area_code and harm columns.
    ``areas``: code[, population] for every area of the set.
    ``exposure``: months stored in the current and the previous window, for the change test.
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
        count = int(parts["value"])
        tested = tested_count_change(count, parts["previous"], exposure)
        rate, comparison = rate_and_comparison(
            count, parts["area_population"], parts["parent_rate_exact"]
        )
        return CategoryRow(
            category=slug,
            name=name,
            count=count,
            count_previous=None if parts["previous"] is None else int(parts["previous"]),
            change_pct=parts["change_pct"],
            direction=parts["direction"],
            trend=None if tested is None else tested.direction,
            change_p=None if tested is None else float(f"{tested.p:.4g}"),
            rate_per_1000=parts["rate"],
            rate_low=None if rate is None else round(rate.low, 2),
            rate_high=None if rate is None else round(rate.high, 2),
            parent_count=int(parts["parent_total"]),
            parent_rate_per_1000=parts["parent_rate"],
            compared_with_parent=comparison,
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
    exposure: tuple[float, float] = (PROFILE_MONTHS, PROFILE_MONTHS),
) -> HarmSummary:
    """Harm total, per 1,000 residents, its change (tested), and the share of the set's harm."""
    codes = pd.Index(areas["code"])
    in_current = crimes[crimes["month"].isin(windows.current)]
    in_previous = crimes[crimes["month"].isin(windows.previous)]
    current = _by_area(in_current, codes, "harm")
    previous = _by_area(in_previous, codes, "harm") if previous_has_data else None
    parts = _compare(current, previous, _population(areas), code)
    parent_total = parts["parent_total"]
    tested = None
    if previous is not None:
        squares = [
            float((frame.loc[frame["area_code"] == code, "harm"] ** 2).sum())
            for frame in (in_current, in_previous)
        ]
        tested = weighted_change(
            parts["value"], parts["previous"], squares[0], squares[1], *exposure
        )
    return HarmSummary(
        total=round(parts["value"], 2),
        total_previous=_round(parts["previous"], 2),
        change_pct=parts["change_pct"],
        direction=parts["direction"],
        trend=None if tested is None else tested.direction,
        change_p=None if tested is None else float(f"{tested.p:.4g}"),
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
    suppress_small: bool = False  # published outputs: counts of 1-4 shown as "<5"


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
    source = without_folders(method.get("source", "unknown source"))
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
    # Months stored in each window: the exposure each change is tested over.
    exposure = (
        float(sum(status[m][0] for m in windows.current)),
        float(sum(status[m][0] for m in windows.previous)),
    )
    rows, total = category_rows(crimes, areas, code, windows, previous_window.has_data, exposure)
    harm = harm_summary(crimes, areas, code, windows, previous_window.has_data, exposure)
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
            title=boundary_set.title,
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
        statistics=statistics_info(inputs.suppress_small),
        data_version=inputs.data_version,
    )
    profile.notes.messages = data_messages(profile)
    return suppress_small_counts(profile) if inputs.suppress_small else profile


def statistics_info(suppress_small: bool = False) -> StatisticsInfo:
    """The rules behind every interval, comparison and arrow (pipelines/analysis/rates.py)."""
    return StatisticsInfo(
        confidence=CONFIDENCE,
        alpha=ALPHA,
        rate_interval=(
            "exact Poisson (Garwood) 95 % interval of the count, per 1,000 residents; PHE "
            "Fingertips uses Byar's approximation of it"
        ),
        parent_comparison=(
            "higher / lower when the area's 95 % interval lies wholly above / below the parent's "
            "rate, similar otherwise (PHE Fingertips); the parent includes the area"
        ),
        count_change_test=(
            "exact conditional binomial test of two Poisson counts, two-sided; an arrow only "
            "when p < 0.05"
        ),
        harm_change_test=(
            "compound Poisson z test of the harm sums (variance = sum of squared weights), "
            "two-sided; an arrow only when p < 0.05"
        ),
        exposure="the months stored in each window (a missing month shortens its window)",
        suppression=(
            f"counts of 1 to {SMALL_COUNT_MAX} shown as {SUPPRESSED!r}, with the rate, interval, "
            "change and harm that would reveal them"
            if suppress_small
            else None
        ),
    )


def suppress_small_counts(profile: AreaProfile) -> AreaProfile:
    """The profile for publication: every count of 1-4 (and what would reveal it) left out."""
    published = profile.model_copy(deep=True)
    for row in [*published.categories, published.total]:
        if is_small(row.count) or is_small(row.count_previous):
            row.suppressed = True
            if is_small(row.count):
                row.count = None
                row.rate_per_1000 = row.rate_low = row.rate_high = None
                row.harm = None
            if is_small(row.count_previous):
                row.count_previous = None
            row.change_pct = None
        if is_small(row.parent_count):
            row.parent_count = None
            row.parent_rate_per_1000 = None
    for point in published.trend:
        if is_small(point.count):
            point.count, point.harm, point.suppressed = None, None, True
    for outcome in published.outcomes.items:
        if is_small(outcome.count):
            outcome.count, outcome.share, outcome.suppressed = None, None, True
    for spot in published.hotspots.items:
        if is_small(spot.crimes):
            spot.crimes, spot.harm = None, None
    outcomes = published.outcomes
    if is_small(outcomes.anti_social_behaviour):
        outcomes.anti_social_behaviour = None
    if is_small(outcomes.crimes):
        outcomes.crimes = None
    return published


def data_messages(profile: AreaProfile) -> list[str]:
    """The data notes as sentences for the page, each with its consequence for the numbers."""
    notes = profile.notes
    forces = ", ".join(notes.forces) or "no force"
    messages = [
        f"No-location crimes (a force-wide count, not this area's): {forces} recorded "
        f"{notes.no_location_current:,} crimes across the whole force area in "
        f"{profile.window.first}..{profile.window.last} ({notes.no_location_previous:,} in the "
        "12 months before) with no map point; they cannot be placed in this or any area, so "
        "none of them is counted in this profile.",
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
