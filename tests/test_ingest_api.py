"""``hotspots ingest api`` against a fake data.police.uk on a real local HTTP server.

The acceptance proof ingests all of Barnet and Hounslow for 2017 from real API output, with the
fake's crime cap lowered so the areas must be split, and compares the stored crimes with a ground
truth computed independently from the same files. Smaller generated data sets cover retries, the
rate limit and no-location counts, and run even without ../shared/data.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import shapely
from shapely.geometry import Point, box
from typer.testing import CliRunner

from cli.main import app
from pipelines.ingest.api import ApiIngestError, ingest_api
from pipelines.ingest.api_area import parse_poly, read_boundary
from pipelines.ingest.api_client import RetryPolicy
from pipelines.ingest.api_rows import parse_crimes
from pipelines.schema import CRIME_SCHEMA, SOURCE_ARCHIVE
from pipelines.store import CrimeStore, PartitionCoverage
from tests.api_fixtures import (
    BARNET,
    HOUNSLOW,
    MET_API,
    MONTHS_2017,
    TINY_MONTHS,
    TINY_POLY,
    WARDS_2019,
    ids_inside,
    need_shared_data,
    tiny_crimes,
)
from tests.fake_police_api import FakePoliceApi, crime_object, no_location_object

runner = CliRunner()
FAST = RetryPolicy(attempts=4, backoff=0.01)
STREET = "crimes-street/all-crime"


def _stored_ids(store: CrimeStore, month: str, force: str = "metropolitan") -> list[int]:
    table = store.read_partition(force, month)
    assert table is not None, f"no partition for {force} {month}"
    located = table.filter(pc.is_valid(table["latitude"]))
    return located["api_id"].to_pylist()


def _one_line_error(result: object) -> str:
    """The CLI's error: exactly one line on stderr, no traceback anywhere."""
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.exit_code != 0, result.output  # type: ignore[attr-defined]
    assert stderr.startswith("error:") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr + result.output  # type: ignore[attr-defined]
    return stderr


# -- the real data -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def met_api() -> Iterator[FakePoliceApi]:
    """One fake over the real Metropolitan 2017 API output, cap lowered to 1,000 to force splits."""
    need_shared_data()
    with FakePoliceApi(data_dir=MET_API, cap=1_000) as fake:
        yield fake


def _wards(*codes: str) -> gpd.GeoDataFrame:
    frames = [gpd.read_file(WARDS_2019 / f"{code}.geojson") for code in codes]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True)[["WD19CD", "geometry"]])


@pytest.mark.shared_data
def test_barnet_and_hounslow_2017_are_stored_exactly(met_api: FakePoliceApi, tmp_path: Path):
    wards = _wards(BARNET, HOUNSLOW)
    truth_area = wards.geometry.union_all()
    boundary = tmp_path / "boroughs.gpkg"
    wards.to_file(boundary)  # one feature per ward: the command dissolves them itself
    data_dir = tmp_path / "store"

    # Ground truth in another process while this one loads the fake: two cores, half the wait.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {
            m: pool.submit(ids_inside, str(MET_API / f"{m}.json.gz"), truth_area.wkb)
            for m in MONTHS_2017
        }
        met_api.preload(MONTHS_2017)
        met_api.reset()
        result = runner.invoke(
            app,
            [
                "ingest",
                "api",
                "--force",
                "metropolitan",
                "--boundary",
                str(boundary),
                "--from",
                "2017-01",
                "--to",
                "2017-12",
                "--base-url",
                met_api.base_url,
                "--data-dir",
                str(data_dir),
            ],
        )
        truth = {m: future.result() for m, future in futures.items()}
    assert result.exit_code == 0, result.output + result.stderr

    store = CrimeStore(data_dir)
    assert [m for _, m in store.partitions("metropolitan")] == MONTHS_2017
    for month in MONTHS_2017:
        ids = _stored_ids(store, month)
        assert len(ids) == len(set(ids)), f"{month}: duplicate crimes"
        assert set(ids) == truth[month], f"{month}: stored crimes differ from ground truth"
        coverage = store.coverage_of("metropolitan", month)
        assert coverage.source == "api"
        assert coverage.stored == len(ids)  # no no-location items were configured
        assert coverage.source_rows == coverage.stored + coverage.rejected_total
    assert sum(len(t) for t in truth.values()) > 60_000  # both boroughs, whole year

    # The cap forced recursive splitting, the long borough rings went by POST, and the pacing
    # kept the fake's rate limit from ever answering 429.
    over_cap = met_api.requests(STREET, status=503)
    assert len(over_cap) >= 2 * len(MONTHS_2017)
    depths = [
        entry["max_depth"]
        for month in MONTHS_2017
        for entry in store.coverage_of("metropolitan", month).provenance
        if entry["kind"] == "api"
    ]
    assert max(depths) >= 2 and min(depths) >= 1
    assert met_api.requests(STREET, method="POST")
    assert not met_api.requests(status=414)
    assert not met_api.requests(status=429)
    assert len(met_api.requests(STREET)) > 8 * len(MONTHS_2017)


