"""The study grid: every H3 cell of the region (zeros included) and the crimes that fall in each.

A crime belongs to the study when its point lies inside the region (exact point in polygon,
``boundaries.assign``); its cell is the parent of its stored base cell at the study resolution
(``pipelines.index.h3_cells.parent_cells``). The region's H3 cover is built so that every such
cell is in it (``boundaries.h3_cover``), so no crime inside the region is lost between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import h3
import numpy as np
import pyarrow as pa

from boundaries.assign import AreaIndex, assign_table
from boundaries.h3_cover import CellCover, cover_areas
from boundaries.sets import BoundarySet
from pipelines.errors import InputError
from pipelines.index.h3_cells import parent_cells


class GridError(InputError):
    """A study region that cannot be gridded as asked."""


@dataclass
class StudyGrid:
    boundary_set: str
    codes: list[str]  # the region's area codes
    cover: CellCover

    @property
    def resolution(self) -> int:
        return self.cover.resolution

    @property
    def cells(self) -> np.ndarray:
        return self.cover.cells

    def __len__(self) -> int:
        return len(self.cover.cells)

    def cell_area_codes(self) -> np.ndarray:
        """The area each cell is given to (by its centre; see boundaries/h3_cover.py)."""
        return np.asarray(self.cover.codes, dtype=object)[self.cover.area]

    def cell_areas_km2(self) -> np.ndarray:
        return np.array([h3.cell_area(h3.int_to_str(int(c)), unit="km^2") for c in self.cells])

    def cell_centres(self) -> np.ndarray:
        """(lat, lng) of each cell centre."""
        return np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in self.cells])


def build_grid(
    boundary_set: BoundarySet, resolution: int, codes: list[str] | None = None
) -> StudyGrid:
    """The complete H3 cover of the region: the whole set, or the areas named by ``codes``."""
    cover = cover_areas(boundary_set, resolution, codes)
    return StudyGrid(boundary_set.name, list(cover.codes), cover)


@dataclass
class LocatedCrimes:
    cell: np.ndarray  # int64 per crime: index into grid.cells, -1 when outside the region
    outside_region: int  # located crimes outside the region
    no_location: int  # crimes without a map point

    @property
    def inside(self) -> np.ndarray:
        return self.cell >= 0


def locate_crimes(grid: StudyGrid, boundary_set: BoundarySet, crimes: pa.Table) -> LocatedCrimes:
    """Each crime's study cell (index into the grid), or -1 when its point is outside the region."""
    region = boundary_set.areas[boundary_set.areas["code"].isin(grid.codes)]
    assignment = assign_table(AreaIndex.of(region), crimes)
    inside = assignment.area >= 0
    # Nulls (no location) become 0, which is never a cell; filled first so uint64 stays exact.
    parents = parent_cells(crimes["h3_cell"], grid.resolution).fill_null(0).to_numpy()
    # A cover always has cells (cover_areas refuses an empty region), so clipping is safe.
    position = np.minimum(np.searchsorted(grid.cells, parents), len(grid.cells) - 1)
    found = inside & (grid.cells[position] == parents)
    lost = int((inside & ~found).sum())
    if lost:
        # The cover is built to contain every inside crime's cell; reaching here is a bug.
        raise GridError(f"{lost} crimes inside the region fell outside its H3 cover")
    cell = np.where(found, position, -1).astype(np.int64)
    return LocatedCrimes(cell, assignment.outside, assignment.no_location)


def sum_by_cell(
    located: LocatedCrimes, n_cells: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Per-cell total of ``weights`` (1 per crime when None) over the crimes inside the region."""
    inside = located.inside
    return np.bincount(
        located.cell[inside],
        weights=None if weights is None else np.asarray(weights, dtype=np.float64)[inside],
        minlength=n_cells,
    ).astype(np.float64)


def series_by_cell(
    located: LocatedCrimes,
    period_index: np.ndarray,
    n_periods: int,
    n_cells: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """periods x cells totals, for trends and emerging hotspots."""
    inside = located.inside & (period_index >= 0)
    flat = period_index[inside].astype(np.int64) * n_cells + located.cell[inside]
    totals = np.bincount(
        flat,
        weights=None if weights is None else np.asarray(weights, dtype=np.float64)[inside],
        minlength=n_periods * n_cells,
    )
    return totals.reshape(n_periods, n_cells).astype(np.float64)
