"""Allocation and the displacement check over HTTP, through a real server on the generated town:
numbers equal a direct computation (and the command line), pages open in Chromium, and every
bad request gets its 4xx with a message saying what to fix. Last, Torbay's real data."""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import pytest
import shapely
from shapely.geometry import box
from typer.testing import CliRunner

from boundaries.geometry import BRITISH_NATIONAL_GRID, WGS84
from boundaries.sets import load_boundary_file
from boundaries.store import BoundaryStore
from cli.main import app as cli
from geo_service.settings import Settings
from pipelines.planning.allocation import allocate
from pipelines.planning.displacement import Counts, weighted_displacement_quotient
from pipelines.store import CrimeStore
from tests.browser import offline_context, require_chromium
from tests.live_server import error_message, live_client
from tests.service_town import EAST, HOT, WARDS, WEST, X0, Y0, build_town, ward_polygons
from tests.torbay import TORBAY_WARDS, torbay_store

pytestmark = pytest.mark.usefixtures("no_precompute")
PATCHES = "town-patches"
WITH_POPULATION = "town-wards-residents"
POPULATION = {WEST: 4_000.0, EAST: 8_000.0}
TARGET = box(HOT[0] - 0.0005, HOT[1] - 0.0005, HOT[0] + 0.0005, HOT[1] + 0.0005)  # busy street
CONTROL = box(X0 + 0.03, Y0, X0 + 0.04, Y0 + 0.02)  # the town's east end, ~800 m away
NEAR = box(HOT[0] + 0.0006, HOT[1] - 0.0005, HOT[0] + 0.0015, HOT[1] + 0.0005)  # next door
EMPTY = box(X0 - 0.06, Y0, X0 - 0.05, Y0 + 0.01)  # out of town: no crime at all
GOOD = {
    "target": f"{PATCHES}:TARGET",
    "control": f"{PATCHES}:CONTROL",
    "buffer_m": 150,
    "before": "2019-01:2019-06",
    "after": "2019-07:2019-12",
}


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service town, its wards again with residents, and a set of places to compare."""
    root = tmp_path_factory.mktemp("planning-town")
    data_dir, _ = build_town(root)
    boundaries = BoundaryStore(data_dir)
    wards = boundaries.read(WARDS)
    areas = wards.areas.copy()
    areas["population"] = [POPULATION[code] for code in areas["code"]]
    boundaries.save(dataclasses.replace(wards, name=WITH_POPULATION, areas=areas))
    places = gpd.GeoDataFrame(
        {
            "code": ["TARGET", "CONTROL", "NEAR", "EMPTY"],
            "name": ["High Street", "East End", "Next Door", "Open Fields"],
        },
        geometry=[TARGET, CONTROL, NEAR, EMPTY],
        crs=WGS84,
    )
    path = root / "places.geojson"
    places.to_file(path, engine="pyogrio")
    boundaries.save(load_boundary_file(path, PATCHES, "custom", vintage="2019"))
    return data_dir


@pytest.fixture(scope="module")
def api(town: Path) -> Iterator[httpx.Client]:
    with live_client(Settings(data_dir=town)) as client:
        yield client


def _points(town: Path, first: str | None = None, last: str | None = None) -> np.ndarray:
    """Every located crime of the store in the months, as shapely points (read directly)."""
    table = CrimeStore(town).read(None, first, last, columns=["longitude", "latitude"])
    frame = table.to_pandas().dropna()
    return shapely.points(frame["longitude"].to_numpy(), frame["latitude"].to_numpy())


def _inside(shape: shapely.Geometry, points: np.ndarray) -> int:
    """Crimes in ``shape``, after checking none sits on its edge (where a tie rule would apply)."""
    assert not shapely.intersects(shape.boundary, points).any(), "a crime on an edge"
    return int(shapely.contains(shape, points).sum())


# -- allocation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "measure"),
    [
        ({"units": 9, "min": 2, "measure": "count"}, "count"),
        ({"units": 17, "min": 3, "max": 10, "weights": "cchi"}, "harm"),
        ({"units": 25, "max": 20, "measure": "rate", "boundaries": WITH_POPULATION}, "rate"),
    ],
)
def test_allocation_sums_to_the_units_within_the_bounds(
    api: httpx.Client, town: Path, params: dict, measure: str
) -> None:
    response = api.get("/v1/allocate", params={"boundaries": WARDS, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    rows = body["rows"]
    units = [row["units"] for row in rows]
    assert sum(units) == params["units"] == body["totals"]["units"]
    assert min(units) >= params.get("min", 0)
    assert max(units) <= params.get("max", params["units"])
    assert [row["code"] for row in rows] == [WEST, EAST]
    equal = params["units"] / 2
    for row in rows:
        assert row["equal_share"] == pytest.approx(equal, abs=1e-3)
        assert row["difference"] == pytest.approx(row["units"] - equal, abs=1e-3)
    # The need equals a direct count on the store's rows, and the units what allocate() gives it.
    points = _points(town)
    counts = [_inside(ward, points) for ward in ward_polygons()]
    assert [row["crimes"] for row in rows] == counts
    need = {
        "count": counts,
        "harm": [row["harm"] for row in rows],
        "rate": [c * 1000 / POPULATION[code] for c, code in zip(counts, (WEST, EAST), strict=True)],
    }[measure]
    assert [row["measure"] for row in rows] == pytest.approx(need)
    direct = allocate(
        [WEST, EAST], np.array(need), params["units"], params.get("min", 0), params.get("max")
    )
    assert units == direct.units.tolist()
    assert direct.rounding == "webster" and direct.floor_rule == "minimum"
    provenance = body["provenance"]
    assert provenance["measure"] == measure and provenance["units"] == params["units"]
    assert provenance["weights"]["name"] == params.get("weights", "home-office-2018")
    assert provenance["weights"]["version"]
    assert provenance["window"]["first"] == "2019-01" and provenance["window"]["last"] == "2019-12"
    assert "Webster" in provenance["method"] and "min is a minimum" in provenance["method"]
    assert (provenance["rounding"], provenance["min_rule"]) == ("webster", "minimum")
    assert provenance["data_version"] == response.headers["X-Data-Version"]


def test_allocation_by_harm_follows_the_weights(api: httpx.Client, town: Path) -> None:
    # cchi weights burglary (the busy street, in the West ward) far above shoplifting.
    body = api.get("/v1/allocate", params={"boundaries": WARDS, "units": 10, "weights": "cchi"})
    rows = {row["code"]: row for row in body.json()["rows"]}
    assert rows[WEST]["harm"] > rows[EAST]["harm"] > 0
    assert rows[WEST]["units"] > rows[EAST]["units"]


def test_allocation_equals_the_command_line(api: httpx.Client, town: Path, tmp_path: Path) -> None:
    params = {"boundaries": WARDS, "units": 13, "min": 2, "max": 9, "from": "2019-03"}
    served = api.get("/v1/allocate", params={**params, "to": "2019-10"}).json()
    out = tmp_path / "allocation.json"
    result = CliRunner().invoke(
        cli,
        [
            "allocate", "--boundaries", WARDS, "--units", "13", "--min", "2", "--max", "9",
            "--from", "2019-03", "--to", "2019-10", "--format", "json", "-o", str(out),
            "--data-dir", str(town),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    printed = json.loads(out.read_text())
    assert len(printed["rows"]) == len(served["rows"]) == 2
    for mine, theirs in zip(served["rows"], printed["rows"], strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in mine.items():
            assert theirs[key] == (
                pytest.approx(value, rel=1e-9) if isinstance(value, float) else value
            )
    same = {"units", "min", "max", "measure", "method", "window", "areas_without_need"}
    assert {k: printed["provenance"][k] for k in same} == {k: served["provenance"][k] for k in same}


def test_allocation_csv_links_its_provenance(api: httpx.Client) -> None:
    params = {"boundaries": WARDS, "units": 9, "min": 2, "measure": "count", "format": "csv"}
    response = api.get("/v1/allocate", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {"code", "units", "equal_share"} <= set(rows[0])
    assert [row["code"] for row in rows] == [WEST, EAST]
    assert sum(int(row["units"]) for row in rows) == 9
    assert [float(row["equal_share"]) for row in rows] == [4.5, 4.5]
    link = response.headers["Link"]
    assert 'rel="describedby"' in link
    provenance = httpx.get(link[1 : link.index(">")], timeout=60)
    assert provenance.status_code == 200, provenance.text
    assert provenance.json()["measure"] == "count" and provenance.json()["units"] == 9
    assert provenance.json()["data_version"] == response.headers["X-Data-Version"]


def test_allocation_page_shows_the_table_in_chromium(api: httpx.Client) -> None:
    playwright = require_chromium()
    params = {"boundaries": WARDS, "units": 9, "min": 2, "measure": "count", "format": "html"}
    served = api.get("/v1/allocate", params=params)
    assert served.status_code == 200, served.text
    assert "script-src" not in served.headers["content-security-policy"]  # no script runs
    numbers = api.get("/v1/allocate", params={**params, "format": "json"}).json()
    url = str(served.url)
    errors: list[str] = []
    with offline_context(playwright, bypass_csp=True) as (context, attempted):
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        response = page.goto(url, wait_until="load")
        assert response is not None and response.status == 200
        table = page.locator("table#allocation")
        assert table.is_visible()
        rows = page.locator("table#allocation tr.area")
        assert rows.count() == 2
        for i, row in enumerate(numbers["rows"]):
            cells = rows.nth(i).locator("td")
            assert cells.nth(1).inner_text() == row["code"]
            assert page.locator(f'tr[data-code="{row["code"]}"] td.units').inner_text() == str(
                row["units"]
            )
        assert page.locator("#total-units").inner_text() == "9"
        assert page.locator("svg.bar").count() == 2
        text = page.inner_text("body")
        assert "Webster (Sainte-Laguë) divisor method" in text and "home-office-2018" in text
        assert "2019-01 to 2019-12" in text
    assert attempted == [] and errors == []


def test_allocation_page_gives_harm_its_unit_and_whole_numbers(api: httpx.Client) -> None:
    """Harm was shown with no unit and with decimals ("4,354,392.00"): the column names the
    weights table's unit and its figures are whole."""
    params = {"boundaries": WARDS, "units": 9, "measure": "harm", "weights": "cchi"}
    numbers = api.get("/v1/allocate", params=params).json()
    unit = numbers["provenance"]["weights"]["unit"].replace(" per crime", "")
    page = api.get("/v1/allocate", params={**params, "format": "html"}).text
    assert f"Harm ({html.escape(unit)})</th>" in page
    assert f"Need: harm ({html.escape(unit)})</th>" in page
    for row in numbers["rows"]:
        cells = page.split(f'data-code="{row["code"]}"', 1)[1].split("</tr>", 1)[0]
        # The harm and the need (harm here), each a whole number.
        assert cells.count(f"<td>{round(row['harm']):,}</td>") >= 2, cells


