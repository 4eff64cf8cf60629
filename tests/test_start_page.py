"""The way in by name: one resolver for codes and names, the start page's type-ahead (in
Chromium), the area page's links, and `serve`/`quickstart` on a busy port."""

from __future__ import annotations

import html
import re
import socket
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from boundaries.area_names import AreaDirectory, UnknownAreaError, area_directory
from boundaries.store import BoundaryStore
from cli.main import app as cli
from geo_service.settings import Settings
from tests.browser import offline_context, require_chromium
from tests.live_server import error_message, live_server
from tests.quickstart_store import SET, TORMOHUN, quickstart_args

runner = CliRunner()
WARDS = AreaDirectory(
    "town-wards",
    ("E05000001", "E05000002", "E05000003", "E05000004"),
    ("Tormohun", "St Marychurch", "St Peter's with St Mary's", "Shiphay"),
)


# ------------------------------------------------------------------------ the resolver (pure)


def test_an_area_is_found_by_code_or_exact_name_in_any_case() -> None:
    assert WARDS.resolve("E05000001") == "E05000001"
    assert WARDS.resolve("e05000001") == "E05000001"
    assert WARDS.resolve("Tormohun") == "E05000001"
    assert WARDS.resolve("  TORMOHUN ") == "E05000001"
    assert WARDS.resolve("st peter's with st mary's") == "E05000003"
    assert WARDS.resolve_all(["Shiphay", "E05000004", "tormohun"]) == ("E05000004", "E05000001")


def test_an_unknown_name_lists_the_closest_names() -> None:
    with pytest.raises(UnknownAreaError) as raised:
        WARDS.resolve("Tormohan")
    assert "'Tormohun'" in str(raised.value) and "town-wards" in str(raised.value)
    with pytest.raises(UnknownAreaError) as raised:
        WARDS.resolve("St Mary")  # not an exact name: a prefix is only a suggestion
    assert "'St Marychurch'" in str(raised.value)


def test_a_name_two_areas_share_asks_for_the_code() -> None:
    twins = AreaDirectory("s", ("A1", "A2"), ("Central", "central"))
    with pytest.raises(UnknownAreaError, match=r"give the code instead .*A1, A2"):
        twins.resolve("Central")


def test_nothing_like_the_name_lists_a_small_sets_areas_or_points_to_the_list() -> None:
    with pytest.raises(UnknownAreaError, match=r"its areas are Tormohun \(E05000001\), St"):
        WARDS.resolve("zzzzzz")
    big = AreaDirectory("big", tuple(f"C{i}" for i in range(40)), tuple(f"N{i}" for i in range(40)))
    with pytest.raises(UnknownAreaError, match="GET /v1/boundaries/big/areas lists its 40 areas"):
        big.resolve("zzzzzz")


# ------------------------------------------------------------- the pages, on a real quickstart


@pytest.fixture(scope="module")
def base(quickstart_dir: Path, no_precompute: None) -> str:
    with live_server(Settings(data_dir=quickstart_dir, tiles="none")) as url:
        yield url


def test_the_stored_directory_reads_names_without_geometry(quickstart_dir: Path) -> None:
    directory = area_directory(BoundaryStore(quickstart_dir), SET)
    assert len(directory.codes) == 16
    assert directory.name_of(TORMOHUN) == "Tormohun"


def test_every_route_takes_the_name_too(base: str) -> None:
    by_name = httpx.get(f"{base}/v1/hotspots?boundaries={SET}&area=tormohun&top=3", timeout=120)
    by_code = httpx.get(f"{base}/v1/hotspots?boundaries={SET}&area={TORMOHUN}&top=3", timeout=120)
    assert by_name.status_code == 200, by_name.text
    assert by_name.json()["cells"] == by_code.json()["cells"]
    profile = httpx.get(f"{base}/v1/boundaries/{SET}/areas/Tormohun/profile", timeout=120)
    assert profile.status_code == 200 and profile.json()["area"]["code"] == TORMOHUN
    page = httpx.get(f"{base}/areas/{SET}/TORMOHUN")
    assert page.status_code == 200 and "Tormohun" in page.text
    found = httpx.get(f"{base}/area", params={"boundaries": SET, "area": "tormohun"})
    assert found.status_code == 303
    assert found.headers["location"] == f"/areas/{SET}/{TORMOHUN}"


def test_an_unknown_name_is_a_404_naming_close_matches(base: str) -> None:
    response = httpx.get(f"{base}/v1/hotspots?boundaries={SET}&area=Tormohan", timeout=60)
    message = error_message(response, 404)
    assert "'Tormohan'" in message and "did you mean 'Tormohun'" in message
    response = httpx.get(f"{base}/v1/boundaries/{SET}/areas/Shipay/profile", timeout=60)
    assert "'Shiphay'" in error_message(response, 404)


