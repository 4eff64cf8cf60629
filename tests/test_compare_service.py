"""Boundary schemes compared over HTTP, on the generated town through a real server: the JSON is
``compare_schemes`` plus the data version, the CSV is its areas, bad requests get a 4xx that
says what to fix, and the side-by-side page draws one map per scheme in Chromium, offline, with
both schemes' tables, hostile names kept as text, and maps that pan and zoom together."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import h3
import httpx
import pytest

from boundaries.clusters import build_clusters
from boundaries.sets import load_boundary_file
from boundaries.store import BoundaryStore
from geo_service.maps.assets import STATIC_DIR
from geo_service.routers.compare import SchemeComparison
from geo_service.settings import Settings
from pipelines.planning.compare import compare_schemes
from pipelines.schema import BASE_H3_RESOLUTION
from pipelines.store import CrimeStore
from tests.browser import offline_context, require_chromium
from tests.live_server import live_server
from tests.service_town import EAST, HOT, WARDS, WEST, X0, Y0, build_town

CLUSTERS = "town-one-cluster"
QUARTERS = "town-quarters"
FAR = "far-away"
HOSTILE = "</script><script>window.pwned=1</script>"  # must never reach the page as markup
CLUSTER_NAME = f"Whole town {HOSTILE}"
URL = re.compile(r"""(?:https?:)?//[^\s"'<>)\\]+""")


