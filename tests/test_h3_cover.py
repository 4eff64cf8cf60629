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
