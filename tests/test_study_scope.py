"""The study scope on real data (Torbay as `make quickstart` stores it): a ward is judged against
its whole boundary set by default, so its map, hot spot list and profile name the same hot
cells; ``scope=areas`` keeps the ward-alone study."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app as cli
from geo_service.settings import Settings
from tests.live_server import live_client
from tests.quickstart_store import SET, SET_TITLE, TORMOHUN

pytestmark = [pytest.mark.shared_data, pytest.mark.usefixtures("no_precompute")]

ELLACOMBE = "E05012259"  # too few cells at resolution 9 to be a study region alone


@pytest.fixture(scope="module")
def api(quickstart_dir: Path, no_precompute: None) -> Iterator[httpx.Client]:
    with live_client(Settings(data_dir=quickstart_dir)) as client:
        yield client


def _hot_cells(api: httpx.Client, area: str, **extra: str) -> tuple[set[str], dict]:
    params = {"boundaries": SET, "area": area, "top": "10", **extra}
    response = api.get("/v1/hotspots", params=params, timeout=300)
    assert response.status_code == 200, response.text
    body = response.json()
    return {cell["h3"] for cell in body["cells"]}, body["provenance"]


def test_ward_list_map_and_profile_name_the_same_hot_cells(api: httpx.Client) -> None:
    profile = api.get(f"/v1/boundaries/{SET}/areas/{TORMOHUN}/profile", timeout=300).json()
    hot = profile["hotspots"]
    profiled = [item["h3"] for item in hot["items"]]
    assert profiled, "Tormohun, the busiest ward, has hot spots against its town"
    same = {"weights": hot["weights"], "from": hot["first"], "to": hot["last"]}
    params = {"boundaries": SET, "area": TORMOHUN, "top": "10", **same}
    response = api.get("/v1/hotspots", params=params, timeout=300)
    assert response.status_code == 200, response.text
    body = response.json()
    listed = [cell["h3"] for cell in body["cells"]]
    assert listed[: len(profiled)] == profiled  # the profile's hot spots head the ward's list
    page = api.get(
        "/v1/maps/hotspots", params={"boundaries": SET, "area": TORMOHUN, **same}, timeout=300
    )
    assert page.status_code == 200, page.text
    assert f"hot spots judged against all of {SET_TITLE}; showing Tormohun" in page.text
    assert all(cell in page.text for cell in profiled)
    provenance = body["provenance"]
    region = provenance["study_region"]
    assert region["scope"] == "set" and region["boundary_set"] == SET
    assert region["areas"] == "all areas of the set"
    assert provenance["shown_areas"] == [TORMOHUN]
    assert len(provenance["region"]["areas"]) == 16
    assert region["cells"] > 10 * provenance["shown_cells"] > 0


def test_scope_areas_is_the_ward_alone(api: httpx.Client) -> None:
    alone, provenance = _hot_cells(api, TORMOHUN, scope="areas")
    judged, _ = _hot_cells(api, TORMOHUN)
    assert alone != judged and len(alone) < len(judged)
    assert provenance["study_region"]["scope"] == "areas"
    assert provenance["study_region"]["areas"] == [TORMOHUN]
    assert provenance["study_region"]["cells"] == provenance["shown_cells"]
    assert provenance["region"]["areas"] == [TORMOHUN]


def test_a_ward_refused_alone_answers_against_its_set(api: httpx.Client) -> None:
    alone = api.get(
        "/v1/maps/hotspots",
        params={"boundaries": SET, "area": ELLACOMBE, "scope": "areas"},
        timeout=300,
    )
    assert alone.status_code == 422 and "cells" in alone.text
    page = api.get("/v1/maps/hotspots", params={"boundaries": SET, "area": ELLACOMBE})
    assert page.status_code == 200, page.text
    cells = api.get(
        "/v1/hotspots", params={"boundaries": SET, "area": ELLACOMBE}, timeout=300
    ).json()
    assert cells["cells"] and {c["area_code"] for c in cells["cells"]} == {ELLACOMBE}
    places = api.get(
        "/v1/high-count-places", params={"boundaries": SET, "area": ELLACOMBE}, timeout=300
    )
    assert places.status_code == 200, places.text
    assert {p["area_code"] for p in places.json()["places"]} <= {ELLACOMBE}


def test_a_bad_scope_says_what_to_use(api: httpx.Client) -> None:
    response = api.get("/v1/hotspots", params={"boundaries": SET, "scope": "ward"})
    assert response.status_code == 422 and "set" in response.text and "areas" in response.text


def test_cli_scope(quickstart_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()

    def analyse(*extra: str) -> dict:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}.json"
        args = ["analyse", "--boundaries", SET, "--area", TORMOHUN, "--top", "10", "-o", str(out)]
        result = runner.invoke(cli, [*args, "--data-dir", str(quickstart_dir), *extra])
        assert result.exit_code == 0, result.output
        return json.loads(out.read_text())

    judged, alone = analyse(), analyse("--scope", "areas")
    assert judged["provenance"]["study_region"]["scope"] == "set"
    assert alone["provenance"]["study_region"]["scope"] == "areas"
    assert len(judged["cells"]) > len(alone["cells"])
    assert {c["area_code"] for c in judged["cells"]} == {TORMOHUN}
    bad = runner.invoke(
        cli,
        [
            "analyse",
            "--boundaries",
            SET,
            "-o",
            str(tmp_path / "x.json"),
            "--scope",
            "ward",
            "--data-dir",
            str(quickstart_dir),
        ],
    )
    assert bad.exit_code != 0 and "scope must be one of set, areas" in bad.output


def test_a_page_cursor_is_bound_to_the_scope(api: httpx.Client) -> None:
    params = {"boundaries": SET, "area": TORMOHUN, "limit": "5"}
    first = api.get("/v1/hotspots", params=params, timeout=300).json()
    cursor = first["page"]["next_cursor"]
    assert cursor and len(first["cells"]) == 5
    following = api.get("/v1/hotspots", params={**params, "cursor": cursor}, timeout=300)
    assert following.status_code == 200
    assert {c["h3"] for c in following.json()["cells"]}.isdisjoint(c["h3"] for c in first["cells"])
    elsewhere = {**params, "cursor": cursor, "scope": "areas"}
    refused = api.get("/v1/hotspots", params=elsewhere, timeout=300)
    assert refused.status_code == 422, refused.text


def _said(output: str) -> str:
    return " ".join(output.split())  # the console wraps long lines


def test_cli_summary_names_the_study_region_and_the_ward_shown(
    quickstart_dir: Path, tmp_path: Path
) -> None:
    """Judged against its set, the ward's summary gives the set's cells and crimes as the study
    region and the ward's own cells and crimes as what is shown, never the set's count as the
    ward's."""
    out = tmp_path / "tormohun.json"
    args = ["analyse", "--boundaries", SET, "--area", TORMOHUN, "-o", str(out)]
    result = CliRunner().invoke(cli, [*args, "--data-dir", str(quickstart_dir)])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    provenance, cells = written["provenance"], written["cells"]
    studied_cells, set_crimes = (
        provenance["study_region"]["cells"],
        provenance["crimes"]["in_region"],
    )
    ward_crimes = sum(cell["count"] for cell in cells)
    hot = sum(cell["hotspot"] for cell in cells)
    assert 0 < ward_crimes < set_crimes and 0 < len(cells) < studied_cells
    said = _said(result.output)
    # The set named as allocate, compare and backtest name it: "Title (code)" (was its code).
    label = f"{SET_TITLE} ({SET})"
    assert f"Study region: all of {label} ({studied_cells:,} cells and {set_crimes:,} crimes)" in (
        said
    )
    assert (
        f"Shown: Tormohun ({len(cells):,} cells and {ward_crimes:,} crimes in its map cells)"
        in said
    )
    assert f"{hot} hot spot cells (adjusted p <= 0.05, fdr_bh) in Tormohun" in said
    assert "in the region" not in said


