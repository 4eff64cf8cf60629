"""Maps a locality manager can read, in Chromium on a real quickstart store: basemap tiles (from
a local tile server: no internet), a title saying what, where and when, ward names, legends in
plain words with the settings one click away; and the words those are made of."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from geo_service.maps.map_text import (
    backtest_words,
    elsewhere_words,
    force_words,
    gi_class_words,
    map_title,
    place_words,
)
from geo_service.settings import Settings
from tests.browser import offline_context, require_chromium
from tests.live_server import live_server
from tests.quickstart_store import SET, SET_TITLE, TORMOHUN
from tests.tile_server import tile_server

# ------------------------------------------------------------------------------- the words


def test_a_title_says_what_where_and_when() -> None:
    assert (
        map_title("count", "Tormohun", "2020-01", "2020-12")
        == "Hot spots of crime in Tormohun, Jan 2020 to Dec 2020"
    )
    assert map_title("cchi", "Shiphay", "2020-03", "2020-03").startswith("Hot spots of harm in")
    assert place_words("s", ["A", "B"], "ward", 16) == "A and B"
    assert place_words("s", ["A", "B", "C"], "ward", 16) == "A, B and C"
    assert place_words("torbay", [], "ward", 16) == "the 16 wards in torbay"


def test_legend_classes_are_in_plain_words() -> None:
    words = gi_class_words("home-office-2018")
    assert words[2] == "Far more harm here than chance would explain (95 % confidence)"
    assert words[0] == "No more or less than chance would explain"
    assert "Gi" not in " ".join(words.values()) and "z" not in words[3].split()
    assert gi_class_words("count")[3].startswith("Far more crime here")


def test_crimes_elsewhere_in_the_force_are_said_once_in_words() -> None:
    assert force_words("devon-and-cornwall") == "Devon and Cornwall"
    assert (
        elsewhere_words(113458, ["devon-and-cornwall"])
        == "The store also holds 113,458 crimes elsewhere in Devon and Cornwall, not shown here."
    )
    assert elsewhere_words(0, ["devon-and-cornwall"]) is None


def test_the_backtest_is_one_sentence_with_its_pai() -> None:
    said = backtest_words(
        {
            "train": {"first": "2019-01", "last": "2019-12"},
            "test": {"first": "2020-01", "last": "2020-03"},
            "hit_rate": 0.25,
            "area_share": 0.05,
            "pai": 5.0,
            "stale": False,
        }
    )
    assert said is not None
    assert (
        "held 25 % of the next period's crime (Jan 2020 to Mar 2020) in 5.0 % of the area" in said
    )
    assert "5.0 times" in said and "PAI" in said
    assert backtest_words(None) is None


# -------------------------------------------------------------------- the pages, in Chromium


def test_the_hotspot_map_draws_basemap_tiles_ward_names_and_a_title(
    quickstart_dir: Path, no_precompute: None
) -> None:
    playwright = require_chromium()
    errors: list[str] = []
    with (
        tile_server() as tiles,
        live_server(Settings(data_dir=quickstart_dir, tiles=tiles.template)) as base,
    ):
        url = f"{base}/v1/maps/hotspots?boundaries={SET}"
        assert httpx.get(url, timeout=300).status_code == 200  # computed before the browser waits
        # The page's own CSP must let the tiles in: the context keeps it (no bypass_csp).
        with offline_context(playwright) as (context, attempted):
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url, wait_until="load")
            page.wait_for_function(
                "document.querySelectorAll('.leaflet-tile-pane img.leaflet-tile-loaded').length > 0"
            )
            title = page.inner_text("#map-title h1")
            labels = page.locator(".hotspots-area-label").all_inner_texts()
            legend = page.inner_text(".hotspots-legend")
            summary_open = page.locator(".hotspots-legend details").get_attribute("open")
            attribution = page.inner_text(".leaflet-control-attribution")
    assert errors == [] and attempted == []
    assert any(path.endswith(".png") for path in tiles.requested)
    # The set by its title (quickstart took the authority's name from the ONS lookup).
    assert title.startswith(f"Hot spots of crime in the 16 wards in {SET_TITLE}, ")
    assert title.endswith("Jan 2020 to Dec 2020")
    assert len(labels) == 16 and "Tormohun" in labels and "King's Ash" in labels
    assert "more crime here than chance would explain (95 % confidence)" in legend
    assert "Technical settings" in legend and summary_open is None  # one click away
    assert "Open Government Licence" in attribution and "127.0.0.1" in attribution


def test_one_wards_map_links_its_profile_and_reads_without_a_basemap(
    quickstart_dir: Path, no_precompute: None
) -> None:
    playwright = require_chromium()
    with live_server(Settings(data_dir=quickstart_dir, tiles="none")) as base:
        url = f"{base}/v1/maps/hotspots?boundaries={SET}&area=Tormohun"
        assert httpx.get(url, timeout=300).status_code == 200
        with offline_context(playwright) as (context, attempted):
            page = context.new_page()
            page.goto(url, wait_until="load")
            page.wait_for_selector(".hotspots-area-label")
            assert page.locator(".leaflet-tile-pane img").count() == 0
            assert page.locator(".hotspots-area-label").all_inner_texts() == ["Tormohun"]
            assert page.inner_text("#map-title h1").startswith("Hot spots of crime in Tormohun, ")
            crumbs = page.locator("#map-title nav a")
            assert crumbs.all_inner_texts() == ["Start", SET_TITLE, "Tormohun"]
            page.click("#map-title .links a:text('Area profile')")
            # The profile of the map's weights (and window, when the map names one).
            page.wait_for_url(re.compile(rf"/areas/{TORMOHUN}/profile\.html\?weights=count$"))
        assert attempted == []


def test_the_area_map_mentions_crimes_elsewhere_in_the_force_once_in_words(
    quickstart_dir: Path, no_precompute: None
) -> None:
    with live_server(Settings(data_dir=quickstart_dir, tiles="none")) as base:
        page = httpx.get(f"{base}/v1/maps/areas?boundaries={SET}", timeout=120).text
    assert page.count("elsewhere in Devon and Cornwall") == 1
    assert "fell outside every area" not in page
    assert f"Crimes by area of {SET_TITLE}, Jan 2020 to Dec 2020" in page


def test_a_server_with_other_tiles_never_serves_a_page_cached_with_the_old_ones(
    quickstart_dir: Path, no_precompute: None
) -> None:
    """Pages bake their tiles (and the CSP that lets them in); the on-disk response cache
    outlives a server, so a restart with other tiles must build its own pages."""
    paths = [
        f"/v1/maps/hotspots?boundaries={SET}",
        f"/v1/maps/areas?boundaries={SET}",
    ]
    with tile_server() as tiles:
        host = tiles.template.split("/")[2]
        for settings, has_tiles in (
            (Settings(data_dir=quickstart_dir, tiles="none"), False),
            (Settings(data_dir=quickstart_dir, tiles=tiles.template), True),
        ):
            with live_server(settings) as base:
                for path in paths:
                    response = httpx.get(f"{base}{path}", timeout=300)
                    assert response.status_code == 200, response.text
                    assert (host in response.text) == has_tiles, path
                    csp = response.headers["content-security-policy"]
                    assert (host in csp) == has_tiles, path
