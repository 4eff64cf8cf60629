"""The profile's small map: the area's outline and its top hot spots as numbered hexagons, drawn
as inline SVG (the printable page fetches nothing and runs no script, so no tiles)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import h3
import shapely
from shapely.geometry.base import BaseGeometry

from pipelines.profile.model import Hotspot

HOTSPOT_FILL = "#b2182b"


@dataclass(frozen=True)
class SvgSpot:
    rank: int
    points: str  # the hexagon, "x,y x,y ..."
    x: float  # where its number goes
    y: float


@dataclass(frozen=True)
class SvgMap:
    width: int
    height: int
    outline: str  # an SVG path "M x y L ... Z" per ring
    spots: list[SvgSpot]


def profile_map(area: BaseGeometry, hotspots: Sequence[Hotspot], size: int = 220) -> SvgMap:
    """The area (longitude/latitude) fitted in a ``size`` px box, north up, with east-west
    distances shrunk by cos(latitude) so the shape is true at this scale."""
    west, south, east, north = area.bounds
    squeeze = math.cos(math.radians((south + north) / 2))
    span_x, span_y = max((east - west) * squeeze, 1e-9), max(north - south, 1e-9)
    scale = (size - 8) / max(span_x, span_y)
    width = round(span_x * scale) + 8
    height = round(span_y * scale) + 8

    def xy(lng: float, lat: float) -> tuple[float, float]:
        return 4 + (lng - west) * squeeze * scale, 4 + (north - lat) * scale

    rings = []
    for polygon in getattr(area, "geoms", [area]):
        for ring in [polygon.exterior, *polygon.interiors]:
            coords = shapely.get_coordinates(ring)
            steps = " L ".join(f"{x:.1f} {y:.1f}" for x, y in (xy(a, b) for a, b in coords))
            rings.append(f"M {steps} Z")
    spots = []
    for spot in hotspots:
        corners = [xy(lng, lat) for lat, lng in h3.cell_to_boundary(spot.h3)]
        cx, cy = xy(spot.lng, spot.lat)
        spots.append(SvgSpot(spot.rank, " ".join(f"{x:.1f},{y:.1f}" for x, y in corners), cx, cy))
    return SvgMap(width, height, " ".join(rings), spots)
