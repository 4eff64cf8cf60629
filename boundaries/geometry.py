"""Geometry checks shared by boundary files and custom areas: polygons only, repaired if invalid.

Repair uses GEOS ``make_valid`` with the "structure" method, which rebuilds a polygon from its
rings (a bow-tie becomes two triangles, a ring that crosses itself is split at the crossing) and
drops collapsed parts; only the polygonal parts of the result are kept.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

WGS84 = "EPSG:4326"
BRITISH_NATIONAL_GRID = "EPSG:27700"  # areas and distances: metres, true to scale across GB

_POLYGONAL = ("Polygon", "MultiPolygon")


def polygonal_part(geometry: BaseGeometry) -> BaseGeometry | None:
    """The polygons of a geometry (e.g. the result of a repair) as one geometry, or None."""
    if geometry is None or geometry.is_empty:
        return None
    if geometry.geom_type in _POLYGONAL:
        return geometry
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in _POLYGONAL and not p.is_empty]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)


def repair(geometry: BaseGeometry) -> BaseGeometry | None:
    """A valid polygonal version of ``geometry``; None when nothing polygonal survives."""
    if geometry.is_valid:
        return geometry
    fixed = shapely.make_valid(geometry, method="structure", keep_collapsed=False)
    return polygonal_part(fixed)


def vertex_counts(geometries: np.ndarray) -> np.ndarray:
    return shapely.get_num_coordinates(geometries)