def _rectangle(code: str, name: str, x: float, y: float, w: float, h: float) -> dict:
    ring = [[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service town (two wards, a busy street in the West ward) plus three more schemes:
    one cluster of both wards (named with markup), four quarters of the town (a custom scheme
    that cuts the West ward in two), and a square far away that holds no crime."""
    root = tmp_path_factory.mktemp("compare-town")
    data_dir, _ = build_town(root)
    boundaries = BoundaryStore(data_dir)
    wards = boundaries.read(WARDS)
    boundaries.save(build_clusters(wards, {CLUSTER_NAME: [WEST, EAST]}, CLUSTERS).clusters)
    quarters = [
        _rectangle("Q1", f"South-west {HOSTILE}", X0, Y0, 0.01, 0.02),
        _rectangle("Q2", "South-centre", X0 + 0.01, Y0, 0.01, 0.02),
        _rectangle("Q3", "Centre-east", X0 + 0.02, Y0, 0.01, 0.02),
        _rectangle("Q4", "East end", X0 + 0.03, Y0, 0.01, 0.02),
    ]
    files = {
        QUARTERS: quarters,
        FAR: [_rectangle("F1", "Far field", -2.5, 51.0, 0.02, 0.02)],
    }
    for name, features in files.items():
        path = root / f"{name}.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        boundaries.save(load_boundary_file(path, name, "custom", vintage="2019"))
    return data_dir


@pytest.fixture(scope="module")
def base(town: Path, no_precompute: None) -> Iterator[str]:
    with live_server(Settings(data_dir=town, tiles="none")) as url:
        yield url


def _get(base: str, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{base}{path}", params=params, timeout=120)


def _direct(town: Path, names: list[str], **kwargs: object) -> dict:
    boundaries = BoundaryStore(town)
    sets = [boundaries.read(name) for name in names]
    return compare_schemes(CrimeStore(town), sets, **kwargs).to_dict()


def _busy_cell(resolution: int) -> str:
    # A crime's study cell is the parent of its stored base cell (pipelines.analysis.grid).
    base_cell = h3.latlng_to_cell(HOT[1], HOT[0], BASE_H3_RESOLUTION)
    return h3.cell_to_parent(base_cell, resolution)


# -- JSON and CSV ----------------------------------------------------------------------------------


def test_json_is_compare_schemes_plus_the_data_version(town: Path, base: str) -> None:
    response = _get(base, "/v1/compare", boundaries=f"{WARDS},{CLUSTERS}", weights="cchi")
    assert response.status_code == 200, response.text
    body = response.json()
    SchemeComparison.model_validate(body)  # the documented shape
    version = body["provenance"].pop("data_version")
    # The store manifest's version, a dot, and the sets' fingerprint.
    assert re.fullmatch(r"[0-9a-f]{16}\.[0-9a-f]{8}", version)
    assert response.headers["x-data-version"] == version
    assert body == _direct(town, [WARDS, CLUSTERS], weights="cchi")

    wards, cluster = body["schemes"]
    assert [a["crimes"] for a in wards["areas"]] == [480, 240]  # 20 + 20 a month in the West
    assert [a["rank"] for a in wards["areas"]] == [1, 2]
    assert cluster["areas"][0]["crimes"] == 720 and cluster["areas"][0]["name"] == CLUSTER_NAME
    assert body["provenance"]["weights"]["name"] == "cchi"
    assert body["provenance"]["window"]["first"] == "2019-01"
    assert body["provenance"]["window"]["last"] == "2019-12"
    assert body["provenance"]["hot_cells"]["alpha"] == 0.05
    assert {"resolution", "neighbours", "attribution"} <= set(body["provenance"])
    # Hot cells are the study's hot spots (default rule, adjusted p <= alpha): the town's one
    # busy street is a concentration, not a cluster, so no cell is hot and none straddles.
    assert body["provenance"]["hot_cells"]["p_for_classes"] == "permutation"
    hot = {cell["h3"] for cell in body["hot_cells"]}
    assert _busy_cell(9) not in hot and len(hot) == wards["hot_cells"] == cluster["hot_cells"]
    assert wards["straddling_hot_cells"] == cluster["straddling_hot_cells"] == 0
    assert body["rank_moves"][0][CLUSTERS] == {"code": cluster["areas"][0]["code"], "rank": 1}


def test_three_schemes_months_resolution_and_csv(town: Path, base: str) -> None:
    params = {
        "boundaries": f"{QUARTERS},{WARDS},{CLUSTERS}",
        "from": "2019-03",
        "to": "2019-08",
        "weights": "count",
        "res": 10,
        "k": 2,
        "alpha": 0.01,
    }
    response = _get(base, "/v1/compare", **params)
    assert response.status_code == 200, response.text
    body = response.json()
    body["provenance"].pop("data_version")
    direct = _direct(
        town,
        [QUARTERS, WARDS, CLUSTERS],
        first="2019-03",
        last="2019-08",
        weights="count",
        resolution=10,
        k=2,
        alpha=0.01,
    )
    assert body == direct
    assert body["provenance"]["window"]["months"] == 6 and body["provenance"]["resolution"] == 10
    assert sum(a["crimes"] for a in body["schemes"][0]["areas"]) == 6 * 60
    # The West ward's busy street is in the second quarter; its home ward ranks first.
    moves = {move["code"]: move for move in body["rank_moves"]}
    assert moves["Q2"][WARDS] == {"code": WEST, "rank": 1}
    assert moves["Q4"][WARDS] == {"code": EAST, "rank": 2}

    table = _get(base, "/v1/compare", **params, format="csv")
    assert table.status_code == 200, table.text
    assert table.headers["content-type"].startswith("text/csv")
    assert "format=json" in table.headers["link"] and 'rel="describedby"' in table.headers["link"]
    rows = list(csv.DictReader(io.StringIO(table.text)))
    expected = [
        (scheme["name"], area["code"], area["crimes"], area["harm"], area["rank"])
        for scheme in body["schemes"]
        for area in scheme["areas"]
    ]
    assert [
        (r["boundary_set"], r["code"], int(r["crimes"]), float(r["harm"]), int(r["rank"]))
        for r in rows
    ] == expected
    assert {r["name"] for r in rows if r["code"] == "Q1"} == {f"South-west {HOSTILE}"}


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("/v1/compare", {"boundaries": f"{WARDS},nowhere"}, 404, "'nowhere'"),
        ("/v1/compare", {"boundaries": WARDS}, 422, "at least two boundary sets"),
        ("/v1/compare", {"boundaries": f"{WARDS}, {WARDS}"}, 422, "named twice"),
        ("/v1/compare", {"boundaries": f"{WARDS},{CLUSTERS}", "from": "2019-06", "to": "2019-02"},
         422, "from=2019-06 is after to=2019-02"),
        ("/v1/compare", {"boundaries": f"{WARDS},{CLUSTERS}", "from": "2019-13"}, 422, "from"),
        ("/v1/compare", {"boundaries": f"{WARDS},{CLUSTERS}", "weights": "/etc/passwd"}, 422,
         "unknown weights"),
        ("/v1/compare", {"boundaries": f"{WARDS},{CLUSTERS}", "res": 12}, 422, "from 7 to 10"),
        ("/v1/compare", {"boundaries": f"{WARDS},{CLUSTERS}", "k": 9}, 422, "neighbour rings"),
        ("/v1/compare", {"boundaries": f"{WARDS},{CLUSTERS}", "alpha": 0.9}, 422, "alpha"),
        ("/v1/compare", {"boundaries": f"{WARDS},{CLUSTERS}", "from": "2021-01", "to": "2021-03"},
         422, "no crimes stored for 2021-01..2021-03"),
        ("/v1/compare", {"boundaries": f"{FAR},{WARDS}"}, 422, "no crimes of 2019-01..2019-12"),
        ("/v1/compare", {"boundaries": f"{WARDS},Bad Name"}, 422, "lower-case"),
        ("/v1/maps/compare", {"boundaries": f"{WARDS},nowhere"}, 404, "'nowhere'"),
        ("/v1/maps/compare", {"boundaries": f"{WARDS},{CLUSTERS}", "metric": "x"}, 422,
         "metric must be one of"),
        ("/v1/maps/compare", {"boundaries": f"{WARDS},{CLUSTERS}", "metric": "rate"}, 422,
         "no population"),
    ],
)  # fmt: skip
def test_bad_requests_say_what_to_fix(
    base: str, path: str, params: dict, status: int, words: str
) -> None:
    response = _get(base, path, **params)
    assert response.status_code == status, response.text
    if path.startswith("/v1/maps/"):  # a page: its error is a page (tests/test_error_pages.py)
        assert response.headers["content-type"].startswith("text/html")
        assert words in html.unescape(response.text)
        return
    assert response.headers["content-type"].startswith("application/json")
    assert words in response.json()["error"]


# -- the page --------------------------------------------------------------------------------------


def _page_data(page: str) -> dict:
    return json.loads(re.search(r"var hotspotsCompareData = (\{.*?\});\n", page).group(1))


def test_page_shows_both_schemes_measures_and_provenance(town: Path, base: str) -> None:
    response = _get(base, "/v1/maps/compare", boundaries=f"{WARDS},{CLUSTERS}", weights="cchi")
    assert response.status_code == 200, response.text
    page = response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
    external = {u for u in URL.findall(page) if urlsplit(u).hostname not in (None, "127.0.0.1")}
    assert external == set()
    assert re.findall(r'<script src="([^"]+)"', page) == [
        "/static/leaflet-1.9.4/leaflet.js",
        "/static/leaflet.sync-0.2.4/L.Map.Sync.js",
    ]
    sync = httpx.get(f"{base}/static/leaflet.sync-0.2.4/L.Map.Sync.js")
    assert sync.status_code == 200 and b"L.Map.include" in sync.content
    licence = (STATIC_DIR / "leaflet.sync-0.2.4/LICENSE").read_text()
    assert "Redistribution and use in source and binary forms" in licence  # BSD, kept
    assert "<script>window.pwned" not in page  # the cluster's name arrived as text only
    assert "Whole town &lt;/script&gt;&lt;script&gt;window.pwned=1&lt;/script&gt;" in page

    direct = _direct(town, [WARDS, CLUSTERS], weights="cchi")
    data = _page_data(page)
    assert [s["name"] for s in data["schemes"]] == [WARDS, CLUSTERS]
    for scheme, summary in zip(data["schemes"], direct["schemes"], strict=True):
        properties = [f["properties"] for f in scheme["areas"]["features"]]
        assert [p["code"] for p in properties] == [a["code"] for a in summary["areas"]]
        assert [p["crimes"] for p in properties] == [a["crimes"] for a in summary["areas"]]
    assert sorted(f["properties"]["h3"] for f in data["hot"]["features"]) == sorted(
        cell["h3"] for cell in direct["hot_cells"]
    )
    # harm_per_km2 (the default) is a density: both maps share one set of classes.
    assert data["schemes"][0]["palette"] == data["schemes"][1]["palette"]
    assert "Colour classes are shared by every map" in page
    wards, cluster = direct["schemes"]
    for text in (
        f"{wards['gini_harm']:.3f}",
        f"{cluster['gini_harm']:.3f}",
        f"{wards['top20_harm_share']:.1%}",
        f"{wards['between_share']:.3f}",
        "cchi version 1.0",
        "alpha 0.05, correction fdr_bh",
        "H3 k-ring, k = 1",
        response.headers["x-data-version"],
        "Contains public sector information licensed under the Open Government Licence v3.0.",
    ):
        assert text in page, text

    totals = _get(base, "/v1/maps/compare", boundaries=f"{WARDS},{CLUSTERS}", metric="harm")
    assert totals.status_code == 200, totals.text
    assert "Each map has its own colour classes" in totals.text


def test_chromium_draws_both_maps_in_step_with_no_outside_request(base: str) -> None:
    playwright = require_chromium()
    path = f"/v1/maps/compare?boundaries={QUARTERS},{CLUSTERS}&weights=cchi"
    errors: list[str] = []
    # bypass_csp: the guard must see every request the HTML itself would make.
    viewport = {"width": 1400, "height": 900}
    with offline_context(playwright, bypass_csp=True, viewport=viewport) as (context, attempted):
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        response = page.goto(base + path, wait_until="load")
        assert response is not None and response.status == 200
        page.wait_for_function("window.hotspotsCompare && window.hotspotsCompare.maps.length")
        maps = page.locator(".scheme-map.leaflet-container")
        assert maps.count() == 2
        # 4 quarters + 1 cluster, each map also drawing the same hot cells.
        areas = [
            page.locator(f"#compare-map-{i} .leaflet-overlay-pane path.leaflet-interactive")
            for i in (0, 1)
        ]
        # The town has no hot spot under the default rule (a lone busy street): 0 hot cells.
        hot = page.evaluate("hotspotsCompareData.hot.features.length")
        assert hot >= 0
        assert [a.count() for a in areas] == [4 + hot, 1 + hot]
        assert page.locator("#areas-0 tbody tr").count() == 4
        assert page.locator("#areas-1 tbody tr").count() == 1
        assert HOSTILE in page.locator("#areas-0").inner_text()  # shown, as text
        assert HOSTILE in page.locator("#areas-1").inner_text()
        assert page.evaluate("window.pwned") is None
        assert page.locator("#measures tbody tr").count() >= 10
        assert page.locator("#rank-moves tbody tr").count() == 4

        def views() -> list[list[float]]:
            return page.evaluate(
                "hotspotsCompare.maps.map(m => [m.getCenter().lat, m.getCenter().lng, m.getZoom()])"
            )

        before = views()
        assert before[0] == pytest.approx(before[1])
        box = maps.nth(0).bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x - 160, y + 60, steps=12)
        page.mouse.up()
        page.wait_for_timeout(600)  # inertia settles
        after = views()
        assert after[0][1] > before[0][1] + 1e-4  # dragged left: the view moved east
        assert after[1] == pytest.approx(after[0])  # and the other map followed
        page.evaluate("hotspotsCompare.maps[1].setZoom(hotspotsCompare.maps[1].getZoom() + 1)")
        page.wait_for_timeout(600)
        zoomed = views()
        assert zoomed[1][2] == after[1][2] + 1 and zoomed[0][2] == zoomed[1][2]
    assert attempted == []
    assert errors == []


def test_the_region_compared_is_stated(town: Path, base: str) -> None:
    """compare takes no areas (a comparison of schemes needs one region they all cover), so it
    says what region it studied: the reference set whole, in the answer, the page and the CLI."""
    from typer.testing import CliRunner

    from cli.main import app as cli

    body = _get(base, "/v1/compare", boundaries=f"{WARDS},{CLUSTERS}").json()
    region = body["provenance"]["study_region"]
    assert region["boundary_set"] == WARDS and region["areas"] == "all areas of the set"
    assert f"judged against all of {WARDS}" in region["meaning"]
    assert "takes no areas" in region["why_no_scope"]
    page = _get(base, "/v1/maps/compare", boundaries=f"{WARDS},{CLUSTERS}")
    # The page says it in words, the set by its title (its code here: the town's are untitled).
    assert f"hot cells judged against the whole of {WARDS}" in html.unescape(page.text)
    said = CliRunner().invoke(
        cli, ["compare", "--boundaries", f"{WARDS},{CLUSTERS}", "--data-dir", str(town), "--quiet"]
    )
    assert said.exit_code == 0, said.output
    assert f"Region: {region['meaning']}." in " ".join(said.stderr.split())
