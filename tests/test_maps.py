"""Map pages: local assets only, data cells only, rounded coordinates, classed legends, sizes on
real data, the endpoints over a real server, and a headless Chromium that draws them offline."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import httpx
import mapclassify
import numpy as np
import pytest
from shapely.geometry import box

from boundaries.clusters import build_clusters
from boundaries.sets import BoundarySet, load_boundary_file
from boundaries.store import BoundaryStore
from geo_service.maps.area_map import area_map_html, area_metrics, check_metric
from geo_service.maps.assets import STATIC_DIR, asset_path
from geo_service.maps.hotspot_map import HIGH_COUNT_COLOUR, cells_to_draw, hotspot_map_html
from geo_service.maps.outlines import region_outlines
from geo_service.maps.styling import (
    GI_COLOURS,
    LISA_COLOURS,
    content_security_policy,
    quantile_classes,
    tile_source,
)
from geo_service.settings import Settings
from pipelines.analysis.study import StudyRequest, StudyResult, run_study
from pipelines.ingest.archive import ingest_archive
from pipelines.store import CrimeStore
from tests.archive_fixtures import ArchiveBuilder, crime_line
from tests.browser import offline_context, require_chromium
from tests.live_server import live_server

X0, Y0 = -3.56, 50.44  # south-west corner of the generated town (near Torquay)
HOT = (-3.5420, 50.4480)
MONTHS = [f"2019-{m:02d}" for m in range(1, 13)]
HOSTILE = "</script><script>window.pwned=1</script>"  # must never reach the page as markup
URL = re.compile(r"""(?:https?:)?//[^\s"'<>)\\]+""")
TWO_MB = 2 * 1024 * 1024


# ---------------------------------------------------------------- a small town, written here


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder: 12 months of crimes (a busy street among scattered ones), two wards with
    residents (one named with markup), and a cluster set of both."""
    root = tmp_path_factory.mktemp("town")
    archive = ArchiveBuilder(root / "archive")
    rng = np.random.default_rng(7)
    for month in MONTHS:
        lines = [
            crime_line(
                month,
                crime_id=f"{month}-hot-{i}",
                longitude=f"{HOT[0]:.6f}",
                latitude=f"{HOT[1]:.6f}",
                location=f"On or near {HOSTILE}",
            )
            for i in range(20)
        ]
        for i in range(40):
            lng, lat = X0 + rng.uniform(0, 0.04), Y0 + rng.uniform(0, 0.02)
            lines.append(
                crime_line(
                    month,
                    crime_id=f"{month}-bg-{i}",
                    category="Violence and sexual offences",
                    longitude=f"{lng:.6f}",
                    latitude=f"{lat:.6f}",
                    location="On or near Side Road",
                )
            )
        lines.append(crime_line(month, crime_id=f"{month}-noloc", longitude="", latitude=""))
        archive.write("devon-and-cornwall", month, lines)
    data = root / "data"
    ingest_archive(CrimeStore(data), archive.root)
    frame = gpd.GeoDataFrame(
        {
            "WD19CD": ["E05000001", "E05000002"],
            "WD19NM": [f"West {HOSTILE}", "East Ward"],
            "geometry": [
                box(X0, Y0, X0 + 0.02, Y0 + 0.02),
                box(X0 + 0.02, Y0, X0 + 0.04, Y0 + 0.02),
            ],
        },
        crs="EPSG:4326",
    )
    path = root / "wards.geojson"
    frame.to_file(path, engine="pyogrio")
    wards = load_boundary_file(path, "town-wards-2019", "ward", vintage="2019")
    areas = wards.areas.copy()
    areas["population"] = [5_000.0, 0.0]  # East has no residents: no rate, drawn as no data
    wards = dataclasses.replace(wards, areas=areas)
    boundaries = BoundaryStore(data)
    boundaries.save(wards)
    clusters = build_clusters(wards, {"Town centre": wards.codes}, "town-clusters").clusters
    boundaries.save(clusters)
    return data


@pytest.fixture(scope="module")
def study(town: Path) -> StudyResult:
    boundaries = BoundaryStore(town)
    request = StudyRequest("town-clusters", resolution=10, weights="cchi", permutations=99)
    return run_study(CrimeStore(town), boundaries.read("town-clusters"), request)


def _hotspot_page(town: Path, study: StudyResult, tiles: str = "none") -> str:
    boundaries = BoundaryStore(town)
    outlines = region_outlines(boundaries, boundaries.read("town-clusters"))
    return hotspot_map_html(study, outlines, tiles)


def _area_page(town: Path, metric: str = "count", tiles: str = "none") -> str:
    wards = BoundaryStore(town).read("town-wards-2019")
    metrics = area_metrics(CrimeStore(town), wards, weights="cchi")
    return area_map_html(wards, metrics, metric, tiles)


def _features(page: str) -> list[dict]:
    """Every GeoJSON feature embedded in the page, across its layers."""
    features = []
    for match in re.finditer(r"L\.geoJson\((\{.*?\}), \{", page, flags=re.DOTALL):
        features.extend(json.loads(match.group(1))["features"])
    return features


def _legend(page: str) -> str:
    """The legend's markup, as the browser gets it."""
    return json.loads(re.search(r"div\.innerHTML = (\".*?\");", page).group(1))