ALLOCATE_ERRORS = [
    ({"boundaries": "nowhere", "units": 5}, 404, "no boundary set named"),
    ({"units": 3, "min": 2}, 422, "needs 4 units, more than the 3 to share (units); lower min"),
    ({"units": 9, "max": 2}, 422, "holds only 4 of the 9 units; raise max or lower units"),
    ({"units": 9, "min": 3, "max": 2}, 422, "(max=2) is below the minimum (min=3)"),
    ({"units": 9, "measure": "rate"}, 422, "hotspots boundaries population town-wards-2019"),
    ({"units": -1}, 422, "units"),
    ({"units": 10**9}, 422, "units"),
    ({"units": 5, "measure": "vibes"}, 422, "measure"),
    ({"units": 5, "weights": "/etc/passwd"}, 422, "unknown weights"),
    ({"units": 5, "from": "2019-13"}, 422, "from: must be a month"),
    ({"units": 5, "from": "2019-06", "to": "2019-01"}, 422, "from=2019-06 is after to=2019-01"),
    (
        {"units": 5, "from": "2023-01", "to": "2023-03"},
        422,
        "no crimes stored for 2023-01..2023-03",
    ),
    ({"units": 5, "force": "../../etc"}, 422, "force must be a police.uk force slug"),
    ({"units": 5, "format": "pdf"}, 422, "format"),
]


