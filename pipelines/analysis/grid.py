"""The study grid: every H3 cell of the region (zeros included) and the crimes that fall in each.

A crime belongs to the study when its point lies inside the region (exact point in polygon,
``boundaries.assign``); its cell is the parent of its stored base cell at the study resolution
(``pipelines.index.h3_cells.parent_cells``). The region's cells are those at least half on land
inside the areas (``boundaries.h3_cover``); a crime inside the areas whose cell is a rim cell below
that share is left out of the cell statistics and counted (``below_land_share``), never silently.
Crimes deep inside the region (cell and 1-ring wholly inside) skip the polygon test, same answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import h3
import h3ronpy
import numpy as np
import pyarrow as pa
import shapely

from boundaries.assign import AreaIndex, assign_points
from boundaries.h3_cover import CellCover, cover_areas
from boundaries.sets import BoundarySet
from pipelines import arrow_numpy
from pipelines.index.h3_cells import parent_cells

METRES_PER_DEGREE = 111_320.0  # a degree of latitude (an upper bound for one of longitude)


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
        """Each cell's area inside the region's areas (clipped at the coast and the edge)."""
        return np.asarray(self.cover.land_km2)

    def land_shares(self) -> np.ndarray:
        """Each cell's share of its area inside the region's areas (0.5..1)."""
        return np.asarray(self.cover.land_share)

    @property
    def land_km2(self) -> float:
        """The region's own land area: the areas' area, the denominator of PAI."""
        return self.cover.areas_km2

    def cell_centres(self) -> np.ndarray:
        """(lat, lng) of each cell centre."""
        return np.asarray(self.cover.centres)


def build_grid(
    boundary_set: BoundarySet, resolution: int, codes: list[str] | None = None
) -> StudyGrid:
    """The complete H3 cover of the region: the whole set, or the areas named by ``codes``."""
    cover = cover_areas(boundary_set, resolution, codes)
    return StudyGrid(boundary_set.name, list(cover.codes), cover)


@dataclass
class LocatedCrimes:
    cell: np.ndarray  # int64 per crime: index into grid.cells, -1 when not in a region cell
    outside_region: int | None  # located crimes outside the region (None: not counted)
    no_location: int  # crimes without a map point
    in_areas: np.ndarray  # bool per crime: its point is inside the region's areas
    below_land_share: int = 0  # crimes inside the areas whose cell is less than half inside

    @property
    def inside(self) -> np.ndarray:
        """Crimes in a region cell: those the cell statistics count."""
        return self.cell >= 0


def locate_crimes(grid: StudyGrid, boundary_set: BoundarySet, crimes: pa.Table) -> LocatedCrimes:
    """Each crime's study cell (index into the grid), or -1 when its point is outside the region.

    A crime whose study cell and that cell's whole 1-ring lie wholly inside the areas is inside
    without a point-in-polygon test (its point is in its base cell, which lies within its parent
    and the parent's neighbours); only the others are tested exactly. ``_settled_cells`` says when
    that holds.
    """
    region = boundary_set.area_columns().chosen(grid.codes)
    # Nulls (no location) become 0, which is never a cell; filled first so uint64 stays exact.
    parents = arrow_numpy.to_numpy(parent_cells(crimes["h3_cell"], grid.resolution), nulls_as=0)
    # A cover always has cells (cover_areas refuses an empty region), so clipping is safe.
    position = np.minimum(np.searchsorted(grid.cells, parents), len(grid.cells) - 1)
    in_cover = grid.cells[position] == parents
    settled = in_cover & _settled_cells(grid, region.geometries)[position]
    # Only the coordinates of the rest are tested (filtering the whole table would copy every
    # column, street names included).
    rest = ~settled
    longitude, latitude = (_floats(crimes[name])[rest] for name in ("longitude", "latitude"))
    assignment = assign_points(AreaIndex.of(region), longitude, latitude)
    inside = settled.copy()
    inside[rest] = assignment.area >= 0
    found = inside & in_cover
    # Inside the areas, but in a rim cell mostly at sea or over the boundary: not a region cell.
    below = int((inside & ~found).sum())
    cell = np.where(found, position, -1).astype(np.int64)
    return LocatedCrimes(cell, assignment.outside, assignment.no_location, inside, below)


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    """A coordinate column as float64 (null: NaN, no location)."""
    return arrow_numpy.to_numpy(column, nulls_as=np.nan).astype(np.float64, copy=False)


def _settled_cells(grid: StudyGrid, geometries: np.ndarray) -> np.ndarray:
    """Per grid cell: it and its 1-ring are wholly inside the areas (land share 1), with room to
    spare for the areas' own edges.

    Land shares are measured with the areas' edges straight in EPSG:3035, while point in polygon
    reads them straight in degrees; the two lines part by up to ~300 m over a 93 km edge, growing
    with the square of the length. The shortcut is used only when twice that bound, for the
    areas' longest edge, is under half a cell edge (a ring cell is wider than 1.7 edges, and a
    base cell strays well under half an edge from its parent); otherwise no cell is settled.
    """
    whole = grid.cover.land_share >= 1.0
    if not whole.any() or _edge_drift_m(geometries) >= _cell_edge_m(grid.resolution) / 2:
        return np.zeros(len(grid.cells), dtype=bool)
    disks = pa.array(h3ronpy.grid_disk(arrow_numpy.from_numpy(grid.cells, pa.uint64()), 1))
    ring = arrow_numpy.to_numpy(disks.flatten()).astype(np.uint64)
    starts = arrow_numpy.to_numpy(disks.offsets)[:-1]
    where = np.minimum(np.searchsorted(grid.cells, ring), len(grid.cells) - 1)
    ring_whole = (grid.cells[where] == ring) & whole[where]
    return np.logical_and.reduceat(ring_whole, starts)


def _edge_drift_m(geometries: np.ndarray) -> float:
    """A safe upper bound (metres) on how far an edge straight in degrees strays from the same
    edge straight in EPSG:3035, for the areas' longest edge."""
    rings = shapely.get_rings(shapely.get_parts(geometries))
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring_of[1:] == ring_of[:-1]
    if not same_ring.any():
        return 0.0
    # Degrees of longitude counted at a degree of latitude's length: longer than true, so safe.
    longest_m = float(np.hypot(*np.diff(xy, axis=0)[same_ring].T).max()) * METRES_PER_DEGREE
    return 2 * 302.0 * (longest_m / 93_000.0) ** 2


def _cell_edge_m(resolution: int) -> float:
    return h3.average_hexagon_edge_length(resolution, unit="m")


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
