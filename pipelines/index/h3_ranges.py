"""A region as ranges of stored (resolution-12) H3 cell numbers, for reads that skip the rest.

An H3 cell number holds its resolution, base cell and one 3-bit digit per resolution, coarse
digits in the high bits; the unused digits of a coarse cell are 7. So every resolution-12
descendant of a cell P at resolution r is a number between two bounds: P's number with the
resolution set to 12 and digits r+1..12 all 0 (the lowest) or all 6 (the highest). A region's
cells give a short sorted list of such ranges, and a Parquet file's min/max statistics of
``h3_cell`` (per file and per row group) say whether any of its rows can fall in one. The ranges
are a superset of the region (whole coarse cells), never a subset: the exact point-in-polygon
test comes after.
"""

from __future__ import annotations

import h3ronpy
import numpy as np
import pyarrow as pa

from pipelines import arrow_numpy
from pipelines.schema import BASE_H3_RESOLUTION

_RESOLUTION_SHIFT = 52
_RESOLUTION_MASK = np.uint64(0xF << _RESOLUTION_SHIFT)
# Ranges kept at most: coarser parents are taken until the region needs no more than this many.
MAX_RANGES = 256


def _digit_mask(first: int, last: int, value: int) -> int:
    """``value`` in every digit first..last (1-based; digit d sits at bits (15 - d) * 3)."""
    mask = 0
    for digit in range(first, last + 1):
        mask |= value << ((15 - digit) * 3)
    return mask


def descendant_bounds(cells: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) uint64 arrays: the lowest and highest resolution-12 descendant of each of
    ``cells`` (all at ``resolution``), in the order given."""
    cells = np.asarray(cells, dtype=np.uint64)
    at_base = (cells & ~_RESOLUTION_MASK) | np.uint64(BASE_H3_RESOLUTION << _RESOLUTION_SHIFT)
    low = at_base & ~np.uint64(_digit_mask(resolution + 1, BASE_H3_RESOLUTION, 7))
    high = low | np.uint64(_digit_mask(resolution + 1, BASE_H3_RESOLUTION, 6))
    return low, high


def descendant_ranges(cells: np.ndarray, resolution: int) -> np.ndarray:
    """(n, 2) uint64 [low, high] of the resolution-12 descendants of each ``cells`` (all at
    ``resolution``), sorted and merged where they overlap or touch."""
    cells = _distinct(np.asarray(cells, dtype=np.uint64))
    if not len(cells):
        return np.empty((0, 2), dtype=np.uint64)
    return _merge(*descendant_bounds(cells, resolution))


def region_ranges(
    cells: np.ndarray, resolution: int, max_ranges: int = MAX_RANGES, rings: int = 0
) -> np.ndarray:
    """Ranges covering the region of ``cells`` (and ``rings`` rings of neighbours around it):
    the cells' own, or those of their parents at the finest coarser resolution that needs at
    most ``max_ranges`` ranges (fewer, wider ranges cost less to test than extra rows do)."""
    cells = _distinct(np.asarray(cells, dtype=np.uint64))
    if rings and len(cells):
        disks = pa.array(h3ronpy.grid_disk(cells, rings)).flatten()
        cells = _distinct(arrow_numpy.to_numpy(disks).astype(np.uint64, copy=False))
    ranges = descendant_ranges(cells, resolution)
    coarse = resolution
    while len(ranges) > max_ranges and coarse > 0:
        coarse -= 1
        # The parents of the previous level's distinct parents: the same cells as the parents
        # of every cell, from a list about seven times shorter each step.
        cells = _distinct(
            arrow_numpy.to_numpy(pa.array(h3ronpy.change_resolution(cells, coarse))).astype(
                np.uint64, copy=False
            )
        )
        ranges = descendant_ranges(cells, coarse)
    return ranges


def _merge(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Sorted [low, high] ranges, merged where they overlap or touch (vectorised: a new range
    starts where its low is past every earlier high + 1)."""
    order = np.argsort(low, kind="stable")
    low, high = low[order], high[order]
    reach = np.maximum.accumulate(high)
    starts = np.flatnonzero(np.r_[True, low[1:] > reach[:-1] + np.uint64(1)])
    return np.column_stack([low[starts], np.maximum.reduceat(high, starts)]).astype(np.uint64)


def _distinct(cells: np.ndarray) -> np.ndarray:
    """Sorted distinct values (numpy's hash-based ``unique`` is far slower on uint64 here)."""
    ordered = np.sort(cells)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def spans_meeting(ranges: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Boolean mask: which spans [low[i], high[i]] meet any of ``ranges`` (sorted, disjoint).
    The last range starting at or before a span's end is the only one that can reach it."""
    if not len(ranges):
        return np.zeros(len(low), dtype=bool)
    index = np.searchsorted(ranges[:, 0], np.asarray(high, dtype=np.uint64), side="right") - 1
    return (index >= 0) & (ranges[np.maximum(index, 0), 1] >= np.asarray(low, dtype=np.uint64))


def overlaps(ranges: np.ndarray, low: int, high: int) -> bool:
    """Whether any range meets [low, high] (the ranges are sorted and disjoint)."""
    index = int(np.searchsorted(ranges[:, 0], np.uint64(high), side="right")) - 1
    return index >= 0 and int(ranges[index, 1]) >= low


def in_ranges(ranges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Boolean mask of ``values`` (uint64; 0 for null) inside any range."""
    values = np.asarray(values, dtype=np.uint64)
    if not len(ranges):
        return np.zeros(len(values), dtype=bool)
    index = np.searchsorted(ranges[:, 0], values, side="right") - 1
    found = index >= 0
    clipped = np.maximum(index, 0)
    return found & (values <= ranges[clipped, 1])
