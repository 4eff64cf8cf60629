"""Area profiles: numbers against hand counts, the endpoints over HTTP, the page in Chromium, and
a Torbay ward on the real Devon and Cornwall archive.

The generated town has two wards and 24 months (2018-06 never published). Every count below is
written out by hand from the crimes the fixture lays down, so a wrong window, rate, rank, change
or share shows up as a plain mismatch.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, norm
from shapely.geometry import box

from boundaries.population import PopulationEstimate, population_for_set, read_population
from boundaries.population import with_population as add_population
from boundaries.sets import BoundarySet, load_boundary_file
from boundaries.store import BoundaryStore
from geo_service.profile import gather_profile, nice_ceiling, render_profile_html, trend_chart
from geo_service.results import StudyCache
from geo_service.settings import Settings
from pipelines.harm import load_table
from pipelines.ingest.archive import ingest_archive
from pipelines.months import months_between
from pipelines.profile.model import AreaProfile, HotspotSection
from pipelines.profile.numbers import (
    NO_OUTCOME,
    POPULATION_NOT_LOADED,
    ProfileInputs,
    build_profile,
    category_rows,
    change,
    harm_summary,
    month_status,
    monthly_trend,
    outcome_breakdown,
    profile_windows,
    sibling_rank,
    suppress_small_counts,
)
from pipelines.store import CrimeStore
from tests.archive_fixtures import ArchiveBuilder, crime_line
from tests.browser import offline_context, require_chromium
from tests.live_server import live_server

FORCE = "devon-and-cornwall"
X0, Y0 = -3.60, 50.43
WEST, EAST = "E05000001", "E05000002"
SET = "town-wards-2019"
SET_NO_POP = "town-wards-nopop"
POPULATION = {WEST: 2000.0, EAST: 4000.0}
HIGH = (X0 + 0.012, Y0 + 0.015)  # West's busy street
ROBBERY_POINT = (X0 + 0.020, Y0 + 0.020)
EAST_BURGLARY = (X0 + 0.045, Y0 + 0.010)
OUTSIDE = (-3.0, 50.0)
MISSING = "2018-06"  # a month the force never published
MONTHS = [m for m in months_between("2018-01", "2019-12") if m != MISSING]
CURRENT = months_between("2019-01", "2019-12")
NAMES = {
    "burglary": "Burglary",
    "anti-social-behaviour": "Anti-social behaviour",
    "shoplifting": "Shoplifting",
    "robbery": "Robbery",
    "violent-crime": "Violence and sexual offences",
}


@dataclass
class Crime:
    month: str
    category: str  # slug
    lon: float | None
    lat: float | None
    area: str | None  # by construction: WEST, EAST, or None (outside / no location)
    outcome: str = ""
    location: str = "On or near Side Road"


def town_crimes() -> list[Crime]:
    """The fixture's crimes. West, last 12 months (2019): 4 burglaries a month on High Street
    (2 under investigation, 2 closed), 2 ASB a month there, 1 shoplifting a month (caution)
    at scattered points, 1 robbery a month Jan-Jun (no outcome). West, 2018 (11 months stored):
    1 burglary and 2 shoplifting a month, robbery Jan-May and Jul. East: 1 burglary a month in
    both years, 3 shoplifting a month in 2019 only. Each month also 1 crime outside both wards
    and 1 with no location."""
    rng = np.random.default_rng(5)
    crimes: list[Crime] = []

    def scatter(x_lo: float) -> tuple[float, float]:
        return (
            round(x_lo + rng.uniform(0.002, 0.028), 6),
            round(Y0 + rng.uniform(0.002, 0.028), 6),
        )

    for month in MONTHS:
        current = month >= "2019-01"
        if current:
            for i in range(4):
                outcome = (
                    "Under investigation"
                    if i < 2
                    else "Investigation complete; no suspect identified"
                )
                crimes.append(
                    Crime(month, "burglary", *HIGH, WEST, outcome, "On or near High Street")
                )
            for _ in range(2):
                crimes.append(
                    Crime(month, "anti-social-behaviour", *HIGH, WEST, "", "On or near High Street")
                )
            crimes.append(
                Crime(month, "shoplifting", *scatter(X0), WEST, "Offender given a caution")
            )
            if month <= "2019-06":
                crimes.append(Crime(month, "robbery", *ROBBERY_POINT, WEST))
            for _ in range(3):
                crimes.append(
                    Crime(month, "shoplifting", *scatter(X0 + 0.03), EAST, "Under investigation")
                )
        else:
            crimes.append(Crime(month, "burglary", *HIGH, WEST, "Under investigation"))
            for _ in range(2):
                crimes.append(Crime(month, "shoplifting", *scatter(X0), WEST, "Local resolution"))
            if month <= "2018-05" or month == "2018-07":
                crimes.append(Crime(month, "robbery", *ROBBERY_POINT, WEST))
        crimes.append(Crime(month, "burglary", *EAST_BURGLARY, EAST, "Under investigation"))
        crimes.append(Crime(month, "burglary", *OUTSIDE, None))
        crimes.append(Crime(month, "burglary", None, None, None))
    return crimes


def town_areas(with_population: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame({"code": [WEST, EAST], "name": ["West Ward", "East Ward"]})
    if with_population:
        frame["population"] = [POPULATION[WEST], POPULATION[EAST]]
    return frame


def crime_frame(table: str = "home-office-2018") -> pd.DataFrame:
    """The located crimes as the profile sees them after assignment (built from the spec)."""
    rows = [c for c in town_crimes() if c.area is not None]
    weights = load_table(table)
    return pd.DataFrame(
        {
            "month": [c.month for c in rows],
            "category": [c.category for c in rows],
            "last_outcome": [c.outcome or None for c in rows],
            "area_code": [c.area for c in rows],
            "longitude": [c.lon for c in rows],
            "latitude": [c.lat for c in rows],
            "harm": [weights.weight(c.category) for c in rows],
        }
    )


WINDOWS = profile_windows("2019-12")
PREVIOUS_STORED = True


def _row(rows: list, slug: str):
    return next(r for r in rows if r.category == slug)


# -- pure computations ------------------------------------------------------------------------


def test_windows_are_the_last_12_months_and_the_12_before() -> None:
    assert WINDOWS.current == CURRENT
    assert WINDOWS.previous == months_between("2018-01", "2018-12")
    assert profile_windows("2020-03").previous[0] == "2018-04"
    assert profile_windows("2020-03").current[0] == "2019-04"


def test_category_counts_change_rates_and_ranks_match_hand_counts() -> None:
    rows, total = category_rows(crime_frame(), town_areas(), WEST, WINDOWS)

    burglary = _row(rows, "burglary")
    assert (burglary.count, burglary.count_previous) == (48, 11)
    assert burglary.change_pct == pytest.approx(336.4)  # (48 - 11) / 11
    # 48 against 11 over equal windows: exact test p = binomtest(48, 59, 1/2), far below 0.05.
    assert burglary.trend == "up" and burglary.direction == "up"
    assert burglary.change_p == pytest.approx(binomtest(48, 59, 0.5).pvalue, rel=1e-3)
    # Exact Poisson 95 % interval of 48 is 35.39-63.64, per 2,000 residents: 17.70-31.82,
    # wholly above the parent's 10.0: significantly higher.
    assert (burglary.rate_low, burglary.rate_high) == pytest.approx((17.70, 31.82), abs=0.01)
    assert burglary.compared_with_parent == "higher"
    assert burglary.rate_per_1000 == pytest.approx(24.0)  # 48 per 2,000 residents
    assert burglary.parent_count == 60  # 48 West + 12 East
    assert burglary.parent_rate_per_1000 == pytest.approx(10.0)  # 60 per 6,000
    assert (burglary.rank, burglary.rank_of, burglary.rank_by) == (1, 2, "rate")

    shoplifting = _row(rows, "shoplifting")
    assert (shoplifting.count, shoplifting.count_previous) == (12, 22)
    assert shoplifting.change_pct == pytest.approx(-45.5)
    # 12 against 22: p = 0.12, so no arrow: a fall that could be chance.
    assert shoplifting.direction == "down" and shoplifting.trend == "no-significant-change"
    assert shoplifting.change_p == pytest.approx(binomtest(12, 34, 0.5).pvalue, rel=1e-3)
    assert shoplifting.rate_per_1000 == pytest.approx(6.0)
    # 12 has the exact interval 6.20-20.96: 3.10-10.48 per 1,000 takes in the parent's 8.0.
    assert (shoplifting.rate_low, shoplifting.rate_high) == pytest.approx((3.10, 10.48), abs=0.01)
    assert shoplifting.compared_with_parent == "similar"
    assert shoplifting.parent_rate_per_1000 == pytest.approx(8.0)  # 48 per 6,000
    assert shoplifting.rank == 2  # East: 36 per 4,000 = 9.0 is higher

    robbery = _row(rows, "robbery")
    assert (robbery.count, robbery.count_previous, robbery.change_pct) == (6, 6, 0.0)
    assert robbery.direction == "same" and robbery.trend == "no-significant-change"

    asb = _row(rows, "anti-social-behaviour")
    assert (asb.count, asb.count_previous, asb.change_pct, asb.trend) == (24, 0, None, "up")
    assert asb.change_p == pytest.approx(2 * 0.5**24, rel=1e-3)

    violence = _row(rows, "violent-crime")
    assert (violence.count, violence.direction, violence.rank) == (0, "same", 1)  # tied at 0
    assert violence.trend == "no-significant-change" and violence.change_p == 1.0
    # 0 has the exact interval 0-3.69: 0-1.84 per 1,000, against a parent rate of 0: similar.
    assert (violence.rate_low, violence.rate_high) == pytest.approx((0, 1.84), abs=0.01)
    assert violence.compared_with_parent == "similar"

    assert (total.count, total.count_previous) == (90, 39)
    assert total.change_pct == pytest.approx(130.8)
    assert total.rate_per_1000 == pytest.approx(45.0)
    assert total.parent_count == 138
    assert total.parent_rate_per_1000 == pytest.approx(23.0)
    assert (total.rank, total.rank_of) == (1, 2)
    assert {r.category for r in rows} >= set(NAMES) and len(rows) == 14


def test_east_is_ranked_against_west_the_other_way() -> None:
    rows, total = category_rows(crime_frame(), town_areas(), EAST, WINDOWS)
    assert _row(rows, "shoplifting").rank == 1
    assert _row(rows, "shoplifting").count_previous == 0
    assert _row(rows, "shoplifting").change_pct is None
    assert (total.count, total.rate_per_1000, total.rank) == (48, 12.0, 2)


def test_without_population_rates_are_absent_and_rank_uses_counts() -> None:
    rows, total = category_rows(crime_frame(), town_areas(with_population=False), WEST, WINDOWS)
    assert total.rate_per_1000 is None and total.parent_rate_per_1000 is None
    assert total.rank_by == "count" and total.rank == 1
    assert _row(rows, "shoplifting").rank == 2  # 12 against East's 36


def test_previous_window_without_data_gives_no_change() -> None:
    _, total = category_rows(crime_frame(), town_areas(), WEST, WINDOWS, previous_has_data=False)
    assert total.count_previous is None and total.change_pct is None and total.trend is None


def test_harm_total_rate_and_share_of_the_parent() -> None:
    weights = load_table("home-office-2018")
    burglary, shoplifting, robbery = (
        weights.weight("burglary"),
        weights.weight("shoplifting"),
        weights.weight("robbery"),
    )
    west = 48 * burglary + 12 * shoplifting + 6 * robbery  # ASB weighs 0 in this table
    east = 12 * burglary + 36 * shoplifting
    west_before = 11 * burglary + 22 * shoplifting + 6 * robbery
    harm = harm_summary(crime_frame(), town_areas(), WEST, WINDOWS)
    assert harm.total == pytest.approx(west)
    assert harm.total_previous == pytest.approx(west_before)
    assert harm.parent_total == pytest.approx(west + east)
    assert harm.share_of_parent == pytest.approx(west / (west + east), abs=1e-4)
    assert harm.per_1000 == pytest.approx(west / 2, abs=0.01)
    assert harm.parent_per_1000 == pytest.approx((west + east) / 6, abs=0.01)
    assert harm.direction == "up" and harm.rank == 1
    # Compound Poisson: var = sum of squared weights, z = (H1 - H0) / sqrt(S1 + S0).
    now = 48 * burglary**2 + 12 * shoplifting**2 + 6 * robbery**2
    before = 11 * burglary**2 + 22 * shoplifting**2 + 6 * robbery**2
    z = (west - west_before) / math.sqrt(now + before)
    assert harm.change_p == pytest.approx(2 * norm.sf(z), rel=1e-3, abs=1e-300)
    assert harm.trend == ("up" if harm.change_p < 0.05 else "no-significant-change")


def test_count_weights_make_harm_the_crime_count() -> None:
    harm = harm_summary(crime_frame("count"), town_areas(), WEST, WINDOWS)
    assert (harm.total, harm.parent_total) == (90, 138)
    assert harm.share_of_parent == pytest.approx(90 / 138, abs=1e-4)


def test_rank_change_and_axis_helpers() -> None:
    values = pd.Series({"a": 5.0, "b": 9.0, "c": 5.0, "d": np.nan})
    assert sibling_rank(values, "b") == (1, 3)
    assert sibling_rank(values, "a") == (2, 3) == sibling_rank(values, "c")  # ties share
    assert sibling_rank(values, "d") == (None, 3)
    assert change(15, 10) == (50.0, "up")
    assert change(5, 10) == (-50.0, "down")
    assert change(3, 0) == (None, "up")
    assert change(3, None) == (None, None)
    assert [nice_ceiling(v) for v in (0, 7, 10, 11, 23, 240, 501)] == [1, 10, 10, 20, 25, 250, 1000]


def test_monthly_trend_marks_the_missing_month() -> None:
    missing, status = month_status({FORCE: set(MONTHS)}, WINDOWS.previous + WINDOWS.current)
    assert missing == {FORCE: [MISSING]}
    trend = monthly_trend(crime_frame(), WEST, WINDOWS, status)
    counts = {p.month: p.count for p in trend}
    assert len(trend) == 24
    assert counts["2018-01"] == 4  # burglary 1 + shoplifting 2 + robbery 1
    assert counts[MISSING] is None
    assert counts["2018-07"] == 4 and counts["2018-08"] == 3
    assert counts["2019-01"] == 8 and counts["2019-07"] == 7
    assert sum(c for c in counts.values() if c) == 90 + 39
    assert {p.window for p in trend if p.month >= "2019-01"} == {"current"}


def test_outcomes_leave_out_asb_and_sort_by_count() -> None:
    outcomes = outcome_breakdown(crime_frame(), WEST, WINDOWS)
    assert (outcomes.crimes, outcomes.anti_social_behaviour) == (66, 24)
    assert [(r.outcome, r.count) for r in outcomes.items] == [
        ("Investigation complete; no suspect identified", 24),
        ("Under investigation", 24),
        ("Offender given a caution", 12),
        (NO_OUTCOME, 6),
    ]
    assert outcomes.items[0].share == pytest.approx(24 / 66, abs=1e-4)


def test_chart_geometry_scales_counts_and_breaks_at_gaps() -> None:
    _, status = month_status({FORCE: set(MONTHS)}, WINDOWS.previous + WINDOWS.current)
    chart = trend_chart(monthly_trend(crime_frame(), WEST, WINDOWS, status))
    assert len(chart.lines) == 2  # broken at 2018-06
    assert [month for _, month in chart.gaps] == [MISSING]
    assert len(chart.points) == 23
    assert chart.y_ticks[-1][1] == 10  # the busiest month has 8
    by_month = {p.month: p for p in chart.points}
    # y grows downwards: 8 crimes (2019-01) sit higher than 3 (2018-08); 0 would sit on the axis.
    assert by_month["2019-01"].y < by_month["2018-08"].y < chart.bottom
    assert by_month["2019-01"].y == pytest.approx(chart.bottom - (chart.bottom - chart.top) * 0.8)
    assert chart.current_x[0] < by_month["2019-01"].x < chart.current_x[1]


def test_build_profile_notes_and_page_from_tables() -> None:
    wards = BoundarySet(
        name=SET,
        scheme="ward",
        vintage="2019",
        areas=gpd.GeoDataFrame(
            {**town_areas().to_dict("list"), "area_m2": [6e6, 6e6]},
            geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
            crs="EPSG:4326",
        ),
    )
    profile = build_profile(
        ProfileInputs(
            boundary_set=wards,
            code=WEST,
            windows=WINDOWS,
            crimes=crime_frame(),
            table=load_table("home-office-2018"),
            stored={FORCE: set(MONTHS)},
            no_location_current=12,
            no_location_previous=11,
            shared_edge_points=0,
            hotspots=HotspotSection(available=False, reason="not run", weights="count"),
        )
    )
    assert profile.notes.map_points == 14  # High Street, the robbery point, 12 shoplifting points
    assert profile.notes.months_missing == {FORCE: [MISSING]}
    assert profile.window.months_missing == [] and profile.previous_window.months_missing == [
        MISSING
    ]
    assert profile.parent.population == 6000 and profile.area.population == 2000
    assert any("recorded 12 crimes across the whole" in m for m in profile.notes.messages)
    page = render_profile_html(profile)
    assert "Open Government Licence v3.0" in page
    assert "No hot spot list: not run" in page
    assert len(re.findall(r'<tr class="(?:category|total)"', page)) == 15


def _town_profile(suppress_small: bool = False) -> AreaProfile:
    wards = BoundarySet(
        name=SET,
        scheme="ward",
        vintage="2019",
        areas=gpd.GeoDataFrame(
            {**town_areas().to_dict("list"), "area_m2": [6e6, 6e6]},
            geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
            crs="EPSG:4326",
        ),
    )
    return build_profile(
        ProfileInputs(
            boundary_set=wards,
            code=WEST,
            windows=WINDOWS,
            crimes=crime_frame(),
            table=load_table("home-office-2018"),
            stored={FORCE: set(MONTHS)},
            no_location_current=12,
            no_location_previous=11,
            shared_edge_points=0,
            hotspots=HotspotSection(available=False, reason="not run", weights="count"),
            suppress_small=suppress_small,
        )
    )


def test_changes_are_tested_over_the_months_stored() -> None:
    # 2018-06 is not stored: the previous window has 11 months, so 90 in 12 months is compared
    # with 39 in 11: p = binomtest(90, 129, 12/23).
    profile = _town_profile()
    assert profile.total.change_p == pytest.approx(binomtest(90, 129, 12 / 23).pvalue, rel=1e-3)
    assert profile.total.trend == "up"
    assert profile.statistics.confidence == 0.95 and profile.statistics.suppression is None
    assert "exact conditional binomial" in profile.statistics.count_change_test


def test_published_profiles_suppress_counts_of_one_to_four() -> None:
    full = _town_profile()
    published = _town_profile(suppress_small=True)
    assert "<5" in published.statistics.suppression
    small_months = {p.month for p in full.trend if p.count is not None and 1 <= p.count <= 4}
    assert small_months  # the town has months of 3 and 4 crimes
    for point in published.trend:
        if point.month in small_months:
            assert point.count is None and point.harm is None and point.suppressed
        else:
            assert not point.suppressed
    # A category row of 3 crimes: its count, rate, interval, change and harm all go.
    row = full.categories[0].model_copy(
        update={"count": 3, "rate_per_1000": 1.5, "rate_low": 0.3, "rate_high": 4.4, "harm": 9.0}
    )
    hidden = suppress_small_counts(full.model_copy(update={"categories": [row]})).categories[0]
    assert hidden.suppressed and hidden.count is None and hidden.harm is None
    assert hidden.rate_per_1000 is hidden.rate_low is hidden.rate_high is hidden.change_pct is None
    assert (published.total.count, published.total.suppressed) == (90, False)
    page = render_profile_html(published)
    assert "&lt;5" in page and "Counts of 1 to 4 are shown as" in page
    dumped = published.model_dump(mode="json")
    shown = [p["count"] for p in dumped["trend"]] + [r["count"] for r in dumped["categories"]]
    assert not any(c is not None and 1 <= c <= 4 for c in shown)


# -- through the stores and a real server ------------------------------------------------------


def _wards_file(tmp_path: Path) -> Path:
    frame = gpd.GeoDataFrame(
        {
            "WD19CD": [WEST, EAST],
            "WD19NM": ["West Ward", "East Ward"],
            "geometry": [
                box(X0, Y0, X0 + 0.03, Y0 + 0.03),
                box(X0 + 0.03, Y0, X0 + 0.06, Y0 + 0.03),
            ],
        },
        crs="EPSG:4326",
    )
    path = tmp_path / "wards.geojson"
    frame.to_file(path, engine="pyogrio")
    return path


POPULATION_FILE_AS_TYPED = "../private/folders/town_population.csv"


@pytest.fixture(scope="module")
def town_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the town's crimes and two saved sets: with and without population."""
    root = tmp_path_factory.mktemp("town")
    archive = ArchiveBuilder(root / "archive")
    for month in MONTHS:
        lines = [
            crime_line(
                month,
                crime_id="" if c.category == "anti-social-behaviour" else f"{month}-{i}",
                category=NAMES[c.category],
                longitude="" if c.lon is None else f"{c.lon:.6f}",
                latitude="" if c.lat is None else f"{c.lat:.6f}",
                location=c.location if c.lon is not None else "No location",
                outcome=c.outcome,
            )
            for i, c in enumerate(town_crimes())
            if c.month == month
        ]
        archive.write(FORCE, month, lines)
    data_dir = root / "data"
    report = ingest_archive(CrimeStore(data_dir), archive.root)
    assert not report.failed
    wards = load_boundary_file(_wards_file(root), SET, "ward", vintage="2019")
    boundaries = BoundaryStore(data_dir)
    estimate = PopulationEstimate(pd.Series(POPULATION), "direct")
    # Recorded as the operator typed it, folders and all: answers must name only the file.
    boundaries.save(add_population(wards, estimate, POPULATION_FILE_AS_TYPED))
    wards.name = SET_NO_POP
    boundaries.save(wards)
    return data_dir


