"""Study-region H3 cover: the land-only cells of the areas at the study resolution, with the share
of each cell that lies inside the areas.

Region rule. A resolution-r cell enters the study region when at least ``MIN_LAND_SHARE`` (half)
of its area lies inside the areas. Land share = area(cell ∩ areas) / area(cell), both measured on
the cell's boundary polygon in ETRS89-LAEA (EPSG:3035, an equal-area projection). Zero cells on
land stay; cells mostly in the sea or in a neighbouring district do not enter Gi* as zeros. Each
region cell's clipped area (land share × the cell's H3 area) serves densities, and the region's
land area (the sum of the clipped areas) is close to the areas' own area (the PAI denominator is
the areas' land area itself, see ``pipelines.planning.backtest``).

How it is computed (hierarchically, vectorised; ``boundaries.land_share``). Whole interior cells
come from one centre fill of the merged areas (h3ronpy, H3 in Rust); exact geometry is done only
for a band of cells along the region's boundary (the cells of boundary samples and their 1-ring),
so the work grows with the perimeter, not the area. A cell's share is measured against the areas
merged into one region (areas of a set do not overlap; overlapping custom areas are unioned, so a
share never exceeds 1). Cell areas, centres and hex strings are vectorised too. The first cover
listed every resolution-12 cell touching the areas and took parents in a Python loop (5.9 M cells,
46 s for London); the second filled each area with H3's "overlap" containment and built every
cell's polygon; ``benchmarks/h3_cover.py`` times these against the analyst's ``h3.geo_to_cells``.

A crime inside the areas whose study cell is not a region cell (a rim cell less than half inside,
or a cell its snapped base cell's parent reaches across a rim) is left out of the cell statistics
and counted in the study's provenance (``crimes.in_cells_below_land_share``); area totals, which
count by point in polygon, still hold it.

Cell -> area rule. A cell belongs to the area that holds its centre (with the shared-edge rule of
``boundaries.assign``); a cell whose centre lies outside every area (a rim cell at least half
inside) belongs to the nearest area, measured in EPSG:3035, ties to the smallest code.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import h3
import numpy as np
import pyarrow as pa
import shapely

from boundaries.assign import OUTSIDE, AreaIndex, assign_points
from boundaries.errors import BoundaryError
from boundaries.land_share import (
    EQUAL_AREA,
    cell_centres,
    cell_polygons,
    cells_to_strings,
    equal_area,
    land_shares,
    merged_region,
)
from boundaries.sets import AreaColumns, BoundarySet
from pipelines.cache import active_cache
from pipelines.quoting import quoted

__all__ = [
    "EQUAL_AREA",
    "MIN_LAND_SHARE",
    "REGION_RULE",
    "STUDY_RESOLUTIONS",
    "CellCover",
    "cell_polygons",
    "compute_cover",
    "cover_areas",
    "land_shares",
]

STUDY_RESOLUTIONS = (7, 8, 9, 10)
MIN_LAND_SHARE = 0.5
REGION_RULE = (
    f"a cell enters the region when at least {MIN_LAND_SHARE:.0%} of its area lies inside the "
    f"areas (measured in {EQUAL_AREA}, equal-area); densities use each cell's clipped area"
)
_h3 = h3.api.basic_int


@dataclass
class CellCover:
    resolution: int
    cells: np.ndarray  # uint64, sorted: the region's cells
    area: np.ndarray  # int32 per cell: index into ``codes``
    codes: list[str]  # codes of the areas covered
    rim_cells: int  # cells whose centre is outside every area, given to the nearest
    land_share: np.ndarray  # float64 per cell: share of its area inside the areas (0.5..1)
    cell_km2: np.ndarray  # float64 per cell: the H3 cell's whole area
    cells_below_share: int  # cells touching the areas but less than half inside: left out
    areas_km2: float  # the areas' own area (equal-area), the region's true land area
    centres: np.ndarray  # float64 (cells x 2): each cell's centre (lat, lng)

    @property
    def land_km2(self) -> np.ndarray:
        """Each cell's area inside the areas (clipped), for densities."""
        return self.land_share * self.cell_km2

    def provenance(self) -> dict:
        return {
            "rule": REGION_RULE,
            "cells": len(self.cells),
            "cells_below_land_share": self.cells_below_share,
            "areas_km2": round(self.areas_km2, 3),
            "cells_land_km2": round(float(self.land_km2.sum()), 3),
            "cells_whole_km2": round(float(self.cell_km2.sum()), 3),
        }

    def to_table(self) -> pa.Table:
        codes = np.asarray(self.codes, dtype=object)[self.area]
        return pa.table(
            {
                "cell": pa.array(self.cells, type=pa.uint64()),
                "cell_hex": cells_to_strings(self.cells),
                "area_code": pa.array(codes, type=pa.string()),
                "land_share": pa.array(self.land_share, type=pa.float64()),
                "land_km2": pa.array(self.land_km2, type=pa.float64()),
            }
        )


