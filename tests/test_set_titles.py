"""A boundary set is named for people by its title ("Torbay wards (2019)"), given at load
(`hotspots boundaries load ... --title`) or by quickstart from the authority's name; pages, map
titles, profile headings and the start page use it, while URLs and provenance keep the code. A set
without a title is named by its code, as before."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from boundaries.set_titles import authority_name_in_frame, authority_name_in_lookup
from cli.main import app as cli
from geo_service.dependencies import hash_key
from geo_service.settings import Settings
from tests.live_server import live_client
from tests.quickstart_store import SET, SET_TITLE, TORMOHUN

pytestmark = [pytest.mark.shared_data, pytest.mark.usefixtures("no_precompute")]

TITLED = "torbay-titled"
PLAIN = "torbay-plain"
KEY = "titles-test-key"


def _load(shared_data: Path, data_dir: Path, name: str, *extra: str) -> CliRunner:
    wards = shared_data / "boundaries" / "wards_2019" / "E06000027.geojson"
    args = ["boundaries", "load", str(wards), "--name", name, "--scheme", "ward"]
    return CliRunner().invoke(
        cli, [*args, "--vintage", "2019", *extra, "--data-dir", str(data_dir)]
    )


@pytest.fixture(scope="module")
def sets_only(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("titles")
    titled = _load(shared_data, data_dir, TITLED, "--title", "  Torbay   wards (2019) ")
    assert titled.exit_code == 0, titled.output
    assert "Stored torbay-titled (Torbay wards (2019))" in " ".join(titled.output.split())
    plain = _load(shared_data, data_dir, PLAIN)
    assert plain.exit_code == 0, plain.output
    (data_dir / "api_keys.txt").write_text(f"{hash_key(KEY)} test\n", encoding="utf-8")
    return data_dir


@pytest.fixture(scope="module")
def api(sets_only: Path, no_precompute: None) -> Iterator[httpx.Client]:
    with live_client(Settings(data_dir=sets_only)) as client:
        yield client


def test_the_title_is_stored_with_the_set(sets_only: Path) -> None:
    listed = CliRunner().invoke(
        cli, ["boundaries", "list", "--format", "json", "--data-dir", str(sets_only)]
    )
    assert listed.exit_code == 0, listed.output
    titles = {item["name"]: item["title"] for item in json.loads(listed.output)}
    assert titles == {TITLED: "Torbay wards (2019)", PLAIN: ""}  # spaces tidied, none = ""


@pytest.mark.parametrize("bad", ["", "   ", "Torbay\nwards", "x" * 121])
def test_a_bad_title_is_one_clear_error(shared_data: Path, tmp_path: Path, bad: str) -> None:
    result = _load(shared_data, tmp_path, "torbay-bad", "--title", bad)
    assert result.exit_code != 0
    assert "title must be one line of 1 to 120 printable characters" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "boundaries").exists()


def test_the_start_and_area_pages_name_the_set_by_its_title(api: httpx.Client) -> None:
    start = html.unescape(api.get("/", params={"boundaries": TITLED}).text)
    assert f"Torbay wards (2019) – 16 wards [{TITLED}]" in start  # title, code beside it
    assert "16 wards (2019)" not in start  # the title says the year: not said twice
    assert f"{PLAIN} – 16 wards (2019 boundaries)" in start  # no title: the code, as before
    assert '<span id="chosen-set">Torbay wards (2019)</span>' in start
    assert "Map of every area of Torbay wards (2019)" in start
    # The planning notes name sets by title (or code), the addresses by code.
    assert f"(Torbay wards (2019) beside {PLAIN})" in start
    assert f"/v1/maps/compare?boundaries={TITLED},{PLAIN}" in start
    area = api.get(f"/areas/{TITLED}/{TORMOHUN}")
    assert area.status_code == 200, area.text
    page = html.unescape(area.text)
    assert "<title>Tormohun (E05012268), Torbay wards (2019) – crime hot spots</title>" in page
    assert "One of the 16 wards in Torbay wards (2019)." in page  # the year once
    assert "(2019 boundaries)" not in page
    assert f"/v1/maps/hotspots?boundaries={TITLED}" in page  # the address keeps the code
    plain = html.unescape(api.get(f"/areas/{PLAIN}/{TORMOHUN}").text)
    assert f"Tormohun (E05012268), {PLAIN} – crime hot spots" in plain


def test_quickstart_titles_its_set_and_maps_and_profiles_use_it(quickstart_dir: Path) -> None:
    with live_client(Settings(data_dir=quickstart_dir)) as client:
        described = client.get(f"/v1/boundaries/{SET}/areas").json()["set"]
        profile = client.get(f"/v1/boundaries/{SET}/areas/{TORMOHUN}/profile.html", timeout=300)
        assert profile.status_code == 200, profile.text
        page = html.unescape(profile.text)
        hotspots = client.get(
            "/v1/hotspots", params={"boundaries": SET, "area": TORMOHUN, "top": 3}, timeout=300
        ).json()
        area_map = client.get("/v1/maps/hotspots", params={"boundaries": SET}, timeout=300)
    assert described.get("title") == SET_TITLE
    assert f"<title>Tormohun (E05012268), {SET_TITLE} – crime profile" in page
    assert f"(E05012268), {SET_TITLE}</span></h1>" in page
    assert f"Boundary set {SET_TITLE} ({SET}, ward)." in page  # the title says the year
    assert hotspots["provenance"]["region"]["boundary_set"] == SET  # provenance keeps the code
    assert f"Hot spots of crime in the 16 wards in {SET_TITLE}" in area_map.text


def test_the_authority_name_comes_from_the_lookup_or_the_ward_file(shared_data: Path) -> None:
    lookup = shared_data / "lookups" / "ons_LSOA11_to_WD19_LAD19_EW.csv"
    assert authority_name_in_lookup(lookup, "E06000027") == "Torbay"
    assert authority_name_in_lookup(lookup, "E06999999") is None
    frame = pd.DataFrame(
        {
            "LAD19CD": ["E06000027", "E06000027"],
            "LAD19NM": ["Torbay", "Torbay"],
            "LAD22CD": ["E06000027", "E06000027"],
            "LAD22NM": ["Torbay (new)", None],
        }
    )
    assert authority_name_in_frame(frame, "e06000027") == "Torbay (new)"  # the newest vintage
    assert authority_name_in_frame(frame[["LAD19CD"]], "E06000027") is None  # codes only


def test_a_set_added_over_http_takes_a_title(api: httpx.Client) -> None:
    square = [[-3.53, 50.46], [-3.52, 50.46], [-3.52, 50.47], [-3.53, 50.47], [-3.53, 50.46]]
    feature = {
        "type": "Feature",
        "properties": {"code": "PT1", "name": "Paignton centre"},
        "geometry": {"type": "Polygon", "coordinates": [square]},
    }
    body = {"name": "paignton-centre", "scheme": "custom", "title": "Paignton town centre"}
    headers = {"X-API-Key": KEY}
    bad = api.post(
        "/v1/boundaries", json={**body, "title": "a\nb", "geojson": feature}, headers=headers
    )
    assert bad.status_code == 422 and "title must be one line" in bad.text
    created = api.post("/v1/boundaries", json={**body, "geojson": feature}, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["title"] == "Paignton town centre"
    listed = {s["name"]: s["title"] for s in api.get("/v1/boundaries").json()["sets"]}
    assert listed["paignton-centre"] == "Paignton town centre"
    assert listed[PLAIN] == PLAIN  # no title: the name


def test_clusters_and_custom_areas_take_a_title_on_the_command_line(
    sets_only: Path, tmp_path: Path
) -> None:
    from boundaries.store import BoundaryStore

    codes = BoundaryStore(sets_only).read(TITLED).codes
    mapping = tmp_path / "clusters.csv"
    rows = [f"{code},{'North' if i % 2 else 'South'}" for i, code in enumerate(codes)]
    mapping.write_text("ward_code,cluster\n" + "\n".join(rows) + "\n", encoding="utf-8")
    args = ["boundaries", "cluster", str(mapping), "--wards", TITLED, "--name", "torbay-two"]
    done = CliRunner().invoke(
        cli, [*args, "--title", "Torbay in two", "--data-dir", str(sets_only)]
    )
    assert done.exit_code == 0, done.output
    assert BoundaryStore(sets_only).display_name("torbay-two") == "Torbay in two"
    area = {
        "type": "Feature",
        "properties": {"code": "C1", "name": "Harbour"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[-3.53, 50.46], [-3.52, 50.46], [-3.52, 50.47], [-3.53, 50.46]]],
        },
    }
    drawn = tmp_path / "harbour.geojson"
    drawn.write_text(json.dumps(area), encoding="utf-8")
    bad = CliRunner().invoke(
        cli,
        ["boundaries", "custom", str(drawn), "--name", "harbour", "--title", "\t",
         "--data-dir", str(sets_only)],
    )  # fmt: skip
    assert bad.exit_code == 2 and "title must be one line" in bad.output
    assert not BoundaryStore(sets_only).exists("harbour")
