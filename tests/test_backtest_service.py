"""The hotspot backtest over HTTP, through a real server on the generated town: its rows equal the
Python API and a hand count, every run is recorded (API and CLI alike), ``/v1/hotspots`` reports
the recorded PAI for matching settings and never serves a cached answer without the newest one,
an unreadable record is a warning, the page renders in Chromium, and bad input gets a 4xx."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import h3
import httpx
import pyarrow.compute as pc
import pytest
from shapely.geometry import box
from typer.testing import CliRunner

from boundaries.store import BoundaryStore
from cli.main import app as cli
from geo_service.backtest_page import reading, technical_reading
from geo_service.dependencies import hash_key
from geo_service.settings import Settings
from pipelines.analysis.study import StudyRequest
from pipelines.ingest.archive import ingest_archive
from pipelines.planning.backtest import (
    BacktestError,
    BacktestRun,
    backtest,
    best,
    predictive_accuracy_index,
    rows_as_dicts,
    run_backtest,
)
from pipelines.planning.backtest_record import (
    BacktestSettings,
    find_match,
    read_records,
    record_run,
    records_path,
)
from pipelines.store import CrimeStore, StoreWriteError
from tests.archive_fixtures import ArchiveBuilder, crime_line
from tests.browser import offline_context, require_chromium
from tests.live_server import live_client, live_server, page_or_api_error_message
from tests.service_town import FORCE, KEY, WARDS, WEST, X0, Y0, build_town
from tests.torbay import TORBAY_WARDS, torbay_store

pytestmark = pytest.mark.usefixtures("no_precompute")

# Train January-September, score October-December: the town's 12 months hold both.
ASK = {
    "boundaries": WARDS,
    "to": "2019-09",
    "train_months": 9,
    "res": "9,10",
    "permutations": 0,
    "p_for_classes": "analytic",
}
TRAIN = ("2019-01", "2019-09")
TEST = ("2019-10", "2019-12")
SELECTIONS = ("count", "home-office-2018")
WRITE = {"X-API-Key": KEY}  # running a backtest records it: a write


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_town(tmp_path_factory.mktemp("town"))[0]


@pytest.fixture(scope="module")
def api(town: Path) -> Iterator[httpx.Client]:
    with live_client(Settings(data_dir=town), timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def recorded(api: httpx.Client) -> dict:
    """The town's backtest, run once over HTTP (and so recorded)."""
    response = api.post("/v1/backtest", params=ASK, headers=WRITE)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def fresh_town(tmp_path: Path) -> Path:
    """A town of its own, for tests that change its data or its record."""
    return build_town(tmp_path)[0]


def _base(**options: object) -> StudyRequest:
    return StudyRequest(
        WARDS, first=TRAIN[0], last=TRAIN[1], permutations=0, p_for_classes="analytic", **options
    )


def _row(body: dict, resolution: int, selection: str) -> dict:
    return next(
        r for r in body["rows"] if (r["resolution"], r["selection"]) == (resolution, selection)
    )


def _recorded_run(data_dir: Path) -> BacktestRun:
    """The town's count backtest at resolution 9, trained January-September, not yet recorded."""
    store = CrimeStore(data_dir)
    wards = BoundaryStore(data_dir).read(WARDS)
    base = StudyRequest(
        WARDS, first="2019-01", last="2019-09", permutations=0, p_for_classes="analytic"
    )
    return run_backtest(store, wards, base, 3, (9,), ("count",))


def _hotspot_provenance(client: httpx.Client, **params: object) -> dict:
    query = {"boundaries": WARDS, "permutations": 0, "p_for_classes": "analytic", **params}
    response = client.get("/v1/hotspots", params=query)
    assert response.status_code == 200, response.text
    return response.json()["provenance"]


# -- the numbers -----------------------------------------------------------------------------------


def test_backtest_rows_equal_the_python_api(town: Path, recorded: dict) -> None:
    store = CrimeStore(town)
    wards = BoundaryStore(town).read(WARDS)
    rows = backtest(store, wards, _base(), 3, (9, 10), SELECTIONS)
    assert recorded["rows"] == rows_as_dicts(rows)
    top = best(rows)
    assert (recorded["best"]["resolution"], recorded["best"]["selection"]) == (
        top.resolution,
        top.selection,
    )
    assert recorded["best"]["pai"] == top.pai
    # The busy street keeps its 20 a month: at resolution 10 its cell's 60 test crimes, at
    # least, are hits (at 9 the land-only town is too small for its lone spike to reach
    # adjusted p <= 0.05: only the cells beside it may be chosen).
    for row in recorded["rows"]:
        assert row["test_crimes"] == 180
        if row["resolution"] == 10:
            assert row["hits"] >= 60 and row["pai"] > 1


