"""The area an API ingest covers: parsing it, describing it to police.uk, and splitting it.

police.uk's ``poly`` parameter is a single ring of ``lat,lng`` pairs: it cannot say "with a hole" or
"in three pieces". So every polygon part of the true geometry is sent as its own hole-free ring, and
the rows that come back are filtered against the true geometry afterwards. Rings are widened by a
hair (``_RING_MARGIN``) so rounding to police.uk's 6 decimals never moves the edge inside the area.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import shapely
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from pipelines.errors import InputError

# About 0.2 m: enough to absorb rounding coordinates to 6 decimals (<= 0.06 m), far below the
# spacing of police.uk snap points, so a widened ring never picks up a neighbour's street.
_RING_MARGIN = 2e-6
# Halves of a split overlap by about 1 m so a crime snapped exactly onto the cut line is returned
# by at least one half; duplicates are removed by API id.
SPLIT_OVERLAP = 1e-5
# A part smaller than this (degrees, ~100 m) or this deep in the split tree is not split again:
# no real 100 m square holds 10,000 crimes in a month, so a 503 there is the server, not the cap.
MIN_SPLIT_SIDE = 1e-3
MAX_SPLIT_DEPTH = 8


class AreaError(InputError):
    """An area argument that cannot be turned into a polygon (one-line message for the CLI)."""


@dataclass(frozen=True)
class RequestPart:
    """One ring sent as ``poly``; ``depth`` counts how many splits produced it."""

    polygon: Polygon
    depth: int = 0

    def poly_param(self) -> str:
        return poly_string(self.polygon)

    def splittable(self) -> bool:
        minx, miny, maxx, maxy = self.polygon.bounds
        return self.depth < MAX_SPLIT_DEPTH and max(maxx - minx, maxy - miny) > MIN_SPLIT_SIDE


# -- building the area ------------------------------------------------------------------------


def parse_poly(text: str) -> BaseGeometry:
    """A ``lat,lng:lat,lng:...`` string (police.uk's own notation) as a lon/lat polygon."""
    points: list[tuple[float, float]] = []
    pairs = [pair.strip() for pair in text.strip().strip(":").split(":")]
    for pair in pairs:
        pieces = pair.split(",")
        if len(pieces) != 2:
            raise AreaError(f"--poly point {pair!r} is not 'lat,lng'")
        try:
            lat, lng = float(pieces[0]), float(pieces[1])
        except ValueError:
            raise AreaError(f"--poly point {pair!r} is not two numbers 'lat,lng'") from None
        if not (math.isfinite(lat) and math.isfinite(lng)) or abs(lat) > 90 or abs(lng) > 180:
            raise AreaError(f"--poly point {pair!r} is outside latitude/longitude range")
        points.append((lng, lat))
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if len(set(points)) < 3:
        raise AreaError("--poly needs at least three distinct 'lat,lng' points")
    return _polygonal(Polygon(points), "--poly")


def read_boundary(path: Path) -> BaseGeometry:
    """Every feature of a boundary file (any format and CRS OGR reads), dissolved, in EPSG:4326."""
    import geopandas as gpd  # heavy; only the boundary path needs it

    if not path.exists():
        raise AreaError(f"boundary file {path} does not exist")
    if path.is_dir() and not any(path.glob("*.shp")):
        raise AreaError(f"boundary {path} is a folder, not a file")
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types; all mean "cannot read it"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AreaError(f"cannot read boundary file {path}: {reason}") from None
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if frame.empty:
        raise AreaError(f"boundary file {path} holds no geometry")
    if frame.crs is None:
        minx, miny, maxx, maxy = frame.total_bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise AreaError(f"boundary file {path} has no CRS and is not in longitude/latitude")
        frame = frame.set_crs(4326)
    frame = frame.to_crs(4326)
    geometry = shapely.union_all(shapely.make_valid(frame.geometry.values))
    return _polygonal(geometry, f"boundary file {path}")


def _polygonal(geometry: BaseGeometry, what: str) -> BaseGeometry:
    """The polygon parts of a (made valid) geometry; an error when it has no area."""
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon")]
    polygons = shapely.union_all(parts) if parts else None
    if polygons is None or polygons.is_empty or polygons.area == 0:
        raise AreaError(f"{what} is not a polygon (found {geometry.geom_type})")
    return polygons


# -- describing the area ------------------------------------------------------------------------


def request_parts(area: BaseGeometry) -> list[RequestPart]:
    """One hole-free, slightly widened ring per polygon part of the area."""
    parts = []
    for polygon in sorted(shapely.get_parts(area), key=lambda p: p.bounds):
        ring = Polygon(polygon.exterior)
        parts.append(RequestPart(ring.buffer(_RING_MARGIN, join_style="mitre")))
    return parts


def poly_string(polygon: Polygon) -> str:
    """police.uk ``poly``: ``lat,lng`` pairs joined by ``:``; the closing point is implied."""
    coords = list(polygon.exterior.coords)[:-1]
    return ":".join(f"{lat:.6f},{lng:.6f}" for lng, lat in coords)


def split_part(part: RequestPart) -> list[RequestPart]:
    """Halve the part's bounding box across its longer side; each piece of the cut is a part."""
    minx, miny, maxx, maxy = part.polygon.bounds
    if maxx - minx >= maxy - miny:
        mid = (minx + maxx) / 2
        halves = [
            box(minx, miny, mid + SPLIT_OVERLAP, maxy),
            box(mid - SPLIT_OVERLAP, miny, maxx, maxy),
        ]
    else:
        mid = (miny + maxy) / 2
        halves = [
            box(minx, miny, maxx, mid + SPLIT_OVERLAP),
            box(minx, mid - SPLIT_OVERLAP, maxx, maxy),
        ]
    children = []
    for half in halves:
        piece = part.polygon.intersection(half)
        for polygon in shapely.get_parts(piece):
            # A simple ring cut by a box has no holes; lines and points where it only touches the
            # cut have no area and cannot hold a crime the other half misses.
            if polygon.geom_type == "Polygon" and polygon.area > 0:
                children.append(RequestPart(Polygon(polygon.exterior), part.depth + 1))
    return children


def area_summary(area: BaseGeometry) -> dict:
    """What provenance records about the area: bounds, size and a fingerprint to recognise it."""
    minx, miny, maxx, maxy = area.bounds
    return {
        "bounds": [round(minx, 6), round(miny, 6), round(maxx, 6), round(maxy, 6)],
        "parts": int(shapely.get_num_geometries(area)),
        "vertices": int(shapely.get_num_coordinates(area)),
        "fingerprint": area_fingerprint(area),
    }


def area_fingerprint(area: BaseGeometry) -> str:
    """A short stable hash of the geometry: the same area re-ingested replaces its own record."""
    normal = shapely.normalize(shapely.set_precision(area, 1e-7))
    return hashlib.sha256(shapely.to_wkb(normal, output_dimension=2)).hexdigest()[:16]
