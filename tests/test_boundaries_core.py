"""Boundary sets, assignment, clusters, custom areas, covers and population on small generated
fixtures (a 3 x 2 grid of squares near Torquay), where every right answer is known by hand."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pytest
import shapely
from shapely.geometry import Polygon, box

from boundaries.assign import NO_LOCATION, OUTSIDE, assign_points, assign_table
from boundaries.clusters import build_clusters, read_mapping
from boundaries.custom_areas import MAX_VERTICES, custom_areas_from_geojson
from boundaries.errors import BoundaryError
from boundaries.fields import detect_fields
from boundaries.h3_cover import MIN_LAND_SHARE, cover_areas, land_shares
from boundaries.population import population_for_set, read_population
from boundaries.sets import load_boundary_file, prepare_areas
from boundaries.store import BoundaryStore
from pipelines.cache import open_cache, use_cache
from pipelines.index.h3_cells import cells_for_points, parent_cells

X0, Y0, STEP = -3.56, 50.44, 0.01  # grid origin (lon, lat) and cell size in degrees


def grid(columns: int = 3, rows: int = 2, prefix: str = "WD19") -> gpd.GeoDataFrame:
    """Wards W00..W12 as squares; W<col><row>, codes E0500000<n> in column-major order."""
    records = []
    for col in range(columns):
        for row in range(rows):
            x, y = X0 + col * STEP, Y0 + row * STEP
            records.append(
                {
                    f"{prefix}CD": f"E050000{col}{row}",
                    f"{prefix}NM": f"Ward {col}{row}",
                    "LAD20CD": "E06000027",
                    "geometry": box(x, y, x + STEP, y + STEP),
                }
            )
    return gpd.GeoDataFrame(records, crs="EPSG:4326")


def write(frame: gpd.GeoDataFrame, path: Path, driver: str | None = None) -> Path:
    frame.to_file(path, driver=driver, engine="pyogrio")
    return path


@pytest.fixture
def wards(tmp_path: Path):
    return load_boundary_file(write(grid(), tmp_path / "wards.geojson"), "grid-wards", "ward")


# -- fields ----------------------------------------------------------------------------------


def test_detects_ons_fields_by_scheme() -> None:
    columns = ["FID", "WD22CD", "WD22NM", "LAD22CD", "LAD22NM", "geometry"]
    ward = detect_fields(columns, "ward")
    assert (ward.code_field, ward.name_field, ward.vintage_hint) == ("WD22CD", "WD22NM", "2022")
    lad = detect_fields(columns, "lad")
    assert (lad.code_field, lad.name_field) == ("LAD22CD", "LAD22NM")
    lsoa = detect_fields(["LSOA11CD", "LSOA11NM", "MSOA11CD"], "lsoa")
    assert (lsoa.code_field, lsoa.vintage_hint) == ("LSOA11CD", "2011")
    plain = detect_fields(["id", "Name"], "neighbourhood")
    assert (plain.code_field, plain.name_field, plain.vintage_hint) == ("id", "Name", None)


def test_field_detection_errors_name_the_fields() -> None:
    with pytest.raises(BoundaryError, match="cannot tell which field holds the ward codes"):
        detect_fields(["FID", "LSOA11CD"], "ward")
    with pytest.raises(BoundaryError, match="several ward code fields"):
        detect_fields(["WD19CD", "WD22CD"], "ward")
    with pytest.raises(BoundaryError, match="--code-field 'WARD' is not a field"):
        detect_fields(["WD19CD"], "ward", code_field="WARD")


# -- loading ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "driver", "crs"),
    [("geojson", None, 4326), ("shp", None, 27700), ("gpkg", "GPKG", 27700)],
)
def test_loads_any_format_and_crs_into_wgs84(tmp_path: Path, suffix, driver, crs) -> None:
    path = write(grid().to_crs(crs), tmp_path / f"wards.{suffix}", driver)
    loaded = load_boundary_file(path, "w", "ward")
    assert loaded.areas.crs.to_epsg() == 4326
    assert loaded.vintage == "2019"
    assert loaded.codes == sorted(grid()["WD19CD"])
    # Each square is ~717 m x ~1,112 m at this latitude; measured in EPSG:27700.
    assert loaded.areas["area_m2"].between(7.5e5, 8.5e5).all()
    bounds = loaded.areas.total_bounds
    assert bounds == pytest.approx([X0, Y0, X0 + 3 * STEP, Y0 + 2 * STEP], abs=1e-7)
    assert loaded.quality.overlaps == 0 and loaded.quality.gaps == 0


def test_repairs_invalid_and_rejects_points_and_empty(tmp_path: Path) -> None:
    frame = grid()
    bowtie = Polygon([(X0, Y0), (X0 + STEP, Y0 + STEP), (X0 + STEP, Y0), (X0, Y0 + STEP)])
    frame.loc[0, "geometry"] = bowtie
    loaded = prepare_areas(frame, "w", "ward")
    assert loaded.areas.geometry.is_valid.all()
    assert any("repaired invalid geometry of E05000000" in note for note in loaded.notes)
    assert loaded.areas.loc[0, "area_m2"] == pytest.approx(
        gpd.GeoSeries([box(X0, Y0, X0 + STEP, Y0 + STEP)], crs=4326).to_crs(27700).area[0] / 2,
        rel=1e-3,
    )

    points = grid()
    points.loc[1, "geometry"] = shapely.Point(X0, Y0)
    with pytest.raises(BoundaryError, match="must be polygons; 1 area\\(s\\) are Point: E05000001"):
        prepare_areas(points, "w", "ward")
    empty = grid()
    empty.loc[2, "geometry"] = Polygon()
    with pytest.raises(BoundaryError, match="no or empty geometry: E05000010"):
        prepare_areas(empty, "w", "ward")


def test_reports_overlaps_and_gaps() -> None:
    # Squares of 1 km in British National Grid: a 3 x 3 block without its centre (a gap),
    # with the south-west square stretched 500 m east over its neighbour (an overlap).
    x0, y0 = 290_000, 64_000
    records = [
        {
            "WD19CD": f"E050000{c}{r}",
            "geometry": box(x0 + c * 1000, y0 + r * 1000, x0 + (c + 1) * 1000, y0 + (r + 1) * 1000),
        }
        for c in range(3)
        for r in range(3)
        if (c, r) != (1, 1)
    ]
    records[0]["geometry"] = box(x0, y0, x0 + 1500, y0 + 1000)
    loaded = prepare_areas(gpd.GeoDataFrame(records, crs=27700), "w", "ward")
    report = loaded.quality
    assert report.overlaps == 1
    overlap = report.largest_overlaps[0]
    assert (overlap.code_a, overlap.code_b) == ("E05000000", "E05000010")
    assert overlap.area_m2 == pytest.approx(500_000, rel=1e-6)
    assert report.gaps == 1
    assert report.largest_gaps[0].area_m2 == pytest.approx(1_000_000, rel=1e-6)
    assert loaded.name == "w" and "1 overlap(s)" in report.summary()


def test_store_round_trip_and_refuses_overwrite(tmp_path: Path, wards) -> None:
    store = BoundaryStore(tmp_path / "data")
    store.save(wards)
    assert store.names() == ["grid-wards"]
    back = store.read("grid-wards")
    assert back.codes == wards.codes and back.vintage == "2019" and back.scheme == "ward"
    assert back.areas.geometry.equals(wards.areas.geometry)
    assert store.list()[0]["areas"] == 6
    with pytest.raises(BoundaryError, match="already exists; choose another --name or pass"):
        store.save(wards)
    store.save(wards, replace=True)
    assert not list(store.root.glob(".*.tmp"))
    with pytest.raises(BoundaryError, match="no boundary set named 'nope'"):
        store.read("nope")


# -- assignment ------------------------------------------------------------------------------


def test_assigns_points_with_the_edge_rule(wards) -> None:
    codes = wards.codes
    # The grid lines as stored (the GeoJSON round trip may move them by an ulp).
    bounds = wards.areas.set_index("code").geometry.bounds
    x1, y1 = bounds.loc["E05000010", "minx"], bounds.loc["E05000001", "miny"]
    x0, y0 = bounds.loc["E05000000", "minx"], bounds.loc["E05000000", "miny"]
    # interior, shared vertical edge, shared horizontal edge, four-way vertex, outer edge,
    # outside, no location
    lon = np.array([x0 + 0.005, x1, x0 + 0.005, x1, x0, x0 - 0.1, np.nan])
    lat = np.array([y0 + 0.005, y0 + 0.005, y1, y1, y0 + 0.005, y0, np.nan])
    result = assign_points(wards, lon, lat)
    got = [codes[a] if a >= 0 else a for a in result.area]
    # North-east rule: the edge belongs to the area east / north of it.
    assert got == [
        "E05000000",
        "E05000010",
        "E05000001",
        "E05000011",
        "E05000000",
        OUTSIDE,
        NO_LOCATION,
    ]
    assert result.shared_edge_points == 3
    assert result.outside == 1 and result.no_location == 1
    # Repeated points are located once.
    many = assign_points(wards, np.repeat(lon, 50), np.repeat(lat, 50))
    assert many.distinct_points == 6
    assert np.array_equal(many.area, np.repeat(result.area, 50))


def test_edge_rule_keeps_cluster_counts_equal_to_ward_sums(wards) -> None:
    rng = np.random.default_rng(7)
    # Points on every grid line and vertex plus random interior points.
    xs = X0 + STEP * rng.integers(0, 4, 400)
    ys = Y0 + STEP * rng.integers(0, 3, 400) * rng.random(400) ** 0
    lon = np.concatenate([xs, X0 + 3 * STEP * rng.random(400)])
    lat = np.concatenate([Y0 + 2 * STEP * rng.random(400), ys])
    ward_result = assign_points(wards, lon, lat)
    mapping = {
        "North-west": ["E05000001"],
        "West": ["E05000000", "E05000011"],
        "East": ["E05000010", "E05000020", "E05000021"],
    }
    clusters = build_clusters(wards, mapping, "grid-clusters").clusters
    cluster_result = assign_points(clusters, lon, lat)
    ward_counts = dict(zip(wards.codes, ward_result.counts(), strict=True))
    expected = {
        code: sum(ward_counts[w] for w in members.split(";"))
        for code, members in zip(clusters.codes, clusters.areas["members"], strict=True)
    }
    assert dict(zip(clusters.codes, cluster_result.counts(), strict=True)) == expected
    assert ward_result.shared_edge_points > 50
    assert cluster_result.outside == ward_result.outside


def test_assign_table_reads_arrow_with_nulls(wards) -> None:
    table = pa.table(
        {"longitude": pa.array([X0 + 0.015, None]), "latitude": pa.array([Y0 + 0.001, None])}
    )
    result = assign_table(wards, table)
    assert result.area_codes().to_pylist() == ["E05000010", None]
    with pytest.raises(BoundaryError, match="no latitude column"):
        assign_table(wards, pa.table({"longitude": [1.0]}))


# -- clusters --------------------------------------------------------------------------------


def test_cluster_mapping_files_and_errors(tmp_path: Path, wards) -> None:
    csv_path = tmp_path / "clusters.csv"
    csv_path.write_text("ward_code,cluster\nE05000000,West\nE05000001,West\nE05000010,East\n")
    yaml_path = tmp_path / "clusters.yaml"
    yaml_path.write_text("West: [E05000000, E05000001]\nEast:\n  - E05000010\n")
    assert read_mapping(csv_path) == read_mapping(yaml_path)
    result = build_clusters(wards, read_mapping(csv_path), "c")
    assert result.unassigned == ["E05000011", "E05000020", "E05000021"]
    west = result.clusters.areas.set_index("code").loc["west"]
    assert west["members"] == "E05000000;E05000001"
    assert west.geometry.equals(box(X0, Y0, X0 + STEP, Y0 + 2 * STEP).normalize()) or (
        west.geometry.symmetric_difference(box(X0, Y0, X0 + STEP, Y0 + 2 * STEP)).area < 1e-12
    )
    with pytest.raises(BoundaryError, match="ward codes not in grid-wards: E05999999"):
        build_clusters(wards, {"E05999999": "West"}, "c")
    with pytest.raises(BoundaryError, match="more than one cluster: E05000000 in East and West"):
        build_clusters(wards, {"West": ["E05000000"], "East": ["E05000000"]}, "c")
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    with pytest.raises(BoundaryError, match="needs a ward code column"):
        read_mapping(bad)


# -- custom areas ----------------------------------------------------------------------------


def _feature(coordinates: list, name: str = "Town centre", kind: str = "Polygon") -> dict:
    return {
        "type": "Feature",
        "properties": {"name": name},
        "geometry": {"type": kind, "coordinates": coordinates},
    }


def test_custom_area_repairs_self_intersection() -> None:
    bowtie = [[[X0, Y0], [X0 + STEP, Y0 + STEP], [X0 + STEP, Y0], [X0, Y0 + STEP], [X0, Y0]]]
    upload = json.dumps({"type": "FeatureCollection", "features": [_feature(bowtie)]}).encode()
    areas = custom_areas_from_geojson(upload, "tc", "2024")
    assert areas.codes == ["town-centre"] and areas.scheme == "custom"
    assert areas.areas.geometry.is_valid.all()
    assert any("self-intersection" in note for note in areas.notes)
    inside = assign_points(areas, np.array([X0 + 0.002]), np.array([Y0 + 0.005]))
    assert inside.area.tolist() == [0]


def test_custom_area_in_british_national_grid_is_reprojected() -> None:
    square = [[[290000, 64000], [290500, 64000], [290500, 64500], [290000, 64500], [290000, 64000]]]
    document = {
        "type": "Feature",
        "crs": {"type": "name", "properties": {"name": "EPSG:27700"}},
        "properties": {"code": "harbour", "name": "Harbour"},
        "geometry": {"type": "Polygon", "coordinates": square},
    }
    areas = custom_areas_from_geojson(document, "harbour")
    assert areas.areas.loc[0, "area_m2"] == pytest.approx(250_000, rel=1e-3)
    assert -3.6 < areas.areas.total_bounds[0] < -3.4


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"not json", "not JSON"),
        ({"type": "Point", "coordinates": [0, 0]}, "got type 'Point'"),
        ({"type": "FeatureCollection", "features": []}, "has no features"),
        (_feature([[0, 0], [1, 1]], kind="LineString"), "is a LineString; custom areas must be"),
        (_feature([[[0, 0], [0, 1], [1]]]), "malformed coordinates"),
        (_feature([[[500, 50], [501, 50], [501, 51], [500, 50]]]), "outside longitude"),
        (
            _feature([[[290000, 64000], [290500, 64000], [290500, 64500], [290000, 64000]]]),
            "look like British National Grid",
        ),
        (_feature([[[-3.5, 50.4], [-3.5, 50.5], [-3.5, 50.6], [-3.5, 50.4]]]), "nothing is left"),
        (_feature([[[-3.5, 50.4], [-3.5, 50.40001], [-3.49999, 50.4], [-3.5, 50.4]]]), "minimum"),
        (_feature([[[-5, 50], [-1, 50], [-1, 52], [-5, 52], [-5, 50]]]), "limit of 2,000 km²"),
    ],
)
def test_custom_area_refusals(document, message: str) -> None:
    with pytest.raises(BoundaryError, match=message):
        custom_areas_from_geojson(document, "bad")


def test_custom_area_vertex_limit() -> None:
    angles = np.linspace(0, 2 * np.pi, MAX_VERTICES + 10)
    ring = np.column_stack([X0 + 0.01 * np.cos(angles), Y0 + 0.01 * np.sin(angles)]).tolist()
    ring[-1] = ring[0]
    with pytest.raises(BoundaryError, match="vertices, more than the limit"):
        custom_areas_from_geojson(_feature([ring]), "big")


# -- H3 cover --------------------------------------------------------------------------------


def test_cover_holds_inside_points_study_cells_except_rim_cells_mostly_outside(wards) -> None:
    rng = np.random.default_rng(3)
    lon = X0 + 3 * STEP * rng.random(5000)
    lat = Y0 + 2 * STEP * rng.random(5000)
    base = cells_for_points(lat, lon)
    for resolution in (9, 10):
        cover = cover_areas(wards, resolution)
        parents = parent_cells(base, resolution).to_numpy()
        missing = np.unique(parents[~np.isin(parents, cover.cells)])
        # A point's cell is left out only when less than half of it lies inside the areas.
        candidates, shares = land_shares(wards.areas.geometry.values, resolution)
        outside_share = dict(zip(candidates.tolist(), shares.tolist(), strict=True))
        assert all(outside_share.get(int(c), 0.0) < MIN_LAND_SHARE for c in missing)
        # Uniform points: the share left out is the share of land in rim cells below the rule.
        left_out = 1 - np.isin(parents, cover.cells).mean()
        land_in_rim = 1 - cover.land_km2.sum() / cover.areas_km2
        assert left_out == pytest.approx(land_in_rim, abs=0.02)
        assert (cover.land_share >= MIN_LAND_SHARE).all()
        assert set(cover.area.tolist()) == set(range(6))
    one = cover_areas(wards, 9, ["E05000000"])
    assert one.codes == ["E05000000"] and (one.area == 0).all()
    with pytest.raises(BoundaryError, match="one of 7, 8, 9, 10"):
        cover_areas(wards, 12)
    with pytest.raises(BoundaryError, match="not in grid-wards: 'X'"):
        cover_areas(wards, 9, ["X"])


def test_cover_is_shared_for_the_same_areas_and_redone_when_they_change(tmp_path: Path) -> None:
    frame = grid()
    first = load_boundary_file(write(frame, tmp_path / "a.geojson"), "grid-wards", "ward")
    again = load_boundary_file(write(frame, tmp_path / "b.geojson"), "grid-wards", "ward")
    cache = use_cache(open_cache(tmp_path / "cache"))
    computed = cover_areas(first, 9)
    entries = len(cache)
    shared = cover_areas(again, 9)  # same codes and shapes: the one on disk, not a second one
    assert len(cache) == entries == 1
    assert np.array_equal(shared.cells, computed.cells) and shared.codes == computed.codes
    with pytest.raises(ValueError, match="read-only"):
        cover_areas(first, 9).cells[0] = 0  # a shared cover cannot be changed by one caller
    moved = frame.assign(geometry=frame.geometry.translate(xoff=0.05))
    shifted = load_boundary_file(write(moved, tmp_path / "c.geojson"), "grid-wards", "ward")
    assert not np.isin(cover_areas(shifted, 9).cells, cover_areas(first, 9).cells).any()


# -- population ------------------------------------------------------------------------------


def test_population_formats_and_area_weighting(tmp_path: Path, wards) -> None:
    census = tmp_path / "census.csv"
    census.write_text(
        "Region code,Region name,Local authority code,Local authority name,MSOA Code,MSOA Name,"
        "LSOA Code,LSOA Name,,Persons,Persons,Persons,Hectares\n"
        'E1,SW,E06000027,Torbay,E02,T,L1,Torbay 001A,,"1,200","1,100",100,50\n'
        'E1,SW,E06000027,Torbay,E02,T,L2,Torbay 001B,,"2,000","1,990",10,50\n'
    )
    figures = read_population(census)
    assert figures.to_dict() == {"L1": 1200, "L2": 2000}
    plain = tmp_path / "plain.csv"
    plain.write_text("code,population\nL1,1200\nL2,2000\n")
    assert read_population(plain).to_dict() == figures.to_dict()

    # L1 covers the whole left column (wards 00 and 01); L2 spans the other two columns.
    lsoas = prepare_areas(
        gpd.GeoDataFrame(
            {"code": ["L1", "L2"], "name": ["a", "b"]},
            geometry=[
                box(X0, Y0, X0 + STEP, Y0 + 2 * STEP),
                box(X0 + STEP, Y0, X0 + 3 * STEP, Y0 + 2 * STEP),
            ],
            crs=4326,
        ),
        "l",
        "lsoa",
        "2011",
    )
    estimate = population_for_set(wards, figures, lsoas)
    assert estimate.method == "area-weighted"
    assert estimate.population["E05000000"] == pytest.approx(600, rel=1e-3)
    assert estimate.population["E05000010"] == pytest.approx(500, rel=1e-3)
    assert estimate.population.sum() == pytest.approx(3200, rel=1e-4)
    with pytest.raises(BoundaryError, match="give an LSOA set"):
        population_for_set(wards, figures)
    ward_plain = tmp_path / "wards.csv"
    ward_plain.write_text("code,population\n" + "".join(f"{c},100\n" for c in wards.codes))
    direct = population_for_set(wards, read_population(ward_plain))
    assert direct.method == "direct" and direct.population.sum() == 600
    clusters = build_clusters(wards, {"A": wards.codes[:2], "B": wards.codes[2:]}, "c").clusters
    members = population_for_set(clusters, read_population(ward_plain))
    assert members.method == "members" and members.population.tolist() == [200, 400]
