"""A ward's backtest means what its map means: under the default scope the ward's hot spots are
judged against the whole boundary set and scored on the ward; ``scope=areas`` backtests the ward
studied alone. Real Torbay crimes (2019 trained, January-March 2020 scored) through a real server
and the command line; the map of each scope links to the backtest of its own hot spots."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app as cli
from geo_service.dependencies import hash_key
from geo_service.settings import Settings
from tests.live_server import live_client
from tests.torbay import TORBAY_WARDS, torbay_store

pytestmark = [pytest.mark.shared_data, pytest.mark.usefixtures("no_precompute")]

TORMOHUN = "E05012268"
KEY = "scope-test-key"
ASK = {"boundaries": TORBAY_WARDS, "area": TORMOHUN, "to": "2019-12", "res": "9"}
ASK_ONE = {**ASK, "weights": "count"}


@pytest.fixture(scope="module")
def torbay(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store, _ = torbay_store(shared_data, tmp_path_factory.mktemp("torbay"), "2019-01", "2020-03")
    (store.root / "api_keys.txt").write_text(f"{hash_key(KEY)} test\n", encoding="utf-8")
    return store.root


@pytest.fixture(scope="module")
def api(torbay: Path, no_precompute: None) -> Iterator[httpx.Client]:
    with live_client(Settings(data_dir=torbay), timeout=300) as client:
        yield client


@pytest.fixture(scope="module")
def runs(api: httpx.Client) -> dict[str, dict]:
    """Tormohun's count backtest at resolution 9, recorded once per scope."""
    answers = {}
    for scope in ("set", "areas"):
        params = {**ASK_ONE, **({"scope": scope} if scope == "areas" else {})}
        response = api.post("/v1/backtest", params=params, headers={"X-API-Key": KEY})
        assert response.status_code == 200, response.text
        answers[scope] = response.json()
    return answers


