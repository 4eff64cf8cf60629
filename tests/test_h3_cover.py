"""The land-only study region: the hierarchical, vectorised cover against a brute-force reference
(every cell near a shape intersected one by one), sea cells of a coastal area left out, and the
study's provenance stating the rule and the land area."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box

from boundaries.h3_cover import (
    EQUAL_AREA,
    MIN_LAND_SHARE,
    cell_polygons,
    compute_cover,
    land_shares,
)
from boundaries.land_share import equal_area

_h3 = h3.api.basic_int
X0, Y0 = -3.53, 50.46  # near Torquay


def brute_force_shares(shape: object, resolution: int) -> dict[int, float]:
    """Every cell within a generous disk of the shape, intersected one at a time."""
    centre = shape.centroid
    start = _h3.latlng_to_cell(centre.y, centre.x, resolution)
    projected = gpd.GeoSeries([shape], crs=4326).to_crs(EQUAL_AREA).iloc[0]
    shares = {}
    for cell in _h3.grid_disk(start, 14):
        polygon = cell_polygons(np.array([cell], dtype=np.uint64))[0]
        share = projected.intersection(polygon).area / polygon.area
        if share > 0:
            shares[int(cell)] = share
    return shares


SHAPES = {
    "square": box(X0, Y0, X0 + 0.012, Y0 + 0.008),
    "triangle": Polygon([(X0, Y0), (X0 + 0.015, Y0), (X0 + 0.004, Y0 + 0.011)]),
    "with a hole": box(X0, Y0, X0 + 0.012, Y0 + 0.01).difference(
        box(X0 + 0.004, Y0 + 0.003, X0 + 0.008, Y0 + 0.007)
    ),
    "two parts": shapely.MultiPolygon(
        [box(X0, Y0, X0 + 0.008, Y0 + 0.006), box(X0 + 0.011, Y0, X0 + 0.018, Y0 + 0.005)]
    ),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("resolution", [9, 10])
def test_hierarchical_cover_equals_a_brute_force_reference(name: str, resolution: int) -> None:
    shape = SHAPES[name]
    cells, shares = land_shares([shape], resolution)
    expected = brute_force_shares(shape, resolution)
    ours = {int(c): s for c, s in zip(cells, shares, strict=True) if s > 1e-12}
    assert set(ours) == set(expected)
    for cell, share in expected.items():
        assert ours[cell] == pytest.approx(share, abs=1e-9)
    if resolution == 10:  # the shapes are a few resolution-9 cells across
        assert any(share == 1.0 for share in ours.values())  # interior cells count whole


def test_two_areas_sharing_an_edge_count_a_cell_across_it_whole() -> None:
    west = box(X0, Y0, X0 + 0.006, Y0 + 0.008)
    east = box(X0 + 0.006, Y0, X0 + 0.012, Y0 + 0.008)
    cells, shares = land_shares([west, east], 10)
    together_cells, together = land_shares([box(X0, Y0, X0 + 0.012, Y0 + 0.008)], 10)
    assert np.array_equal(cells, together_cells)
    # Equal up to the bend of a long straight edge under projection (a vertex more or less).
    np.testing.assert_allclose(shares, together, atol=1e-3)
    assert (shares[together == 1.0] == 1.0).all()


def test_a_coastal_area_leaves_its_sea_cells_out() -> None:
    # Land west of a diagonal coastline; the sea to the east is in no area.
    land = Polygon([(X0, Y0), (X0 + 0.04, Y0), (X0 + 0.02, Y0 + 0.03), (X0, Y0 + 0.03)])
    areas = gpd.GeoDataFrame({"code": ["E05000001"]}, geometry=[land], crs=4326)
    land_km2 = gpd.GeoSeries([land], crs=4326).to_crs(EQUAL_AREA).area.iloc[0] / 1e6
    for resolution in (9, 10):
        cover = compute_cover(areas, resolution)
        candidates, shares = land_shares([land], resolution)
        sea = candidates[shares < MIN_LAND_SHARE]
        assert len(sea) > 0 and not np.isin(sea, cover.cells).any()
        assert (cover.land_share >= MIN_LAND_SHARE).all()
        # Cells mostly at sea are out, so the region is close to the land, not land plus sea.
        touching_km2 = sum(_h3.cell_area(int(c), unit="km^2") for c in candidates)
        assert touching_km2 > (1.08 if resolution == 9 else 1.03) * land_km2
        assert cover.cell_km2.sum() < 1.02 * land_km2
        assert cover.areas_km2 == pytest.approx(land_km2, rel=1e-9)
        # Densities use the clipped area: the land in region cells, never more than the land.
        assert cover.land_km2.sum() <= land_km2 + 1e-9
        assert cover.land_km2.sum() > (0.9 if resolution == 9 else 0.95) * land_km2
        assert cover.provenance()["cells_below_land_share"] == len(sea)


# -- generated districts against the rule computed cell by cell --------------------------------

LAND_SHARE_TOLERANCE = 1e-9  # absolute; the cover and the reference differ only by rounding


def reference_cover(wards: gpd.GeoDataFrame, resolution: int) -> dict[int, tuple[float, str]]:
    """The documented rule, brute force: every cell of a generous box around the wards, its H3
    polygon in EPSG:3035 intersected with the wards' general union one cell at a time; cells at
    least half inside, each given to the ward holding its centre, else the nearest (EPSG:3035)."""
    land = shapely.union_all(wards.to_crs(EQUAL_AREA).geometry.values)
    west, south, east, north = wards.total_bounds
    margin = 0.02
    frame = box(west - margin, south - margin, east + margin, north + margin)
    cells = [_h3.str_to_int(c) for c in h3.geo_to_cells(frame.__geo_interface__, resolution)]
    in_grid = wards.to_crs(EQUAL_AREA)
    rings = [Polygon([(lng, lat) for lat, lng in _h3.cell_to_boundary(c)]) for c in cells]
    polygons = gpd.GeoSeries(rings, crs=4326).to_crs(EQUAL_AREA).values
    result = {}
    for cell, polygon in zip(cells, polygons, strict=True):
        share = land.intersection(polygon).area / polygon.area
        if share < MIN_LAND_SHARE:
            continue
        lat, lng = _h3.cell_to_latlng(cell)
        holding = wards[wards.contains(shapely.Point(lng, lat))]
        if len(holding):
            code = holding["code"].iloc[0]
        else:
            centre = gpd.GeoSeries([shapely.Point(lng, lat)], crs=4326).to_crs(EQUAL_AREA).iloc[0]
            code = wards["code"].iloc[int(np.argmin(in_grid.distance(centre).to_numpy()))]
        result[cell] = (share, code)
    return result


SPIT = box(X0 + 0.08, Y0 - 0.0002, X0 + 0.13, Y0 + 0.0002)  # ~28 m wide, 3.5 km long
ISLET = box(X0 - 0.13, Y0 + 0.02, X0 - 0.1285, Y0 + 0.021)  # ~0.01 km², a tenth of a cell


def coastal_district() -> gpd.GeoDataFrame:
    """Twelve Voronoi wards on a wiggly coast (~130 km²), with a lake (a hole), a spit narrower
    than a cell and an islet smaller than one: every way a cell can be partly inside."""
    angles = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    radius = 0.06 * (1 + 0.25 * np.sin(5 * angles) + 0.1 * np.cos(13 * angles))
    ring = np.column_stack([X0 + 1.5 * radius * np.cos(angles), Y0 + radius * np.sin(angles)])
    lake = shapely.Point(X0 + 0.01, Y0 + 0.008).buffer(0.006)
    land = shapely.union_all([Polygon(ring).difference(lake), SPIT, ISLET])
    offsets = np.random.default_rng(7).uniform(-0.08, 0.08, (12, 2))
    seeds = shapely.MultiPoint(offsets + np.array([X0, Y0]))
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=land.envelope.buffer(0.1)))
    pieces = [piece for piece in shapely.intersection(cells, land) if not piece.is_empty]
    return gpd.GeoDataFrame(
        {"code": [f"E05{index:06d}" for index in range(len(pieces))]}, geometry=pieces, crs=4326
    )


@pytest.mark.parametrize("resolution", [8, 9])
def test_cover_of_a_generated_coast_equals_the_rule_cell_by_cell(resolution: int) -> None:
    wards = coastal_district()
    cover = compute_cover(wards, resolution)
    expected = reference_cover(wards, resolution)
    assert sorted(expected) == cover.cells.tolist()  # the same cell set, nothing missed or extra
    shares = np.array([expected[int(c)][0] for c in cover.cells])
    np.testing.assert_allclose(cover.land_share, shares, rtol=0, atol=LAND_SHARE_TOLERANCE)
    codes = np.asarray(cover.codes, dtype=object)[cover.area]
    assert codes.tolist() == [expected[int(c)][1] for c in cover.cells]
    # Interior cells count whole, and the rim is real: some cells are partly at sea or in the lake.
    assert (cover.land_share == 1.0).sum() > 0.5 * len(cover.cells)
    assert ((cover.land_share >= MIN_LAND_SHARE) & (cover.land_share < 1 - 1e-6)).any()
    land_km2 = gpd.GeoSeries([wards.union_all()], crs=4326).to_crs(EQUAL_AREA).area.iloc[0] / 1e6
    assert cover.areas_km2 == pytest.approx(land_km2, rel=1e-9)
    for index in (0, len(cover.cells) // 2, len(cover.cells) - 1):
        cell = int(cover.cells[index])
        assert cover.cell_km2[index] == pytest.approx(_h3.cell_area(cell, unit="km^2"), rel=1e-12)
        assert tuple(cover.centres[index]) == pytest.approx(_h3.cell_to_latlng(cell), abs=1e-12)


def test_slivers_and_islets_smaller_than_a_cell_are_found_with_their_share() -> None:
    wards = coastal_district()
    cells, shares = land_shares(wards.geometry.values, 9)
    found = dict(zip(cells.tolist(), shares.tolist(), strict=True))
    for piece in (SPIT.intersection(box(X0 + 0.12, Y0 - 1, X0 + 0.121, Y0 + 1)), ISLET):
        # No cell centre lies on them, so only the rim band finds the cells they touch.
        centre = piece.centroid
        cell = _h3.latlng_to_cell(centre.y, centre.x, 9)
        assert 0 < found[cell] < MIN_LAND_SHARE


def test_long_straight_edges_are_measured_as_the_rule_says_not_as_h3_reads_them() -> None:
    # A 2 km x 120 km strip along a parallel, four corners. H3 reads an edge as straight in
    # degrees (along the parallel); the rule measures it straight in EPSG:3035, where the chord
    # bows ~340 m off the parallel: more than a resolution-9 cell, so each line crosses other cells.
    strip = box(-4.5, 50.5, -2.81, 50.518)
    resolution = 9
    cells, shares = land_shares([strip], resolution)
    frame = box(-4.52, 50.49, -2.79, 50.528)  # room for the chord's bow on either side
    candidates = np.array(
        [_h3.str_to_int(c) for c in h3.geo_to_cells(frame.__geo_interface__, resolution)],
        dtype=np.uint64,
    )
    polygons = cell_polygons(candidates)
    projected = gpd.GeoSeries([strip], crs=4326).to_crs(EQUAL_AREA).iloc[0]
    reference = shapely.area(shapely.intersection(polygons, projected)) / shapely.area(polygons)
    touching = reference > 0
    assert np.array_equal(np.sort(candidates[touching]), cells)
    order = np.argsort(candidates[touching])
    np.testing.assert_allclose(
        shares, reference[touching][order], rtol=0, atol=LAND_SHARE_TOLERANCE
    )
    h3_overlap = _h3.h3shape_to_cells_experimental(
        _h3.geo_to_h3shape(strip.__geo_interface__), resolution, "overlap"
    )
    assert not np.isin(cells, h3_overlap).all()  # H3's own containment misses some of them


def test_the_fast_equal_area_transform_is_pyproj_epsg_3035_to_the_bit() -> None:
    rng = np.random.default_rng(5)
    lng, lat = rng.uniform(-8.7, 1.8, 20_000), rng.uniform(49.8, 60.9, 20_000)
    points = shapely.points(lng, lat)
    reference = gpd.GeoSeries(points, crs=4326).to_crs(EQUAL_AREA).values.to_numpy()
    assert shapely.equals_exact(equal_area(points), reference, tolerance=0).all()
