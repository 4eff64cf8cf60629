"""The places a displacement check compares: the target, a buffer ring around it, a control.

The buffer is the ring of ``buffer_m`` metres around the target (computed in EPSG:27700, metres),
the target itself excluded. The control must not touch the target or its buffer: crime displaced
into the control would otherwise count as the control's own trend and hide the displacement.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from shapely.geometry.base import BaseGeometry

from boundaries.assign import AreaIndex, assign_table
from boundaries.geometry import BRITISH_NATIONAL_GRID, WGS84
from pipelines.categories import canonical_category
from pipelines.planning.displacement import Counts, DisplacementError

TARGET, BUFFER, CONTROL = "target", "buffer", "control"
MAX_BUFFER_M = 5_000


@dataclass
class DisplacementAreas:
    target: BaseGeometry  # EPSG:4326
    buffer: BaseGeometry
    control: BaseGeometry
    buffer_m: float

    def index(self) -> AreaIndex:
        frame = gpd.GeoDataFrame(
            {"code": [TARGET, BUFFER, CONTROL]},
            geometry=[self.target, self.buffer, self.control],
            crs=WGS84,
        )
        return AreaIndex.of(frame)


def displacement_areas(
    target: BaseGeometry, control: BaseGeometry, buffer_m: float
) -> DisplacementAreas:
    """Target, buffer ring and control (all EPSG:4326); refuses overlapping target and control."""
    if not 0 < buffer_m <= MAX_BUFFER_M:
        raise DisplacementError(
            f"the buffer width must be 1..{MAX_BUFFER_M} metres, got {buffer_m}"
        )
    projected = gpd.GeoSeries([target, control], crs=WGS84).to_crs(BRITISH_NATIONAL_GRID)
    target_m, control_m = projected.iloc[0], projected.iloc[1]
    outer_m = target_m.buffer(buffer_m)
    if control_m.intersection(target_m).area > 0:
        raise DisplacementError(
            "the control area overlaps the target area; choose a control elsewhere"
        )
    if control_m.intersection(outer_m).area > 0:
        raise DisplacementError(
            f"the control area overlaps the {buffer_m:g} m buffer around the target; choose a "
            "control further away or a narrower buffer"
        )
    # The ring is cut in longitude/latitude, so its inner edge is exactly the target's edge.
    outer = gpd.GeoSeries([outer_m], crs=BRITISH_NATIONAL_GRID).to_crs(WGS84).iloc[0]
    ring = shapely.difference(outer, target)
    return DisplacementAreas(target, ring, control, buffer_m)


def period_counts(
    areas: DisplacementAreas, crimes: pa.Table, categories: list[str] | None = None
) -> Counts:
    """Crimes in the target, buffer and control for one period's crime table."""
    table = crimes
    if categories:
        slugs = sorted({canonical_category(c) or c for c in categories})
        table = table.filter(pc.is_in(table["category"], value_set=pa.array(slugs)))
    counts = assign_table(areas.index(), table).counts()
    return Counts(target=float(counts[0]), buffer=float(counts[1]), control=float(counts[2]))