def test_pai_by_hand_from_the_hotspot_cells_and_the_stored_crimes(
    town: Path, api: httpx.Client, recorded: dict
) -> None:
    """Independently of the backtest code: the hot cells of /v1/hotspots on the training window,
    and the test period's crimes counted straight from the store, give the same n, N, a/A."""
    response = api.get(
        "/v1/hotspots",
        params={
            "boundaries": WARDS,
            "from": TRAIN[0],
            "to": TRAIN[1],
            "res": 10,
            "permutations": 0,
            "p_for_classes": "analytic",
        },
    )
    body = response.json()
    assert body["provenance"]["data_guard"]["adjustments"] == []  # the same question exactly
    cells = body["cells"]
    hot = {c["h3"] for c in cells if c["hotspot"]}
    region = {c["h3"] for c in cells}
    a = sum(c["area_km2"] for c in cells if c["hotspot"])  # clipped to the wards
    # A is the wards' own area (the two boxes X0..X0+0.04 by Y0..Y0+0.02), not the cells'.
    wards = gpd.GeoSeries([box(X0, Y0, X0 + 0.04, Y0 + 0.02)], crs=4326)
    area = float(wards.to_crs("EPSG:3035").area.iloc[0]) / 1e6

    crimes = CrimeStore(town).read(FORCE, TEST[0], TEST[1], ["longitude", "latitude", "h3_cell"])
    crimes = crimes.filter(pc.is_valid(crimes["h3_cell"]))
    lng, lat = crimes["longitude"].to_numpy(), crimes["latitude"].to_numpy()
    # The two wards are the boxes X0..X0+0.04 by Y0..Y0+0.02.
    inside = (lng >= X0) & (lng <= X0 + 0.04) & (lat >= Y0) & (lat <= Y0 + 0.02)
    parents = [
        h3.cell_to_parent(h3.int_to_str(int(cell)), 10)
        for cell, keep in zip(crimes["h3_cell"].to_pylist(), inside, strict=True)
        if keep
    ]
    # Crimes in rim cells less than half inside the wards are no cell's, but still in N.
    assert sum(p in region for p in parents) > 0.9 * len(parents)
    n, total = sum(p in hot for p in parents), len(parents)

    row = _row(recorded, 10, "count")
    assert (row["hits"], row["test_crimes"], row["hotspot_cells"]) == (n, total, len(hot))
    assert row["area_share"] == pytest.approx(a / area)
    assert row["pai"] == pytest.approx((n / total) / (a / area))
    assert row["pai"] == pytest.approx(predictive_accuracy_index(n, total, a, area))


def test_backtest_provenance_states_every_choice(api: httpx.Client, recorded: dict) -> None:
    p = recorded["provenance"]
    assert (p["train"]["first"], p["train"]["last"]) == TRAIN
    assert (p["train"]["months"], p["train"]["months_stored"], p["train"]["months_missing"]) == (
        9,
        9,
        [],
    )
    assert (p["test"]["first"], p["test"]["last"], p["test"]["months_stored"]) == (*TEST, 3)
    assert (p["train_months"], p["test_months"]) == (9, 3)
    assert p["resolutions"] == [9, 10] and p["selections"] == sorted(SELECTIONS)
    chosen = p["hotspot_selection"]
    assert chosen["method"] == "gistar" and chosen["neighbours"]["k"] == 1
    assert (chosen["alpha"], chosen["correction"], chosen["p_for_classes"]) == (
        0.05,
        "fdr_bh",
        "analytic",
    )
    assert (chosen["permutations"], chosen["seed"]) == (0, 0)
    assert "adjusted p <= alpha" in chosen["hotspot_rule"]
    assert "Chainey" in p["formulas"]["citation"] and "(n / N) / (a / A)" in p["formulas"]["pai"]
    hotspots = api.get(
        "/v1/hotspots", params={"boundaries": WARDS, "permutations": 0, "p_for_classes": "analytic"}
    )
    assert p["data_version"] == hotspots.headers["X-Data-Version"]
    assert p["recorded"]["file"] == f"backtests/{WARDS}.json"
    assert p["recorded"]["warning"] is None and p["stale"] is False


def test_to_defaults_to_the_latest_month_with_a_stored_test_period(fresh_town: Path) -> None:
    query = {
        "boundaries": WARDS,
        "res": "9",
        "weights": "count",
        "permutations": 0,
        "p_for_classes": "analytic",
    }
    with live_server(Settings(data_dir=fresh_town)) as base:
        # The store ends 2019-12: test October-December, train the 12 months to September, of
        # which October-December 2018 are not stored: refused, saying how many months fit.
        short = httpx.post(f"{base}/v1/backtest", params=query, headers=WRITE, timeout=120)
        refusal = short.json()["error"]
        assert short.status_code == 422
        assert "2018-10..2019-09 is not fully stored (3 of its 12 months missing" in refusal
        assert "ending at 2019-09, at most 9 training months are stored" in refusal
        query["train_months"] = 9
        response = httpx.post(f"{base}/v1/backtest", params=query, headers=WRITE, timeout=120)
    assert response.status_code == 200, response.text
    p = response.json()["provenance"]
    assert (p["test"]["first"], p["test"]["last"]) == TEST
    assert (p["train"]["first"], p["train"]["last"]) == TRAIN
    assert p["train"]["months_missing"] == []


def test_months_missing_inside_the_window_are_named_with_what_to_do(tmp_path: Path) -> None:
    """April and July are not stored, the months around them are: the refusal names those two
    months (not "2019-04..2019-07", which would count May and June missing too), how to load
    them, and the longest window that avoids them, which then runs."""
    data_dir, archive_root = build_town(tmp_path / "town")
    gapped = tmp_path / "gapped"
    for month in ("2019-04", "2019-07"):
        shutil.rmtree(archive_root / month)
    ingest_archive(CrimeStore(gapped), archive_root)
    shutil.copytree(data_dir / "boundaries", gapped / "boundaries")
    shutil.copy(data_dir / "api_keys.txt", gapped / "api_keys.txt")
    query = {**ASK, "res": "9", "weights": "count"}  # trains 2019-01..2019-09
    with live_client(Settings(data_dir=gapped), timeout=120) as client:
        refused = client.post("/v1/backtest", params=query, headers=WRITE)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert "(2 of its 9 months missing: 2019-04, 2019-07)" in error
        assert "--from 2019-04 --to 2019-07" in error  # load them ...
        assert "train on the 2 months to 2019-09 (--to 2019-09 --train-months 2;" in error
        shorter = client.post("/v1/backtest", params={**query, "train_months": 2}, headers=WRITE)
        assert shorter.status_code == 200, shorter.text
    command = ["backtest", "--boundaries", WARDS, "--to", "2019-09", "--train-months", "9"]
    command += ["--res", "9", "--weights", "count", "--quiet", "--data-dir", str(gapped)]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "missing: 2019-04, 2019-07)" in result.stderr and "--train-months 2" in result.stderr


# -- reading is not running: GET reads, POST (with a key) runs and records ------------------------