def _external_urls(page: str) -> set[str]:
    return {url for url in URL.findall(page) if urlsplit(url).hostname not in (None, "127.0.0.1")}


# ---------------------------------------------------------------- pages, without HTTP


def test_pages_load_only_the_services_own_assets(town: Path, study: StudyResult) -> None:
    for page in (_hotspot_page(town, study), _area_page(town)):
        assert _external_urls(page) == set()
        scripts = re.findall(r'<script src="([^"]+)"', page)
        styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
        assert scripts == ["/static/leaflet-1.9.4/leaflet.js"]  # no jQuery, Bootstrap, ...
        assert styles == ["/static/leaflet-1.9.4/leaflet.css"]
        for url in scripts + styles:
            assert asset_path(url).is_file()
    css = (STATIC_DIR / "leaflet-1.9.4/leaflet.css").read_text()
    for image in set(re.findall(r"url\((images/[^)]+)\)", css)):
        assert (STATIC_DIR / "leaflet-1.9.4" / image).is_file()  # the layer control's icons
    assert "BSD 2-Clause" in (STATIC_DIR / "leaflet-1.9.4/LICENSE").read_text()


def test_a_configured_basemap_is_the_only_outside_address(town: Path, study: StudyResult) -> None:
    page = _hotspot_page(town, study, tiles="osm")
    assert {urlsplit(u).hostname for u in _external_urls(page)} == {
        "tile.openstreetmap.org",
        "www.openstreetmap.org",  # the attribution's copyright link (a link, not a fetch)
    }
    custom = "https://tiles.example.gov.uk/base/{z}/{x}/{y}.png"
    page = _area_page(town, tiles=custom)
    assert _external_urls(page) == {custom}
    with pytest.raises(ValueError, match="URL template"):
        tile_source("ftp://tiles/{z}/{x}/{y}")
    assert "img-src 'self' data:;" in content_security_policy("none")
    assert "https://*.tiles.example" in content_security_policy(
        "https://{s}.tiles.example/{z}/{x}/{y}.png"
    )


def test_only_cells_that_carry_data_are_drawn(town: Path, study: StudyResult) -> None:
    cells = study.cells
    expected = cells[(cells["count"] > 0) | (cells["class"] != 0)]
    assert 0 < len(expected) < len(cells)  # the cover has empty cells to leave out
    assert cells_to_draw(cells)["h3"].tolist() == expected["h3"].tolist()
    features = _features(_hotspot_page(town, study))
    hexagons = [f for f in features if "h3" in f["properties"]]
    assert sorted(f["properties"]["h3"] for f in hexagons) == sorted(expected["h3"])
    by_cell = cells.set_index("h3")
    for feature in hexagons:
        row = by_cell.loc[feature["properties"]["h3"]]
        assert feature["properties"]["count"] == row["count"]
        assert feature["properties"]["class"] == row["class"]
        assert feature["properties"]["harm"] == pytest.approx(row["value"], abs=0.005)
        assert len(feature["geometry"]["coordinates"][0]) == 7  # a closed hexagon
    busiest = max(hexagons, key=lambda f: f["properties"]["count"])["properties"]
    assert busiest["z"] > 2.5 and busiest["p_adj"]
    assert HOSTILE.removeprefix("</script>") in busiest["streets"]  # the street, as data
    # The lone busy street is a high-count place, drawn in a layer of its own, not a Gi* class.
    assert busiest["class"] == 0
    places = [f["properties"] for f in features if "place" in f["properties"]]
    assert [p["place"] for p in places] == [busiest["h3"]]
    assert "High-count places (not hot spots)" in _hotspot_page(town, study)


