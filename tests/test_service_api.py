"""The web API through a real server on 127.0.0.1: every endpoint's answer on a generated town,
every bad request's 4xx and message, the study cache, API keys, and Torbay's real data."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import h3
import httpx
import pytest
from typer.testing import CliRunner

from boundaries.sets import load_boundary_file
from boundaries.store import BoundaryStore
from cli.main import app as cli
from geo_service.dependencies import hash_key
from geo_service.models import (
    AreaList,
    BoundarySets,
    Coverage,
    Health,
    HotspotFeatures,
    Hotspots,
    Provenance,
    WeightTables,
)
from geo_service.precompute import PRECOMPUTE_ENV
from geo_service.settings import Settings
from pipelines.ingest.archive import ingest_archive
from pipelines.store import CrimeStore
from tests.live_server import (
    error_message,
    free_port,
    live_client,
    live_server,
    page_or_api_error_message,
)
from tests.service_town import (
    EAST,
    FORCE,
    IN_REGION_PER_MONTH,
    KEY,
    MONTHS,
    WARDS,
    WEST,
    X0,
    Y0,
    build_town,
    square_feature,
)

# No background warming of the cache: the cache counters must count these requests only.
pytestmark = pytest.mark.usefixtures("no_precompute")
# 99 permutations: enough for the busy street to stand out, and each study stays quick.
# Resolution 10: the town's land-only region has 63 cells at 9, where Gi* of a lone spike is
# bounded by sqrt((n - W) / W) = 2.83 (docs/hotspot-statistics.md); 440 cells at 10.
FAST = {"permutations": 99, "res": 10}
BODY_LIMIT = 50_000


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_town(tmp_path_factory.mktemp("town"))


@pytest.fixture(scope="module")
def api(town: tuple[Path, Path]) -> Iterator[httpx.Client]:
    with live_client(Settings(data_dir=town[0], max_body_bytes=BODY_LIMIT)) as client:
        yield client


def _key(value: str = KEY) -> dict[str, str]:
    return {"X-API-Key": value}


# -- happy paths ---------------------------------------------------------------------------------


def test_health_reports_store_sets_and_version(api: httpx.Client) -> None:
    health = Health.model_validate(api.get("/health").json())
    assert health.status == "ok"
    assert [(f.force, f.months, f.first, f.last) for f in health.store.forces] == [
        (FORCE, 12, MONTHS[0], MONTHS[-1])
    ]
    assert WARDS in health.boundary_sets
    assert health.version and health.api_version == "1"
    assert "Open Government Licence" in health.attribution


def test_openapi_docs_are_served(api: httpx.Client) -> None:
    assert api.get("/docs").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/health", "/v1/boundaries", "/v1/hotspots", "/v1/weights", "/v1/coverage"):
        assert path in paths


def test_boundary_sets_and_their_areas(api: httpx.Client) -> None:
    sets = BoundarySets.model_validate(api.get("/v1/boundaries").json()).sets
    town = next(s for s in sets if s.name == WARDS)
    assert (town.scheme, town.vintage, town.areas) == ("ward", "2019", 2)

    listing = AreaList.model_validate(api.get(f"/v1/boundaries/{WARDS}/areas").json())
    assert [(a.code, a.name) for a in listing.areas] == [(WEST, "West Ward"), (EAST, "East Ward")]
    # 0.02° x 0.02° at latitude 50.45: 1.42 km east-west by 2.22 km north-south.
    for area in listing.areas:
        assert area.km2 == pytest.approx(1.418 * 2.224, rel=0.02)
        assert area.population is None


def test_hotspots_cover_every_cell_and_find_the_busy_street(api: httpx.Client) -> None:
    response = api.get("/v1/hotspots", params={"boundaries": WARDS, **FAST})
    assert response.status_code == 200, response.text
    body = Hotspots.model_validate(response.json())
    cells = body.cells
    assert len(cells) == body.provenance.region["cells"] > 20
    # Land-only region: cells at least half inside the wards; crimes inside the wards in rim
    # cells below that are counted in the provenance, not lost.
    assert body.provenance.region["rule"].startswith("a cell enters the region when at least")
    crimes = body.provenance.crimes
    assert sum(c.count for c in cells) == crimes["in_region"]
    assert crimes["in_region"] + crimes["in_cells_below_land_share"] == 12 * IN_REGION_PER_MONTH
    assert crimes["in_cells_below_land_share"] < 0.1 * 12 * IN_REGION_PER_MONTH
    assert body.provenance.data_version == response.headers["X-Data-Version"]
    assert body.provenance.permutations == 99
    busiest = max(cells, key=lambda c: c.count)
    # One busy street in a quiet town is a high-count place, not a Gi* cluster.
    assert busiest.high_count and busiest.streets[0] == "High Street"
    assert busiest.area_code == WEST
    assert [c.h3 for c in cells if c.high_count] == [busiest.h3]
    assert not any(c.hotspot for c in cells)
    assert body.provenance.model_extra["high_count_places"]["flagged"] == 1
    assert response.json()["cells"][0].keys() >= {"class", "p_adjusted", "streets", "high_count"}


def test_high_count_places_are_their_own_ranked_answer(api: httpx.Client) -> None:
    response = api.get("/v1/high-count-places", params={"boundaries": WARDS, **FAST})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(p["rank"], p["streets"][0]) for p in body["places"]] == [(1, "High Street")]
    assert body["places"][0]["count"] >= 240 and not body["places"][0]["hotspot"]
    test = body["test"]
    assert test["name"] == "high-count places" and "negative-binomial" in test["test"]
    assert test["fitted_shape"] > 0 and test["alpha"] == 0.05 and test["correction"] == "fdr_bh"
    assert body["provenance"]["data_version"] == response.headers["X-Data-Version"]
    strict = api.get("/v1/high-count-places", params={"boundaries": WARDS, "alpha": 1e-6, **FAST})
    assert strict.json()["test"]["alpha"] == 1e-6


def test_p_rule_is_a_parameter_and_hot_spot_means_adjusted_p_at_most_alpha(
    api: httpx.Client,
) -> None:
    params = {"boundaries": WARDS, "p_for_classes": "analytic", **FAST}
    body = api.get("/v1/hotspots", params=params).json()
    assert body["provenance"]["statistics"]["p_for_classes"] == "analytic"
    hot = [c for c in body["cells"] if c["hotspot"]]
    assert hot and all(c["p_adjusted"] <= 0.05 and c["class"] >= 2 for c in hot)
    assert not any(c["hotspot"] for c in body["cells"] if c["class"] == 1)


def test_top_returns_the_ranked_list(api: httpx.Client) -> None:
    # A ranked list of Gi* hot spots: the town has one only under the opt-in analytic p.
    params = {
        "boundaries": WARDS,
        "top": 3,
        "weights": "cchi",
        "rank_by": "value",
        "p_for_classes": "analytic",
        **FAST,
    }
    body = Hotspots.model_validate(api.get("/v1/hotspots", params=params).json())
    assert 1 <= len(body.cells) <= 3
    assert [c.rank for c in body.cells] == list(range(1, len(body.cells) + 1))
    assert all(c.hotspot for c in body.cells)
    assert body.cells[0].streets[0] == "High Street"
    shares = [c.cumulative_value_share for c in body.cells]
    assert shares == sorted(shares) and 0 < shares[0] <= 1
    assert body.provenance.weights["name"] == "cchi"


def test_area_accepts_repeated_and_comma_separated_codes(api: httpx.Client) -> None:
    one = api.get("/v1/hotspots", params={"boundaries": WARDS, "area": WEST, **FAST}).json()
    assert {c["area_code"] for c in one["cells"]} == {WEST}
    # Judged against the whole set (the default scope), showing the West ward's cells.
    assert sorted(one["provenance"]["region"]["areas"]) == sorted([WEST, EAST])
    assert one["provenance"]["shown_areas"] == [WEST]
    alone = {"boundaries": WARDS, "area": WEST, "scope": "areas", **FAST}
    assert api.get("/v1/hotspots", params=alone).json()["provenance"]["region"]["areas"] == [WEST]
    fast = [("permutations", "99"), ("res", "10")]
    both = [("boundaries", WARDS), ("area", f"{WEST},{EAST}"), *fast]
    repeated = [("boundaries", WARDS), ("area", WEST), ("area", EAST), *fast]
    a = api.get("/v1/hotspots", params=both).json()
    b = api.get("/v1/hotspots", params=repeated).json()
    assert a["provenance"]["region"]["areas"] == b["provenance"]["region"]["areas"] == [WEST, EAST]
    assert len(a["cells"]) > len(one["cells"])


def test_categories_and_window_are_applied(api: httpx.Client) -> None:
    params = {
        "boundaries": WARDS,
        "categories": "burglary,Shoplifting",
        "from": "2019-04",
        "to": "2019-09",
        **FAST,
    }
    body = api.get("/v1/hotspots", params=params).json()
    assert body["provenance"]["categories"] == ["burglary", "shoplifting"]
    assert body["provenance"]["window"]["first"] == "2019-04"
    below = body["provenance"]["crimes"]["in_cells_below_land_share"]
    assert sum(c["count"] for c in body["cells"]) + below == 6 * IN_REGION_PER_MONTH
    burglary = api.get("/v1/hotspots", params={**params, "categories": "burglary"}).json()
    assert sum(c["count"] for c in burglary["cells"]) == 6 * 20
    # Shoplifting sits on map points of its own; the burglaries on the busy street's two.
    assert burglary["provenance"]["map_points"]["map_points"] == 2


def test_resolution_and_method_are_applied(api: httpx.Client) -> None:
    fine = api.get("/v1/hotspots", params={"boundaries": WARDS, **FAST, "res": 10}).json()
    usual = api.get("/v1/hotspots", params={"boundaries": WARDS, **FAST, "res": 9}).json()
    assert (fine["provenance"]["resolution"], usual["provenance"]["resolution"]) == (10, 9)
    assert len(fine["cells"]) > 5 * len(usual["cells"])  # 7 children a cell, less the rim
    assert {h3.get_resolution(c["h3"]) for c in fine["cells"]} == {10}
    # The town's crimes are geocoded one by one, not snapped to shared police.uk map points, so
    # the map-point rule does not apply (and says why); its counts are checked by the guard.
    points = fine["provenance"]["map_points"]
    assert points["resolvable"] and points["shared_point_share"] < 0.5
    assert points["median_points_per_occupied_cell"] == 1
    # Too few cells at 8 for the statistics: the data guard changes it, and says so.
    coarse = api.get("/v1/hotspots", params={"boundaries": WARDS, **FAST, "res": 8}).json()
    assert coarse["provenance"]["resolution"] == 9
    assert "from 8 to 9" in " ".join(coarse["provenance"]["data_guard"]["adjustments"])
    lisa = api.get("/v1/hotspots", params={"boundaries": WARDS, "method": "lisa", **FAST})
    assert lisa.status_code == 200, lisa.text
    body = Hotspots.model_validate(lisa.json())
    assert body.provenance.method == "lisa"
    # Each statistic's own weights: Gi* sums the cell with its ring; local Moran's I lags a cell
    # by its ring's mean, the cell left out (it used to say "cell included (Gi*)" for both).
    neighbours = lisa.json()["provenance"]["neighbours"]
    assert neighbours == {
        "type": "H3 k-ring, cell excluded, row-standardised (local Moran's I)",
        "k": 1,
    }
    assert lisa.json()["provenance"]["statistics"]["weights"] == (
        "k-ring without self, row-standardised"
    )
    assert usual["provenance"]["neighbours"]["type"] == "H3 k-ring, binary, cell included (Gi*)"
    assert {c.class_ for c in body.cells} <= {"HH", "LL", "HL", "LH", "ns"}


def test_geojson_is_a_feature_collection_with_provenance(api: httpx.Client) -> None:
    response = api.get("/v1/hotspots", params={"boundaries": WARDS, "format": "geojson", **FAST})
    assert response.headers["content-type"].startswith("application/geo+json")
    body = HotspotFeatures.model_validate(response.json())
    assert len(body.features) == body.provenance.region["cells"]
    ring = body.features[0].geometry["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 7  # a closed hexagon
    assert ring[0][0] < 0 < ring[0][1]  # longitude first (GeoJSON)


def test_csv_links_to_its_provenance(api: httpx.Client) -> None:
    params = {
        "boundaries": WARDS,
        "format": "csv",
        "top": 5,
        "p_for_classes": "analytic",
        **FAST,
    }
    response = api.get("/v1/hotspots", params=params)
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["rank"] for row in rows] == [str(i) for i in range(1, len(rows) + 1)]
    # Gi* scores neighbourhoods: the busy street's cell is in the list, not always first.
    assert any("High Street" in row["streets"] for row in rows)
    link = response.headers["Link"]
    assert 'rel="describedby"' in link
    url = link[link.index("<") + 1 : link.index(">")]
    assert "format=" not in url
    provenance = Provenance.model_validate(httpx.get(url, timeout=60).json())
    assert provenance.data_version == response.headers["X-Data-Version"]
    assert provenance.permutations == 99


def test_weights_lists_tables_with_source_and_weights(api: httpx.Client) -> None:
    tables = {t.name: t for t in WeightTables.model_validate(api.get("/v1/weights").json()).tables}
    assert set(tables) >= {"count", "cchi", "home-office-2018"}
    assert tables["count"].weights["burglary"] == 1
    assert tables["cchi"].weights["burglary"] > tables["cchi"].weights["bicycle-theft"] > 0
    assert tables["cchi"].source and tables["cchi"].version
    assert "burglary" in tables["cchi"].derivations


def test_coverage_per_force(api: httpx.Client, town: tuple[Path, Path]) -> None:
    forces = Coverage.model_validate(api.get("/v1/coverage").json()).forces
    assert [f.force for f in forces] == [FORCE]
    held = forces[0]
    assert (held.months_held, held.first, held.last, held.gaps) == (12, "2019-01", "2019-12", [])
    records = CrimeStore(town[0]).coverage()
    assert held.stored == sum(r.stored for r in records) == 12 * (IN_REGION_PER_MONTH + 2)
    assert held.no_location == 12
    window = api.get("/v1/coverage", params={"from": "2019-03", "to": "2019-04"}).json()
    assert [m["month"] for m in window["forces"][0]["months"]] == ["2019-03", "2019-04"]


# -- writes --------------------------------------------------------------------------------------


def test_custom_set_create_replace_use_and_delete(api: httpx.Client) -> None:
    body = {
        "name": "town-centre",
        "scheme": "custom",
        "vintage": "2024",
        "geojson": {
            "type": "FeatureCollection",
            "features": [square_feature("centre", "Town centre", X0 + 0.01, Y0 + 0.005)],
        },
    }
    created = api.post("/v1/boundaries", json=body, headers=_key())
    assert created.status_code == 201, created.text
    assert created.json()["scheme"] == "custom" and created.json()["areas"] == 1
    assert created.headers["Location"] == "/v1/boundaries/town-centre/areas"

    again = error_message(api.post("/v1/boundaries", json=body, headers=_key()), 409)
    assert "already exists" in again and "replace=true" in again
    body["geojson"]["features"].append(square_feature("east", "East end", X0 + 0.025, Y0))
    replaced = api.post("/v1/boundaries", json=body, headers=_key(), params={"replace": "true"})
    assert replaced.status_code == 201 and replaced.json()["areas"] == 2

    areas = api.get("/v1/boundaries/town-centre/areas").json()["areas"]
    assert [a["code"] for a in areas] == ["centre", "east"]
    # One 0.8 km² square is 16 cells at resolution 9, too few for Gi*, and its crimes (mostly the
    # busy street's two snapped map points) cannot resolve 10: a clear refusal.
    small = api.get("/v1/hotspots", params={"boundaries": "town-centre", "area": "centre", **FAST})
    assert "choose a larger region" in error_message(small, 422)
    # Shoplifting alone is geocoded one by one (not snapped), so resolution 10 can be studied.
    params = {"boundaries": "town-centre", "categories": "shoplifting", **FAST, "res": 10}
    hot = api.get("/v1/hotspots", params=params)
    assert hot.status_code == 200, hot.text
    assert hot.json()["provenance"]["region"]["scheme"] == "custom"

    assert api.delete("/v1/boundaries/town-centre", headers=_key()).json() == {
        "deleted": "town-centre"
    }
    assert "town-centre" not in api.get("/health").json()["boundary_sets"]


def test_cluster_set_from_a_mapping(api: httpx.Client) -> None:
    body = {
        "name": "town-clusters",
        "scheme": "cluster",
        "wards": WARDS,
        "mapping": {WEST: "Whole Town", EAST: "Whole Town"},
    }
    created = api.post("/v1/boundaries", json=body, headers=_key(), params={"replace": "true"})
    assert created.status_code == 201, created.text
    assert created.json()["unassigned"] == []
    areas = api.get("/v1/boundaries/town-clusters/areas").json()["areas"]
    assert [(a["code"], a["name"], a["members"]) for a in areas] == [
        ("whole-town", "Whole Town", [WEST, EAST])
    ]
    assert areas[0]["km2"] == pytest.approx(2 * 1.418 * 2.224, rel=0.02)


# -- bad requests --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"boundaries": "no-such-set"}, 404, "no boundary set named 'no-such-set'"),
        (
            {"boundaries": WARDS, "area": "E05999999"},
            404,
            "no area with code or name 'E05999999' in boundary set",
        ),
        ({"boundaries": WARDS, "from": "2019-13"}, 422, "from: must be a month written YYYY-MM"),
        ({"boundaries": WARDS, "from": "2019-06", "to": "2019-01"}, 422, "earlier month first"),
        ({"boundaries": WARDS, "res": 12}, 422, "res"),
        ({"boundaries": WARDS, "weights": "made-up"}, 422, "unknown weights 'made-up'"),
        ({"boundaries": WARDS, "weights": "/etc/passwd"}, 422, "unknown weights"),
        ({"boundaries": WARDS, "categories": "dragons"}, 422, "unknown crime category"),
        ({"boundaries": WARDS, "force": "../../etc"}, 422, "police.uk force slug"),
        ({"boundaries": WARDS, "method": "kriging"}, 422, "method"),
        ({"boundaries": WARDS, "per_area": "true"}, 422, "add top=N"),
        ({"boundaries": WARDS, "permutations": 10**6}, 422, "permutations"),
        ({"boundaries": WARDS, "p_for_classes": "magic"}, 422, "p_for_classes"),
        ({"boundaries": WARDS, "alpha": 1.5}, 422, "alpha"),
        ({"boundaries": WARDS, "alpha": 0}, 422, "alpha"),
        ({"boundaries": WARDS, "permutations": 0}, 422, "needs permutations >= 1"),
        ({"boundaries": "Bad Name!"}, 422, "lower-case"),
        ({}, 422, "boundaries"),
    ],
)
def test_bad_hotspot_queries_say_what_to_fix(
    api: httpx.Client, params: dict, status: int, words: str
) -> None:
    assert words in error_message(api.get("/v1/hotspots", params=params), status)


def test_unknown_set_and_force_elsewhere(api: httpx.Client) -> None:
    assert "no boundary set" in error_message(api.get("/v1/boundaries/nowhere/areas"), 404)
    assert "holds no force 'atlantis'" in error_message(
        api.get("/v1/coverage", params={"force": "atlantis"}), 404
    )


def test_writes_need_a_valid_key(api: httpx.Client) -> None:
    body = {"name": "x-set", "scheme": "cluster", "wards": WARDS, "mapping": {WEST: "A"}}
    assert "X-API-Key" in error_message(api.post("/v1/boundaries", json=body), 401)
    assert "not valid" in error_message(
        api.post("/v1/boundaries", json=body, headers=_key("nope")), 403
    )
    assert error_message(api.delete(f"/v1/boundaries/{WARDS}"), 401)
    assert error_message(api.delete(f"/v1/boundaries/{WARDS}", headers=_key("nope")), 403)
    assert WARDS in api.get("/health").json()["boundary_sets"]


@pytest.mark.parametrize(
    ("geojson", "words"),
    [
        ({"type": "Point", "coordinates": [-3.5, 50.4]}, "FeatureCollection, Feature or Polygon"),
        ({"type": "FeatureCollection", "features": []}, "no features"),
        (
            {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}]},
            "has no geometry",
        ),
        (
            {
                "type": "Feature",
                "properties": {"name": "Swapped"},
                "geometry": {"type": "Polygon", "coordinates": [[[50, -3], [50, -3]]]},
            },
            "Swapped",
        ),
        ({"type": "Feature", "geometry": "POLYGON ((0 0, 1 0, 1 1, 0 0))"}, "GeoJSON geometry"),
        (
            {
                "type": "Feature",
                "properties": ["not", "an", "object"],
                "geometry": {"type": "Polygon", "coordinates": [[[-3, 50], [-3, 51], [-2, 50]]]},
            },
            "'properties' must be a JSON object",
        ),
    ],
)
def test_invalid_geojson_is_refused(api: httpx.Client, geojson: dict, words: str) -> None:
    body = {"name": "broken", "scheme": "custom", "geojson": geojson}
    assert words in error_message(api.post("/v1/boundaries", json=body, headers=_key()), 422)


def test_too_many_vertices_is_refused(town: tuple[Path, Path]) -> None:
    # 25,000 vertices on a small circle: over the 20,000-per-area limit, within the default
    # body limit (the module's server has a small one, so this needs its own).
    ring = [
        [X0 + 0.01 + 0.005 * math.cos(t / 4000), Y0 + 0.01 + 0.005 * math.sin(t / 4000)]
        for t in range(25_000)
    ]
    ring.append(ring[0])
    body = {
        "name": "too-detailed",
        "scheme": "custom",
        "geojson": {"type": "Polygon", "coordinates": [ring]},
    }
    with live_server(Settings(data_dir=town[0])) as base:
        response = httpx.post(f"{base}/v1/boundaries", json=body, headers=_key(), timeout=60)
    message = error_message(response, 422)
    assert "25,001 vertices" in message and "limit of 20,000" in message


def test_body_too_large_by_length_and_by_bytes_read(api: httpx.Client) -> None:
    big = json.dumps({"name": "big", "scheme": "custom", "geojson": {"pad": "x" * BODY_LIMIT}})
    declared = api.post(
        "/v1/boundaries",
        content=big,
        headers={**_key(), "Content-Type": "application/json"},
    )
    assert "larger than the limit" in error_message(declared, 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count what it reads
        data = big.encode()
        for start in range(0, len(data), 8192):
            yield data[start : start + 8192]

    streamed = api.post(
        "/v1/boundaries", content=chunks(), headers={**_key(), "Content-Type": "application/json"}
    )
    assert "Content-Length" not in streamed.request.headers
    assert "larger than the limit" in error_message(streamed, 413)


def test_overwrite_needs_replace_and_delete_needs_a_set(api: httpx.Client) -> None:
    square = {"type": "FeatureCollection", "features": [square_feature("x", "X", X0, Y0)]}
    body = {"name": WARDS, "scheme": "custom", "vintage": "2024", "geojson": square}
    conflict = error_message(api.post("/v1/boundaries", json=body, headers=_key()), 409)
    assert "replace=true" in conflict and "--" not in conflict  # the API's words, not the CLI's
    assert api.get(f"/v1/boundaries/{WARDS}/areas").json()["set"]["scheme"] == "ward"
    missing = error_message(api.delete("/v1/boundaries/never-made", headers=_key()), 404)
    assert "no boundary set named 'never-made'" in missing


def test_a_cluster_set_cannot_replace_its_own_wards(api: httpx.Client) -> None:
    body = {"name": WARDS, "scheme": "cluster", "wards": WARDS, "mapping": {WEST: "A"}}
    for replace in ("false", "true"):
        refused = api.post("/v1/boundaries", json=body, headers=_key(), params={"replace": replace})
        message = error_message(refused, 422)
        assert "cannot replace the ward set it is built from" in message
        assert "another name" in message
    kept = api.get(f"/v1/boundaries/{WARDS}/areas").json()
    assert kept["set"]["scheme"] == "ward" and len(kept["areas"]) > 1


def test_bad_bodies_are_422_not_500(api: httpx.Client) -> None:
    headers = {**_key(), "Content-Type": "application/json"}
    assert error_message(api.post("/v1/boundaries", content=b"{not json", headers=headers), 422)
    no_scheme = {"name": "x", "geojson": {}}
    assert "scheme" in error_message(
        api.post("/v1/boundaries", json=no_scheme, headers=_key()), 422
    )
    unknown_ward = {"name": "x-set", "scheme": "cluster", "wards": WARDS, "mapping": {"E0": "A"}}
    assert "E0" in error_message(api.post("/v1/boundaries", json=unknown_ward, headers=_key()), 422)


# -- the cache -----------------------------------------------------------------------------------


def test_identical_requests_share_one_study_until_the_data_changes(tmp_path: Path) -> None:
    data_dir, archive = build_town(tmp_path)
    params = {"boundaries": WARDS, "top": 5, **FAST}
    with live_server(Settings(data_dir=data_dir)) as base, httpx.Client(base_url=base) as api:

        def cache() -> dict:
            return api.get("/health").json()["cache"]

        assert (cache()["hits"], cache()["misses"]) == (0, 0)
        first = api.get("/v1/hotspots", params=params, timeout=60).json()
        # On disk: the region's cover, the study, its latest version and the finished response.
        assert (cache()["hits"], cache()["misses"], cache()["entries"]) == (0, 1, 4)
        second = api.get("/v1/hotspots", params=params, timeout=60).json()
        # Served from the finished-response cache: the study is not even looked up again.
        assert cache()["misses"] == 1
        assert second == first
        # The same question asked differently (names, order) is the same validated request:
        # the second is the first's finished response, not even a study look-up.
        api.get("/v1/hotspots", params={**params, "categories": "Burglary,Shoplifting"})
        entries = cache()["entries"]
        api.get("/v1/hotspots", params={**params, "categories": "shoplifting,burglary"})
        assert cache()["misses"] == 2 and cache()["hits"] == 0
        assert cache()["entries"] == entries

        ingest_archive(CrimeStore(data_dir), archive)  # the same files: the same version
        assert api.get("/v1/hotspots", params=params, timeout=60).json() == first
        assert cache()["misses"] == 2

        # A month rewritten (same rows, another coverage note) is a new store version.
        store = CrimeStore(data_dir)
        force, month = store.partitions()[-1]
        coverage = store.coverage_of(force, month)
        coverage.warnings = {**coverage.warnings, "rewritten_by_test": 1}
        store.write_partition(store.read_partition(force, month), coverage)
        third = api.get("/v1/hotspots", params=params, timeout=60).json()
        assert cache()["misses"] == 3
        assert third["provenance"]["data_version"].startswith(store.version() + ".")
        assert third["provenance"]["data_version"] != first["provenance"]["data_version"]
        assert third["cells"] == first["cells"]  # same rows, so the same answer


# -- keys and access -----------------------------------------------------------------------------


def test_keys_add_then_write_through_serve_defaults(tmp_path: Path, monkeypatch) -> None:
    data_dir, _ = build_town(tmp_path)
    (data_dir / "api_keys.txt").unlink()
    monkeypatch.delenv("HOTSPOTS_API_KEYS_FILE", raising=False)
    result = CliRunner().invoke(
        cli, ["keys", "add", "--label", "Torbay CSP", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    stored = (data_dir / "api_keys.txt").read_text()
    assert key not in stored and stored.startswith(hash_key(key)) and "Torbay CSP" in stored
    assert (data_dir / "api_keys.txt").stat().st_mode & 0o077 == 0

    settings = Settings(data_dir=data_dir)  # the keys file defaults to <data dir>/api_keys.txt
    assert settings.api_keys_file == data_dir / "api_keys.txt"
    body = {"name": "one-cluster", "scheme": "cluster", "wards": WARDS, "mapping": {WEST: "West"}}
    with live_server(settings) as base:
        assert httpx.post(f"{base}/v1/boundaries", json=body, headers=_key(key)).status_code == 201
        assert httpx.post(f"{base}/v1/boundaries", json=body, headers=_key(KEY)).status_code == 403

    second = CliRunner().invoke(cli, ["keys", "add", "--data-dir", str(data_dir)])
    assert len((data_dir / "api_keys.txt").read_text().splitlines()) == 2, second.output


def test_keyed_read_access(town: tuple[Path, Path]) -> None:
    settings = Settings(data_dir=town[0], read_access="keyed")
    with live_server(settings) as base:
        assert httpx.get(f"{base}/health").status_code == 200  # always open, for monitoring
        for path in ("/v1/weights", "/v1/boundaries", f"/v1/hotspots?boundaries={WARDS}"):
            assert httpx.get(f"{base}{path}").status_code == 401
            assert httpx.get(f"{base}{path}", headers=_key("nope")).status_code == 403
        assert httpx.get(f"{base}/v1/weights", headers=_key()).status_code == 200


def test_hotspots_serve_command_starts_the_service(town: tuple[Path, Path]) -> None:
    port = free_port()
    command = [sys.executable, "-m", "cli.main", "serve", "--port", str(port)]
    command += ["--data-dir", str(town[0]), "--read-access", "open"]
    server = subprocess.Popen(  # the real command line, in its own process
        command,
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "HOTSPOTS_API_KEYS_FILE": "", PRECOMPUTE_ENV: "0"},
    )
    try:
        health = None
        for _ in range(300):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None:
                    pytest.fail(f"serve exited: {server.stderr.read().decode()}")
                time.sleep(0.1)
        assert health is not None and WARDS in health.json()["boundary_sets"]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_refuses_bad_options(town: tuple[Path, Path]) -> None:
    runner = CliRunner()
    tiles = runner.invoke(cli, ["serve", "--tiles", "ftp://x", "--data-dir", str(town[0])])
    assert tiles.exit_code == 2 and "{z}" in tiles.output
    access = runner.invoke(cli, ["serve", "--read-access", "closed", "--data-dir", str(town[0])])
    assert access.exit_code == 2 and "open, keyed" in access.output


# -- real data -----------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_torbay_ward_hotspots_on_real_data(shared_data: Path, tmp_path: Path) -> None:
    store = CrimeStore(tmp_path / "store")
    ingest_archive(
        store,
        shared_data / "police_uk" / "archive" / "devon-and-cornwall",
        first="2020-01",
        last="2020-12",
    )
    wards = load_boundary_file(
        shared_data / "boundaries" / "wards_2019" / "E06000027.geojson",
        "torbay-wards-2019",
        "ward",
        vintage="2019",
    )
    BoundaryStore(store.root).save(wards)
    tormohun = "E05012268"  # Torquay town centre
    params = {
        "boundaries": "torbay-wards-2019",
        "weights": "cchi",
        "top": 10,
        "from": "2020-01",
        "to": "2020-12",
    }
    with live_server(Settings(data_dir=store.root)) as base:
        response = httpx.get(f"{base}/v1/hotspots", params=params, timeout=300)
    assert response.status_code == 200, response.text
    body = Hotspots.model_validate(response.json())
    assert 1 <= len(body.cells) <= 10
    assert [c.rank for c in body.cells] == list(range(1, len(body.cells) + 1))
    assert all(c.hotspot and c.p_adjusted <= 0.05 for c in body.cells)
    assert tormohun in {c.area_code for c in body.cells}
    assert [c.z for c in body.cells] == sorted((c.z for c in body.cells), reverse=True)
    assert body.cells[0].streets
    provenance = body.provenance
    assert len(provenance.region["areas"]) == 16
    assert provenance.window["first"] == "2020-01" and provenance.window["months_stored"] == 12
    assert provenance.weights["name"] == "cchi" and provenance.crimes["in_region"] > 1000
    assert provenance.data_version == response.headers["X-Data-Version"]


def test_scope_on_compare_or_allocate_says_why_it_does_not_apply(api: httpx.Client) -> None:
    compare = api.get("/v1/compare", params={"boundaries": WARDS, "scope": "areas"})
    assert "scope does not apply to a comparison" in error_message(compare, 422)
    page = api.get("/v1/maps/compare", params={"boundaries": WARDS, "scope": "set"})
    assert "scope does not apply to a comparison" in page_or_api_error_message(page, 422)
    allocate = api.get("/v1/allocate", params={"boundaries": WARDS, "scope": "areas"})
    message = error_message(allocate, 422)
    assert "scope does not apply to an allocation" in message
    assert "unknown query parameter" not in message


def test_a_single_valued_parameter_given_twice_is_refused(api: httpx.Client) -> None:
    twice = api.get(
        "/v1/hotspots",
        params=[("boundaries", WARDS), ("from", "2019-01"), ("from", "2019-06"), ("res", "10")],
    )
    message = error_message(twice, 422)
    assert "from= is given 2 times ('2019-01', '2019-06')" in message and "give it once" in message
    # Parameters that take several values may still be repeated.
    areas = api.get(
        "/v1/hotspots",
        params=[("boundaries", WARDS), ("area", WEST), ("area", EAST), *FAST.items(), ("top", 3)],
    )
    assert areas.status_code == 200, areas.text


def test_a_default_window_without_crimes_in_the_region_names_it(tmp_path: Path) -> None:
    """Another force's 2023 months make the default window 2023, where the town (2019) has no
    crimes: the 422 names that window and what to do, not just "no crimes ... and window"."""
    from pipelines.months import months_between
    from tests.archive_fixtures import ArchiveBuilder, crime_line

    data_dir, _ = build_town(tmp_path)
    london = ArchiveBuilder(tmp_path / "london")
    for month in months_between("2023-01", "2023-12"):
        line = crime_line(month, crime_id=f"{month}-city", longitude="-0.09", latitude="51.515")
        london.write("city-of-london", month, [line])
    ingest_archive(CrimeStore(data_dir), london.root)
    with live_client(Settings(data_dir=data_dir)) as api:
        refused = api.get("/v1/hotspots", params={"boundaries": WARDS, **FAST}, timeout=60)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert "no crimes in the study region in 2023-01..2023-12" in error
        assert "months for city-of-london" in error and "from=/to=" in error
        asked = {"boundaries": WARDS, "from": MONTHS[0], "to": MONTHS[-1], **FAST}
        assert api.get("/v1/hotspots", params=asked, timeout=60).status_code == 200
