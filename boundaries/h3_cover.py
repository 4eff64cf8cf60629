"""Study-region H3 cover: the land-only cells of the areas at the study resolution, with the share
of each cell that lies inside the areas.

Region rule. A resolution-r cell enters the study region when at least ``MIN_LAND_SHARE`` (half)
of its area lies inside the areas. Land share = area(cell ∩ areas) / area(cell), both measured on
the cell's boundary polygon in ETRS89-LAEA (EPSG:3035, an equal-area projection). Zero cells on
land stay; cells mostly in the sea or in a neighbouring district do not enter Gi* as zeros. Each
region cell's clipped area (land share × the cell's H3 area) serves densities, and the region's
land area (the sum of the clipped areas) is close to the areas' own area (the PAI denominator is
the areas' land area itself, see ``pipelines.planning.backtest``).

How it is computed (hierarchically, vectorised). For each area polygon, H3's C containment gives
the cells wholly inside it ("full": land share 1 in that area, no geometry work) and the cells
touching it ("overlap"). Only the rim pairs (overlap minus full) are intersected exactly, by
shapely's vectorised ``intersection`` in EPSG:3035; a cell's share is the sum over the areas it
touches (areas of a set do not overlap; the sum is capped at 1 should custom areas overlap). The
old cover listed every resolution-12 cell touching the areas and took parents in a Python loop
(5.9 M cells, 46 s for London); ``benchmarks/h3_cover.py`` times both.

A crime inside the areas whose study cell is not a region cell (a rim cell less than half inside,
or a cell its snapped base cell's parent reaches across a rim) is left out of the cell statistics
and counted in the study's provenance (``crimes.in_cells_below_land_share``); area totals, which
count by point in polygon, still hold it.

Cell -> area rule. A cell belongs to the area that holds its centre (with the shared-edge rule of
``boundaries.assign``); a cell whose centre lies outside every area (a rim cell at least half
inside) belongs to the nearest area, measured in EPSG:27700, ties to the smallest code.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
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
from pipelines.cache import active_cache

STUDY_RESOLUTIONS = (7, 8, 9, 10)
MIN_LAND_SHARE = 0.5
EQUAL_AREA = "EPSG:3035"  # ETRS89-LAEA Europe: areas in m², true to scale everywhere in the UK
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
                "cell_hex": pa.array([_h3.int_to_str(int(c)) for c in self.cells]),
                "area_code": pa.array(codes, type=pa.string()),
                "land_share": pa.array(self.land_share, type=pa.float64()),
                "land_km2": pa.array(self.land_km2, type=pa.float64()),
            }
        )


def cover_areas(
    boundary_set: BoundarySet,
    resolution: int,
    codes: Iterable[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
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
    progress
        Called with (done, total) areas as the cover is built.
    """
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
    # Covers go to the on-disk cache (pipelines.cache), keyed by the areas' codes and geometry
    # and the resolution: the answer depends on nothing else, so every study, comparison and
    # backtest on the same areas, in every process and after a restart, shares one.
    # The dataclass's field names too: a cover of an older shape is never read as this one.
    key = (_fingerprint(areas), resolution, _COVER_FIELDS)
    cache = active_cache()
    cover = cache.get("cover", key)
    if cover is None:
        cover = compute_cover(areas, resolution, progress)
        cache.set("cover", key, cover)
    return _frozen(cover)  # unpickled arrays are writeable again


def _fingerprint(areas: object) -> str:
    digest = hashlib.sha256("\n".join(areas["code"]).encode())
    for wkb in shapely.to_wkb(areas.geometry.values):
        digest.update(wkb)
    return digest.hexdigest()


def compute_cover(
    areas: object, resolution: int, progress: Callable[[int, int], None] | None = None
) -> CellCover:
    """The cover of ``areas`` (a GeoDataFrame with code and WGS84 geometry) at ``resolution``.

    A pure function of the areas' codes and geometry and the resolution, so a cache can be keyed
    by them (``cover_areas`` keeps one in memory).
    """
    region = _equal_area_region(list(areas.geometry.values))
    candidates, shares = land_shares(areas.geometry.values, resolution, progress, region)
    keep = shares >= MIN_LAND_SHARE
    cells = candidates[keep]
    area, rim = _cell_areas(cells, areas)
    cell_km2 = np.array([_h3.cell_area(int(c), unit="km^2") for c in cells], dtype=np.float64)
    cover = CellCover(
        resolution=resolution,
        cells=cells,
        area=area,
        codes=areas["code"].tolist(),
        rim_cells=rim,
        land_share=shares[keep],
        cell_km2=cell_km2,
        cells_below_share=int((~keep).sum()),
        areas_km2=float(shapely.area(region)) / 1e6,
    )
    return _frozen(cover)