def _gather(data_dir: Path, code: str = WEST, **options: str):
    store, boundaries = CrimeStore(data_dir), BoundaryStore(data_dir)
    return gather_profile(store, boundaries, StudyCache(store, boundaries), SET, code, **options)


def test_gathered_profile_counts_what_the_store_holds(town_dir: Path) -> None:
    profile = _gather(town_dir)
    assert (profile.window.first, profile.window.last) == ("2019-01", "2019-12")
    assert (profile.total.count, profile.total.count_previous) == (90, 39)
    assert profile.total.rate_per_1000 == pytest.approx(45.0)
    assert profile.notes.no_location_current == 12
    assert profile.notes.no_location_previous == 11
    assert profile.notes.months_missing == {FORCE: [MISSING]}
    assert profile.notes.map_points == 14
    assert profile.notes.forces == [FORCE]
    assert profile.weights.name == "home-office-2018"
    assert profile.area.population == 2000
    # Hot spots are judged against the whole town: 20 land cells at resolution 9, too few for
    # Gi*, and its crimes sit on 14 snapped map points, too few to resolve 10. Said, not guessed.
    assert not profile.hotspots.available
    assert "map point" in profile.hotspots.reason and "larger region" in profile.hotspots.reason
    assert profile.hotspots.items == []


