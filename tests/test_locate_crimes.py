"""Locating crimes: the shortcut for crimes deep inside the region gives the full test's answer."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pytest
import shapely
from shapely.geometry import Polygon, box

from boundaries.assign import AreaIndex, assign_table
from boundaries.sets import BoundarySet
from pipelines.analysis.grid import LocatedCrimes, _settled_cells, build_grid, locate_crimes
from pipelines.index.h3_cells import cells_for_points, parent_cells


def wavy_wards() -> BoundarySet:
    """Three wards in south London (~4 x 3 km) split by wavy borders, one with a lake (a hole)."""
    x0, x1, y0, y1 = -0.16, -0.10, 51.44, 51.47
    ys = np.linspace(y0, y1, 60)
    border_a = np.column_stack([-0.14 + 0.002 * np.sin(ys * 900), ys])
    border_b = np.column_stack([-0.12 + 0.003 * np.cos(ys * 700), ys])
    west = Polygon([(x0, y0), *border_a.tolist(), (x0, y1)])
    middle = Polygon([*border_a.tolist(), *border_b[::-1].tolist()])
    lake = box(-0.133, 51.452, -0.127, 51.457)
    middle = middle.difference(lake)
    east = Polygon([*border_b.tolist(), (x1, y1), (x1, y0)])
    areas = gpd.GeoDataFrame(
        {"code": ["W1", "W2", "W3"], "name": ["West", "Middle", "East"], "area_m2": [1.0] * 3},
        geometry=[shapely.make_valid(g) for g in (west, middle, east)],
        crs="EPSG:4326",
    )
    return BoundarySet(name="wavy", scheme="ward", vintage="2022", areas=areas)


def crimes_near_borders(wards: BoundarySet, n: int = 20_000) -> pa.Table:
    """Points spread over and around the wards, half of them within ~20 m of a ward's edge."""
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = wards.areas.total_bounds
    spread = np.column_stack(
        [rng.uniform(minx - 0.01, maxx + 0.01, n), rng.uniform(miny - 0.01, maxy + 0.01, n)]
    )
    edges = shapely.get_coordinates(
        shapely.segmentize(shapely.boundary(wards.areas.geometry.values), 0.0002)
    )
    near = edges[rng.integers(0, len(edges), n)] + rng.normal(0, 0.0002, (n, 2))
    lng_lat = np.round(np.vstack([spread, near]), 6)  # police.uk writes 6 decimals
    lng_lat[:50] = np.nan  # crimes without a map point
    return pa.table(
        {
            "longitude": lng_lat[:, 0],
            "latitude": lng_lat[:, 1],
            "h3_cell": cells_for_points(lng_lat[:, 1], lng_lat[:, 0]),
        }
    )


def located_by_full_test(grid, wards: BoundarySet, crimes: pa.Table) -> LocatedCrimes:
    """The answer with every crime put through point in polygon (the rule the shortcut keeps)."""
    region = wards.areas[wards.areas["code"].isin(grid.codes)]
    assignment = assign_table(AreaIndex.of(region), crimes)
    inside = assignment.area >= 0
    parents = parent_cells(crimes["h3_cell"], grid.resolution).fill_null(0).to_numpy()
    position = np.minimum(np.searchsorted(grid.cells, parents), len(grid.cells) - 1)
    found = inside & (grid.cells[position] == parents)
    cell = np.where(found, position, -1).astype(np.int64)
    below = int((inside & ~found).sum())
    return LocatedCrimes(cell, assignment.outside, assignment.no_location, inside, below)


@pytest.mark.parametrize(("resolution", "codes"), [(9, None), (10, None), (9, ["W2"])])
def test_the_shortcut_locates_every_crime_as_the_full_test_does(resolution, codes) -> None:
    wards = wavy_wards()
    crimes = crimes_near_borders(wards)
    grid = build_grid(wards, resolution, codes)

    got = locate_crimes(grid, wards, crimes)
    expected = located_by_full_test(grid, wards, crimes)

    np.testing.assert_array_equal(got.cell, expected.cell)
    np.testing.assert_array_equal(got.in_areas, expected.in_areas)
    assert (got.outside_region, got.no_location, got.below_land_share) == (
        expected.outside_region,
        expected.no_location,
        expected.below_land_share,
    )
    # The shortcut did settle crimes here (else this test would not exercise it) but not the ones
    # near the borders: at least the crimes in the rim cells still went through the full test.
    parents = parent_cells(crimes["h3_cell"], resolution).fill_null(0).to_numpy()
    settled_cells = grid.cells[_settled_cells(grid, wards.areas.geometry.values)]
    settled = np.isin(parents, settled_cells)
    assert settled.any() and settled.mean() < 0.9
    assert expected.in_areas[settled].all()


def test_long_straight_edges_turn_the_shortcut_off() -> None:
    # A 100 km square: its edges straight in degrees and straight in EPSG:3035 part by hundreds
    # of metres, more than a cell, so a land share of 1 does not prove a point inside.
    square = BoundarySet(
        name="square",
        scheme="custom",
        vintage="2022",
        areas=gpd.GeoDataFrame(
            {"code": ["SQ"], "name": ["Square"], "area_m2": [1.0]},
            geometry=[box(-1.5, 51.0, 0.0, 51.9)],
            crs="EPSG:4326",
        ),
    )
    grid = build_grid(square, 7)
    assert not _settled_cells(grid, square.areas.geometry.values).any()
