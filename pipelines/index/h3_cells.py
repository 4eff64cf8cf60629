"""H3 cells for crime points, computed once per distinct snapped coordinate.

police.uk moves every crime to one of a finite set of anonymous map points, so a month of a
force's crimes has far fewer distinct coordinates than rows. Indexing the distinct coordinates
and joining back gives the same cells as indexing every row, for a fraction of the calls.

The H3 calls themselves are vectorised with h3ronpy (the H3 library's Rust port, over Arrow
arrays): about twice the speed of a Python loop over ``h3.latlng_to_cell`` and the same cells
(tests/test_h3_cells.py compares them).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from h3ronpy.vector import coordinates_to_cells

from pipelines import arrow_numpy
from pipelines.schema import BASE_H3_RESOLUTION


def _coordinate_keys(latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    """One int64 per coordinate pair at police.uk's 6-decimal precision."""
    lat_micro = np.round(latitude * 1e6).astype(np.int64)
    lng_micro = np.round(longitude * 1e6).astype(np.int64)
    return (lat_micro << 32) ^ (lng_micro & 0xFFFFFFFF)


class KnownPoints:
    """Cells of map points already indexed, kept between the files one process ingests.

    police.uk snaps crimes to a fixed set of map points per force, so most of a month's points
    were in the months before: looking them up (sorted keys, a binary search) costs less than
    indexing them again. Not thread-safe: one per thread. Emptied past ``limit`` points."""

    def __init__(self, limit: int = 2_000_000) -> None:
        self.limit = limit
        self._keys = np.empty(0, dtype=np.int64)
        self._cells = np.empty(0, dtype=np.uint64)

    def __len__(self) -> int:
        return len(self._keys)

    def cells(self, keys: np.ndarray, latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
        """Base-resolution cells of the points with ``keys`` (sorted, distinct) at ``latitude``,
        ``longitude``: the known ones looked up, the others indexed and remembered."""
        at = np.searchsorted(self._keys, keys)
        known = at < len(self._keys)
        known[known] = self._keys[at[known]] == keys[known]
        cells = np.empty(len(keys), dtype=np.uint64)
        cells[known] = self._cells[at[known]]
        new = ~known
        if new.any():
            found = arrow_numpy.to_uint64(
                coordinates_to_cells(latitude[new], longitude[new], BASE_H3_RESOLUTION)
            )
            cells[new] = found
            if len(self._keys) + len(found) > self.limit:
                self._keys, self._cells = keys[new], found  # start again (still sorted)
            else:
                self._keys = np.insert(self._keys, at[new], keys[new])
                self._cells = np.insert(self._cells, at[new], found)
        return cells


def cells_for_points(
    latitude: np.ndarray,
    longitude: np.ndarray,
    resolution: int = BASE_H3_RESOLUTION,
    known: KnownPoints | None = None,
) -> pa.Array:
    """H3 cell (uint64) of each point; null where either coordinate is NaN. ``known``: points
    indexed before (base resolution only), looked up instead of indexed again."""
    latitude = np.asarray(latitude, dtype=np.float64)
    longitude = np.asarray(longitude, dtype=np.float64)
    located = ~(np.isnan(latitude) | np.isnan(longitude))
    cells = np.zeros(len(latitude), dtype=np.uint64)
    if located.any():
        lat, lng = latitude[located], longitude[located]
        keys = _coordinate_keys(lat, lng)
        unique_keys, first_index, inverse = _distinct(keys)
        lat, lng = lat[first_index], lng[first_index]
        if known is not None and resolution == BASE_H3_RESOLUTION:
            distinct = known.cells(unique_keys, lat, lng)
        else:
            distinct = arrow_numpy.to_uint64(coordinates_to_cells(lat, lng, resolution))
        cells[located] = distinct[inverse]
    return arrow_numpy.from_numpy(cells, pa.uint64(), mask=~located)


def _distinct(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(keys, return_index=True, return_inverse=True)`` of a non-empty array, with
    numpy's fast unstable argsort: np.unique's stable one (to find each key's first row) was
    twice the time. The first row of each key is the smallest row number in its run."""
    order = np.argsort(keys)
    ordered = keys[order]
    starts_run = np.empty(len(keys), dtype=bool)
    starts_run[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_run[1:])
    starts = np.flatnonzero(starts_run)
    inverse = np.empty(len(keys), dtype=np.intp)
    inverse[order] = np.cumsum(starts_run) - 1
    return ordered[starts], np.minimum.reduceat(order, starts), inverse


def parent_cells(cells: pa.Array | pa.ChunkedArray, resolution: int) -> pa.Array:
    """Each stored cell's ancestor at a coarser study resolution (7-10); nulls stay null.

    A crime's study cell is defined as the parent of its base cell, so counts at every resolution
    nest exactly. H3 children do not tile their parent exactly: for a point within a few metres of
    a coarse cell's edge, the parent can differ from indexing the point directly at the coarse
    resolution (docs/store.md explains why this is the right trade).
    """
    if not 0 <= resolution <= BASE_H3_RESOLUTION:
        raise ValueError(f"resolution must be 0..{BASE_H3_RESOLUTION}, got {resolution}")
    if isinstance(cells, pa.ChunkedArray):
        cells = cells.combine_chunks()
    values = arrow_numpy.to_numpy(cells, nulls_as=0).astype(np.uint64, copy=False)
    # H3's cellToParent is two bit operations on the cell number: the resolution field set to
    # the coarser one and the digits below it set to 7 (unused). Done on the whole array at
    # once, in one new array (tests/test_h3_cells.py checks it equals h3.cell_to_parent).
    parents = values & ~_RESOLUTION_MASK
    parents |= np.uint64((resolution << _RESOLUTION_SHIFT) | _unused_digits(resolution))
    if not cells.null_count:
        return arrow_numpy.from_numpy(parents, pa.uint64())
    valid = arrow_numpy.to_numpy(cells.is_valid())
    parents[~valid] = 0
    return arrow_numpy.from_numpy(parents, pa.uint64(), mask=~valid)


_RESOLUTION_SHIFT = 52
_RESOLUTION_MASK = np.uint64(0xF << _RESOLUTION_SHIFT)


def _unused_digits(resolution: int) -> int:
    """All digits finer than ``resolution`` set to 7 (digit d sits at bits (15 - d) * 3)."""
    return sum(7 << ((15 - digit) * 3) for digit in range(resolution + 1, 16))
