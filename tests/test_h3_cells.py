"""Vectorised H3 indexing (h3ronpy) gives exactly the cells of the h3 library, point by point."""

from __future__ import annotations

import h3
import numpy as np
import pyarrow as pa
import pytest

from pipelines.index.h3_cells import KnownPoints, cells_for_points, parent_cells


@pytest.fixture(scope="module")
def points() -> tuple[np.ndarray, np.ndarray]:
    """Points across England and Wales at police.uk's 6 decimals, with repeats (snap points) and
    rows without a location."""
    rng = np.random.default_rng(12)
    latitude = np.round(rng.uniform(49.9, 55.8, 5_000), 6)
    longitude = np.round(rng.uniform(-6.4, 1.8, 5_000), 6)
    latitude, longitude = np.tile(latitude, 3), np.tile(longitude, 3)
    latitude[::37] = np.nan
    longitude[::41] = np.nan
    return latitude, longitude


def test_base_cells_equal_h3_latlng_to_cell(points: tuple[np.ndarray, np.ndarray]) -> None:
    latitude, longitude = points
    cells = cells_for_points(latitude, longitude).to_pylist()
    expected = [
        None if np.isnan(lat) or np.isnan(lng) else h3.api.basic_int.latlng_to_cell(lat, lng, 12)
        for lat, lng in zip(latitude.tolist(), longitude.tolist(), strict=True)
    ]
    assert cells == expected
    assert cells.count(None) == int((np.isnan(latitude) | np.isnan(longitude)).sum())


# 7-10: study resolutions; 4: the store's partition index; 0 and 12: the extremes.
@pytest.mark.parametrize("resolution", [0, 4, 7, 8, 9, 10, 12])
def test_parents_equal_h3_cell_to_parent(
    points: tuple[np.ndarray, np.ndarray], resolution: int
) -> None:
    base = cells_for_points(*points)
    parents = parent_cells(base, resolution).to_pylist()
    expected = [
        None if cell is None else h3.api.basic_int.cell_to_parent(cell, resolution)
        for cell in base.to_pylist()
    ]
    assert parents == expected
    # Without nulls, in chunks (as a store read gives them): the same parents.
    located = base.drop_null()
    chunked = pa.chunked_array([located[:1_000], located[1_000:]])
    assert parent_cells(chunked, resolution).to_pylist() == [c for c in expected if c is not None]


@pytest.mark.parametrize("limit", [2_000_000, 300])
def test_known_points_give_the_cells_of_indexing_again(
    points: tuple[np.ndarray, np.ndarray], limit: int
) -> None:
    """Months of one force share most map points: cells looked up from earlier files equal
    cells indexed afresh, also when the remembered points are emptied at their limit."""
    latitude, longitude = points
    known = KnownPoints(limit=limit)
    rng = np.random.default_rng(3)
    for _ in range(4):
        month = rng.choice(len(latitude), size=len(latitude) // 2)
        expected = cells_for_points(latitude[month], longitude[month])
        assert cells_for_points(latitude[month], longitude[month], known=known).equals(expected)
    assert 0 < len(known) <= max(limit, len(latitude))


@pytest.mark.parametrize("size", [1, 2, 50, 5_000])
def test_distinct_keys_equal_numpy_unique(size: int) -> None:
    """The map points' distinct keys, each key's first row and every row's key number are
    np.unique's, repeated keys (most of a month's rows) included."""
    from pipelines.index.h3_cells import _distinct

    rng = np.random.default_rng(size)
    keys = rng.integers(-(2**40), 2**40, size=max(1, size // 3))[
        rng.integers(0, max(1, size // 3), size)
    ]
    expected = np.unique(keys, return_index=True, return_inverse=True)
    for got, want in zip(_distinct(keys), expected, strict=True):
        assert np.array_equal(got, want.ravel())