@pytest.mark.parametrize(("params", "status", "message"), ALLOCATE_ERRORS)
def test_bad_allocations_say_what_to_fix(
    api: httpx.Client, params: dict, status: int, message: str
) -> None:
    response = api.get("/v1/allocate", params={"boundaries": WARDS, **params})
    assert message in error_message(response, status)


def test_the_command_line_names_its_own_options(town: Path) -> None:
    args = [
        "allocate",
        "--boundaries",
        WARDS,
        "--units",
        "3",
        "--min",
        "2",
        "--data-dir",
        str(town),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "lower --min or raise --units" in result.stderr


# -- displacement ----------------------------------------------------------------------------


def test_displacement_equals_the_wdq_of_direct_counts(api: httpx.Client, town: Path) -> None:
    response = api.get("/v1/displacement", params=GOOD)
    assert response.status_code == 200, response.text
    body = response.json()
    # The ring cut here, independently: 150 m around the target in metres, the target removed.
    outer = gpd.GeoSeries([TARGET], crs=WGS84).to_crs(BRITISH_NATIONAL_GRID).buffer(150)
    ring = shapely.difference(outer.to_crs(WGS84).iloc[0], TARGET)
    counts = []
    for first, last in (("2019-01", "2019-06"), ("2019-07", "2019-12")):
        points = _points(town, first, last)
        counts.append(Counts(*(_inside(place, points) for place in (TARGET, ring, CONTROL))))
    assert counts[0].target == counts[1].target == 6 * 20  # the busy street's 20 a month
    expected = weighted_displacement_quotient(*counts)
    assert body["before"] == dataclasses.asdict(counts[0])
    assert body["after"] == dataclasses.asdict(counts[1])
    assert body["success_measure"] == pytest.approx(expected.success_measure)
    assert body["buffer_displacement_measure"] == pytest.approx(
        expected.buffer_displacement_measure
    )
    if expected.wdq is None:
        assert body["wdq"] is None
    else:
        assert body["wdq"] == pytest.approx(expected.wdq)
    assert body["total_net_effect"] == pytest.approx(expected.total_net_effect)
    assert body["reading"] == expected.reading and body["explanation"]
    assert body["buffer_m"] == 150
    assert (body["before_period"], body["after_period"]) == (GOOD["before"], GOOD["after"])
    assert body["target"]["name"] == "High Street" and body["control"]["code"] == "CONTROL"
    provenance = body["provenance"]
    assert "EPSG:27700" in provenance["buffer"] and "150 m" in provenance["buffer"]
    assert "must not overlap" in provenance["control_rule"]
    before = provenance["periods"]["before"]
    assert before["months_stored"] == [f"2019-0{m}" for m in range(1, 7)]
    assert before["months_missing"] == []
    assert provenance["data_version"] == response.headers["X-Data-Version"]
    assert provenance["categories"] == "all" and provenance["forces"] == ["devon-and-cornwall"]
    ring_km2 = float(gpd.GeoSeries([ring], crs=WGS84).to_crs(BRITISH_NATIONAL_GRID).area[0]) / 1e6
    assert provenance["areas_km2"]["buffer"] == pytest.approx(ring_km2, abs=1e-4)


def test_displacement_reports_gaps_in_a_period(api: httpx.Client) -> None:
    # 2019-10..2020-02: only three of the five months are stored.
    params = {**GOOD, "before": "2019-01:2019-06", "after": "2019-10:2020-02"}
    body = api.get("/v1/displacement", params=params).json()
    after = body["provenance"]["periods"]["after"]
    assert after["months_stored"] == ["2019-10", "2019-11", "2019-12"]
    assert after["months_missing"] == ["2020-01", "2020-02"]


def test_displacement_page_draws_the_three_places(api: httpx.Client) -> None:
    playwright = require_chromium()
    served = api.get("/v1/displacement", params={**GOOD, "format": "html"})
    assert served.status_code == 200, served.text
    assert "default-src 'self'" in served.headers["content-security-policy"]
    body = api.get("/v1/displacement", params=GOOD).json()
    errors: list[str] = []
    with offline_context(playwright, bypass_csp=True) as (context, attempted):
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        response = page.goto(str(served.url), wait_until="load")
        assert response is not None and response.status == 200
        page.wait_for_selector(".leaflet-overlay-pane path", state="attached")
        paths = page.locator(".leaflet-overlay-pane svg path.leaflet-interactive")
        assert paths.count() == 3
        strokes = {paths.nth(i).get_attribute("stroke") for i in range(3)}
        assert len(strokes) == 3  # three distinct colours
        layers = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        assert any("Target" in t for t in layers) and any("Buffer" in t for t in layers)
        assert any("Control" in t for t in layers)
        legend = page.locator(".hotspots-legend:not(.displacement-panel)").inner_text()
        target = f"Target: {body['before']['target']:,.0f} → {body['after']['target']:,.0f}"
        assert target in legend
        panel = page.locator(".displacement-panel").inner_text()
        assert "Did the crime move next door?" in panel and "Displacement score" in panel
        assert "Target's change against the control" in panel
        notes = page.locator(".displacement-panel details").text_content() or ""
        assert "Weighted Displacement Quotient" in notes and body["reading"] in notes
        assert "success measure" in notes and "buffer displacement measure" in notes
        paths.nth(0).dispatch_event("click")
        popup = page.locator(".leaflet-popup-content .hotspots-popup")
        popup.wait_for()
        assert "Crimes before (2019-01:2019-06)" in popup.inner_text()
    assert attempted == [] and errors == []


DISPLACEMENT_ERRORS = [
    ({"target": "nowhere:TARGET"}, 404, "no boundary set named 'nowhere'"),
    ({"control": f"{PATCHES}:NOPE"}, 404, "control: no area with code or name 'NOPE'"),
    ({"target": PATCHES}, 422, "target must be SET:CODE"),
    ({"control": ":CONTROL"}, 422, "control must be SET:CODE"),
    ({"target": "/etc/passwd"}, 422, "target must be SET:CODE"),
    ({"control": f"{PATCHES}:TARGET"}, 422, "the control area overlaps the target area"),
    ({"control": f"{PATCHES}:NEAR"}, 422, "overlaps the 150 m buffer around the target"),
    (
        {"before": "2021-01:2021-03", "after": "2021-04:2021-06"},
        422,
        "no crimes are stored for the before period 2021-01..2021-03 (2021-01, 2021-02, 2021-03)",
    ),
    ({"after": "2020-01:2020-03"}, 422, "no crimes are stored for the after period"),
    ({"before": "2019-06:2019-01"}, 422, "before runs backwards: 2019-06 is after 2019-01"),
    ({"before": "2019-01:2019-07"}, 422, "overlap: 2019-07 is in both"),
    ({"before": "2019-08:2019-09", "after": "2019-01:2019-02"}, 422, "swap them"),
    ({"before": "2019-03"}, 422, "before must be FIRST:LAST months"),
    ({"after": "2019-7:2019-12"}, 422, "after must be a month written YYYY-MM"),
    ({"buffer_m": 0}, 422, "buffer_m"),
    ({"buffer_m": 50_000}, 422, "buffer_m"),
    ({"buffer_m": "nan"}, 4, "buffer_m"),
    ({"control": f"{PATCHES}:EMPTY"}, 422, "the control area has no crime before"),
    ({"categories": "burglary"}, 422, "the control area has no crime before"),
    ({"categories": "jaywalking"}, 422, "unknown crime category 'jaywalking'"),
    ({"force": "../secrets"}, 422, "force must be a police.uk force slug"),
    ({"format": "pdf"}, 422, "format"),
]


@pytest.mark.parametrize(("change", "status", "message"), DISPLACEMENT_ERRORS)
def test_bad_displacement_checks_say_what_to_fix(
    api: httpx.Client, change: dict, status: int, message: str
) -> None:
    response = api.get("/v1/displacement", params={**GOOD, **change})
    if status == 4:  # any client error will do
        assert 400 <= response.status_code < 500, response.text
        assert message in response.json()["error"]
    else:
        assert message in error_message(response, status)


def test_the_command_line_refuses_overlapping_periods(town: Path) -> None:
    args = [
        "displacement", "--target", f"{PATCHES}:TARGET", "--control", f"{PATCHES}:CONTROL",
        "--buffer-m", "150", "--before", "2019-01:2019-06", "--after", "2019-05:2019-12",
        "--data-dir", str(town),
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "(--before 2019-01:2019-06)" in result.stderr and "overlap" in result.stderr


def test_the_command_line_gives_the_same_wdq(api: httpx.Client, town: Path) -> None:
    args = [
        "displacement", "--target", GOOD["target"], "--control", GOOD["control"],
        "--buffer-m", "150", "--before", GOOD["before"], "--after", GOOD["after"],
        "--data-dir", str(town),
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    served = api.get("/v1/displacement", params=GOOD).json()
    served["provenance"].pop("data_version")
    assert printed == served


# -- real data -------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_torbay_wards_allocation_and_displacement_on_real_data(
    shared_data: Path, tmp_path: Path
) -> None:
    store, wards = torbay_store(shared_data, tmp_path / "store", "2020-09", "2020-12")
    tormohun, churston = "E05012268", "E05012255"  # Torquay town centre; by Brixham
    with live_client(Settings(data_dir=store.root), timeout=300) as client:
        params = {"boundaries": TORBAY_WARDS, "units": 100, "min": 2, "measure": "count"}
        response = client.get("/v1/allocate", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        units = {row["code"]: row["units"] for row in body["rows"]}
        assert len(units) == len(wards.areas) and sum(units.values()) == 100
        assert min(units.values()) >= 2
        crimes = {row["code"]: row["crimes"] for row in body["rows"]}
        assert sum(crimes.values()) > 1000
        assert units[tormohun] == max(units.values())  # the busiest ward gets the most
        window = body["provenance"]["window"]
        assert (window["first"], window["last"], window["months_stored"]) == (
            "2020-09", "2020-12", 4
        )  # fmt: skip
        check = client.get(
            "/v1/displacement",
            params={
                "target": f"{TORBAY_WARDS}:{tormohun}",
                "control": f"{TORBAY_WARDS}:{churston}",
                "buffer_m": 200,
                "before": "2020-09:2020-10",
                "after": "2020-11:2020-12",
            },
        )
    assert check.status_code == 200, check.text
    result = check.json()
    assert result["before"]["target"] == crimes_in(store, wards, tormohun, "2020-09", "2020-10")
    assert result["before"]["control"] > 0 and result["after"]["control"] > 0
    expected = weighted_displacement_quotient(Counts(**result["before"]), Counts(**result["after"]))
    assert result["reading"] == expected.reading


def crimes_in(store: CrimeStore, wards: object, code: str, first: str, last: str) -> float:
    """Crimes of the months in one ward, by the same exact assignment hotspots uses for wards."""
    from boundaries.assign import assign_table

    table = store.read(None, first, last, columns=["longitude", "latitude"])
    assignment = assign_table(wards, table)
    return float(assignment.counts()[wards.codes.index(code)])


def test_allocation_states_the_region_it_shares_over(api: httpx.Client, town: Path) -> None:
    """allocate studies no hot spots (each area's own crimes are its need), so it has no scope;
    it says which region the units were shared over, in the answer, the page and the CLI."""
    params = {"boundaries": WARDS, "units": 10}
    region = api.get("/v1/allocate", params=params).json()["provenance"]["study_region"]
    assert region["meaning"].startswith(f"units shared across all 2 areas of {WARDS}")
    assert "with no hot spot study" in region["meaning"]
    page = api.get("/v1/allocate", params={**params, "format": "html"})
    assert (
        f"units shared across the 2 areas in {WARDS}; shares are worked out from each area's "
        "own crime and harm counts, with no hot spot study" in html.unescape(page.text)
    )
    args = ["allocate", "--boundaries", WARDS, "--units", "10", "--data-dir", str(town)]
    said = CliRunner().invoke(cli, [*args, "--quiet"])
    assert said.exit_code == 0, said.output
    assert f"Region: {region['meaning']}." in " ".join(said.stderr.split())
