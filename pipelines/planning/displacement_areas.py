"""The places a displacement check compares: the target, a buffer ring around it, a control.

The buffer is the ring of ``buffer_m`` metres around the target (computed in EPSG:27700, metres),
the target itself excluded. The control must not overlap the target or its buffer: crime
displaced into the control would otherwise count as the control's own trend and hide the
displacement.

A place is named ``SET:CODE`` (an area of a stored boundary set: :func:`stored_area`, the only
form the web API takes) or, on the command line, a boundary file (:func:`area_or_file`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from shapely.geometry.base import BaseGeometry

from boundaries.area_names import UnknownAreaError, area_directory
from boundaries.assign import AreaIndex, assign_table
from boundaries.geometry import BRITISH_NATIONAL_GRID, WGS84
from boundaries.store import BoundaryStore
from pipelines.categories import canonical_category
from pipelines.errors import InputError
from pipelines.planning.displacement import Counts, DisplacementError
from pipelines.quoting import quoted

TARGET, BUFFER, CONTROL = "target", "buffer", "control"
MIN_BUFFER_M = 1
MAX_BUFFER_M = 5_000
BUFFER_RULE = (
    "the ring of {width:g} m around the target, cut in EPSG:27700 (metres) and returned to "
    "longitude/latitude, the target itself excluded (its inner edge is the target's edge)"
)
CONTROL_RULE = (
    "the control must not overlap the target or its buffer, so crime displaced into it cannot "
    "pass for the control's own trend"
)
EDGE_RULE = (
    "crimes placed by exact point in polygon; a point on an edge shared by two of the places goes "
    "to the one on its north-east side"
)


class AreaSpecError(InputError):
    """A place that is not written SET:CODE (HTTP 422)."""


@dataclass(frozen=True)
class Place:
    """A target or control: where it came from and its geometry (EPSG:4326)."""

    spec: str  # as given: SET:CODE or a file
    geometry: BaseGeometry
    boundary_set: str | None = None
    code: str | None = None
    name: str | None = None

    def describe(self) -> dict:
        return {
            "spec": self.spec,
            "boundary_set": self.boundary_set,
            "code": self.code,
            "name": self.name,
        }


def split_area_spec(spec: str, option: str) -> tuple[str, str]:
    """(set, code) of ``SET:CODE``; AreaSpecError naming ``option`` otherwise."""
    set_name, sep, code = spec.strip().partition(":")
    if not sep or not set_name.strip() or not code.strip():
        raise AreaSpecError(
            f"{option} must be SET:CODE, a stored boundary set and one of its area codes (for "
            f"example town-wards-2019:E05000001), got {quoted(spec)}"
        )
    return set_name.strip(), code.strip()


def stored_area(boundaries: BoundaryStore, spec: str, option: str) -> Place:
    """The area ``SET:CODE`` of a stored boundary set (BoundaryError when the set is unknown,
    UnknownAreaError when the code is)."""
    set_name, code = split_area_spec(spec, option)
    try:  # the code, or the area's exact name in any case
        code = area_directory(boundaries, set_name).resolve(code)
    except UnknownAreaError as error:
        raise UnknownAreaError(f"{option}: {error}") from None
    areas = boundaries.read(set_name).areas
    match = areas[areas["code"].astype(str) == code]
    if match.crs is not None and match.crs.to_epsg() != 4326:
        match = match.to_crs(WGS84)
    row = match.iloc[0]
    return Place(spec, row.geometry, set_name, code, str(row["name"]))


def area_or_file(boundaries: BoundaryStore, spec: str, option: str) -> Place:
    """A boundary file dissolved to one geometry, or else ``SET:CODE`` (command line only: a URL
    must never name a file on the server)."""
    path = Path(spec)
    if path.is_file():
        frame = gpd.read_file(path).to_crs(WGS84)
        return Place(spec, shapely.union_all(shapely.make_valid(frame.geometry.values)))
    if ":" not in spec:
        raise AreaSpecError(
            f"{option} {quoted(spec)} is neither a file nor SET:CODE of a stored area"
        )
    return stored_area(boundaries, spec, option)


@dataclass
class DisplacementAreas:
    target: BaseGeometry  # EPSG:4326
    buffer: BaseGeometry
    control: BaseGeometry
    buffer_m: float

    def geometries(self) -> dict[str, BaseGeometry]:
        return {TARGET: self.target, BUFFER: self.buffer, CONTROL: self.control}

    def areas_km2(self) -> dict[str, float]:
        """Each place's area in km² (in EPSG:27700)."""
        projected = gpd.GeoSeries(list(self.geometries().values()), crs=WGS84).to_crs(
            BRITISH_NATIONAL_GRID
        )
        return {
            place: float(area) / 1e6
            for place, area in zip(self.geometries(), projected.area, strict=True)
        }

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
    if not (math.isfinite(buffer_m) and MIN_BUFFER_M <= buffer_m <= MAX_BUFFER_M):
        raise DisplacementError(
            f"the buffer width must be {MIN_BUFFER_M}..{MAX_BUFFER_M:,} metres, got {buffer_m:g}"
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