def test_an_earlier_month_moves_both_windows(town_dir: Path) -> None:
    profile = _gather(town_dir, to="2019-06", weights="count")
    # 2018-07..2019-06: West 6 months of 2019 (8 a month) + 2018-07 (4) + 2018-08..12 (3 each).
    assert profile.total.count == 6 * 8 + 4 + 5 * 3
    assert profile.previous_window.first == "2017-07"
    before_store = months_between("2017-07", "2017-12")
    assert profile.previous_window.months_missing == [*before_store, MISSING]
    assert profile.harm.total == profile.total.count


@pytest.fixture(scope="module")
def town_server(town_dir: Path):
    with live_server(Settings(data_dir=town_dir)) as base:
        yield base


def test_json_endpoint(town_server: str) -> None:
    response = httpx.get(f"{town_server}/v1/boundaries/{SET}/areas/{WEST}/profile", timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["area"]["code"], body["area"]["name"]) == (WEST, "West Ward")
    assert body["area"]["population"] == 2000.0
    burglary = next(r for r in body["categories"] if r["category"] == "burglary")
    assert (burglary["count"], burglary["count_previous"], burglary["trend"]) == (48, 11, "up")
    assert body["total"]["parent_rate_per_1000"] == pytest.approx(23.0)
    assert body["attribution"].endswith("Open Government Licence v3.0.")
    assert len(body["trend"]) == 24
    assert burglary["compared_with_parent"] == "higher" and burglary["rate_low"] > 10
    assert body["statistics"]["suppression"] is None