@pytest.mark.shared_data
def test_second_borough_adds_to_the_first_and_reingest_is_byte_identical(
    met_api: FakePoliceApi, tmp_path: Path
):
    month = "2017-03"
    barnet = read_boundary(WARDS_2019 / f"{BARNET}.geojson")
    hounslow = read_boundary(WARDS_2019 / f"{HOUNSLOW}.geojson")
    store = CrimeStore(tmp_path / "store")

    def run(area: shapely.Geometry) -> bytes:
        met_api.reset()
        ingest_api(store, "metropolitan", area, month, month, met_api.base_url, retry=FAST)
        return store.partition_path("metropolitan", month).read_bytes()

    first = run(barnet)
    assert run(barnet) == first
    barnet_ids = set(_stored_ids(store, month))

    both = run(hounslow)
    hounslow_only = set(_stored_ids(store, month)) - barnet_ids
    assert set(_stored_ids(store, month)) >= barnet_ids and len(hounslow_only) > 2_000
    areas = [
        e["area"]["fingerprint"]
        for e in store.coverage_of("metropolitan", month).provenance
        if e["kind"] == "api"
    ]
    assert len(areas) == 2
    assert run(barnet) == both  # re-ingesting one area leaves the other's rows as they were


# -- generated data ------------------------------------------------------------------------------


@pytest.fixture
def tiny_api() -> Iterator[FakePoliceApi]:
    with FakePoliceApi(crimes=tiny_crimes()) as fake:
        yield fake


def test_rows_are_canonical_and_crimes_in_holes_are_dropped(tiny_api: FakePoliceApi, tmp_path):
    # police.uk's poly cannot carry a hole: the ring brings back crime 1000 inside the hole,
    # and the ingest must drop it against the true geometry and count it.
    hole = box(-0.1007, 51.4993, -0.1003, 51.4997)
    area = parse_poly(TINY_POLY).difference(hole)
    store = CrimeStore(tmp_path)
    report = ingest_api(store, "metropolitan", area, None, None, tiny_api.base_url, retry=FAST)
    assert [m.month for m in report.months] == TINY_MONTHS
    table = store.read_partition("metropolitan", "2024-01")
    assert table.schema == CRIME_SCHEMA
    # Stored sorted by place (pipelines/store/region.py), not by id.
    assert sorted(table["api_id"].to_pylist()) == list(range(1001, 1010))
    row = next(r for r in table.to_pylist() if r["api_id"] == 1001)
    assert row["crime_id"] == f"p{1001:063d}" and row["category"] == "violent-crime"
    assert row["source"] == "api" and row["force"] == "metropolitan"
    assert row["location"] == "On or near High Street"
    assert row["last_outcome"] == "Under investigation"
    assert row["context"] is None and row["lsoa_code"] is None and row["reported_by"] is None
    assert row["latitude"] == pytest.approx(51.5005) and row["h3_cell"] is not None
    asb = table.filter(pc.equal(table["category"], "anti-social-behaviour"))
    assert asb.num_rows == 2 and asb["crime_id"].null_count == 2  # persistent_id "" -> null
    coverage = store.coverage_of("metropolitan", "2024-01")
    assert coverage.rejected == {"outside_area": 1}
    assert (coverage.source_rows, coverage.stored, coverage.no_location) == (10, 9, 0)


def test_unknown_types_are_rejected_with_their_reason(tmp_path: Path):
    crimes = tiny_crimes(per_month=4, outside=0)
    month = TINY_MONTHS[0]
    crimes[month].append(crime_object(7001, 51.5, -0.098, month, category="made-up-crime"))
    with FakePoliceApi(crimes={month: crimes[month]}) as fake:
        store = CrimeStore(tmp_path)
        ingest_api(store, "metropolitan", parse_poly(TINY_POLY), None, None, fake.base_url)
    coverage = store.coverage_of("metropolitan", month)
    assert coverage.rejected == {"unknown_crime_type": 1}
    assert coverage.stored == 4 and coverage.source_rows == 5


