"""A titled boundary set is named by its title, in sentences that read naturally, on every page a
planner prints: the briefing, the backtest (whole set and one ward, the ward by its name), the
allocation, the compare page and the map layer control. Codes stay in addresses and the JSON's
provenance. On a copy of the quickstart's store (Torbay's 2019 wards, titled "Torbay wards
(2019)") with a titled cluster set and two recorded backtests added."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app as cli
from geo_service.settings import Settings
from tests.live_server import live_client
from tests.quickstart_store import SET, SET_TITLE, TORMOHUN
from tests.store_copy import copy_store

pytestmark = pytest.mark.shared_data

CLUSTERS = "torbay-clusters"
CLUSTERS_TITLE = "Torbay ward clusters"
BACKTEST = {
    "boundaries": SET,
    "to": "2020-09",
    "train_months": 6,
    "test_months": 3,
    "weights": "count",
}


def _run(*args: str) -> None:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def store(quickstart_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("titled") / "data"
    copy_store(quickstart_dir, data_dir)
    mapping = data_dir.parent / "clusters.csv"
    mapping.write_text(
        "ward_code,cluster\nE05012268,Torquay\nE05012266,Torquay\nE05012264,Torquay\n"
        "E05012261,Paignton\nE05012262,Paignton\nE05012263,Paignton\n",
        encoding="utf-8",
    )
    _run("boundaries", "cluster", str(mapping), "--wards", SET, "--name", CLUSTERS,
         "--title", CLUSTERS_TITLE, "--data-dir", str(data_dir))  # fmt: skip
    backtest = ["backtest", "--boundaries", SET, "--to", "2020-09", "--train-months", "6"]
    backtest += ["--test-months", "3", "--res", "9", "--weights", "count", "--quiet"]
    _run(*backtest, "--data-dir", str(data_dir))
    _run(*backtest, "--area", TORMOHUN, "--data-dir", str(data_dir))
    return data_dir


@pytest.fixture(scope="module")
def api(store: Path, no_precompute: None) -> Iterator[httpx.Client]:
    with live_client(Settings(data_dir=store), timeout=300) as client:
        yield client


def _text(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page.text, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_the_briefing_names_the_set_by_its_title(api: httpx.Client) -> None:
    body = api.get(f"/v1/boundaries/{SET}/areas/{TORMOHUN}/briefing").json()
    rank = next(s["text"] for s in body["sentences"] if s["rule"] == "rank")
    assert rank.endswith(f"the highest of the 16 wards in {SET_TITLE}.")
    assert not any(SET in s["text"] for s in body["sentences"])


def test_the_backtest_pages_name_the_set_and_the_ward(api: httpx.Client) -> None:
    whole = _text(api.get("/v1/backtest", params={**BACKTEST, "res": 9, "format": "html"}))
    assert f"Region: hot spots judged against the 16 wards in {SET_TITLE} together" in whole
    ward = _text(
        api.get("/v1/backtest", params={**BACKTEST, "res": 9, "area": TORMOHUN, "format": "html"})
    )
    assert f"Hot spots tested on the months that followed: Tormohun, {SET_TITLE}" in ward
    assert (
        f"hot spots chosen as on the map of Tormohun: judged against the 16 wards in {SET_TITLE}"
        in ward
    )
    assert "(areas E05012268)" not in ward
    assert f"all of {SET}" not in whole + ward


def test_the_allocation_region_says_plainly_how_units_are_shared(api: httpx.Client) -> None:
    page = _text(api.get("/v1/allocate", params={"boundaries": SET, "units": 40, "format": "html"}))
    assert (
        f"Region: units shared across the 16 areas in {SET_TITLE}; shares are worked out from "
        "each area's own crime and harm counts, with no hot spot study" in page
    )
    assert "so no scope" not in page and f"areas of {SET}" not in page


def test_the_compare_page_and_its_layers_use_the_titles(api: httpx.Client) -> None:
    response = api.get("/v1/maps/compare", params={"boundaries": f"{SET},{CLUSTERS}"})
    page = _text(response)
    assert f"Boundary schemes compared: {SET_TITLE}, {CLUSTERS_TITLE}" in page
    assert f"{SET_TITLE} (16 wards)" in page  # the year once: the title says it
    assert f"{CLUSTERS_TITLE} (2 ward clusters, 2019 boundaries)" in page
    assert f"Rank moves: areas of {SET_TITLE}" in page and f"Home area in {CLUSTERS_TITLE}" in page
    visible = re.sub(r'data-set="[^"]*"', "", page)
    assert SET not in visible and CLUSTERS not in visible.replace(CLUSTERS_TITLE, "")
    assert f'"layer":"{SET_TITLE}"' in response.text  # the map's layer names


def test_the_hot_spot_map_layer_control_uses_the_title(api: httpx.Client) -> None:
    page = api.get("/v1/maps/hotspots", params={"boundaries": SET, "area": TORMOHUN, "res": 9})
    assert page.status_code == 200, page.text
    assert f"Wards ({SET})" not in page.text
    assert f'"{SET_TITLE}" : ' in page.text  # the outline layer's entry in the layer control


def test_wards_fetched_from_ons_are_titled_by_the_authority_the_service_names(
    shared_data: Path,
) -> None:
    """The live `make quickstart` (no local data) fetches wards from ONS with no --lookup: the
    ward service's LAD22NM names the authority, so the set is titled all the same."""
    from boundaries.ons_fetch import WARD_SERVICES, fetch_wards
    from tests.fake_ons_arcgis import FakeOnsArcgis

    services = {WARD_SERVICES["2022"]: shared_data / "boundaries" / "wards_2022"}
    with FakeOnsArcgis(services) as ons:
        wards = fetch_wards("E06000027", "e06000027-wards-2022", "2022", ons.base_url)
    assert wards.title == "Torbay wards (2022)"