def test_population_source_is_named_by_file_only(town_server: str) -> None:
    """A population file given as a relative path appears as its name, like every other source,
    in the JSON and the printed profile: never the server's folders."""
    url = f"{town_server}/v1/boundaries/{SET}/areas/{WEST}/profile"
    note = httpx.get(url, timeout=60).json()["notes"]["population"]
    assert "town_population.csv" in note and "folders" not in note and "../" not in note
    for page_url in (url + ".html", url + "?format=html"):
        page = httpx.get(page_url, timeout=60).text
        assert "private/folders" not in page and "../" not in page


def test_suppress_leaves_no_count_of_one_to_four_in_json_or_page(town_server: str) -> None:
    url = f"{town_server}/v1/boundaries/{SET}/areas/{WEST}/profile"
    body = httpx.get(url, params={"suppress": "true"}, timeout=60).json()
    assert body["statistics"]["suppression"].startswith("counts of 1 to 4")
    counts = [p["count"] for p in body["trend"]] + [r["count"] for r in body["categories"]]
    counts += [r["count_previous"] for r in body["categories"]]
    counts += [o["count"] for o in body["outcomes"]["items"]]
    assert not any(c is not None and 1 <= c <= 4 for c in counts)
    assert any(p["suppressed"] for p in body["trend"])
    page = httpx.get(url + ".html", params={"suppress": "true"}, timeout=60).text
    assert "&lt;5" in page
    bad = httpx.get(url, params={"suppress": "maybe"}, timeout=60)
    assert bad.status_code == 422 and "suppress" in bad.json()["error"]