def test_get_only_reads_recorded_runs_and_post_with_a_key_runs_one(fresh_town: Path) -> None:
    query = {**ASK, "res": "9", "weights": "count"}
    records = records_path(fresh_town, WARDS)
    with live_client(Settings(data_dir=fresh_town), timeout=120) as client:
        missing = client.get("/v1/backtest", params=query)
        assert missing.status_code == 404, missing.text
        assert "POST /v1/backtest" in missing.json()["error"]
        assert not records.exists()  # a read wrote nothing

        assert client.post("/v1/backtest", params=query).status_code == 401
        assert (
            client.post("/v1/backtest", params=query, headers={"X-API-Key": "no"}).status_code
            == 403
        )
        assert not records.exists()

        ran = client.post("/v1/backtest", params=query, headers=WRITE)
        assert ran.status_code == 200, ran.text
        assert records.exists()
        recorded_bytes = records.read_bytes()

        read = client.get("/v1/backtest", params=query)
        assert read.status_code == 200, read.text
        assert read.json()["rows"] == ran.json()["rows"]
        assert read.json()["provenance"]["run_at"] == ran.json()["provenance"]["run_at"]
        # Other settings are another run: not recorded, so a 404, still without a write.
        other = client.get("/v1/backtest", params={**query, "train_months": 6})
        assert other.status_code == 404
        assert records.read_bytes() == recorded_bytes


def test_records_are_deleted_with_their_set(fresh_town: Path) -> None:
    records = records_path(fresh_town, WARDS)
    query = {**ASK, "res": "9", "weights": "count"}
    with live_client(Settings(data_dir=fresh_town), timeout=120) as client:
        assert client.post("/v1/backtest", params=query, headers=WRITE).status_code == 200
        records.with_name(records.name + ".unreadable").write_text("kept aside earlier")
        assert client.delete(f"/v1/boundaries/{WARDS}", headers=WRITE).status_code == 200
        assert not records.exists()
        assert not records.with_name(records.name + ".unreadable").exists()
        gone = client.get("/v1/backtest/last", params={"boundaries": WARDS})
        assert gone.status_code == 404


# -- the record and the hotspot API ---------------------------------------------------------------


def test_every_run_is_recorded_and_listed(town: Path, api: httpx.Client, recorded: dict) -> None:
    records = read_records(town, WARDS)
    assert records.warning is None
    run = next(r for r in records.runs if r["resolutions"] == [9, 10])
    assert run["rows"] == recorded["rows"] and run["source"] == "api"
    assert run["data_version"] == recorded["provenance"]["data_version"]
    assert run["settings"]["boundaries"] == WARDS and run["settings"]["permutations"] == 0
    assert not list(records_path(town, WARDS).parent.glob("*.tmp"))

    listed = api.get("/v1/backtest/last", params={"boundaries": WARDS})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["warning"] is None and body["data_version"] == run["data_version"]
    listed_run = next(r for r in body["runs"] if r["resolutions"] == [9, 10])
    assert listed_run["rows"] == recorded["rows"] and listed_run["stale"] is False


def test_hotspots_report_the_pai_of_their_settings(api: httpx.Client, recorded: dict) -> None:
    for resolution, selection in [(9, "count"), (10, "home-office-2018")]:
        row = _row(recorded, resolution, selection)
        # Matching ignores permutations (they do not change Gi* classes) and reports them.
        provenance = _hotspot_provenance(api, res=resolution, weights=selection, permutations=9)
        entry = provenance["backtest"]
        assert entry is not None, provenance.get("backtest_hint")
        for key in ("pai", "hit_rate", "hits", "test_crimes", "area_share", "train", "test"):
            assert entry[key] == row[key], key
        assert entry["run_at"] == recorded["provenance"]["run_at"]
        assert entry["data_version"] == provenance["data_version"] and entry["stale"] is False
        assert entry["best"] == recorded["best"] and entry["permutations"] == 0
        assert entry["best_is_this_setting"] == (
            (resolution, selection)
            == (recorded["best"]["resolution"], recorded["best"]["selection"])
        )

    row = _row(recorded, 9, "count")
    params = {"boundaries": WARDS, "res": 9, "permutations": 0, "p_for_classes": "analytic"}
    geojson = api.get("/v1/hotspots", params={**params, "format": "geojson"}).json()
    assert geojson["provenance"]["backtest"]["pai"] == row["pai"]
    alone = api.get("/v1/hotspots/provenance", params=params).json()
    assert alone["backtest"]["pai"] == row["pai"]


@pytest.mark.parametrize(
    "params",
    [
        {"weights": "cchi"},  # a selection it did not compare
        {"k": 2},
        {"alpha": 0.01},
        {"area": WEST},
        {"categories": "burglary"},
        {"exclude_police_generated": "true"},
        {"correction": "bonferroni"},
    ],
)
def test_other_settings_report_no_backtest_and_say_how_to_run_one(
    api: httpx.Client, recorded: dict, params: dict
) -> None:
    provenance = _hotspot_provenance(api, **{"res": 9, **params})
    assert provenance["backtest"] is None
    hint = provenance["backtest_hint"]
    assert "POST /v1/backtest?" in hint and "hotspots backtest" in hint
    assert f"res={provenance['resolution']}" in hint


def test_the_resolution_studied_is_the_one_matched(api: httpx.Client, recorded: dict) -> None:
    # Asked for 8, the town's 17 cells are too few, so the study ran at 9: its PAI is reported.
    provenance = _hotspot_provenance(api, res=8)
    assert provenance["resolution"] == 9 and provenance["data_guard"]["adjustments"]
    assert provenance["backtest"]["resolution"] == 9
    assert provenance["backtest"]["pai"] == _row(recorded, 9, "count")["pai"]


