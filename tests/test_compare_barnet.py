"""Acceptance for the scheme comparison (issue 6): London 2017 police.uk API data, Barnet's 2019
wards and a 5-cluster file, through a real server. The page shows both schemes side by side with
the measures, and every number checked equals a direct computation written here from scratch:
the API JSON read with orjson, crimes joined to the polygons with geopandas, harm from the
weights table, the Gini by its textbook formula, cells from the h3 library.

Needs ../shared/data (skips without it). Three months keep it to a few seconds of work."""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import h3
import httpx
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from shapely.geometry import Polygon

from boundaries.clusters import build_clusters, read_mapping
from boundaries.sets import BoundarySet, load_boundary_file
from boundaries.store import BoundaryStore
from geo_service.settings import Settings
from pipelines.harm import load_table
from pipelines.ingest.api_rows import parse_crimes
from pipelines.schema import BASE_H3_RESOLUTION, SOURCE_API
from pipelines.store import CrimeStore, PartitionCoverage
from tests.live_server import live_server

MONTHS = ("2017-01", "2017-02", "2017-03")
FORCE = "metropolitan"
WARDS = "barnet-wards-2019"
CLUSTERS = "barnet-clusters"
WEIGHTS = "home-office-2018"
RESOLUTION = 9
MARGIN = 0.02  # degrees kept around Barnet: neighbours' crimes stay in, to be left out


def _month_crimes(shared_data: Path, month: str) -> list[dict]:
    path = shared_data / f"police_uk/api/{FORCE}/{month}.json.gz"
    return orjson.loads(gzip.decompress(path.read_bytes()))


def _near(crimes: list[dict], bounds: np.ndarray) -> list[dict]:
    west, south, east, north = bounds
    return [
        c
        for c in crimes
        if west - MARGIN <= float(c["location"]["longitude"]) <= east + MARGIN
        and south - MARGIN <= float(c["location"]["latitude"]) <= north + MARGIN
    ]


def _cluster_mapping(wards: BoundarySet) -> dict[str, str]:
    """5 clusters of neighbouring wards: 5 sectors by bearing from the borough's centre."""
    projected = wards.areas.to_crs(27700)
    centres = projected.geometry.centroid
    middle = projected.geometry.union_all().centroid
    bearing = np.arctan2(centres.x - middle.x, centres.y - middle.y)
    order = np.argsort(bearing)
    sectors = np.array_split(order, 5)
    names = ["North", "East", "South", "West", "Centre-north"]  # any 5 names will do
    return {
        wards.codes[i]: f"Barnet {name}"
        for sector, name in zip(sectors, names, strict=True)
        for i in sector
    }


@pytest.fixture(scope="module")
def barnet(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A store of three months of Met API crimes around Barnet (parsed by the ingest's own
    ``parse_crimes``, written as API partitions), Barnet's wards, and a cluster file of them."""
    root = tmp_path_factory.mktemp("barnet")
    data_dir = root / "store"
    wards = load_boundary_file(
        shared_data / "boundaries/wards_2019/E09000003.geojson", WARDS, "ward", vintage="2019"
    )
    boundaries = BoundaryStore(data_dir)
    boundaries.save(wards)
    # The cluster file, in the CSV shape `hotspots boundaries clusters` reads.
    mapping = _cluster_mapping(wards)
    cluster_file = root / "barnet-clusters.csv"
    cluster_file.write_text(
        "ward_code,cluster\n" + "".join(f"{w},{c}\n" for w, c in sorted(mapping.items()))
    )
    clusters = build_clusters(wards, read_mapping(cluster_file), CLUSTERS).clusters
    assert len(clusters.areas) == 5
    boundaries.save(clusters)

    store = CrimeStore(data_dir)
    raw = {}
    bounds = wards.areas.total_bounds
    for month in MONTHS:
        crimes = _near(_month_crimes(shared_data, month), bounds)
        raw[month] = crimes
        parsed = parse_crimes(crimes, FORCE, month)
        assert parsed.rejected == {}
        table = parsed.table
        coverage = PartitionCoverage(
            FORCE,
            month,
            SOURCE_API,
            source_rows=len(crimes),
            stored=table.num_rows,
            no_location=0,
            provenance=[{"kind": "test", "file": f"{FORCE}/{month}.json.gz", "area": "bbox"}],
        )
        store.write_partition(table, coverage)
    return {"data_dir": data_dir, "wards": wards, "mapping": mapping, "raw": raw}


@pytest.fixture(scope="module")
def server(barnet: dict, no_precompute: None) -> Iterator[str]:
    with live_server(Settings(data_dir=barnet["data_dir"], tiles="none")) as base:
        yield base


# -- the direct computation ------------------------------------------------------------------------


def _points(barnet: dict) -> gpd.GeoDataFrame:
    rows = [
        {
            "lng": float(c["location"]["longitude"]),
            "lat": float(c["location"]["latitude"]),
            "category": c["category"],
        }
        for month in MONTHS
        for c in barnet["raw"][month]
    ]
    frame = pd.DataFrame(rows)
    weights = load_table(WEIGHTS).weights_for(pa.array(frame["category"]))
    frame["harm"] = np.asarray(weights, dtype=np.float64)
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lng, frame.lat), crs=4326)