def test_outlines_of_clusters_and_their_wards(town: Path, study: StudyResult) -> None:
    page = _hotspot_page(town, study)
    outlines = [f for f in _features(page) if not {"h3", "place"} & set(f["properties"])]
    names = {f["properties"].get("name") for f in outlines}
    assert names == {"Town centre", f"West {HOSTILE}", "East Ward"}
    assert "Ward clusters (town-clusters)" in page and "Wards (town-wards-2019)" in page
    assert "L.control.layers" in page


def test_styled_in_the_browser_by_one_function_not_a_case_per_feature(
    town: Path, study: StudyResult
) -> None:
    page = _hotspot_page(town, study)
    assert len(_features(page)) > 20
    assert "case " not in page and "switch" not in page
    # One per layer: cells, high-count places, wards, clusters.
    assert page.count("style: function (feature)") == 4


def test_coordinates_are_rounded(town: Path, study: StudyResult) -> None:
    for page in (_hotspot_page(town, study), _area_page(town)):
        coordinates = json.dumps([f["geometry"]["coordinates"] for f in _features(page)])
        numbers = re.findall(r"-?\d+\.\d+", coordinates)
        assert numbers and max(len(n.split(".")[1]) for n in numbers) <= 5


def test_markup_in_names_and_streets_stays_text(town: Path, study: StudyResult) -> None:
    for page in (_hotspot_page(town, study), _area_page(town)):
        assert HOSTILE not in page
        assert page.count("</script>") == page.count("<script")


def test_hotspot_legend_has_every_gi_class_with_its_cell_count(
    town: Path, study: StudyResult
) -> None:
    page = _hotspot_page(town, study)
    legend = _legend(page)
    drawn = cells_to_draw(study.cells)["class"].value_counts()
    rows = re.findall(r'<i style="background:(#[0-9a-f]{6})"></i>([^<]+)</div>', legend)
    assert [colour for colour, _ in rows] == [*GI_COLOURS.values(), HIGH_COUNT_COLOUR]
    assert "High-count place" in rows[-1][1]
    for (_, text), klass in zip(rows[:-1], GI_COLOURS, strict=True):
        assert re.search(rf": {int(drawn.get(klass, 0)):,} cells", text), text
    # Plain words on the swatch; the analyst's name of the class is its tooltip.
    assert "more harm here than chance would explain (99 % confidence)" in rows[0][1]
    assert 'title="Hot spot - 99% confidence"' in legend


def test_quantile_classes() -> None:
    """mapclassify's quantiles; a missing value is no class; every colour is used."""
    values = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, np.nan])
    classes = quantile_classes(values, k=5)
    expected = mapclassify.Quantiles(values[:-1], k=5).bins
    assert classes.upper == pytest.approx(tuple(expected)) and classes.lower == 1
    assert classes.upper == pytest.approx((2.8, 4.6, 6.4, 8.2, 10))
    assert classes.classify(values).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, -1]
    assert classes.labels(1) == ["1.0 – 2.8", "2.8 – 4.6", "4.6 – 6.4", "6.4 – 8.2", "8.2 – 10.0"]
    skewed = quantile_classes([0, 0, 0, 0, 0, 0, 0, 0, 5, 100], k=5)
    assert skewed.upper == (0, 100)  # tied quantiles and the empty class merge: no unused colour
    assert skewed.classify([0, 5, 100]).tolist() == [0, 1, 1]
    assert len(set(skewed.colours)) == 2 and skewed.colours[-1] == "#bd0026"
    assert quantile_classes([7.0]).upper == (7.0,)


def test_area_map_classes_every_area_and_marks_no_data(town: Path) -> None:
    wards = BoundaryStore(town).read("town-wards-2019")
    metrics = area_metrics(CrimeStore(town), wards, weights="cchi")
    table = metrics.table.set_index("code")
    assert table["crimes"].sum() == 12 * 60  # every located crime is in one ward
    assert np.isnan(table.loc["E05000002", "rate"])  # no residents, no rate
    assert table.loc["E05000001", "rate"] == pytest.approx(
        table.loc["E05000001", "crimes"] * 1000 / 5000
    )
    page = area_map_html(wards, metrics, "rate")
    features = _features(page)
    assert [f["properties"]["k"] for f in features] == [0, -1]
    legend = _legend(page)
    assert "No data (1 area)" in legend and "<h4>Crimes per 1,000 residents</h4>" in legend
    legend = _legend(area_map_html(wards, metrics, "harm_per_km2"))
    assert "<h4>Harm per km² (cchi: days of imprisonment per km²)</h4>" in legend