def test_a_new_record_is_never_hidden_by_the_response_cache(fresh_town: Path) -> None:
    query = {
        "boundaries": WARDS,
        "res": 10,
        "weights": "count",
        "permutations": 0,
        "p_for_classes": "analytic",
    }
    with live_client(Settings(data_dir=fresh_town), timeout=120) as client:
        before = client.get("/v1/hotspots", params=query).json()["provenance"]
        assert before["backtest"] is None  # and this answer is now cached

        first = client.post("/v1/backtest", params=ASK, headers=WRITE).json()
        old = _row(first, 10, "count")
        after = client.get("/v1/hotspots", params=query).json()["provenance"]
        assert after["backtest"]["pai"] == old["pai"]

        # December changes: the busy street is quiet, its burglaries happen in the East ward.
        _move_decembers_street(fresh_town)
        changed = client.get("/v1/hotspots", params=query).json()["provenance"]
        assert changed["data_version"] != after["data_version"]
        assert changed["backtest"]["pai"] == old["pai"] and changed["backtest"]["stale"] is True

        second = client.post("/v1/backtest", params=ASK, headers=WRITE).json()
        new = _row(second, 10, "count")
        assert new["hits"] < old["hits"] and new["pai"] != old["pai"]
        now = client.get("/v1/hotspots", params=query).json()["provenance"]
        assert now["backtest"]["pai"] == new["pai"] and now["backtest"]["stale"] is False
        assert now["backtest"]["data_version"] == now["data_version"]

        # The newer run replaced the older: one run for these settings, on the new data.
        runs = read_records(fresh_town, WARDS).runs
        assert len(runs) == 1 and runs[0]["data_version"] == now["data_version"]
        assert not list(records_path(fresh_town, WARDS).parent.glob(".*"))


def _move_decembers_street(data_dir: Path) -> None:
    archive = ArchiveBuilder(data_dir.parent / "december")
    east = (X0 + 0.03, Y0 + 0.01)
    lines = [
        crime_line(
            "2019-12",
            crime_id=f"moved-{i}",
            longitude=f"{east[0]:.6f}",
            latitude=f"{east[1]:.6f}",
        )
        for i in range(60)
    ]
    archive.write(FORCE, "2019-12", lines)
    ingest_archive(CrimeStore(data_dir), archive.root)


def test_the_command_line_records_too(fresh_town: Path) -> None:
    query = {
        "boundaries": WARDS,
        "res": 10,
        "weights": "count",
        "permutations": 0,
        "p_for_classes": "analytic",
    }
    with live_client(Settings(data_dir=fresh_town), timeout=120) as client:
        assert client.get("/v1/hotspots", params=query).json()["provenance"]["backtest"] is None
        result = CliRunner().invoke(
            cli,
            [
                "backtest",
                "--boundaries",
                WARDS,
                "--to",
                "2019-09",
                "--train-months",
                "9",
                "--res",
                "10",
                "--weights",
                "count",
                "--permutations",
                "0",
                "--p-for-classes",
                "analytic",
                "--format",
                "json",
                "--data-dir",
                str(fresh_town),
            ],
        )
        assert result.exit_code == 0, result.output
        printed = json.loads(result.stdout)  # the note about the record goes to stderr
        # Named by its absolute path, as the command line names files (it named it relative).
        said = " ".join(result.stderr.split())
        assert f"Recorded in {os.path.abspath(records_path(fresh_town, WARDS))};" in said
        (row,) = printed["rows"]
        entry = client.get("/v1/hotspots", params=query).json()["provenance"]["backtest"]
        # The table printer writes 10 decimals; the record keeps every digit.
        assert entry["pai"] == pytest.approx(row["pai"], rel=1e-9) and entry["source"] == "cli"
        assert entry["train"] == "2019-01..2019-09" and entry["test"] == "2019-10..2019-12"

        # The API gives the same numbers for the same settings; an identical result is kept once.
        api_body = client.post(
            "/v1/backtest", params={**ASK, "res": "10", "weights": "count"}, headers=WRITE
        ).json()
        assert api_body["rows"][0]["pai"] == entry["pai"]
        assert api_body["rows"][0]["hits"] == row["hits"]
    runs = read_records(fresh_town, WARDS).runs
    assert len(runs) == 1 and runs[0]["rows"] == api_body["rows"]


def test_an_unreadable_record_is_a_warning_not_an_error(fresh_town: Path) -> None:
    path = records_path(fresh_town, WARDS)
    path.parent.mkdir(parents=True)
    path.write_text('{"format": "hotspots-backtests/2", "runs": [', encoding="utf-8")
    query = {
        "boundaries": WARDS,
        "res": 9,
        "weights": "count",
        "permutations": 0,
        "p_for_classes": "analytic",
    }
    with live_client(Settings(data_dir=fresh_town), timeout=120) as client:
        provenance = _hotspot_provenance(client, res=9)
        assert provenance["backtest"] is None
        assert "not valid JSON" in provenance["backtest_warning"]
        listed = client.get("/v1/backtest/last", params={"boundaries": WARDS})
        assert listed.status_code == 200 and listed.json()["runs"] == []
        assert "run the backtest again" in listed.json()["warning"]
        page = client.get("/v1/backtest/last", params={"boundaries": WARDS, "format": "html"})
        assert "no backtest is recorded" in page_or_api_error_message(page, 404)

        # A new run keeps the unreadable file aside and starts a good record.
        response = client.post("/v1/backtest", params=ASK, headers=WRITE)
        assert response.status_code == 200, response.text
        warning = response.json()["provenance"]["recorded"]["warning"]
        assert f"moved to backtests/{WARDS}.json.unreadable" in warning
        assert str(fresh_town) not in warning  # the service never shows the server's path
        assert path.with_name(path.name + ".unreadable").exists()
        entry = client.get("/v1/hotspots", params=query).json()["provenance"]
        assert entry["backtest"]["pai"] == _row(response.json(), 9, "count")["pai"]
        assert "backtest_warning" not in entry