_COVER_FIELDS = tuple(f.name for f in dataclasses.fields(CellCover))


def _frozen(cover: CellCover) -> CellCover:
    for shared in (cover.cells, cover.area, cover.land_share, cover.cell_km2):
        shared.setflags(write=False)  # covers are shared between callers: never changed in place
    return cover


def land_shares(
    geometries: Iterable[object],
    resolution: int,
    progress: Callable[[int, int], None] | None = None,
    region: object | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every cell touching the geometries (sorted uint64) and the share of its area inside them.

    Candidates are the cells H3's C polygon fill finds touching each area ("overlap"). The
    areas are merged into one region (a coverage union: shared edges cancel, so a cell across
    two wards is interior); cells properly inside the region count whole after one prepared
    point-set test each, and only the rim cells are intersected exactly.
    """
    geometries = list(geometries)
    touching: list[np.ndarray] = []
    for index, geometry in enumerate(geometries):
        touching.append(_overlapping(geometry, resolution))
        if progress:
            progress(index + 1, len(geometries))
    cells = np.unique(np.concatenate(touching)) if touching else np.zeros(0, np.uint64)
    shares = np.ones(len(cells), dtype=np.float64)
    if len(cells) == 0:
        return cells, shares
    if region is None:
        region = _equal_area_region(geometries)
    shapely.prepare(region)
    cell_shapes = cell_polygons(cells)
    rim = ~shapely.contains_properly(region, cell_shapes)
    inside = shapely.area(shapely.intersection(cell_shapes[rim], region))
    shares[rim] = np.minimum(inside / shapely.area(cell_shapes[rim]), 1.0)
    return cells, shares


def _equal_area_region(geometries: list[object]) -> object:
    """The areas as one geometry in EPSG:3035. Boundary sets tile without overlaps, so a coverage
    union (which only cancels shared edges) is exact and ~20x faster than a general union; custom
    areas that overlap fall back to the general one."""
    projected = shapely.transform(
        np.asarray(geometries, dtype=object), _to_equal_area, interleaved=False
    )
    projected = shapely.make_valid(projected)
    if len(projected) == 1:
        return projected[0]
    merged = shapely.coverage_union_all(projected)
    if not shapely.is_valid(merged):  # overlapping or gapped input: not a coverage
        merged = shapely.union_all(projected)
    return merged


def _overlapping(geometry: object, resolution: int) -> np.ndarray:
    """The cells touching one (multi)polygon, by H3's C polygon fill ("overlap" containment)."""
    found: list[int] = []
    for part in shapely.get_parts(geometry):
        shape = _h3.geo_to_h3shape(part.__geo_interface__)
        found.extend(_h3.h3shape_to_cells_experimental(shape, resolution, "overlap"))
    return np.asarray(found, dtype=np.uint64)


def cell_polygons(cells: np.ndarray) -> np.ndarray:
    """The cells' boundary polygons in EPSG:3035 (metres), for exact areas and overlaps."""
    boundaries = [_h3.cell_to_boundary(int(c)) for c in cells]
    sizes = np.fromiter((len(b) for b in boundaries), dtype=np.int64, count=len(boundaries))
    latlng = np.array([vertex for b in boundaries for vertex in b], dtype=np.float64)
    x, y = _equal_area().transform(latlng[:, 1], latlng[:, 0])
    rings = shapely.linearrings(
        np.column_stack([x, y]), indices=np.repeat(np.arange(len(cells)), sizes)
    )
    return shapely.polygons(rings)


def _to_equal_area(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _equal_area().transform(x, y)


@functools.cache
def _equal_area() -> Transformer:
    return Transformer.from_crs(WGS84, EQUAL_AREA, always_xy=True)


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
