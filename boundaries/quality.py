"""Overlaps and gaps between the areas of one set, measured in British National Grid metres.

A ward or LSOA set should tile its territory: no two areas overlapping, no holes inside. ONS
generalised boundaries (BGC, 20 m) leave slivers of a few square metres where neighbours were
simplified separately, so anything under ``SLIVER_M2`` is ignored; what is left is reported, not
repaired, because only the publisher can say which area a disputed piece belongs to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import shapely

from boundaries.geometry import BRITISH_NATIONAL_GRID, WGS84

SLIVER_M2 = 10.0
_LISTED = 20  # overlaps and gaps listed by name; the totals count all of them


@dataclass
class Overlap:
    code_a: str
    code_b: str
    area_m2: float


@dataclass
class Gap:
    area_m2: float
    longitude: float  # a point inside the gap, to find it on a map
    latitude: float


@dataclass
class QualityReport:
    overlaps: int = 0
    overlap_m2: float = 0.0
    gaps: int = 0
    gap_m2: float = 0.0
    largest_overlaps: list[Overlap] = field(default_factory=list)
    largest_gaps: list[Gap] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> QualityReport:
        return cls(
            overlaps=data.get("overlaps", 0),
            overlap_m2=data.get("overlap_m2", 0.0),
            gaps=data.get("gaps", 0),
            gap_m2=data.get("gap_m2", 0.0),
            largest_overlaps=[Overlap(**o) for o in data.get("largest_overlaps", [])],
            largest_gaps=[Gap(**g) for g in data.get("largest_gaps", [])],
        )

    def summary(self) -> str:
        return (
            f"{self.overlaps} overlap(s) ({self.overlap_m2:,.0f} m²), "
            f"{self.gaps} gap(s) ({self.gap_m2:,.0f} m²) above {SLIVER_M2:g} m²"
        )


def check_tiling(codes: list[str], projected: np.ndarray) -> QualityReport:
    """Overlaps between pairs of areas and holes inside their union (geometries in EPSG:27700)."""
    report = QualityReport()
    tree = shapely.STRtree(projected)
    left, right = tree.query(projected, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if len(left):
        shared = shapely.area(shapely.intersection(projected[left], projected[right]))
        big = shared > SLIVER_M2
        overlaps = sorted(
            (
                Overlap(codes[a], codes[b], round(float(s), 1))
                for a, b, s in zip(left[big], right[big], shared[big], strict=True)
            ),
            key=lambda o: -o.area_m2,
        )
        report.overlaps = len(overlaps)
        report.overlap_m2 = round(float(shared[big].sum()), 1)
        report.largest_overlaps = overlaps[:_LISTED]
    union = shapely.union_all(projected)
    holes = [
        shapely.Polygon(ring) for polygon in shapely.get_parts(union) for ring in polygon.interiors
    ]
    # Imported here: a study reads a stored set (boundaries.store imports this module for its
    # report's type) and needs no projection unless it computes a cover (~0.03 s of imports).
    from pyproj import Transformer

    to_wgs84 = Transformer.from_crs(BRITISH_NATIONAL_GRID, WGS84, always_xy=True)
    gaps = []
    for hole in holes:
        if hole.area > SLIVER_M2:
            inside = hole.point_on_surface()
            lon, lat = to_wgs84.transform(inside.x, inside.y)
            gaps.append(Gap(round(hole.area, 1), round(lon, 6), round(lat, 6)))
    gaps.sort(key=lambda g: -g.area_m2)
    report.gaps = len(gaps)
    report.gap_m2 = round(sum(g.area_m2 for g in gaps), 1)
    report.largest_gaps = gaps[:_LISTED]
    return report