# -- the record file on its own --------------------------------------------------------------------


def test_the_newest_run_for_the_same_settings_replaces_the_older(fresh_town: Path) -> None:
    store = CrimeStore(fresh_town)
    wards = BoundaryStore(fresh_town).read(WARDS)
    path = records_path(fresh_town, WARDS)

    def run(last: str, resolutions: tuple[int, ...] = (9,), **options: object) -> dict:
        base = StudyRequest(
            WARDS, first="2019-01", last=last, permutations=0, p_for_classes="analytic", **options
        )
        result = run_backtest(store, wards, base, 3, resolutions, ("count",))
        return record_run(fresh_town, result, "v1", "test", 9)[0]

    run("2019-09")
    run("2019-08")  # same settings, another window: replaces
    runs = read_records(fresh_town, WARDS).runs
    assert [r["train"]["last"] for r in runs] == ["2019-08"]

    run("2019-09", resolutions=(9, 10))  # other resolutions compared: kept beside it
    run("2019-09", categories=("Burglary", "shoplifting"))  # other settings: kept beside it
    runs = read_records(fresh_town, WARDS).runs
    assert len(runs) == 3
    # Category names are stored as canonical slugs, so equivalent questions match.
    assert runs[0]["settings"]["categories"] == ["burglary", "shoplifting"]

    # Matching: the newest run holding the setting; window, permutations and seed aside.
    request = StudyRequest(
        WARDS,
        resolution=9,
        weights="count",
        permutations=999,
        seed=4,
        p_for_classes="analytic",
    )
    match = find_match(runs, request, 9)
    assert match is not None and match[0]["resolutions"] == [9, 10]
    assert find_match(runs, request, 8) is None
    burglary = StudyRequest(WARDS, categories=("shoplifting", "burglary"), p_for_classes="analytic")
    # The p rule is a setting: the same question under the default rule has no record.
    assert find_match(runs, replace(burglary, p_for_classes="permutation"), 9) is None
    assert find_match(runs, burglary, 9)[0]["settings"]["categories"] == [
        "burglary",
        "shoplifting",
    ]
    assert BacktestSettings.from_dict(runs[0]["settings"]).matches(burglary)

    # Repeating the newest run leaves the file alone (no new date, no cache churn).
    content = path.read_bytes()
    run("2019-09", categories=("burglary", "shoplifting"))
    assert path.read_bytes() == content
    assert not [p for p in path.parent.iterdir() if p.name != path.name]

    # Repeating an older one makes it the last backtest again: it is what /v1/hotspots reports.
    run("2019-08")
    runs = read_records(fresh_town, WARDS).runs
    assert len(runs) == 3 and runs[0]["train"]["last"] == "2019-08"
    assert find_match(runs, request, 9)[0]["resolutions"] == [9]


def test_a_map_quotes_only_a_run_of_its_own_question_with_a_full_training_window(
    fresh_town: Path,
) -> None:
    # The map's own hotspot rule (the default p rule); trained 2019-01..2019-09.
    base = StudyRequest(WARDS, first="2019-01", last="2019-09", permutations=99)
    wards = BoundaryStore(fresh_town).read(WARDS)
    run = run_backtest(CrimeStore(fresh_town), wards, base, 3, (9,), ("count",))
    record_run(fresh_town, run, "v1", "test", 9)
    map_query = {"boundaries": WARDS, "res": 9, "weights": "count"}
    with live_client(Settings(data_dir=fresh_town), timeout=120) as client:
        page = client.get("/v1/maps/hotspots", params=map_query).text
        assert "Tested on past data: hot spots chosen on" in page
        assert "From the backtest run of" in page and "resolution 9, weights count." in page
        # Another resolution or weights is another question: that run is not quoted.
        for other in ({"res": 10}, {"weights": "home-office-2018"}):
            elsewhere = client.get("/v1/maps/hotspots", params={**map_query, **other}).text
            assert "Tested on past data" not in elsewhere

    # A run recorded before short training windows were refused: 1 of its 9 months stored.
    path = records_path(fresh_town, WARDS)
    body = json.loads(path.read_text())
    body["runs"][0]["train"]["months_stored"] = 1
    path.write_text(json.dumps(body))
    with live_client(Settings(data_dir=fresh_town), timeout=120) as client:
        page = client.get("/v1/maps/hotspots", params=map_query).text
        assert "Tested on past data" not in page
        query = {"boundaries": WARDS, "res": 9, "permutations": 99}
        assert client.get("/v1/hotspots", params=query).json()["provenance"]["backtest"] is None


def test_a_map_of_another_window_does_not_call_a_current_backtest_stale(
    fresh_town: Path,
) -> None:
    # Recorded on the whole store's version, as POST /v1/backtest records it; the map asks a
    # pinned window whose own study version differs: the test is still current, as the JSON says.
    from geo_service.results import data_version

    base = StudyRequest(WARDS, first="2019-01", last="2019-09", permutations=99)
    wards = BoundaryStore(fresh_town).read(WARDS)
    run = run_backtest(CrimeStore(fresh_town), wards, base, 3, (9,), ("count",))
    current = data_version(CrimeStore(fresh_town), BoundaryStore(fresh_town), WARDS)
    record_run(fresh_town, run, current, "test", 9)
    window = {"boundaries": WARDS, "res": 9, "weights": "count", "from": "2019-04"}
    window["to"] = "2019-09"
    with live_client(Settings(data_dir=fresh_town), timeout=120) as client:
        page = client.get("/v1/maps/hotspots", params=window).text
        assert "Tested on past data" in page
        assert "The data have changed since that test" not in page
        answer = client.get("/v1/hotspots", params={**window, "permutations": 99}).json()
        assert answer["provenance"]["backtest"]["stale"] is False
    # A run recorded on data since replaced is said to be out of date, on the map as in JSON.
    record_run(fresh_town, run, "an-older-version", "test", 9)
    with live_client(Settings(data_dir=fresh_town), timeout=120) as client:
        page = client.get("/v1/maps/hotspots", params=window).text
        assert "The data have changed since that test" in page