def cover_areas(
    boundary_set: BoundarySet,
    resolution: int,
    codes: Iterable[str] | None = None,
) -> CellCover:
    """The land-only H3 cover of the chosen areas (all of the set when ``codes`` is None).

    Parameters
    ----------
    boundary_set
        The stored set whose areas are covered (WGS84 geometry).
    resolution
        The study resolution, one of ``STUDY_RESOLUTIONS``.
    codes
        Area codes of the region; None for the whole set.
    """
    if resolution not in STUDY_RESOLUTIONS:
        raise BoundaryError(
            f"study resolution must be one of {', '.join(map(str, STUDY_RESOLUTIONS))}, "
            f"got {resolution}"
        )
    areas = boundary_set.area_columns()
    if codes is not None:
        wanted = list(dict.fromkeys(codes))
        unknown = sorted(set(wanted) - set(areas.codes))
        if unknown:
            shown = ", ".join(quoted(code) for code in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise BoundaryError(f"area codes not in {boundary_set.name}: {shown}{more}")
        areas = areas.chosen(wanted)
    if not len(areas):
        raise BoundaryError(f"{boundary_set.name} has no areas to cover")
    # Covers go to the on-disk cache (pipelines.cache), keyed by the areas' codes and geometry
    # and the resolution: the answer depends on nothing else, so every study, comparison and
    # backtest on the same areas, in every process and after a restart, shares one.
    # The dataclass's field names too: a cover of an older shape is never read as this one.
    key = (_fingerprint(areas), resolution, _COVER_FIELDS)
    cache = active_cache()
    cover = cache.get("cover", key)
    if cover is None:
        cover = compute_cover(areas, resolution)
        cache.set("cover", key, cover)
    return _frozen(cover)  # unpickled arrays are writeable again


def _fingerprint(areas: AreaColumns) -> str:
    digest = hashlib.sha256("\n".join(areas.codes).encode())
    digest.update(b"".join(shapely.to_wkb(areas.geometries)))
    return digest.hexdigest()


def compute_cover(areas: object, resolution: int) -> CellCover:
    """The cover of ``areas`` (``AreaColumns``, or a GeoDataFrame with code and WGS84 geometry)
    at ``resolution``.

    A pure function of the areas' codes and geometry and the resolution, so a cache can be keyed
    by them (``cover_areas`` keeps them on disk).
    """
    areas = AreaColumns.of(areas)
    region = merged_region(list(areas.geometries))
    candidates, shares = land_shares(areas.geometries, resolution, region)
    keep = shares >= MIN_LAND_SHARE
    cells = candidates[keep]
    centres = cell_centres(cells)
    area, rim = _cell_areas(centres, areas, inside=shares[keep] == 1.0)
    cover = CellCover(
        resolution=resolution,
        cells=cells,
        area=area,
        codes=list(areas.codes),
        rim_cells=rim,
        land_share=shares[keep],
        cell_km2=_cell_km2(cells),
        cells_below_share=int((~keep).sum()),
        areas_km2=float(shapely.area(equal_area(region))) / 1e6,
        centres=centres,
    )
    return _frozen(cover)


_COVER_FIELDS = tuple(f.name for f in dataclasses.fields(CellCover))


def _frozen(cover: CellCover) -> CellCover:
    for shared in (cover.cells, cover.area, cover.land_share, cover.cell_km2, cover.centres):
        shared.setflags(write=False)  # covers are shared between callers: never changed in place
    return cover


def _cell_km2(cells: np.ndarray) -> np.ndarray:
    # H3's own cell areas; the C call in a loop measured faster than h3ronpy's vectorised one.
    return np.array([_h3.cell_area(c, unit="km^2") for c in cells.tolist()], dtype=np.float64)


def _cell_areas(
    centres: np.ndarray, areas: AreaColumns, inside: np.ndarray
) -> tuple[np.ndarray, int]:
    """Each cell's area (by its centre, else the nearest) and how many centres lie outside.

    ``inside`` marks cells wholly inside the areas: with a single area they need no test.
    """
    area = np.zeros(len(centres), dtype=np.int32)
    if len(centres) == 0:
        return area, 0
    index = AreaIndex.of(areas)
    tested = np.flatnonzero(~inside) if len(index.codes) == 1 else np.arange(len(centres))
    area[tested] = assign_points(index, centres[tested, 1], centres[tested, 0]).area
    rim = np.flatnonzero(area == OUTSIDE)
    if len(rim):
        # Distances in EPSG:3035, the projection the shares are measured in (its transformer is
        # built already; a British National Grid one costs ~0.1 s of PROJ database reads).
        points = equal_area(shapely.points(centres[rim, 1], centres[rim, 0]))
        tree = shapely.STRtree(equal_area(areas.geometries))
        point_index, area_index = tree.query_nearest(points, all_matches=True)
        best = np.full(len(rim), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, point_index, index.rank[area_index])  # ties: smallest code
        by_rank = np.argsort(index.rank)
        area[rim] = by_rank[best]
    return area, len(rim)