def test_json_endpoint_without_population_says_so(town_server: str) -> None:
    url = f"{town_server}/v1/boundaries/{SET_NO_POP}/areas/{WEST}/profile?weights=count"
    body = httpx.get(url, timeout=60).json()
    assert body["total"]["rate_per_1000"] is None
    assert body["total"]["rank_by"] == "count"
    assert body["notes"]["population"].startswith(POPULATION_NOT_LOADED)
    page = httpx.get(url.replace("/profile?", "/profile.html?"), timeout=60).text
    assert POPULATION_NOT_LOADED in page


def test_html_endpoint_is_self_contained(town_server: str) -> None:
    response = httpx.get(f"{town_server}/v1/boundaries/{SET}/areas/{EAST}/profile.html", timeout=60)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "East Ward" in page and "<svg" in page
    assert (
        "Contains public sector information licensed under the Open Government Licence v3.0."
        in page
    )
    assert "<script" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "@import" not in page and "url(" not in page


@pytest.mark.parametrize(
    ("path", "status", "needle"),
    [
        (f"/v1/boundaries/{SET}/areas/E05999999/profile", 404, f"/v1/boundaries/{SET}/areas"),
        ("/v1/boundaries/no-such-set/areas/E05000001/profile", 404, SET),
        (f"/v1/boundaries/{SET}/areas/{WEST}/profile?to=2019-13", 422, "YYYY-MM"),
        (f"/v1/boundaries/{SET}/areas/{WEST}/profile?to=last-month", 422, "YYYY-MM"),
        (f"/v1/boundaries/{SET}/areas/{WEST}/profile?to=2020-01", 422, "2019-12"),
        (f"/v1/boundaries/{SET}/areas/{WEST}/profile?to=2016-01", 422, "no crimes stored"),
        (f"/v1/boundaries/{SET}/areas/{WEST}/profile?weights=/etc/passwd", 422, "cchi"),
        (f"/v1/boundaries/{SET}/areas/{WEST}/profile?force=metropolitan", 404, FORCE),
    ],
)
def test_bad_input_is_a_json_error_naming_what_exists(
    town_server: str, path: str, status: int, needle: str
) -> None:
    response = httpx.get(town_server + path, timeout=60)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert needle in response.json()["error"]


