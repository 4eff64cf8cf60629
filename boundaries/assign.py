"""Exact crime-to-area assignment: point in polygon, once per distinct snapped coordinate.

police.uk moves every crime to one of a finite set of anonymous map points, so a year of a
force's crimes has a few tens of thousands of distinct coordinates. Each distinct coordinate is
located once (an R-tree of the distinct points, queried with each prepared area polygon) and the
answer is joined back to every row.

Shared-edge rule. Areas are closed: a point on an area's boundary is in it, as
``geopandas.sjoin(predicate="intersects")`` has it. A point on the edge shared by two areas (or
in an overlap) is therefore in both; it goes to exactly one:
  1. the candidate that contains the point nudged a fixed ~0.1 mm north-east
     (lon + 1e-9°, lat + 0.618e-9°): boundaries belong to the area on their north-east side,
     like a raster's half-open pixels, so unions of areas (ward clusters) get exactly the points
     their wards get;
  2. if the nudged point is in none or several of the candidates (a corner of the set, or two
     areas that truly overlap), the candidate with the smallest code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import shapely

from boundaries.errors import BoundaryError
from boundaries.sets import AreaColumns, BoundarySet
from pipelines.numbering import first_seen_codes, pair_codes

if TYPE_CHECKING:
    import geopandas as gpd

OUTSIDE = -1  # a located crime in no area of the set
NO_LOCATION = -2  # a crime with no coordinates ("No location")
NUDGE_DEGREES = (1e-9, 0.6180339887e-9)  # irrational-ish ratio: no boundary runs along it


@dataclass
class Assignment:
    area: np.ndarray  # int32 per crime: index into the set's areas, OUTSIDE or NO_LOCATION
    codes: list[str]  # the set's area codes, by index
    distinct_points: int
    shared_edge_points: int  # distinct points in more than one area, settled by the edge rule

    @property
    def outside(self) -> int:
        return int((self.area == OUTSIDE).sum())

    @property
    def no_location(self) -> int:
        return int((self.area == NO_LOCATION).sum())

    def counts(self) -> np.ndarray:
        """Crimes per area, in the set's order."""
        inside = self.area[self.area >= 0]
        return np.bincount(inside, minlength=len(self.codes)).astype(np.int64)

    def area_codes(self) -> pa.Array:
        """The area code of each crime; null outside every area or without location."""
        lookup = np.asarray([*self.codes, None], dtype=object)
        index = np.where(self.area >= 0, self.area, len(self.codes))
        return pa.array(lookup[index], type=pa.string())


class AreaIndex:
    """Areas ready for many point look-ups: prepared polygons and their codes' order, built once."""

    def __init__(self, geometries: np.ndarray, codes: list[str]) -> None:
        if len(geometries) != len(codes):
            raise ValueError("one code per geometry")
        self.geometries = np.array(geometries, dtype=object)
        self.codes = list(codes)
        # Code order breaks ties, whatever order the areas come in.
        self.rank = np.argsort(np.argsort(np.asarray(self.codes, dtype=object), kind="stable"))
        shapely.prepare(self.geometries)

    @classmethod
    def of(cls, areas: BoundarySet | AreaColumns | gpd.GeoDataFrame) -> AreaIndex:
        columns = areas.area_columns() if isinstance(areas, BoundarySet) else AreaColumns.of(areas)
        return cls(columns.geometries, list(columns.codes))

    def locate(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int]:
        """Area index of each (distinct) point, OUTSIDE if none; and how many were on an edge."""
        points = shapely.points(x, y)
        # Query a tree of the points with each area as the input geometry: GEOS prepares each
        # polygon once and tests its candidate points against it, the fastest exact test.
        area_index, point_index = shapely.STRtree(points).query(
            self.geometries, predicate="intersects"
        )
        result = np.full(len(x), OUTSIDE, dtype=np.int32)
        result[point_index] = area_index
        hits = np.bincount(point_index, minlength=len(x))
        shared = np.flatnonzero(hits > 1)
        if len(shared):
            order = np.argsort(point_index, kind="stable")
            sorted_points, sorted_areas = point_index[order], area_index[order]
            starts = np.searchsorted(sorted_points, shared, side="left")
            for position, start in zip(shared, starts, strict=True):
                candidates = sorted_areas[start : start + hits[position]]
                result[position] = self._settle(x[position], y[position], candidates)
        return result, len(shared)

    def _settle(self, x: float, y: float, candidates: np.ndarray) -> int:
        nudged = shapely.Point(x + NUDGE_DEGREES[0], y + NUDGE_DEGREES[1])
        holding = candidates[shapely.intersects(self.geometries[candidates], nudged)]
        pool = holding if len(holding) else candidates
        return int(pool[np.argmin(self.rank[pool])])


def assign_points(
    areas: BoundarySet | AreaColumns | gpd.GeoDataFrame | AreaIndex,
    longitude: np.ndarray | pa.Array | pa.ChunkedArray,
    latitude: np.ndarray | pa.Array | pa.ChunkedArray,
) -> Assignment:
    """The area of every point (WGS84 lon/lat; NaN or null = no location)."""
    index = areas if isinstance(areas, AreaIndex) else AreaIndex.of(areas)
    lon = _floats(longitude)
    lat = _floats(latitude)
    if lon.shape != lat.shape:
        raise BoundaryError(f"{len(lon)} longitudes but {len(lat)} latitudes")
    located = np.isfinite(lon) & np.isfinite(lat)
    result = np.full(len(lon), NO_LOCATION, dtype=np.int32)
    distinct = shared = 0
    if located.any():
        inverse, x, y = _distinct(lon[located], lat[located])
        distinct = len(x)
        per_point, shared = index.locate(x, y)
        result[located] = per_point[inverse]
    return Assignment(result, index.codes, distinct, shared)


def assign_table(
    areas: BoundarySet | AreaColumns | gpd.GeoDataFrame | AreaIndex, table: pa.Table
) -> Assignment:
    """Assign canonical crime rows (any table with ``longitude`` and ``latitude`` columns)."""
    missing = {"longitude", "latitude"} - set(table.column_names)
    if missing:
        raise BoundaryError(f"the crime table has no {' or '.join(sorted(missing))} column")
    return assign_points(areas, table.column("longitude"), table.column("latitude"))


def _distinct(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct coordinates and each point's index among them, exact on the float values.

    police.uk writes 6 decimals, so points are grouped on an integer key of micro-degrees (fast
    hashing) and the grouping is then checked value by value; any input where two different
    floats share a key (finer than 6 decimals) is grouped on the exact values instead, so a point
    is never moved.
    """
    key = (np.round(lon * 1e6).astype(np.int64) << 32) ^ (
        np.round(lat * 1e6).astype(np.int64) & 0xFFFFFFFF
    )
    inverse, first = first_seen_codes(key)
    x, y = lon[first], lat[first]
    if np.array_equal(x[inverse], lon) and np.array_equal(y[inverse], lat):
        return inverse, x, y
    inverse, first = pair_codes(lon, lat)
    return inverse, lon[first], lat[first]


def _floats(values: np.ndarray | pa.Array | pa.ChunkedArray) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        values = values.to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64)
