"""HTML errors for HTML pages (issue 13, item 9): a page request that fails (unknown set, unknown
area, bad month) gets a readable page with its status, the message and a way back; the same fault
asked of the API is still JSON."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urlencode

import httpx
import pytest

from geo_service.settings import Settings
from tests.live_server import live_client
from tests.service_town import EAST, WARDS, WEST, build_town

pytestmark = pytest.mark.usefixtures("no_precompute")
NOWHERE = "no-such-set"
NO_AREA = "E05999999"
BAD_MONTH = "2020-13"


def _profile(set_name: str, code: str, **query: str) -> str:
    return f"/v1/boundaries/{set_name}/areas/{code}/profile.html?" + urlencode(query)


def _displacement(target: str, before: str = "2019-01:2019-06") -> str:
    query = {
        "target": target,
        "control": f"{WARDS}:{EAST}",
        "buffer_m": "150",
        "before": before,
        "after": "2019-07:2019-12",
        "format": "html",
    }
    return "/v1/displacement?" + urlencode(query)


def _url(path: str, **query: str) -> str:
    return f"{path}?{urlencode(query)}"


# (page, fault) -> (URL, status, words of the message)
CASES: dict[tuple[str, str], tuple[str, int, str]] = {
    ("hotspot map", "unknown set"): (_url("/v1/maps/hotspots", boundaries=NOWHERE), 404, NOWHERE),
    ("hotspot map", "unknown area"): (
        _url("/v1/maps/hotspots", boundaries=WARDS, area=NO_AREA),
        404,
        NO_AREA,
    ),
    ("hotspot map", "bad month"): (
        _url("/v1/maps/hotspots", boundaries=WARDS, to=BAD_MONTH),
        422,
        "YYYY-MM",
    ),
    ("area map", "unknown set"): (_url("/v1/maps/areas", boundaries=NOWHERE), 404, NOWHERE),
    ("area map", "bad month"): (
        _url("/v1/maps/areas", boundaries=WARDS, **{"from": BAD_MONTH}),
        422,
        "YYYY-MM",
    ),
    ("compare map", "unknown set"): (
        _url("/v1/maps/compare", boundaries=f"{WARDS},{NOWHERE}"),
        404,
        NOWHERE,
    ),
    ("compare map", "bad month"): (
        _url("/v1/maps/compare", boundaries=f"{WARDS},{WARDS}-x", to=BAD_MONTH),
        422,
        "YYYY-MM",
    ),
    ("briefing", "unknown area"): (
        f"/v1/boundaries/{WARDS}/areas/{NO_AREA}/briefing?format=html",
        404,
        NO_AREA,
    ),
    ("briefing", "bad month"): (
        f"/v1/boundaries/{WARDS}/areas/{WEST}/briefing?format=html&to={BAD_MONTH}",
        422,
        "YYYY-MM",
    ),
    ("profile", "unknown set"): (_profile(NOWHERE, WEST), 404, NOWHERE),
    ("profile", "unknown area"): (_profile(WARDS, NO_AREA), 404, NO_AREA),
    ("profile", "bad month"): (_profile(WARDS, WEST, to=BAD_MONTH), 422, "YYYY-MM"),
    ("allocation", "unknown set"): (
        _url("/v1/allocate", boundaries=NOWHERE, units="5", format="html"),
        404,
        NOWHERE,
    ),
    ("allocation", "bad month"): (
        _url("/v1/allocate", boundaries=WARDS, units="5", to=BAD_MONTH, format="html"),
        422,
        "YYYY-MM",
    ),
    ("displacement", "unknown set"): (_displacement(f"{NOWHERE}:{WEST}"), 404, NOWHERE),
    ("displacement", "unknown area"): (_displacement(f"{WARDS}:{NO_AREA}"), 404, NO_AREA),
    ("displacement", "bad month"): (
        _displacement(f"{WARDS}:{WEST}", before=f"2019-01:{BAD_MONTH}"),
        422,
        "YYYY-MM",
    ),
    ("backtest", "unknown set"): (
        _url("/v1/backtest", boundaries=NOWHERE, format="html"),
        404,
        NOWHERE,
    ),
    ("backtest", "unknown area"): (
        _url("/v1/backtest", boundaries=WARDS, area=NO_AREA, format="html"),
        404,
        NO_AREA,
    ),
    ("backtest", "bad month"): (
        _url("/v1/backtest", boundaries=WARDS, to=BAD_MONTH, format="html"),
        422,
        "YYYY-MM",
    ),
    ("area page", "unknown set"): (f"/areas/{NOWHERE}/{WEST}", 404, NOWHERE),
    ("area page", "unknown area"): (f"/areas/{WARDS}/{NO_AREA}", 404, NO_AREA),
}


class _Page(HTMLParser):
    """The visible text and the links of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.links: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.extend(value or "" for name, value in attrs if name == "href")
        self.scripts += tag == "script"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data_dir, _ = build_town(tmp_path_factory.mktemp("town"))
    with live_client(Settings(data_dir=data_dir), timeout=60) as client:
        yield client


@pytest.mark.parametrize("case", list(CASES), ids=lambda case: f"{case[0]}: {case[1]}")
def test_a_failed_page_is_a_page_with_the_message_and_a_way_back(
    api: httpx.Client, case: tuple[str, str]
) -> None:
    url, status, words = CASES[case]
    response = api.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = _Page()
    page.feed(response.text)
    text = " ".join(" ".join(page.text).split())
    assert words in text and f"HTTP {status}" in text
    assert "/" in page.links  # back to the start page
    assert page.scripts == 0 and "Traceback" not in text


def test_the_same_fault_asked_of_the_api_is_json(api: httpx.Client) -> None:
    for url in (
        _url("/v1/hotspots", boundaries=NOWHERE),
        _url("/v1/allocate", boundaries=NOWHERE, units="5"),
        f"/v1/boundaries/{NOWHERE}/areas/{WEST}/profile",
        _url("/v1/hotspots", boundaries=WARDS, to=BAD_MONTH),
    ):
        # A browser's Accept header too: an API answer stays JSON whoever asks.
        response = api.get(url, headers={"Accept": "text/html,*/*"})
        assert 400 <= response.status_code < 500
        assert response.headers["content-type"].startswith("application/json"), url
        assert response.json()["error"]


def test_the_message_is_text_and_back_links_only_to_this_service(api: httpx.Client) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    response = api.get(
        _url("/v1/maps/hotspots", boundaries=WARDS, area=hostile),
        headers={"Referer": "javascript:alert(1)//"},
    )
    assert response.status_code == 404
    assert hostile not in response.text and "&lt;img src=x onerror=alert(1)&gt;" in response.text
    assert "javascript:" not in response.text
    came_from = f"{api.base_url}/?boundaries={WARDS}"
    response = api.get(
        _url("/v1/maps/hotspots", boundaries=NOWHERE), headers={"Referer": came_from}
    )
    page = _Page()
    page.feed(response.text)
    assert came_from in page.links


def test_a_mistyped_address_in_a_browser_is_a_page(api: httpx.Client) -> None:
    response = api.get("/no/such/page", headers={"Accept": "text/html"})
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
    assert api.get("/v1/no/such/thing").headers["content-type"].startswith("application/json")
