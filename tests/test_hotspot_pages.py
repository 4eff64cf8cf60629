"""Whole-region hotspot answers come in pages (limit + cursor), over a real HTTP server."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import orjson
import pytest

from geo_service.hotspot_query import hotspot_query
from geo_service.paging import CursorSigner
from tests.live_server import error_message
from tests.service_town import WARDS

pytestmark = pytest.mark.usefixtures("no_precompute")
QUERY = {"boundaries": WARDS, "permutations": 99}


def _all_pages(town_api: httpx.Client, fmt: str, limit: int) -> tuple[list[dict], list[dict]]:
    """(every page's page block, every cell) following next_cursor from the first page."""
    pages, cells, cursor = [], [], None
    while True:
        params = {**QUERY, "format": fmt, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = town_api.get("/v1/hotspots", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["page"])
        cells += body["cells"] if fmt == "json" else [f["properties"] for f in body["features"]]
        cursor = body["page"]["next_cursor"]
        if cursor is None:
            return pages, cells


@pytest.mark.parametrize("fmt", ["json", "geojson"])
def test_following_cursors_gives_every_cell_once(town_api: httpx.Client, fmt: str) -> None:
    whole = town_api.get("/v1/hotspots", params=QUERY).json()
    total = whole["page"]["total"]
    assert whole["page"]["next_cursor"] is None
    assert total == len(whole["cells"]) == whole["provenance"]["region"]["cells"] > 20

    pages, cells = _all_pages(town_api, fmt, limit=7)
    assert len(pages) == -(-total // 7)
    assert [p["offset"] for p in pages] == list(range(0, total, 7))
    assert all(p["total"] == total and p["limit"] == 7 for p in pages)
    assert sum(p["returned"] for p in pages) == total
    assert [c["h3"] for c in cells] == [c["h3"] for c in whole["cells"]]


def test_geojson_is_streamed(town_api: httpx.Client) -> None:
    with town_api.stream("GET", "/v1/hotspots", params={**QUERY, "format": "geojson"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/geo+json")
        assert "content-length" not in response.headers  # sent in chunks as it is made
        body = b"".join(response.iter_bytes())
    assert body.startswith(b'{"type":"FeatureCollection"') and body.endswith(b"]}")


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"cursor": "not-a-cursor"}, "cursor is not one this service issued"),
        ({"limit": 0}, "limit"),
        ({"limit": 50_001}, "limit"),
    ],
)
def test_bad_page_requests_are_422_with_a_reason(
    town_api: httpx.Client, params: dict, words: str
) -> None:
    response = town_api.get("/v1/hotspots", params={**QUERY, **params})
    assert words in error_message(response, 422)


def _forged(payload: dict) -> str:
    """A cursor a client made up: the old unsigned form (base64 JSON), or it with a fake tag."""
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _first_page(town_api: httpx.Client, **params: object) -> dict:
    response = town_api.get("/v1/hotspots", params={**QUERY, "limit": 7, **params})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    "offset",
    [1.5, "5", 10**12, -1, 7],
    ids=["fraction", "text", "huge", "negative", "plausible"],
)
@pytest.mark.parametrize("tagged", [False, True], ids=["unsigned", "fake-tag"])
def test_made_up_cursors_are_refused(town_api: httpx.Client, offset: object, tagged: bool) -> None:
    # The version is the real one, so only the signature can tell these from issued cursors.
    version = _first_page(town_api)["provenance"]["data_version"]
    cursor = _forged({"offset": offset, "version": version, "o": offset, "v": version})
    if tagged:
        cursor += "." + _forged({"sig": "x" * 32})
    response = town_api.get("/v1/hotspots", params={**QUERY, "limit": 7, "cursor": cursor})
    message = error_message(response, 422)
    assert "not one this service issued" in message
    assert "first page" in message


def test_an_edited_cursor_is_refused(town_api: httpx.Client) -> None:
    cursor = _first_page(town_api)["page"]["next_cursor"]
    payload, tag = cursor.split(".")
    fields = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    edited = _forged({**fields, "o": 10**9}) + "." + tag
    response = town_api.get("/v1/hotspots", params={**QUERY, "limit": 7, "cursor": edited})
    assert "not one this service issued" in error_message(response, 422)


def test_a_cursor_only_pages_its_own_query(town_api: httpx.Client) -> None:
    cursor = _first_page(town_api)["page"]["next_cursor"]
    # The same cursor with another question (another seed) is refused...
    other = town_api.get("/v1/hotspots", params={**QUERY, "limit": 7, "seed": 3, "cursor": cursor})
    message = error_message(other, 422)
    assert "another query" in message and "first page" in message
    # ...while the page size may change between pages.
    resized = town_api.get("/v1/hotspots", params={**QUERY, "limit": 9, "cursor": cursor})
    assert resized.status_code == 200, resized.text
    assert resized.json()["page"]["offset"] == 7
    assert resized.json()["page"]["limit"] == 9


def test_a_cursor_from_older_data_is_409_start_again(
    town_api: httpx.Client, town_dir: Path
) -> None:
    """A cursor this service signed for this query, but on data version "older": as a cursor
    issued before an ingest looks once the data have changed."""
    query = hotspot_query(boundaries=WARDS, permutations=99, limit=7)
    stale = CursorSigner(town_dir).issue(7, "older", query.paging_key())
    response = town_api.get("/v1/hotspots", params={**QUERY, "limit": 7, "cursor": stale})
    message = error_message(response, 409)
    assert "data changed" in message and "first page" in message


def test_the_cursor_secret_is_kept_in_the_data_folder_for_every_worker(town_dir: Path) -> None:
    secret = town_dir / "cursor_secret"
    assert secret.exists()
    assert secret.stat().st_mode & 0o077 == 0  # readable by the service's account only
    query = hotspot_query(boundaries=WARDS, permutations=99).paging_key()
    # A second process on the same store (another worker) accepts the first one's cursors.
    issued = CursorSigner(town_dir).issue(7, "v1", query)
    assert CursorSigner(town_dir).page_of(5, issued, "v1", query).offset == 7