def test_quickstart_without_a_lookup_titles_the_set_from_the_ward_files_authority_name(
    shared_data: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    _run("quickstart", "--force", "devon-and-cornwall", "--lad", "E06000027", "--months", "1",
         "--archive", str(shared_data / "police_uk" / "archive" / "devon-and-cornwall"),
         "--wards", str(shared_data / "boundaries" / "wards_2022" / "E06000027.geojson"),
         "--weights", "count", "--no-serve", "--data-dir", str(data_dir))  # fmt: skip
    listed = CliRunner().invoke(cli, ["boundaries", "list", "--data-dir", str(data_dir)])
    assert "Torbay wards (2022)" in " ".join(listed.output.split())


def _said(*args: str) -> tuple[str, str]:
    """(stdout, stderr) of a command, each with its lines joined (a table may wrap a title)."""
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return " ".join(result.stdout.split()), " ".join(result.stderr.split())


def test_the_planning_commands_name_the_set_by_its_title_with_its_code(store: Path) -> None:
    """allocate, compare and backtest print a titled set as "Title (code)", as people know it and
    as --boundaries takes it; the JSON keeps codes, for programs."""
    label = f"{SET_TITLE} ({SET})"
    data = ["--data-dir", str(store)]
    out, err = _said("allocate", "--boundaries", SET, "--units", "40", "--quiet", *data)
    assert f"40 units across {label}" in out
    assert f"Region: units shared across all 16 areas of {label};" in err
    out, err = _said("compare", "--boundaries", f"{SET},{CLUSTERS}", "--quiet", *data)
    assert label in out and f"{CLUSTERS_TITLE} ({CLUSTERS})" in out  # the table's scheme column
    assert f"Region: hot cells judged against all of {label}," in err
    backtest = ["backtest", "--boundaries", SET, "--to", "2020-09", "--train-months", "6"]
    backtest += ["--test-months", "3", "--res", "9", "--weights", "count", "--quiet", *data]
    out, err = _said(*backtest)
    assert f"Hotspot backtest (PAI) of {label}" in out
    assert f"Region: hot spots judged against all of {label} and scored on all of it." in err
    assert f"backtests/{SET}.json" in err  # a file's name keeps the code
    out, _ = _said(*backtest, "--format", "json")
    assert json.loads(out)["provenance"]["study_region"]["study_region"] == f"all areas of {SET}"