def test_the_record_keeps_the_newest_runs_only(
    fresh_town: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _recorded_run(fresh_town)
    monkeypatch.setattr("pipelines.planning.backtest_record.MAX_RUNS", 2)
    for alpha in (0.05, 0.04, 0.03):  # three settings; the oldest goes
        request = dataclasses.replace(result.request, alpha=alpha)
        asked = dataclasses.replace(result, request=request)
        record_run(fresh_town, asked, "v1", "test", 9)
    runs = read_records(fresh_town, WARDS).runs
    assert [r["settings"]["alpha"] for r in runs] == [0.03, 0.04]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\xff\xfe not text", "is not UTF-8 text"),
        (b"[]", "is not a hotspots-backtests/2 record"),
        (b'{"format": "hotspots-backtests/2"}', "has no list of runs"),
        (b'{"format": "hotspots-backtests/2", "runs": [{"settings": {}}]}', "without its"),
    ],
)
def test_records_that_cannot_be_used_are_reported_not_raised(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = records_path(tmp_path, WARDS)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    records = read_records(tmp_path, WARDS)
    assert records.runs == [] and reason in records.warning


def test_a_run_missing_a_field_makes_the_record_unreadable(fresh_town: Path) -> None:
    record_run(fresh_town, _recorded_run(fresh_town), "v1", "t", 9)
    path = records_path(fresh_town, WARDS)
    body = json.loads(path.read_text())
    assert read_records(fresh_town, WARDS).warning is None
    del body["runs"][0]["train"]["months_stored"]  # as an older or hand-edited file might
    path.write_text(json.dumps(body))
    assert "without its settings, windows" in read_records(fresh_town, WARDS).warning


def test_a_failed_write_leaves_the_old_record_whole(
    fresh_town: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _recorded_run(fresh_town)
    record_run(fresh_town, result, "v1", "test", 9)
    path = records_path(fresh_town, WARDS)
    content = path.read_bytes()

    def broken(fd: int) -> None:
        raise OSError(28, "No space left on device")

    # Fails after the new record is written beside the old one, before the rename.
    monkeypatch.setattr("pipelines.store.atomic.os.fsync", broken)
    with pytest.raises(StoreWriteError, match="the disk is full"):
        record_run(fresh_town, result, "v2", "test", 9)
    monkeypatch.undo()
    assert path.read_bytes() == content
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_test_crimes_are_limited_like_the_training_study(town: Path) -> None:
    store = CrimeStore(town)
    wards = BoundaryStore(town).read(WARDS)
    rows = backtest(store, wards, _base(categories=("burglary",)), 3, (9,), ("count",))
    # Only the busy street's 20 burglaries a month are scored, not the 40 shopliftings.
    assert rows[0].test_crimes == 3 * 20
    with pytest.raises(BacktestError, match="resolution 8 with count"):
        backtest(store, wards, _base(), 3, (8,), ("count",))


# -- the page --------------------------------------------------------------------------------------


def test_the_plain_words_reading() -> None:
    row = {
        "resolution": 9,
        "selection": "count",
        "train": "2019-01..2019-09",
        "test": "2019-10..2019-12",
        "hotspot_cells": 4,
        "area_share": 0.05,
        "test_crimes": 200,
        "hits": 42,
        "hit_rate": 0.21,
        "pai": 0.21 / 0.05,
        "hit_rate_top5": 0.19,
        "pei_top5": 0.6,
    }
    assert reading(row) == (
        "The hot spots chosen on 2019-01 to 2019-09 (about 0.1 km² cells, by crime counts) cover "
        "5.0% of the land and held 21.0% (42 of 200) of the crimes of 2019-10 to 2019-12: 4.2 "
        "times what an even spread of crime would put there. To compare settings on the same "
        "amount of land: the busiest 5% of the land before held 19.0% of the crimes of 2019-10 "
        "to 2019-12; the best 5% anyone could have picked held 31.7%, so the pick caught 60% of "
        "the most it could have."
    )
    assert technical_reading(row) == (
        "PAI 4.2: the hotspots picked on 2019-01 to 2019-09 (resolution 9, crime counts) held "
        "4.2x the crime their area share predicts: they cover 5.0% of the area and held 21.0% "
        "(42 of 200) of the crimes of 2019-10 to 2019-12. On the same 5% of the land for every "
        "setting, the top cells held 19.0% of the crimes (PEI* 0.60: the share of the most any "
        "cells of that area could have held)."
    )
    worse = {**row, "selection": "cchi", "hits": 5, "hit_rate": 0.025, "pai": 0.5}
    assert "less than an even spread of crime would put there" in reading(worse)
    assert technical_reading(worse).startswith(
        "PAI 0.5: the hotspots picked on 2019-01 to 2019-09 (resolution 9, harm (cchi)) held "
        "less crime than their area share predicts"
    )
    none = {**row, "hotspot_cells": 0, "hits": 0, "hit_rate": 0.0, "area_share": 0.0, "pai": 0.0}
    assert reading(none).startswith("No place was a hot spot on 2019-01 to 2019-09")
    assert technical_reading(none).startswith("No cell was a hot spot on 2019-01 to 2019-09")


def test_the_page_renders_in_chromium(api: httpx.Client, recorded: dict) -> None:
    playwright = require_chromium()
    url = (
        str(api.base_url.join("/v1/backtest"))
        + "?"
        + str(httpx.QueryParams({**ASK, "format": "html"}))
    )
    response = api.get(url)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    errors: list[str] = []
    with offline_context(playwright) as (context, attempted):
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        assert page.goto(url, wait_until="load").status == 200
        table_rows = page.locator("#backtest tbody tr")
        assert table_rows.count() == len(recorded["rows"])
        top = recorded["best"]
        highlighted = page.locator("#backtest tbody tr.best")
        assert highlighted.count() == 1
        assert highlighted.get_attribute("data-resolution") == str(top["resolution"])
        assert highlighted.get_attribute("data-selection") == top["selection"]
        assert highlighted.locator("td.pai").inner_text() == f"{top['pai']:.2f}"
        reading = page.locator("#reading").inner_text()
        assert reading.startswith("The hot spots chosen on 2019-01 to 2019-09")
        assert f"{top['pai']:.1f} times what an even spread of crime would put there" in reading
        notes = page.locator("#technical-notes").inner_text()
        assert f"PAI {top['pai']:.1f}: the hotspots picked on 2019-01" in notes
        settings = page.locator("#settings").inner_text()
        assert "fdr_bh" in settings and "analytic" in settings
        assert "Chainey" in page.content()
        # Printable: the table fits an A4 page's width when printed.
        assert len(page.pdf(format="A4")) > 1000

        last = page.goto(
            str(api.base_url.join("/v1/backtest/last")) + f"?boundaries={WARDS}&format=html"
        )
        assert last.status == 200 and page.locator("#backtest tbody tr").count() >= 1
    assert attempted == [] and errors == []


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"boundaries": "nowhere"}, 404, "no boundary set named"),
        ({"area": "E05999999"}, 404, "no area with code or name 'E05999999'"),
        ({"to": "2019-12"}, 422, "end the training window at 2019-09 (--to 2019-09; to=2019-09)"),
        ({"to": "2019-12"}, 422, "missing 2020-01, 2020-02, 2020-03"),
        ({"to": "2018-12", "train_months": 12}, 422, "no crimes stored for 2018-01..2018-12"),
        (
            {"to": "2019-01", "train_months": 12},
            422,
            "the training window 2018-02..2019-01 is not fully stored (11 of its 12 months",
        ),
        ({"to": "2019-01", "train_months": 12}, 422, "at most 1 training month is stored"),
        ({"to": "2019-08", "train_months": 12}, 422, "at most 8 training months are stored"),
        ({"categories": "bicycle-theft"}, 422, "resolution 9 with count"),
        ({"test_months": 0}, 422, "test_months"),
        ({"test_months": 13}, 422, "test_months"),
        ({"train_months": 37}, 422, "train_months"),
        ({"train_months": 0}, 422, "train_months"),
        ({"res": "6"}, 422, "res must be H3 resolutions among 7, 8, 9, 10"),
        ({"res": "11"}, 422, "res must be H3 resolutions"),
        ({"res": "nine"}, 422, "res must be H3 resolutions"),
        ({"res": "7,8,9,10"}, 422, "at most 3"),
        ({"weights": "harm.csv"}, 422, "unknown weights 'harm.csv'"),
        ({"weights": "count,cchi,home-office-2018"}, 422, "at most 2"),
        ({"to": "2019-13"}, 422, "to: must be a month written YYYY-MM"),
        ({"categories": "unicorns"}, 422, "unknown crime category"),
        ({"format": "pdf"}, 422, "format"),
        ({"alpha": 2}, 422, "alpha"),
    ],
)
def test_bad_backtest_requests_say_what_to_fix(
    api: httpx.Client, params: dict, status: int, message: str
) -> None:
    query = {**ASK, "res": "9", "weights": "count", **params}
    response = api.post("/v1/backtest", params=query, headers=WRITE)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