def test_cli_summary_of_a_ward_studied_alone(quickstart_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "alone.json"
    args = ["analyse", "--boundaries", SET, "--area", TORMOHUN, "--scope", "areas"]
    result = CliRunner().invoke(cli, [*args, "-o", str(out), "--data-dir", str(quickstart_dir)])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    crimes = written["provenance"]["crimes"]["in_region"]
    assert crimes == sum(cell["count"] for cell in written["cells"])
    said = _said(result.output)
    cells = len(written["cells"])
    assert (
        f"Study region: Tormohun of {SET_TITLE} ({SET}), studied alone ({cells:,} cells and "
        f"{crimes:,} crimes)" in said
    )
    # Answered from the study cache (the set's title read once, then remembered): the same.
    again = CliRunner().invoke(
        cli, [*args, "-o", str(out), "--overwrite", "--data-dir", str(quickstart_dir)]
    )
    assert again.exit_code == 0 and "Answered from the study cache" in again.output
    assert f"Tormohun of {SET_TITLE} ({SET}), studied alone" in _said(again.output)


def test_a_region_too_small_names_the_statistic_asked_for(quickstart_dir: Path) -> None:
    """Local Moran's I asked for, a ward alone too small for it: the refusal used to say
    "Gi* needs at least 30" whatever the method."""
    args = ["--boundaries", SET, "--area", ELLACOMBE, "--scope", "areas", "--no-adjust"]
    for method, named in (("lisa", "Local Moran's I"), ("gistar", "Gi*")):
        params = {"boundaries": SET, "area": ELLACOMBE, "scope": "areas", "method": method}
        with live_client(Settings(data_dir=quickstart_dir)) as api:
            refused = api.get("/v1/hotspots", params=params, timeout=300)
        assert refused.status_code == 422, refused.text
        result = CliRunner().invoke(
            cli,
            [
                "analyse",
                *args,
                "--method",
                method,
                "-o",
                str(quickstart_dir / "never-written.json"),
                "--data-dir",
                str(quickstart_dir),
            ],
        )
        assert result.exit_code == 2, result.output
        for message in (refused.json()["error"], _said(result.stderr)):
            assert f"{named} needs at least 30" in message, message
            if method == "lisa":
                assert "Gi*" not in message
