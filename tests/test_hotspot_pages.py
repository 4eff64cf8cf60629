"""Whole-region hotspot answers come in pages (limit + cursor), over a real HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from geo_service.settings import Settings
from tests.live_server import error_message, live_client
from tests.service_town import WARDS, build_town

pytestmark = pytest.mark.usefixtures("no_precompute")
QUERY = {"boundaries": WARDS, "permutations": 99}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data_dir, _ = build_town(tmp_path_factory.mktemp("town"))
    with live_client(Settings(data_dir=Path(data_dir))) as client:
        yield client


def _all_pages(api: httpx.Client, fmt: str, limit: int) -> tuple[list[dict], list[dict]]:
    """(every page's page block, every cell) following next_cursor from the first page."""
    pages, cells, cursor = [], [], None
    while True:
        params = {**QUERY, "format": fmt, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = api.get("/v1/hotspots", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["page"])
        cells += body["cells"] if fmt == "json" else [f["properties"] for f in body["features"]]
        cursor = body["page"]["next_cursor"]
        if cursor is None:
            return pages, cells


@pytest.mark.parametrize("fmt", ["json", "geojson"])
def test_following_cursors_gives_every_cell_once(api: httpx.Client, fmt: str) -> None:
    whole = api.get("/v1/hotspots", params=QUERY).json()
    total = whole["page"]["total"]
    assert whole["page"]["next_cursor"] is None
    assert total == len(whole["cells"]) == whole["provenance"]["region"]["cells"] > 20

    pages, cells = _all_pages(api, fmt, limit=7)
    assert len(pages) == -(-total // 7)
    assert [p["offset"] for p in pages] == list(range(0, total, 7))
    assert all(p["total"] == total and p["limit"] == 7 for p in pages)
    assert sum(p["returned"] for p in pages) == total
    assert [c["h3"] for c in cells] == [c["h3"] for c in whole["cells"]]


def test_geojson_is_streamed(api: httpx.Client) -> None:
    with api.stream("GET", "/v1/hotspots", params={**QUERY, "format": "geojson"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/geo+json")
        assert "content-length" not in response.headers  # sent in chunks as it is made
        body = b"".join(response.iter_bytes())
    assert body.startswith(b'{"type":"FeatureCollection"') and body.endswith(b"]}")


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"cursor": "not-a-cursor"}, "cursor is not one this service issued"),
        # A well-formed cursor of another data version: the answer may have changed under it.
        ({"cursor": "eyJvZmZzZXQiOjcsInZlcnNpb24iOiJvbGQifQ"}, "ask for the first page again"),
        ({"limit": 0}, "limit"),
        ({"limit": 50_001}, "limit"),
    ],
)
def test_bad_page_requests_are_422_with_a_reason(
    api: httpx.Client, params: dict, words: str
) -> None:
    response = api.get("/v1/hotspots", params={**QUERY, **params})
    assert words in error_message(response, 422)