@pytest.mark.parametrize("train_months", [9, 18])
def test_a_window_past_the_stores_end_says_where_the_store_ends(
    town: Path, api: httpx.Client, train_months: int
) -> None:
    """The town holds 2019-01..2019-12. Training to 2020-06 used to be told to "load the missing
    months" (future ones) and that "at most 18 training months are stored" (12 are)."""
    query = {**ASK, "res": "9", "weights": "count", "to": "2020-06", "train_months": train_months}
    response = api.post("/v1/backtest", params=query, headers=WRITE)
    command = ["backtest", "--boundaries", WARDS, "--to", "2020-06", "--res", "9"]
    command += ["--train-months", str(train_months), "--data-dir", str(town)]
    result = CliRunner().invoke(cli, command)
    assert response.status_code == 422 and result.exit_code == 2, result.output
    for error in (response.json()["error"], result.stderr):
        assert "the store ends at 2019-12: " in error
        assert ("end the training window at 2019-09 (--to 2019-09;" in error) == (train_months == 9)
        assert ("train on the 9 months to 2019-09 (--to 2019-09 --train-months 9;" in error) == (
            train_months == 18
        )
        assert "load the missing months" not in error and "at most 18" not in error


def test_bad_last_requests(api: httpx.Client) -> None:
    missing = api.get("/v1/backtest/last", params={"boundaries": "nowhere"})
    assert missing.status_code == 404 and "no boundary set named" in missing.json()["error"]
    assert api.get("/v1/backtest/last").status_code == 422


