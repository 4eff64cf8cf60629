"""Study-region H3 cover: every cell a crime inside the region can be counted in, zeros included.

Cover rule. A crime's cell at a study resolution r (7-10) is the parent of its base cell
(resolution 12), which near a coarse cell's edge can be the neighbour of the cell the point is
geometrically in. So the cover is defined through the base cells: it is the set of resolution-r
parents of every resolution-12 cell that overlaps the region (H3 "overlap" containment). Every
point of the region lies in a base cell that overlaps the region, so every crime inside the region
has its study cell in the cover, and no cell is included that no point of the region could reach.

Cell -> area rule. A cell belongs to the area that holds its centre (with the shared-edge rule of
``boundaries.assign``); a cell whose centre lies outside every area of the region (a cell on the
region's rim) belongs to the nearest area, measured in EPSG:27700, ties to the smallest code.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import h3
import numpy as np
import pyarrow as pa
import shapely
from pyproj import Transformer

from boundaries.assign import OUTSIDE, AreaIndex, assign_points
from boundaries.errors import BoundaryError
from boundaries.geometry import BRITISH_NATIONAL_GRID, WGS84
from boundaries.sets import BoundarySet
from pipelines.schema import BASE_H3_RESOLUTION

STUDY_RESOLUTIONS = (7, 8, 9, 10)
_h3 = h3.api.basic_int


@dataclass
class CellCover:
    resolution: int
    cells: np.ndarray  # uint64, sorted
    area: np.ndarray  # int32 per cell: index into ``codes``
    codes: list[str]  # codes of the areas covered
    rim_cells: int  # cells whose centre is outside every area, given to the nearest

    def to_table(self) -> pa.Table:
        codes = np.asarray(self.codes, dtype=object)[self.area]
        return pa.table(
            {
                "cell": pa.array(self.cells, type=pa.uint64()),
                "cell_hex": pa.array([_h3.int_to_str(int(c)) for c in self.cells]),
                "area_code": pa.array(codes, type=pa.string()),
            }
        )


def cover_areas(
    boundary_set: BoundarySet,
    resolution: int,
    codes: Iterable[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CellCover:
    """The complete H3 cover of the chosen areas (all of the set when ``codes`` is None)."""
    if resolution not in STUDY_RESOLUTIONS:
        raise BoundaryError(
            f"study resolution must be one of {', '.join(map(str, STUDY_RESOLUTIONS))}, "
            f"got {resolution}"
        )
    areas = boundary_set.areas
    if codes is not None:
        wanted = list(dict.fromkeys(codes))
        unknown = sorted(set(wanted) - set(areas["code"]))
        if unknown:
            raise BoundaryError(f"area codes not in {boundary_set.name}: {', '.join(unknown)}")
        areas = areas[areas["code"].isin(wanted)]
    areas = areas.reset_index(drop=True)
    if areas.empty:
        raise BoundaryError(f"{boundary_set.name} has no areas to cover")
    key = (_fingerprint(areas), resolution)
    with _COVERS_LOCK:
        cached = _COVERS.get(key)
        if cached is not None:
            _COVERS.move_to_end(key)
            return cached
    cover = _compute_cover(areas, resolution, progress)
    with _COVERS_LOCK:
        _COVERS[key] = cover
        while len(_COVERS) > _COVERS_KEPT:
            _COVERS.popitem(last=False)
    return cover


# Covers by (areas' codes and geometry, resolution). Covering needs every resolution-12 cell
# that overlaps the areas (about 0.8 s for a London borough) while the answer depends on nothing
# else, so every study, comparison and backtest on the same areas and resolution shares one.
_COVERS: OrderedDict[tuple[str, int], CellCover] = OrderedDict()
_COVERS_LOCK = threading.Lock()
_COVERS_KEPT = 64


def _fingerprint(areas: object) -> str:
    digest = hashlib.sha256("\n".join(areas["code"]).encode())
    for wkb in shapely.to_wkb(areas.geometry.values):
        digest.update(wkb)
    return digest.hexdigest()


def _compute_cover(
    areas: object, resolution: int, progress: Callable[[int, int], None] | None
) -> CellCover:
    # Area by area keeps memory bounded (a London borough is ~150,000 base cells).
    parents: set[int] = set()
    geometries = areas.geometry.values
    for done, geometry in enumerate(geometries, start=1):
        for part in shapely.get_parts(geometry):
            shape = _h3.geo_to_h3shape(part.__geo_interface__)
            base = _h3.h3shape_to_cells_experimental(shape, BASE_H3_RESOLUTION, "overlap")
            parents.update(_h3.cell_to_parent(cell, resolution) for cell in base)
        if progress:
            progress(done, len(geometries))
    cells = np.array(sorted(parents), dtype=np.uint64)
    area, rim = _cell_areas(cells, areas)
    for shared in (cells, area):  # covers are shared between callers: never changed in place
        shared.setflags(write=False)
    return CellCover(resolution, cells, area, areas["code"].tolist(), rim)


@functools.cache
def _to_grid() -> Transformer:
    # Building a transformer reads the PROJ database (milliseconds); one serves every study.
    return Transformer.from_crs(WGS84, BRITISH_NATIONAL_GRID, always_xy=True)


def _cell_areas(cells: np.ndarray, areas: object) -> tuple[np.ndarray, int]:
    centres = np.array([_h3.cell_to_latlng(int(c)) for c in cells], dtype=np.float64)
    if len(centres) == 0:
        return np.zeros(0, dtype=np.int32), 0
    index = AreaIndex.of(areas)
    area = assign_points(index, centres[:, 1], centres[:, 0]).area
    rim = np.flatnonzero(area == OUTSIDE)
    if len(rim):
        x, y = _to_grid().transform(centres[rim, 1], centres[rim, 0])
        projected = areas.geometry.to_crs(BRITISH_NATIONAL_GRID).values.to_numpy()
        tree = shapely.STRtree(projected)
        point_index, area_index = tree.query_nearest(shapely.points(x, y), all_matches=True)
        best = np.full(len(rim), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, point_index, index.rank[area_index])  # ties: smallest code
        by_rank = np.argsort(index.rank)
        area[rim] = by_rank[best]
    return area.astype(np.int32), len(rim)
