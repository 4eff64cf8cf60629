"""No answer reveals where the server keeps its files (issue 10's rule, found again on
``/v1/boundaries``): boundary sets, crimes and coverage were loaded from files under a folder
whose name is unique to this test, and no answer of any GET route, JSON or page, carries it or
any other absolute path; where an answer names a source file it names the file alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from geo_service.settings import Settings
from tests.live_server import live_client
from tests.service_town import EAST, KEY, WARDS, WEST, build_town

pytestmark = pytest.mark.usefixtures("no_precompute")

MARK = "secret-server-folder"
AREA = f"/v1/boundaries/{WARDS}/areas/{WEST}"
WINDOW = "from=2019-01&to=2019-06"
DISPLACEMENT = (
    f"target={WARDS}:{WEST}&control={WARDS}:{EAST}&buffer_m=100"
    "&before=2019-01:2019-06&after=2019-07:2019-12"
)
GETS = [
    "/",
    "/health",
    f"/areas/{WARDS}/{WEST}",
    "/v1/boundaries",
    f"/v1/boundaries/{WARDS}/areas",
    f"{AREA}/profile",
    f"{AREA}/profile.html",
    f"{AREA}/briefing",
    f"/v1/hotspots?boundaries={WARDS}&permutations=99",
    f"/v1/hotspots/provenance?boundaries={WARDS}&permutations=99",
    f"/v1/high-count-places?boundaries={WARDS}&permutations=99",
    f"/v1/maps/hotspots?boundaries={WARDS}",
    f"/v1/maps/areas?boundaries={WARDS}",
    "/v1/weights",
    "/v1/coverage",
    f"/v1/allocate?boundaries={WARDS}&units=5",
    f"/v1/allocate/provenance?boundaries={WARDS}&units=5",
    f"/v1/backtest/last?boundaries={WARDS}",
    f"/v1/compare?boundaries={WARDS},{WARDS}",
    f"/v1/displacement?{DISPLACEMENT}",
    f"/v1/displacement?{DISPLACEMENT}&format=html",
    # Errors too: a missing area and a bad month quote what was asked, never where files are.
    f"/v1/boundaries/{WARDS}/areas/E09999999/profile",
    f"/v1/hotspots?boundaries={WARDS}&{WINDOW.replace('2019-06', '2019-13')}",
]
# An absolute POSIX path of two or more parts (not a URL path of this service, which the
# answers are allowed to carry: /v1/..., /static/..., /areas/...).
ABSOLUTE = re.compile(r"(?<![\w.:/])/(?!v1/|static/|areas/|docs|redoc|openapi)[\w.-]+/[\w./-]+")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root = tmp_path_factory.mktemp(MARK)
    data_dir, _ = build_town(root)
    with live_client(Settings(data_dir=Path(data_dir))) as client:
        yield client


@pytest.mark.parametrize("path", GETS)
def test_no_answer_names_a_server_path(api: httpx.Client, path: str) -> None:
    response = api.get(path, headers={"X-API-Key": KEY})
    assert response.status_code < 500, response.text
    text = response.text
    assert MARK not in text, _around(text, text.find(MARK))
    found = [m.group(0) for m in ABSOLUTE.finditer(text) if not _is_url_part(text, m.start())]
    assert found == [], found


def test_a_set_names_its_source_file_without_its_folder(api: httpx.Client) -> None:
    sets = {s["name"]: s for s in api.get("/v1/boundaries").json()["sets"]}
    assert sets[WARDS]["source"] == "wards.geojson"


def _is_url_part(text: str, start: int) -> bool:
    """True when the match continues a URL (https://host/path) rather than starting a path."""
    before = text[max(0, start - 200) : start]
    return bool(re.search(r"https?://\S*$", before))


def _around(text: str, at: int) -> str:
    return text[max(0, at - 120) : at + 120]
