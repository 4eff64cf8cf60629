"""The profile after `make quickstart` on the shared data, in Chromium: a trend of 24 stored
months, rates per 1,000 residents, the briefing, a small map of the area and its hot spots,
breadcrumbs, and one A4 page when printed (Chromium's print to PDF) for the busiest ward."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from geo_service.settings import Settings
from tests.browser import offline_context, require_chromium
from tests.live_server import live_server
from tests.quickstart_store import SET, SET_TITLE, TORMOHUN


def _pdf_pages(pdf: bytes) -> int:
    """Pages of a PDF Chromium wrote: its page objects (/Type /Page, not /Pages)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf))


def test_the_busiest_wards_profile_fills_itself_and_prints_on_one_a4_page(
    quickstart_dir: Path, no_precompute: None
) -> None:
    playwright = require_chromium()
    with live_server(Settings(data_dir=quickstart_dir, tiles="none")) as base:
        url = f"{base}/v1/boundaries/{SET}/areas/{TORMOHUN}/profile.html"
        assert httpx.get(url, timeout=300).status_code == 200  # computed before the browser
        profile = httpx.get(url.replace("profile.html", "profile"), timeout=60).json()
        busiest = max(
            httpx.get(f"{base}/v1/boundaries/{SET}/areas", timeout=60).json()["areas"],
            key=lambda area: httpx.get(
                f"{base}/v1/boundaries/{SET}/areas/{area['code']}/profile", timeout=300
            ).json()["total"]["count"],
        )
        assert busiest["code"] == TORMOHUN
        with offline_context(playwright) as (context, attempted):
            page = context.new_page()
            page.goto(url, wait_until="load")
            header = page.inner_text("header")
            circles = page.locator("svg#trend-chart circle")
            complete = page.locator('svg#trend-chart circle[fill="#1f4e79"]')
            gaps = page.locator("svg#trend-chart line.gap").count()
            total_cells = page.locator('#categories tr[data-category="all-crime"] td')
            rate, parent_rate = total_cells.nth(4).inner_text(), total_cells.nth(5).inner_text()
            sentences = page.locator("#briefing li").all_inner_texts()
            spots = page.locator("svg#area-map polygon.spot").count()
            crumbs = page.locator("nav.crumbs a").all_inner_texts()
            pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
            counts = (circles.count(), complete.count())
        assert attempted == []
    assert "compared with 2019-01 to 2019-12" in header and "2020-01 to 2020-12" in header
    assert counts == (24, 24) and gaps == 0  # 24 stored months, none missing
    assert "population not loaded" not in header
    shown = re.fullmatch(r"([\d.,]+) \(([\d.,]+)–([\d.,]+)\)", rate.strip())  # rate (95 % CI)
    assert shown is not None, rate
    total = profile["total"]
    assert float(shown[1]) == round(total["rate_per_1000"], 1)
    assert float(shown[2]) == round(total["rate_low"], 1) < float(shown[1])
    assert float(shown[3]) == round(total["rate_high"], 1) > float(shown[1])
    assert float(parent_rate) > 0
    assert sentences[0].startswith("Tormohun had 3,927 crimes")
    assert any("per 1,000 residents" in s for s in sentences)
    assert spots == len(profile["hotspots"]["items"]) >= 1
    assert crumbs[:3] == ["Start", SET_TITLE, "Tormohun"]
    assert _pdf_pages(pdf) == 1