def _join(points: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    joined = gpd.sjoin(points, polygons[["code", "geometry"]], predicate="intersects")
    # No crime of these months sits on a shared edge: each joins to at most one polygon.
    assert not joined.index.duplicated().any()
    return joined


def _textbook_gini(x: np.ndarray) -> float:
    """Mean absolute difference over twice the mean: sum_i sum_j |x_i - x_j| / (2 n^2 mean)."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean()))


def _top_share(x: np.ndarray, fraction: float = 0.2) -> float:
    ordered = sorted(x, reverse=True)
    top = max(1, math.ceil(fraction * len(ordered)))
    return sum(ordered[:top]) / sum(ordered)


def _areas_for_half(x: np.ndarray) -> int:
    ordered = sorted(x, reverse=True)
    running = 0.0
    for count, value in enumerate(ordered, start=1):
        running += value
        if running >= sum(ordered) / 2:
            return count
    raise AssertionError("unreachable")


def _between_share(inside: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame) -> float:
    """Eta squared of cell harm by area: each crime's cell is the parent of its base (res 12)
    cell; an area's cells are those whose centre it holds (h3's own polygon fill) and that lie at
    least half inside Barnet (the land-only region, measured here one cell at a time)."""
    barnet_land = polygons.to_crs("EPSG:3035").union_all()
    cells = [
        h3.cell_to_parent(h3.latlng_to_cell(lat, lng, BASE_H3_RESOLUTION), RESOLUTION)
        for lat, lng in zip(inside["lat"], inside["lng"], strict=True)
    ]
    harm_of = pd.Series(inside["harm"].to_numpy(), index=cells).groupby(level=0).sum()
    values, groups = [], []
    for code, geometry in zip(polygons["code"], polygons.geometry, strict=True):
        for cell in h3.geo_to_cells(geometry.__geo_interface__, RESOLUTION):
            ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]
            shape = gpd.GeoSeries([Polygon(ring)], crs=4326).to_crs("EPSG:3035").iloc[0]
            if shape.intersection(barnet_land).area < 0.5 * shape.area:
                continue
            values.append(float(harm_of.get(cell, 0.0)))
            groups.append(code)
    frame = pd.DataFrame({"value": values, "area": groups})
    grand = frame["value"].mean()
    means = frame.groupby("area")["value"].transform("mean")
    between = ((means - grand) ** 2).sum()
    total = ((frame["value"] - grand) ** 2).sum()
    return float(between / total)


def _expected(barnet: dict) -> dict[str, dict]:
    points = _points(barnet)
    wards = barnet["wards"].areas[["code", "name", "geometry"]]
    # The clusters drawn here from the mapping, not taken from the stored cluster set.
    members = wards.assign(cluster=wards["code"].map(barnet["mapping"]))
    clusters = members.dissolve(by="cluster").reset_index()
    clusters["geometry"] = shapely.make_valid(clusters.geometry.values)
    clusters["code"] = clusters["cluster"].str.lower().str.replace(" ", "-")
    in_barnet = _join(points, wards)
    expected = {}
    for name, polygons in ((WARDS, wards), (CLUSTERS, clusters)):
        joined = _join(in_barnet.drop(columns=["index_right", "code"]), polygons)
        grouped = joined.groupby("code")
        crimes = grouped.size().reindex(polygons["code"], fill_value=0)
        harm = grouped["harm"].sum().reindex(polygons["code"], fill_value=0.0)
        expected[name] = {
            "crimes": crimes.to_dict(),
            "harm": harm.to_dict(),
            "gini": _textbook_gini(harm.to_numpy()),
            "top20": _top_share(harm.to_numpy()),
            "half": _areas_for_half(harm.to_numpy()),
            "between": _between_share(in_barnet, polygons),
            "outside": len(in_barnet) - len(joined),
        }
    expected["in_region"] = len(in_barnet)
    return expected


# -- the test --------------------------------------------------------------------------------------


def test_barnet_wards_against_five_clusters(barnet: dict, server: str) -> None:
    params = {
        "boundaries": f"{WARDS},{CLUSTERS}",
        "from": MONTHS[0],
        "to": MONTHS[-1],
        "weights": WEIGHTS,
        "res": RESOLUTION,
    }
    response = httpx.get(f"{server}/v1/compare", params=params, timeout=300)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = _expected(barnet)

    provenance = body["provenance"]
    assert provenance["window"]["first"] == "2017-01" and provenance["window"]["last"] == "2017-03"
    assert provenance["weights"]["name"] == WEIGHTS and provenance["resolution"] == RESOLUTION
    assert provenance["crimes_in_reference_region"] == expected["in_region"]
    assert 6_000 < expected["in_region"] < 10_000  # ~33.6k crimes a year in Barnet

    by_set = {scheme["name"]: scheme for scheme in body["schemes"]}
    assert len(by_set[WARDS]["areas"]) == 21 and len(by_set[CLUSTERS]["areas"]) == 5
    for name in (WARDS, CLUSTERS):
        scheme, direct = by_set[name], expected[name]
        crimes = {a["code"]: a["crimes"] for a in scheme["areas"]}
        harm = {a["code"]: a["harm"] for a in scheme["areas"]}
        assert crimes == direct["crimes"], name
        assert harm == pytest.approx(direct["harm"], rel=1e-9), name
        assert scheme["gini_harm"] == pytest.approx(direct["gini"], rel=1e-9), name
        assert scheme["top20_harm_share"] == pytest.approx(direct["top20"], rel=1e-9), name
        assert scheme["areas_holding_half_harm"] == direct["half"], name
        assert scheme["between_share"] == pytest.approx(direct["between"], rel=1e-9), name
        assert scheme["outside_crimes"] == direct["outside"] == 0, name
        ranks = sorted(harm, key=lambda code: -harm[code])
        assert {a["code"]: a["rank"] for a in scheme["areas"]}[ranks[0]] == 1
    # Clusters hold whole wards: the same harm, more concentrated per area, and never more
    # boundary for a hot cell to straddle than the wards have.
    assert sum(expected[CLUSTERS]["harm"].values()) == pytest.approx(
        sum(expected[WARDS]["harm"].values())
    )
    assert by_set[CLUSTERS]["straddling_hot_cells"] <= by_set[WARDS]["straddling_hot_cells"]
    # Hot cells are the study's hot spots (default permutation rule, adjusted p <= alpha). On
    # Barnet's heavy-tailed harm at resolution 9 there may be none: one very high-harm cell drawn
    # at random makes almost any neighbourhood sum (docs/hotspot-statistics.md).
    assert by_set[WARDS]["hot_cells"] == len(body["hot_cells"]) == by_set[CLUSTERS]["hot_cells"]
    for move in body["rank_moves"]:
        home = move[CLUSTERS]
        assert home["code"] == barnet["mapping"][move["code"]].lower().replace(" ", "-")

    page = httpx.get(f"{server}/v1/maps/compare", params=params, timeout=300)
    assert page.status_code == 200, page.text
    html = page.text
    for name in (WARDS, CLUSTERS):
        assert f'data-set="{name}"' in html
    assert html.count('class="scheme-map"') == 2
    for label in ("Gini of harm across areas", "Areas holding half the harm", "Between-area"):
        assert label in html
    for scheme in body["schemes"]:
        assert f"{scheme['gini_harm']:.3f}" in html
        assert f"{scheme['between_share']:.3f}" in html
        for area in scheme["areas"]:
            assert area["name"].replace("&", "&amp;").replace("'", "&#39;") in html
    assert "Contains public sector information licensed under the Open Government Licence" in html
