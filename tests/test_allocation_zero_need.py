"""Harm weights that give every crime of the window zero harm leave no need to share units by:
allocation is refused (422 over HTTP, one line on the command line) naming the weights, the
window and what to use instead, rather than giving the units to the first areas by code."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from boundaries.population import PopulationEstimate, with_population
from boundaries.sets import load_boundary_file
from boundaries.store import BoundaryStore
from cli.main import app as cli
from geo_service.settings import Settings
from pipelines.ingest.archive import ingest_archive
from pipelines.store import CrimeStore
from tests.archive_fixtures import ArchiveBuilder, crime_line
from tests.live_server import error_message, live_client
from tests.service_town import FORCE, WARDS, X0, Y0, build_town, square_feature, ward_polygons

pytestmark = pytest.mark.usefixtures("no_precompute")


@pytest.fixture(scope="module")
def asb_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The town's two wards holding only anti-social behaviour, which home-office-2018 (the
    default weights) does not cost: weight 0."""
    root = tmp_path_factory.mktemp("asb-only")
    data_dir = root / "store"
    archive = ArchiveBuilder(root / "archive")
    for month in ("2019-01", "2019-02"):
        lines = [
            crime_line(
                month,
                crime_id=f"{month}-{i}",
                category="Anti-social behaviour",
                longitude=f"{X0 + 0.005 + 0.01 * i:.6f}",
                latitude=f"{Y0 + 0.01:.6f}",
            )
            for i in range(4)  # two in each ward
        ]
        archive.write(FORCE, month, lines)
    ingest_archive(CrimeStore(data_dir), archive.root)
    frame = gpd.GeoDataFrame(
        {"WD19CD": ["E05000001", "E05000002"], "WD19NM": ["West Ward", "East Ward"]},
        geometry=ward_polygons(),
        crs="EPSG:4326",
    )
    path = root / "wards.geojson"
    frame.to_file(path, engine="pyogrio")
    BoundaryStore(data_dir).save(load_boundary_file(path, WARDS, "ward", vintage="2019"))
    return data_dir


@pytest.fixture(scope="module")
def api(asb_only: Path) -> Iterator[httpx.Client]:
    with live_client(Settings(data_dir=asb_only)) as client:
        yield client


def test_http_refuses_weights_giving_no_need(api: httpx.Client) -> None:
    params = {"boundaries": WARDS, "units": 5}
    for path in ("/v1/allocate", "/v1/allocate/provenance"):
        message = error_message(api.get(path, params=params), 422)
        assert "the weights home-office-2018 give every crime of 2019-01..2019-02" in message
        assert f"in {WARDS} zero harm" in message
        assert "(weights=count)" in message and "measure=count" in message
    # The same crimes counted are need: the units follow them, two areas of two crimes each.
    counted = api.get("/v1/allocate", params={**params, "measure": "count", "units": 4})
    assert counted.status_code == 200, counted.text
    assert [row["units"] for row in counted.json()["rows"]] == [2, 2]


def test_command_line_refuses_weights_giving_no_need(asb_only: Path) -> None:
    args = ["allocate", "--boundaries", WARDS, "--units", "5", "--data-dir", str(asb_only)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "the weights home-office-2018 give every crime of 2019-01..2019-02" in lines[0]
    assert "(--weights count)" in lines[0] and "--measure count" in lines[0]


def test_command_line_refuses_an_all_zero_table(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    zero = tmp_path / "zero.yaml"
    zero.write_text("name: zero\nversion: '1'\ndefault: 0\nweights:\n  burglary: 0\n")
    args = ["allocate", "--boundaries", WARDS, "--units", "5", "--weights", str(zero)]
    result = CliRunner().invoke(cli, [*args, "--data-dir", str(data_dir)])
    assert result.exit_code == 2, result.output
    assert "the weights zero give every crime of 2019-01..2019-12" in result.stderr
    assert "Traceback" not in result.output


# -- no crimes in the window, no residents for a rate: said, not shared evenly or by code ---------

FAR = "far-away"  # two squares a degree east of the town: no stored crime falls in them
NO_RESIDENTS = "town-wards-no-residents"  # the town's wards, population attached but all unknown


@pytest.fixture(scope="module")
def town_with_empty_sets(town_dir: Path) -> Path:
    features = [
        square_feature("F1", "Far One", X0 + 1.0, Y0),
        square_feature("F2", "Far Two", X0 + 1.01, Y0),
    ]
    path = town_dir.parent / "far.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    boundary_store = BoundaryStore(town_dir)
    boundary_store.save(load_boundary_file(path, FAR, "custom", vintage="2024"))
    wards = boundary_store.read(WARDS)
    # A population table of other places: every ward's population is unknown (NaN).
    unknown = PopulationEstimate(pd.Series(dtype=float), "lookup", [])
    renamed = dataclasses.replace(with_population(wards, unknown, "other.csv"), name=NO_RESIDENTS)
    boundary_store.save(renamed)
    return town_dir


@pytest.mark.parametrize(
    ("params", "said"),
    [
        (
            {"boundaries": FAR},
            f"there are no crimes in the areas of {FAR} in 2019-01..2019-12, so no area has any "
            "need to share the units by; choose months the store holds crimes for",
        ),
        ({"boundaries": FAR, "measure": "count"}, f"there are no crimes in the areas of {FAR}"),
        (
            {"boundaries": NO_RESIDENTS, "measure": "rate"},
            f"no area of {NO_RESIDENTS} has residents recorded, so there is no rate per 1,000 "
            "residents to share the units by",
        ),
    ],
)
def test_allocation_with_no_need_says_why_over_http_and_the_command_line(
    town_with_empty_sets: Path, params: dict, said: str
) -> None:
    """It used to answer 200 (exit 0) sharing the units evenly or by area code, saying nothing."""
    query = {**params, "units": 5}
    with live_client(Settings(data_dir=town_with_empty_sets)) as client:
        for path in ("/v1/allocate", "/v1/allocate/provenance"):
            assert said in error_message(client.get(path, params=query), 422)
    args = ["allocate", "--units", "5", "--data-dir", str(town_with_empty_sets)]
    for name, value in params.items():
        args += [f"--{name}", value]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert said in lines[0]