def test_bad_coordinates_and_missing_ids_are_rejected_not_stored():
    month = "2024-01"
    good = crime_object(1, 51.5, -0.1, month, category="Violence and sexual offences")
    no_number = crime_object(2, 51.5, -0.1, month)
    no_number["location"]["latitude"] = "not a number"
    off_the_globe = crime_object(3, 95.0, -0.1, month)
    no_location = crime_object(4, 51.5, -0.1, month)
    no_location["location"] = None
    no_id = crime_object(5, 51.5, -0.1, month)
    del no_id["id"]
    crimes = [no_id, no_location, off_the_globe, no_number, good]
    parsed = parse_crimes(crimes, "metropolitan", month)
    assert parsed.rejected == {"bad_coordinates": 3, "missing_id": 1}
    assert parsed.table.schema == CRIME_SCHEMA
    assert parsed.table.to_pylist()[0]["category"] == "violent-crime"


def test_area_ingest_keeps_archive_rows_elsewhere(tiny_api: FakePoliceApi, tmp_path: Path):
    month = TINY_MONTHS[0]
    store = CrimeStore(tmp_path)
    archive_rows = pa.Table.from_pylist(
        [
            _archive_row("far-away", month, 51.60, -0.20),  # outside the area: kept
            _archive_row("in-area", month, 51.5000, -0.1000),  # inside: the API replaces it
            _archive_row("no-location", month, None, None),  # force-wide: API no-location replaces
        ],
        schema=CRIME_SCHEMA,
    )
    archive_provenance = [{"kind": "archive", "file": f"{month}-metropolitan-street.csv"}]
    store.write_partition(
        archive_rows,
        PartitionCoverage(
            "metropolitan",
            month,
            SOURCE_ARCHIVE,
            4,
            3,
            1,
            rejected={"bad_coordinates": 1},
            provenance=archive_provenance,
        ),
    )
    area = parse_poly(TINY_POLY)
    ingest_api(store, "metropolitan", area, month, month, tiny_api.base_url, retry=FAST)
    first = store.partition_path("metropolitan", month).read_bytes()
    table = store.read_partition("metropolitan", month)
    assert sorted(table["crime_id"].drop_null().to_pylist()) == sorted(
        ["far-away", *[f"p{i:063d}" for i in range(1000, 1010) if i % 5 != 2]]
    )
    coverage = store.coverage_of("metropolitan", month)
    assert coverage.source == "archive+api"
    assert coverage.provenance[0] == archive_provenance[0]
    assert coverage.rejected == {"bad_coordinates": 1}
    assert coverage.stored == 11 and coverage.source_rows == 12

    tiny_api.reset()
    ingest_api(store, "metropolitan", area, month, month, tiny_api.base_url, retry=FAST)
    assert store.partition_path("metropolitan", month).read_bytes() == first


def _archive_row(crime_id: str, month: str, lat: float | None, lng: float | None) -> dict:
    return {
        "crime_id": crime_id,
        "api_id": None,
        "month": month,
        "force": "metropolitan",
        "reported_by": "Metropolitan Police Service",
        "falls_within": "Metropolitan Police Service",
        "longitude": lng,
        "latitude": lat,
        "location": "On or near Somewhere",
        "lsoa_code": None,
        "lsoa_name": None,
        "category": "burglary",
        "last_outcome": None,
        "context": None,
        "source": SOURCE_ARCHIVE,
        "h3_cell": None,
    }


def test_long_polygon_goes_by_post(tiny_api: FakePoliceApi, tmp_path: Path):
    circle = Point(-0.098, 51.502).buffer(0.006, quad_segs=120)  # 480 vertices: URL > 4,094
    store = CrimeStore(tmp_path)
    ingest_api(store, "metropolitan", circle, "2024-02", "2024-02", tiny_api.base_url, retry=FAST)
    posts = tiny_api.requests(STREET, method="POST")
    assert posts and all(p.status == 200 and p.vertices > 400 for p in posts)
    assert not tiny_api.requests(STREET, method="GET") and not tiny_api.requests(status=414)
    assert sorted(_stored_ids(store, "2024-02")) == list(range(2000, 2010))