# -- the page in a real browser ----------------------------------------------------------------


def test_page_renders_in_chromium_without_leaving_loopback(town_server: str) -> None:
    sync_api = require_chromium()
    with offline_context(sync_api) as (context, attempted_elsewhere):
        page = context.new_page()
        response = page.goto(f"{town_server}/v1/boundaries/{SET}/areas/{WEST}/profile.html")
        assert response is not None and response.status == 200

        rows = page.locator("#categories tbody tr")
        assert rows.count() == 15  # 14 categories + all crime
        burglary = page.locator('#categories tr[data-category="burglary"] td')
        assert [burglary.nth(i).inner_text().strip() for i in range(4)] == [
            "Burglary",
            "48",
            "11",
            "▲ +336%",
        ]
        total = page.locator('#categories tr[data-category="all-crime"] td')
        assert total.nth(1).inner_text().strip() == "90"
        # 90 per 2,000 residents, exact 95 % interval 72.4-110.6 crimes: 36.2-55.3 per 1,000.
        assert total.nth(4).inner_text().strip() == "45.0 (36.2–55.3)"  # per 1,000
        assert total.nth(5).inner_text().strip() == "23.0"  # parent per 1,000
        assert total.nth(6).inner_text().strip() == "higher"  # interval above the parent
        shoplifting = page.locator('#categories tr[data-category="shoplifting"] td')
        assert shoplifting.nth(3).inner_text().strip() == "-46% n.s."  # 12 from 22, p = 0.12

        chart = page.locator("svg#trend-chart")
        chart_box = chart.bounding_box()
        assert chart_box is not None and chart_box["width"] > 300 and chart_box["height"] > 80
        lines = chart.locator("polyline")
        assert lines.count() == 2  # broken at the unpublished month
        for i in range(lines.count()):
            line_box = lines.nth(i).bounding_box()
            assert line_box is not None and line_box["width"] > 0 and line_box["height"] > 0
        assert chart.locator("circle").count() == 23
        assert page.locator("#hotspots tbody tr").count() == 0
        assert "No hot spot list: the study region has only" in page.inner_text("body")
        assert page.locator("#outcomes tbody tr").count() == 4
        assert "Open Government Licence v3.0" in page.locator("footer").inner_text()
    assert attempted_elsewhere == []