def test_the_area_page_links_map_profile_briefing_and_downloads(base: str) -> None:
    page = httpx.get(f"{base}/areas/{SET}/{TORMOHUN}")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for link in (
        f"/v1/maps/hotspots?boundaries={SET}&amp;area={TORMOHUN}",
        f"/v1/boundaries/{SET}/areas/{TORMOHUN}/profile.html",
        f"/v1/boundaries/{SET}/areas/{TORMOHUN}/briefing",
        "format=csv",
        "format=geojson",
        'href="/"',  # the breadcrumb back to the start page
    ):
        assert link in page.text


def test_the_start_page_finds_tormohun_by_typing_torm(base: str) -> None:
    playwright = require_chromium()
    errors: list[str] = []
    with offline_context(playwright) as (context, attempted):
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + "/", wait_until="load")
        assert page.locator("#area-results li:visible").count() == 16
        page.fill("#area-search", "torm")
        visible = page.locator("#area-results li:visible")
        assert visible.count() == 1
        assert visible.inner_text().startswith("Tormohun")
        assert "1 matching area" in page.inner_text("#area-count")
        page.press("#area-search", "Enter")  # one match: Enter opens it
        page.wait_for_url(f"**/areas/{SET}/{TORMOHUN}")
        assert page.locator("h1").inner_text().startswith("Tormohun")
        page.fill("#area-search", "") if page.locator("#area-search").count() else None
        page.goto(base + "/", wait_until="load")
        page.fill("#area-search", "e0501226")  # codes are searched too
        assert page.locator("#area-results li:visible").count() == 10
    assert errors == [] and attempted == []  # the script ran under the CSP, nothing fetched


# ---------------------------------------------------------------------------- a busy port


def test_serve_on_a_busy_port_fails_at_once_with_a_clear_line(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = runner.invoke(
            cli, ["serve", "--data-dir", str(tmp_path), "--port", str(port), "--tiles", "none"]
        )
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.output
    assert "--port" in result.output and "Traceback" not in result.output


def test_quickstart_on_a_busy_port_fails_before_loading(shared_data: Path, tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        args = quickstart_args(shared_data, tmp_path / "store", "--port", str(port))
        result = runner.invoke(cli, args)
    assert result.exit_code == 2 and "already in use" in result.output
    assert not (tmp_path / "store" / "crimes").exists()  # nothing was loaded first


def test_quickstart_refuses_a_bad_tiles_template(shared_data: Path, tmp_path: Path) -> None:
    args = quickstart_args(shared_data, tmp_path / "s", "--tiles", "ftp://x/{z}", "--no-serve")
    result = runner.invoke(cli, args)
    assert result.exit_code == 2 and "--tiles must be none, osm or a URL template" in result.output


@pytest.mark.parametrize(("typed", "offered"), [("tormohn", "Tormohun"), ("tor", "Tormohun")])
def test_go_with_no_single_match_gets_the_html_page_linking_close_names(
    base: str, typed: str, offered: str
) -> None:
    """Pressing Go with a typo or a part of a name: not raw JSON but the error page, with the
    close names as links to their area pages and the way back to the start page."""
    response = httpx.get(
        f"{base}/area",
        params={"boundaries": SET, "area": typed},
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert not response.text.lstrip().startswith("{")
    assert f'href="/areas/{SET}/' in response.text and f">{offered} (" in response.text
    assert 'href="/"' in response.text
    # Without the browser's Accept header too (a form posted by a script, curl): still a page.
    plain = httpx.get(f"{base}/area", params={"boundaries": SET, "area": typed})
    assert plain.status_code == 404 and plain.headers["content-type"].startswith("text/html")


def test_the_start_page_links_the_planning_pages_and_each_answers(base: str) -> None:
    """The start page had no way to the planning pages: compare, allocation, backtest and the
    displacement check are linked, and each link opens (a page, not an error)."""
    page = httpx.get(f"{base}/").text
    links = re.findall(r'<ul class="planning-links">(.*?)</ul>', page, flags=re.S)
    assert links, page
    addresses = [html.unescape(a) for a in re.findall(r'href="([^"]+)"', links[0])]
    assert "Compare boundary schemes" in links[0]  # its page, or what it needs (one set here)
    assert any(a.startswith("/v1/allocate?") for a in addresses)
    assert any(a.startswith("/v1/backtest/last?") for a in addresses)
    assert any(a.startswith("/docs#/planning") for a in addresses)
    for address in addresses:
        response = httpx.get(f"{base}{address}", timeout=300)
        assert response.headers["content-type"].startswith("text/html"), address
        if address.startswith("/v1/backtest/last") and response.status_code == 404:
            # No run recorded in this store: the page says how to record one.
            assert "run one with POST /v1/backtest" in response.text
            continue
        assert response.status_code == 200, (address, response.text[:300])