def test_area_metrics_that_cannot_be_answered_say_why(town: Path) -> None:
    wards = BoundaryStore(town).read("town-wards-2019")
    with pytest.raises(ValueError, match="needs a harm table"):
        check_metric("harm", wards, None)
    with pytest.raises(ValueError, match="metric must be one of"):
        check_metric("density", wards, None)
    bare = BoundarySet("bare", "ward", "2019", wards.areas.drop(columns="population"))
    with pytest.raises(ValueError, match="no population"):
        check_metric("rate", bare, None)


# ---------------------------------------------------------------- real data: a borough's size


@pytest.mark.shared_data
def test_torbay_hotspot_map_at_resolution_9_is_under_2_mb(
    shared_data: Path, tmp_path: Path
) -> None:
    store = CrimeStore(tmp_path)
    ingest_archive(
        store, shared_data / "police_uk/archive/devon-and-cornwall", first="2020-01", last="2020-12"
    )
    boundaries = BoundaryStore(tmp_path)
    wards = load_boundary_file(
        shared_data / "boundaries/wards_2019/E06000027.geojson", "torbay-wards-2019", "ward"
    )
    boundaries.save(wards)
    request = StudyRequest("torbay-wards-2019", resolution=9, weights="cchi", permutations=99)
    result = run_study(store, wards, request)
    page = hotspot_map_html(result, region_outlines(boundaries, wards))
    drawn = cells_to_draw(result.cells)
    assert len(_features(page)) == len(drawn) + len(wards.areas)
    assert len(drawn) < len(result.cells)
    assert len(page.encode()) < TWO_MB
    metrics = area_metrics(store, wards, weights="cchi")
    assert len(area_map_html(wards, metrics, "harm").encode()) < TWO_MB


# ---------------------------------------------------------------- endpoints over HTTP


def test_endpoints_serve_pages_and_assets(town: Path) -> None:
    with live_server(Settings(data_dir=town)) as base:
        page = httpx.get(
            f"{base}/v1/maps/hotspots",
            params={"boundaries": "town-clusters", "res": 10, "weights": "cchi"},
            timeout=60,
        )
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert _external_urls(page.text) == set() and len(_features(page.text)) > 3
        one = httpx.get(
            f"{base}/v1/maps/hotspots",
            params={"boundaries": "town-wards-2019", "area": "E05000002", "res": 10},
            timeout=60,
        )
        assert one.status_code == 200, one.text
        areas = [f for f in _features(one.text) if "h3" not in f["properties"]]
        assert [f["properties"]["code"] for f in areas] == ["E05000002"]
        lisa = httpx.get(
            f"{base}/v1/maps/hotspots",
            params={"boundaries": "town-wards-2019", "res": 10, "method": "lisa"},
            timeout=60,
        )
        assert lisa.status_code == 200, lisa.text
        classes = {
            f["properties"]["class"] for f in _features(lisa.text) if "h3" in f["properties"]
        }
        assert classes and classes <= set(LISA_COLOURS)  # labels, not Gi* numbers
        assert "Local Moran" in lisa.text
        for metric, extra in (("count", {}), ("rate", {}), ("harm", {"weights": "cchi"})):
            params = {"boundaries": "town-wards-2019", "metric": metric, **extra}
            choropleth = httpx.get(f"{base}/v1/maps/areas", params=params, timeout=60)
            assert choropleth.status_code == 200, choropleth.text
            assert len(_features(choropleth.text)) == 2
        leaflet = httpx.get(f"{base}/static/leaflet-1.9.4/leaflet.js")
        assert leaflet.status_code == 200 and b"1.9.4" in leaflet.content
        assert httpx.get(f"{base}/static/leaflet-1.9.4/images/layers.png").status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("hotspots", {"boundaries": "nowhere"}, 404, "no boundary set named"),
        ("hotspots", {"boundaries": "town-wards-2019", "weights": "/etc/passwd"}, 422, "weights"),
        ("hotspots", {"boundaries": "town-wards-2019", "res": 12}, 422, "resolution"),
        ("hotspots", {"boundaries": "town-wards-2019", "from": "2019-1"}, 422, "from"),
        ("hotspots", {"boundaries": "town-wards-2019", "categories": "dragons"}, 422, "category"),
        ("areas", {"boundaries": "town-wards-2019", "metric": "harm"}, 422, "harm table"),
        ("areas", {"boundaries": "town-wards-2019", "metric": "x"}, 422, "metric must be"),
    ],
)
def test_bad_map_requests_say_what_to_fix(
    town: Path, path: str, params: dict, status: int, message: str
) -> None:
    with live_server(Settings(data_dir=town)) as base:
        response = httpx.get(f"{base}/v1/maps/{path}", params=params, timeout=60)
    assert response.status_code == status, response.text
    # A map is a page: its error is a page too, with the message (tests/test_error_pages.py).
    assert response.headers["content-type"].startswith("text/html")
    assert message in html.unescape(response.text)