# -- real data ---------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_torbay_ward_profile_on_the_real_archive(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("torbay")
    archive = shared_data / "police_uk/archive/devon-and-cornwall"
    store = CrimeStore(data_dir)
    assert not ingest_archive(store, archive).failed
    wards = load_boundary_file(
        shared_data / "boundaries/wards_2019/E06000027.geojson", "torbay-wards-2019", "ward", "2019"
    )
    lsoas = load_boundary_file(
        shared_data / "boundaries/lsoa_2011/E06000027.geojson", "torbay-lsoa-2011", "lsoa", "2011"
    )
    census = read_population(shared_data / "population/lsoa_2011_census_population.csv")
    estimate = population_for_set(wards, census, lsoas)
    boundaries = BoundaryStore(data_dir)
    boundaries.save(add_population(wards, estimate, "Census 2011 by LSOA"))
    tormohun = wards.areas.loc[wards.areas["name"] == "Tormohun", "code"].iloc[0]

    profile = gather_profile(
        store, boundaries, StudyCache(store, boundaries), "torbay-wards-2019", tormohun
    )

    # Independent count: the raw CSV rows of 2019 and 2020 joined to the ward polygon.
    raw = pd.concat(
        pd.read_csv(path, usecols=["Month", "Longitude", "Latitude", "Crime type"])
        for path in sorted(archive.glob("*/*-street.csv"))
    )
    located = raw.dropna(subset=["Longitude", "Latitude"])
    points = gpd.GeoDataFrame(
        located, geometry=gpd.points_from_xy(located["Longitude"], located["Latitude"]), crs=4326
    )
    ward = wards.areas[wards.areas["code"] == tormohun][["geometry"]]
    inside = gpd.sjoin(points, ward, predicate="intersects")
    assert profile.window.first == "2020-01" and profile.window.last == "2020-12"
    edge = profile.notes.shared_edge_points
    assert abs(profile.total.count - (inside["Month"] >= "2020-01").sum()) <= edge
    assert abs(profile.total.count_previous - (inside["Month"] < "2020-01").sum()) <= edge
    burglary = (inside["Month"] >= "2020-01") & (inside["Crime type"] == "Burglary")
    assert (
        abs(next(r for r in profile.categories if r.category == "burglary").count - burglary.sum())
        <= edge
    )
    no_location = raw["Longitude"].isna() & (raw["Month"] >= "2020-01")
    assert profile.notes.no_location_current == no_location.sum()
    assert profile.notes.months_missing == {}

    # Torbay's 2011 population, from the census table by local authority, within rounding.
    census_rows = pd.read_csv(
        shared_data / "population/lsoa_2011_census_population.csv", thousands=","
    )
    torbay = census_rows[census_rows["Local authority code"] == "E06000027"]
    assert profile.parent.population == pytest.approx(torbay["Persons"].sum(), rel=0.01)
    assert profile.total.rate_per_1000 == pytest.approx(
        profile.total.count * 1000 / profile.area.population, abs=0.01
    )
    assert profile.total.rank_by == "rate" and 1 <= profile.total.rank <= 16
    assert profile.hotspots.available, profile.hotspots.reason
    assert profile.hotspots.items and all(h.streets for h in profile.hotspots.items)
    page = render_profile_html(profile)
    assert "Tormohun" in page and "Open Government Licence v3.0" in page


def test_a_change_from_none_is_said_in_words_not_a_dash(town_server: str) -> None:
    """A crime type with none the year before showed "– n.s."; it says "new (none before)"
    (or "none in either year"), never a dash."""
    url = f"{town_server}/v1/boundaries/{SET}/areas/{WEST}/profile"
    body = httpx.get(url, timeout=60).json()
    new = [r for r in body["categories"] if r["count_previous"] == 0 and r["count"]]
    assert new, "the town has a crime type new this year"
    page = httpx.get(url + ".html", timeout=60).text
    assert "– n.s." not in page
    for row in new:
        cells = page.split(f'data-category="{row["category"]}"', 1)[1].split("</tr>", 1)[0]
        assert "new (none before)" in cells, cells
    for row in body["categories"]:
        if row["count_previous"] == 0 and row["count"] == 0:
            cells = page.split(f'data-category="{row["category"]}"', 1)[1].split("</tr>", 1)[0]
            assert "none in either year" in cells, cells