def test_scope_areas_without_an_area_is_refused_not_run_on_the_whole_set(
    fresh_town: Path,
) -> None:
    """scope=areas asks for named areas studied alone: with none named it used to run, and
    record, the whole set's backtest as if scope had been left out."""
    query = {**ASK, "res": "9", "weights": "count", "scope": "areas"}
    needs_area = "scope areas backtests the named areas studied alone, so it needs at least one"
    with live_client(Settings(data_dir=fresh_town), timeout=120) as client:
        for response in (
            client.post("/v1/backtest", params=query, headers=WRITE),
            client.get("/v1/backtest", params=query),
            client.get("/v1/backtest", params={**query, "format": "html"}),
        ):
            assert response.status_code == 422, response.text
            assert needs_area in response.text
    command = ["backtest", "--boundaries", WARDS, "--to", "2019-09", "--train-months", "9"]
    command += ["--res", "9", "--weights", "count", "--scope", "areas", "--quiet"]
    result = CliRunner().invoke(cli, [*command, "--data-dir", str(fresh_town)])
    assert result.exit_code == 2, result.output
    assert needs_area in result.stderr and "--area" in result.stderr
    assert "Traceback" not in result.output
    assert not records_path(fresh_town, WARDS).exists()  # nothing was run or recorded


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "2019-12", "--res", "9"], "train on the 9 months to 2019-09 (--to 2019-09"),
        (["--to", "2019-09", "--res", "6"], "resolutions must be among 7, 8, 9, 10"),
        (["--to", "2019-09", "--res", "9,x"], "--res must be whole numbers"),
        (["--to", "2019-09", "--res", "9", "--method", "kde"], "method must be one of"),
        (["--to", "2019-09", "--res", "9", "--train-months", "0"], "'--train-months': 0 is not"),
        (["--to", "2019-09", "--res", "9", "--test-months", "0"], "'--test-months': 0 is not"),
        (
            ["--to", "2019-09", "--train-months", "9", "--res", "9", "--category", "unicorns"],
            "unknown crime category",
        ),
        (["--to", "2019-09", "--res", "9"], "at most 9 training months are stored"),
    ],
)
def test_bad_command_line_backtests_are_one_clear_line(
    town: Path, args: list[str], message: str
) -> None:
    command = ["backtest", "--boundaries", WARDS, *args, "--data-dir", str(town)]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


# -- real data -------------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_torbay_backtest_on_real_data(shared_data: Path, tmp_path: Path) -> None:
    """Torbay's 2019 hot spots scored on January-March 2020: over HTTP as in Python, and
    better than chance (PAI well above 1), as street-level hot spots are in practice."""
    store, wards = torbay_store(shared_data, tmp_path / "store", "2019-01", "2020-03")
    params = {"boundaries": TORBAY_WARDS, "to": "2019-12", "res": "9"}  # the default p rule
    (store.root / "api_keys.txt").write_text(f"{hash_key(KEY)} test\n", encoding="utf-8")
    with live_server(Settings(data_dir=store.root)) as base:
        response = httpx.post(f"{base}/v1/backtest", params=params, headers=WRITE, timeout=300)
        assert response.status_code == 200, response.text
        hotspots = httpx.get(
            f"{base}/v1/hotspots/provenance",
            params={"boundaries": TORBAY_WARDS, "res": 9, "weights": "home-office-2018"},
            timeout=300,
        ).json()
    body = response.json()
    base_request = StudyRequest(TORBAY_WARDS, first="2019-01", last="2019-12")
    rows = backtest(store, wards, base_request, 3, (9,), SELECTIONS)
    assert body["rows"] == rows_as_dicts(rows)
    for row in body["rows"]:
        assert row["test_crimes"] > 2000 and row["hotspot_cells"] >= 3
        assert row["pai"] > 3 and row["area_share"] < 0.2
    assert hotspots["backtest"]["pai"] == _row(body, 9, "home-office-2018")["pai"]
    assert hotspots["backtest"]["train"] == "2019-01..2019-12"


# -- advice that works: each run a refusal names, run as given, succeeds ---------------------------

ADVISED = re.compile(r"\((--to [0-9-]+(?: --\w+-months \d+)*); (to=[0-9-]+(?:&\w+_months=\d+)*)\)")


@pytest.mark.parametrize(
    ("asked", "not_said"),
    [
        # Past this month: once "give 2026-12 or earlier", itself past the store's end.
        ({"to": "2030-01"}, "after this month"),
        # Past the store's end with more training months than end where a test period fits.
        ({"to": "2020-06", "train_months": 18}, "load the missing months"),
        # The test period runs past the store's end: "end at 2019-09" kept 12 training months.
        ({"to": "2019-12", "train_months": 12}, "shorten the test period"),
        # A 1-month test period cannot be shortened.
        ({"to": "2019-12", "train_months": 6, "test_months": 1}, "shorten the test period"),
        # Training months before the store's start, and a test period past its end.
        ({"to": "2019-11", "train_months": 12}, "shorten it"),
        ({"to": "2019-06", "train_months": 12}, "shorten it"),
    ],
)
def test_every_run_a_refusal_advises_works(fresh_town: Path, asked: dict, not_said: str) -> None:
    """The town holds 2019-01..2019-12. Each refusal names one or two runs as options of the
    command line and the API; each is run as given, over HTTP and on the command line, and
    works (advice once led to a second refusal, or to nothing that could work)."""
    quick = {"boundaries": WARDS, "res": "9", "weights": "count", "permutations": 0}
    quick["p_for_classes"] = "analytic"
    command = ["backtest", "--boundaries", WARDS, "--res", "9", "--weights", "count", "--quiet"]
    command += ["--permutations", "0", "--p-for-classes", "analytic"]
    command += ["--data-dir", str(fresh_town)]
    asked_options = [f"--{name.replace('_', '-')}={value}" for name, value in asked.items()]
    with live_client(Settings(data_dir=fresh_town), timeout=120) as client:
        refused = client.post("/v1/backtest", params={**quick, **asked}, headers=WRITE)
        assert refused.status_code == 422, refused.text
        said = CliRunner().invoke(cli, [*command, *asked_options])
        assert said.exit_code == 2 and "Traceback" not in said.output, said.output
        line = " ".join(said.stderr.split())
        assert line == "error: " + refused.json()["error"]  # the same advice, both ways
        advised = ADVISED.findall(line)
        assert advised, line
        assert not_said not in line
        for options, query in advised:
            params = dict(pair.split("=") for pair in query.split("&"))
            run = client.post("/v1/backtest", params={**quick, **asked, **params}, headers=WRITE)
            assert run.status_code == 200, (query, run.text)
            kept = [o for o in asked_options if o.split("=")[0] not in options]
            result = CliRunner().invoke(cli, [*command, *kept, *options.split()])
            assert result.exit_code == 0, (options, result.output)