# ---------------------------------------------------------------- a real browser, offline


def test_chromium_draws_both_maps_with_no_outside_request(town: Path) -> None:
    playwright = require_chromium()
    pages = {
        "hotspots": "/v1/maps/hotspots?boundaries=town-clusters&res=10&weights=cchi",
        "areas": "/v1/maps/areas?boundaries=town-wards-2019&metric=rate",
    }
    errors: list[str] = []
    with live_server(Settings(data_dir=town, tiles="none")) as base:
        expected = {
            name: len(_features(httpx.get(base + path, timeout=60).text))
            for name, path in pages.items()
        }
        # bypass_csp: the guard must see every request the HTML itself would make.
        with offline_context(playwright, bypass_csp=True) as (context, attempted):
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            drawn = {}
            for name, path in pages.items():
                response = page.goto(base + path, wait_until="load")
                assert response is not None and response.status == 200
                page.wait_for_selector(".leaflet-overlay-pane path", state="attached")
                drawn[name] = page.locator(".leaflet-overlay-pane svg path").count()
                assert page.locator(".hotspots-legend").count() == 1
                assert page.locator(".leaflet-control-layers-overlays input").count() >= 1
                assert page.evaluate("window.pwned") is None  # markup in data stayed text
                # A clickable path (a cell or an area; outlines are not) opens its popup. The
                # click is dispatched on the element itself: a pointer click at its centre can
                # land on a neighbouring shape or a control and open nothing.
                clickable = page.locator(".leaflet-overlay-pane svg path.leaflet-interactive")
                clickable.first.dispatch_event("click")
                popup = page.locator(".leaflet-popup-content .hotspots-popup")
                popup.wait_for()
                assert "Crimes" in popup.inner_text()
    assert attempted == []
    assert errors == []
    assert expected["hotspots"] > 3 and expected["areas"] == 2
    assert drawn == expected


def test_a_map_over_its_cell_budget_keeps_significant_cells_and_says_what_it_left_out(
    town: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The town's lone busy street is classed (with its ring) only under the opt-in analytic p.
    boundaries = BoundaryStore(town)
    request = StudyRequest(
        "town-clusters", resolution=10, weights="cchi", permutations=0, p_for_classes="analytic"
    )
    study = run_study(CrimeStore(town), boundaries.read("town-clusters"), request)
    cells = study.cells
    significant = cells[cells["class"] != 0]
    ordinary = cells[(cells["class"] == 0) & (cells["count"] > 0)]
    assert len(significant) > 0 and len(ordinary) > 4
    budget = len(significant) + 3
    drawn = cells_to_draw(cells, budget)
    assert len(drawn) == budget
    assert set(significant["h3"]) <= set(drawn["h3"])
    kept = drawn[drawn["class"] == 0]
    left = ordinary[~ordinary["h3"].isin(drawn["h3"])]
    assert kept["count"].min() >= left["count"].max()  # the busiest ordinary cells stay

    monkeypatch.setattr(
        "geo_service.maps.hotspot_map.cells_to_draw",
        lambda frame, budget=budget: cells_to_draw(frame, budget),
    )
    page = _hotspot_page(town, study)
    hexagons = [f for f in _features(page) if "h3" in f["properties"]]
    assert len(hexagons) == budget
    assert f"{len(left):,} cells with crimes that are not significant" in page