def _analysed(data_dir: Path, tmp_path: Path, first: str, last: str, *extra: str) -> dict:
    """Tormohun's cells as `hotspots analyse` writes them for the window."""
    out = tmp_path / f"{first}-{last}{'-'.join(extra)}.json"
    args = ["analyse", "--boundaries", TORBAY_WARDS, "--area", TORMOHUN, "--res", "9"]
    window = ["--from", first, "--to", last, "--no-adjust", "-o", str(out)]
    result = CliRunner().invoke(cli, [*args, *window, *extra, "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def test_a_ward_backtest_scores_the_hot_spots_its_map_shows(
    torbay: Path, runs: dict[str, dict], tmp_path: Path
) -> None:
    judged, alone = runs["set"], runs["areas"]
    trained = _analysed(torbay, tmp_path, "2019-01", "2019-12")
    scored = _analysed(torbay, tmp_path, "2020-01", "2020-03")
    row = judged["rows"][0]
    # The hot spots of Tormohun's default map (judged against all of Torbay), scored on the
    # crimes of Tormohun's own cells in the months after.
    assert row["hotspot_cells"] == sum(cell["hotspot"] for cell in trained["cells"]) > 0
    assert row["region_cells"] == len(trained["cells"])
    assert row["test_crimes"] == sum(cell["count"] for cell in scored["cells"]) > 0
    provenance = judged["provenance"]
    assert provenance["scope"] == "set" and provenance["areas"] == [TORMOHUN]
    assert provenance["study_region"]["study_region"] == f"all areas of {TORBAY_WARDS}"
    assert provenance["study_region"]["scored_areas"] == [TORMOHUN]
    assert f"judged against all of {TORBAY_WARDS}" in provenance["study_region"]["meaning"]

    # scope=areas: the ward studied alone, as its scope=areas map shows it.
    ward_alone = _analysed(torbay, tmp_path, "2019-01", "2019-12", "--scope", "areas")
    lone_row = alone["rows"][0]
    assert lone_row["hotspot_cells"] == sum(cell["hotspot"] for cell in ward_alone["cells"])
    assert lone_row["hotspot_cells"] != row["hotspot_cells"]
    assert alone["provenance"]["scope"] == "areas"
    assert alone["provenance"]["study_region"]["study_region"] == [TORMOHUN]


def test_each_scope_reports_its_own_backtest(api: httpx.Client, runs: dict[str, dict]) -> None:
    for scope, run in runs.items():
        params = {"boundaries": TORBAY_WARDS, "area": TORMOHUN, "res": 9, "scope": scope}
        provenance = api.get("/v1/hotspots/provenance", params=params).json()
        assert provenance["backtest"] is not None, provenance.get("backtest_hint")
        assert provenance["backtest"]["pai"] == run["rows"][0]["pai"]
        assert provenance["backtest"]["hotspot_cells"] == run["rows"][0]["hotspot_cells"]


def _links(page: str) -> dict[str, str]:
    found = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', page)
    return {html.unescape(text): html.unescape(href) for href, text in found}


def test_a_ward_map_links_carry_its_scope(api: httpx.Client, runs: dict[str, dict]) -> None:
    for scope in ("set", "areas"):
        params = {"boundaries": TORBAY_WARDS, "area": TORMOHUN, "res": 9, "scope": scope}
        page = api.get("/v1/maps/hotspots", params=params)
        assert page.status_code == 200, page.text
        links = _links(page.text)
        assert ("scope=areas" in links["Top 10 list (CSV)"]) == (scope == "areas")
        backtest = links["Backtest"]
        assert f"scope={scope}" in backtest
        shown = api.get(backtest)
        assert shown.status_code == 200, shown.text
        # The page says the run's scope in words, the ward by its name.
        region = re.search(r'id="study-region">([^<]*)<', html.unescape(shown.text)).group(1)
        said = {
            "areas": "hot spots judged against Tormohun alone",
            "set": "hot spots chosen as on the map of Tormohun: judged against",
        }
        assert region.startswith(said[scope])


def test_cli_backtest_takes_the_scope(torbay: Path, runs: dict[str, dict]) -> None:
    args = ["backtest", "--boundaries", TORBAY_WARDS, "--area", TORMOHUN, "--to", "2019-12"]
    options = ["--res", "9", "--weights", "count", "--format", "json", "--quiet"]
    for scope in ("set", "areas"):
        result = CliRunner().invoke(
            cli, [*args, *options, "--scope", scope, "--data-dir", str(torbay)]
        )
        assert result.exit_code == 0, result.output
        body = json.loads(result.stdout)
        assert body["provenance"]["settings"]["scope"] == scope
        assert body["provenance"]["study_region"]["scope"] == scope
        assert body["rows"][0]["pai"] == pytest.approx(runs[scope]["rows"][0]["pai"], abs=1e-9)
    bad = CliRunner().invoke(cli, [*args, *options, "--scope", "ward", "--data-dir", str(torbay)])
    assert bad.exit_code != 0 and "scope must be one of set, areas" in bad.output


def test_map_links_keep_the_page_settings(api: httpx.Client) -> None:
    params = {
        "boundaries": TORBAY_WARDS,
        "area": TORMOHUN,
        "from": "2019-01",
        "to": "2019-06",
        "res": 8,
        "categories": "burglary",
    }
    page = api.get("/v1/maps/hotspots", params=params)
    assert page.status_code == 200, page.text
    links = _links(page.text)
    for name in ("Top 10 list (CSV)", "Whole set"):
        query = parse_qs(urlsplit(links[name]).query)
        asked = {key: query.get(key) for key in ("from", "to", "res", "categories", "method")}
        assert asked == {
            "from": ["2019-01"],
            "to": ["2019-06"],
            "res": ["8"],
            "categories": ["burglary"],
            "method": ["gistar"],
        }, name
        followed = api.get(links[name])
        assert followed.status_code == 200, followed.text
    whole = html.unescape(api.get(links["Whole set"]).text)
    assert "Jan 2019 to Jun 2019" in whole
    # The profile takes the window's last month and the weights (not resolution or categories).
    profile = parse_qs(urlsplit(links["Area profile"]).query)
    assert profile == {"weights": ["count"], "to": ["2019-06"]}
    followed = api.get(links["Area profile"])
    assert followed.status_code == 200, followed.text


def test_a_ward_studied_alone_says_so_in_its_title(api: httpx.Client) -> None:
    params = {"boundaries": TORBAY_WARDS, "area": TORMOHUN, "res": 9}
    alone = html.unescape(api.get("/v1/maps/hotspots", params={**params, "scope": "areas"}).text)
    judged = html.unescape(api.get("/v1/maps/hotspots", params=params).text)
    assert "studied alone, not judged against the whole set" in alone
    assert "studied alone" not in judged and "judged against all of" in judged


def test_the_profile_links_to_the_map_of_the_hot_spots_it_lists(api: httpx.Client) -> None:
    profile_path = f"/v1/boundaries/{TORBAY_WARDS}/areas/{TORMOHUN}/profile"
    listed = api.get(profile_path).json()["hotspots"]
    assert listed["available"] and listed["items"], listed
    link = _links(api.get(profile_path + ".html").text)["Hot spot map"]
    query = parse_qs(urlsplit(link).query)
    assert query["weights"] == [listed["weights"]] and listed["weights"] != "count"
    assert query["res"] == [str(listed["resolution"])]
    assert (query["from"], query["to"]) == ([listed["first"]], [listed["last"]])
    shown = api.get(link)
    assert shown.status_code == 200, shown.text
    for item in listed["items"]:  # every hot spot the profile lists is a cell of that map
        assert item["h3"] in shown.text


def test_a_backtest_with_no_hot_spots_marks_no_best(
    api: httpx.Client, runs: dict[str, dict]
) -> None:
    # Tormohun studied alone at resolution 9 has no hot spot in 2019 (its count row: 0 cells).
    assert [row["hotspot_cells"] for row in runs["areas"]["rows"]] == [0]
    pages = {}
    for scope in ("set", "areas"):
        params = {**ASK_ONE, "scope": scope, "format": "html"}
        page = api.get("/v1/backtest", params=params)
        assert page.status_code == 200, page.text
        pages[scope] = html.unescape(page.text)
    alone = pages["areas"]
    assert "(best)" not in alone and 'class="best"' not in alone
    assert "there were no hot spots to test" in alone
    assert re.search(r'<td class="pai">\s*no hot spots</td>', alone)
    assert "(best)" in pages["set"] and "no hot spots to test" not in pages["set"]