def test_dense_area_is_paced_under_the_rate_limit(tmp_path: Path):
    # 64 crimes on a grid, cap 2: dozens of split requests, more than the 30-request burst.
    month = "2024-01"
    grid = [
        crime_object(5000 + 8 * r + c, 51.50 + 0.002 * r, -0.10 + 0.002 * c, month)
        for r in range(8)
        for c in range(8)
    ]
    with FakePoliceApi(crimes={month: grid}, cap=2) as fake:
        store = CrimeStore(tmp_path)
        area = box(-0.1005, 51.4995, -0.0855, 51.5145)
        report = ingest_api(store, "metropolitan", area, None, None, fake.base_url, retry=FAST)
        assert len(fake.requests()) > 40
        assert not fake.requests(status=429) and report.rate_limited == 0
    assert sorted(_stored_ids(store, month)) == list(range(5000, 5064))
    assert report.months[0].depth >= 4


def test_strict_server_answers_429_and_the_ingest_still_completes(tmp_path: Path):
    with FakePoliceApi(crimes=tiny_crimes(), rate=3.0, burst=3, tolerance=0) as fake:
        store = CrimeStore(tmp_path)
        report = ingest_api(
            store, "metropolitan", parse_poly(TINY_POLY), None, None, fake.base_url, retry=FAST
        )
        limited = fake.requests(status=429)
    assert limited and report.rate_limited == len(limited)
    for index, month in enumerate(TINY_MONTHS):
        first = 1000 * (index + 1)
        assert sorted(_stored_ids(store, month)) == list(range(first, first + 10))


def test_transient_failures_are_retried_not_split(tiny_api: FakePoliceApi, tmp_path: Path):
    tiny_api.fail_next(1, 503, retry_after=1, endpoint="crimes-street-dates")
    tiny_api.fail_next(2, 500, endpoint=STREET)
    tiny_api.fail_next(2, 503, retry_after=1, endpoint=STREET)
    tiny_api.fail_next(1, 502, endpoint="crimes-no-location")
    store = CrimeStore(tmp_path)
    patient = RetryPolicy(attempts=6, backoff=0.01)
    report = ingest_api(
        store, "metropolitan", parse_poly(TINY_POLY), None, None, tiny_api.base_url, retry=patient
    )
    assert report.retries == 6
    assert len(tiny_api.requests(status=503)) == 3 and len(tiny_api.requests(status=500)) == 2
    for index, month in enumerate(TINY_MONTHS):
        first = 1000 * (index + 1)
        assert sorted(_stored_ids(store, month)) == list(range(first, first + 10))
        assert report.months[index].splits == 0  # a 503 with Retry-After is an outage, not the cap


def test_area_still_over_the_cap_when_too_small_to_split_is_an_error(tmp_path: Path):
    with FakePoliceApi(crimes=tiny_crimes(), cap=0) as fake:
        tiny = box(-0.1010, 51.4990, -0.0996, 51.5004)  # ~1.4e-3 degrees: one split, then no more
        with pytest.raises(ApiIngestError, match="keeps answering 503"):
            ingest_api(
                CrimeStore(tmp_path),
                "metropolitan",
                tiny,
                "2024-01",
                "2024-01",
                fake.base_url,
                retry=FAST,
            )


def test_no_location_crimes_are_stored_and_counted_per_category(tmp_path: Path):
    month = TINY_MONTHS[0]
    unmapped = [
        no_location_object(8001, month, "violent-crime"),
        no_location_object(8002, month, "violent-crime"),
        no_location_object(8003, month, "drugs"),
        no_location_object(8003, month, "drugs"),  # the same crime twice: stored once
        no_location_object(8004, month, "not-a-category"),
    ]
    with FakePoliceApi(crimes=tiny_crimes(), no_location={month: unmapped}) as fake:
        store = CrimeStore(tmp_path)
        ingest_api(store, "metropolitan", parse_poly(TINY_POLY), month, month, fake.base_url)
    table = store.read_partition("metropolitan", month)
    unlocated = table.filter(pc.is_null(table["latitude"]))
    assert sorted(unlocated["api_id"].to_pylist()) == [8001, 8002, 8003]
    assert unlocated["h3_cell"].null_count == 3 and unlocated["longitude"].null_count == 3
    coverage = store.coverage_of("metropolitan", month)
    assert coverage.no_location == 3 and coverage.stored == 13
    assert coverage.rejected == {"unknown_crime_type": 1}
    (entry,) = [e for e in coverage.provenance if e["kind"] == "api-no-location"]
    assert entry["by_category"] == {"drugs": 1, "violent-crime": 2}
