"""HEAD is answered wherever GET is (link checkers, uptime monitors, ``curl -I``), over a real
HTTP server: the GET's status and headers, no body; a path without GET still answers 405."""

from __future__ import annotations

import httpx
import pytest

from tests.service_town import WARDS, WEST

pytestmark = pytest.mark.usefixtures("no_precompute")

GET_PATHS = [
    "/",
    "/health",
    f"/areas/{WARDS}/{WEST}",
    f"/v1/boundaries/{WARDS}/areas/{WEST}/profile.html",
    f"/v1/maps/hotspots?boundaries={WARDS}",
    f"/v1/hotspots?boundaries={WARDS}&permutations=99",
    "/docs",
    "/openapi.json",
]


@pytest.mark.parametrize("path", GET_PATHS)
def test_head_answers_like_get_without_a_body(town_api: httpx.Client, path: str) -> None:
    got = town_api.get(path)
    assert got.status_code == 200, got.text
    head = town_api.head(path)
    assert head.status_code == 200, head.text
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    if "content-length" in got.headers:  # what a GET would send, as RFC 9110 asks
        assert head.headers["content-length"] == got.headers["content-length"]


def test_head_of_a_missing_page_is_its_404(town_api: httpx.Client) -> None:
    head = town_api.head(f"/areas/{WARDS}/E09999999")
    assert head.status_code == 404 and head.content == b""


def test_head_where_there_is_no_get_is_still_405(town_api: httpx.Client) -> None:
    head = town_api.head(f"/v1/boundaries/{WARDS}")  # DELETE only
    assert head.status_code == 405
    assert head.headers["allow"] == "DELETE"
