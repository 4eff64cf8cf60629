"""``hotspots ingest api`` as a user meets it: the real command, a fake API, one-line errors."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pyarrow.compute as pc
import pytest
from shapely.geometry import LineString, Point
from typer.testing import CliRunner

from cli.main import app
from pipelines.ingest.api_area import parse_poly
from pipelines.store import CrimeStore
from tests.api_fixtures import TINY_POLY, tiny_crimes
from tests.fake_police_api import FakePoliceApi

runner = CliRunner()
QUICK_RETRIES = {"HOTSPOTS_API_ATTEMPTS": "2", "HOTSPOTS_API_BACKOFF": "0.01"}


@pytest.fixture(autouse=True)
def _never_the_real_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that forgets --base-url must fail locally, never reach data.police.uk."""
    monkeypatch.setenv("HOTSPOTS_POLICE_API", f"http://127.0.0.1:{_closed_port()}/api")


@pytest.fixture
def fake() -> Iterator[FakePoliceApi]:
    with FakePoliceApi(crimes=tiny_crimes()) as api:
        yield api


def _ingest(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, ["ingest", "api", *args], env=env)


def _one_line_error(result) -> str:
    assert result.exit_code != 0, result.output
    assert result.stderr.startswith("error:") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr + result.output
    return result.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_poly_ingest_prints_a_summary_and_logs_the_run(fake: FakePoliceApi, tmp_path: Path):
    data_dir = tmp_path / "store"
    result = _ingest(
        "--force",
        "metropolitan",
        "--poly",
        TINY_POLY,
        "--from",
        "2024-02",
        "--data-dir",
        str(data_dir),
        env={"HOTSPOTS_POLICE_API": fake.base_url},
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "2024-02" in result.output and "2024-03" in result.output
    assert "2024-01" not in result.output
    assert "Open Government Licence" in result.output
    store = CrimeStore(data_dir)
    assert [m for _, m in store.partitions()] == ["2024-02", "2024-03"]
    (line,) = (data_dir / "ingest_log.jsonl").read_text().splitlines()
    assert json.loads(line)["months"] == ["2024-02", "2024-03"]


def test_boundary_in_another_crs_and_format_gives_the_same_rows(fake: FakePoliceApi, tmp_path):
    area = gpd.GeoDataFrame({"name": ["tiny"]}, geometry=[parse_poly(TINY_POLY)], crs=4326)
    boundary = tmp_path / "tiny_bng.shp"
    area.to_crs(27700).to_file(boundary)
    data_dir = tmp_path / "store"
    result = _ingest(
        "--force",
        "metropolitan",
        "--boundary",
        str(boundary),
        "--from",
        "2024-01",
        "--to",
        "2024-01",
        "--base-url",
        fake.base_url,
        "--data-dir",
        str(data_dir),
    )
    assert result.exit_code == 0, result.output + result.stderr
    table = CrimeStore(data_dir).read_partition("metropolitan", "2024-01")
    assert sorted(table.filter(pc.is_valid(table["latitude"]))["api_id"].to_pylist()) == list(
        range(1000, 1010)
    )


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    garbage = tmp_path / "garbage.geojson"
    garbage.write_text("this is not GeoJSON {")
    lines = tmp_path / "roads.geojson"
    gpd.GeoDataFrame(geometry=[LineString([(-0.1, 51.5), (-0.09, 51.51)])], crs=4326).to_file(lines)
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=[Point(-0.1, 51.5)], crs=4326).to_file(points)
    return {"garbage": garbage, "lines": lines, "points": points, "missing": tmp_path / "nope.shp"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "exactly one of --boundary"),
        (["--poly", TINY_POLY, "--boundary", "{points}"], "exactly one of --boundary"),
        (["--boundary", "{missing}"], "does not exist"),
        (["--boundary", "{garbage}"], "cannot read boundary file"),
        (["--boundary", "{lines}"], "is not a polygon"),
        (["--boundary", "{points}"], "is not a polygon"),
        (["--poly", "51.5,-0.1:51.6,abc:51.6,-0.2"], "is not two numbers"),
        (["--poly", "51.5,-0.1:51.6,-0.1"], "at least three"),
        (["--poly", "51.5;-0.1"], "is not 'lat,lng'"),
        (["--poly", "151.5,-0.1:51.6,-0.1:51.6,-0.2"], "outside latitude/longitude"),
        (["--poly", TINY_POLY, "--from", "2024-13"], "--from must be a month"),
        (["--poly", TINY_POLY, "--from", "2024-03", "--to", "2024-01"], "is after --to"),
        (["--poly", TINY_POLY, "--base-url", "ftp://example.org"], "must start with http"),
    ],
)
def test_bad_input_is_one_line_error(args, message, bad_files, tmp_path):
    args = [a.format(**bad_files) for a in args]
    result = _ingest("--force", "metropolitan", *args, "--data-dir", str(tmp_path / "store"))
    assert message in _one_line_error(result)
    assert result.exit_code == 2
    assert not (tmp_path / "store" / "crimes").exists()


def test_bad_force_slug_is_refused(tmp_path: Path):
    result = _ingest("--force", "Metropolitan Police", "--poly", TINY_POLY)
    assert "force slug" in _one_line_error(result)


def test_unknown_force_is_reported(fake: FakePoliceApi, tmp_path: Path):
    result = _ingest(
        "--force",
        "atlantis",
        "--poly",
        TINY_POLY,
        "--base-url",
        fake.base_url,
        "--data-dir",
        str(tmp_path),
    )
    assert "does not know force 'atlantis'" in _one_line_error(result)
    assert result.exit_code == 2


def test_month_range_with_nothing_published_is_an_error(fake: FakePoliceApi, tmp_path: Path):
    result = _ingest(
        "--force",
        "metropolitan",
        "--poly",
        TINY_POLY,
        "--from",
        "2025-01",
        "--to",
        "2025-06",
        "--base-url",
        fake.base_url,
        "--data-dir",
        str(tmp_path),
    )
    stderr = _one_line_error(result)
    assert "no month from 2025-01 to 2025-06" in stderr and "2024-01 to 2024-03" in stderr
    assert result.exit_code == 2


def test_unreachable_api_is_a_clear_error(tmp_path: Path):
    url = f"http://127.0.0.1:{_closed_port()}/api"
    result = _ingest(
        "--force",
        "metropolitan",
        "--poly",
        TINY_POLY,
        "--base-url",
        url,
        "--data-dir",
        str(tmp_path),
        env=QUICK_RETRIES,
    )
    stderr = _one_line_error(result)
    assert "cannot connect" in stderr and url in stderr
    assert result.exit_code == 1


@pytest.mark.parametrize("status", [500, 503])
def test_api_that_always_fails_gives_up_with_a_clear_error(
    fake: FakePoliceApi, tmp_path: Path, status: int
):
    fake.always_fail = status
    result = _ingest(
        "--force",
        "metropolitan",
        "--poly",
        TINY_POLY,
        "--base-url",
        fake.base_url,
        "--data-dir",
        str(tmp_path),
        env={**QUICK_RETRIES, "HOTSPOTS_API_ATTEMPTS": "3"},
    )
    stderr = _one_line_error(result)
    assert "failed 3 times" in stderr and f"server error {status}" in stderr
    assert result.exit_code == 1
    assert len(fake.requests(status=status)) == 3
