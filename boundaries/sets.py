"""Boundary sets: named, versioned collections of areas, loaded and checked once.

Every set is stored the same way whatever its source (ONS file, ONS download, cluster mapping,
custom upload): one row per area with ``code``, ``name``, ``area_m2`` and the geometry in
EPSG:4326 (what police.uk points use), sorted by code. Areas are measured in EPSG:27700.

A set read from the store gives a study what it needs, its codes, names and geometries
(:class:`AreaColumns`), without pandas or geopandas; its ``areas`` GeoDataFrame is built on first
use (``boundaries.store``), so ``hotspots analyse`` of a stored set imports neither (~0.2 s of a
new process).
"""

from __future__ import annotations

import re
import threading
import warnings
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from boundaries.errors import BoundaryError
from boundaries.fields import SCHEMES, detect_fields
from boundaries.geometry import BRITISH_NATIONAL_GRID, WGS84, repair
from boundaries.quality import QualityReport, check_tiling
from pipelines.quoting import quoted

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
_VINTAGE = re.compile(r"^[0-9]{4}(-[0-9]{2}){0,2}$")
MAX_TITLE = 120
_SHOWN = 8  # codes named in an error message before "and N more"


@dataclass(frozen=True)
class AreaColumns:
    """A set's areas as plain columns, in the set's order: what a study needs of them."""

    codes: tuple[str, ...]
    names: tuple[str, ...]
    geometries: np.ndarray  # shapely (multi)polygons, EPSG:4326, one per code

    def __len__(self) -> int:
        return len(self.codes)

    def chosen(self, codes: Iterable[str]) -> AreaColumns:
        """The areas with these codes, in the set's order (codes not in the set are ignored)."""
        wanted = set(codes)
        keep = [position for position, code in enumerate(self.codes) if code in wanted]
        return AreaColumns(
            tuple(self.codes[p] for p in keep),
            tuple(self.names[p] for p in keep),
            self.geometries[keep],
        )

    @classmethod
    def of(cls, areas: AreaColumns | gpd.GeoDataFrame) -> AreaColumns:
        """The columns of a GeoDataFrame of areas (code, [name], geometry; any CRS)."""
        if isinstance(areas, AreaColumns):
            return areas
        if areas.crs is not None and areas.crs.to_epsg() != 4326:
            areas = areas.to_crs(4326)
        codes = tuple(str(code) for code in areas["code"].tolist())
        names = tuple(areas["name"].tolist()) if "name" in areas else codes
        return cls(codes, names, areas.geometry.values.to_numpy())


class AreaSource(ABC):
    """A set's areas before they are a GeoDataFrame (a stored set's file: ``boundaries.store``).

    A base class, not a Protocol: ``BoundarySet`` tells a source from a GeoDataFrame with
    ``isinstance``, and a runtime Protocol would match a GeoDataFrame that has a column named
    "frame" (pandas answers column names as attributes), and take ~80 times as long to check."""

    @abstractmethod
    def columns(self) -> AreaColumns:
        """The areas' columns, read without pandas or geopandas."""

    @abstractmethod
    def frame(self) -> gpd.GeoDataFrame:
        """The areas as a GeoDataFrame of their own (the caller may change it)."""


_AREAS_LOCK = threading.Lock()


class _AreasField:
    """``BoundarySet.areas``: the GeoDataFrame given, or the one an :class:`AreaSource` builds on
    first use (then kept)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, instance: BoundarySet | None, owner: type | None = None) -> Any:
        if instance is None:  # asked for a default by dataclasses: none, the field is required
            raise AttributeError(self.slot)
        value = instance.__dict__[self.slot]
        if isinstance(value, AreaSource):
            frame = value.frame()
            with _AREAS_LOCK:  # two threads asking at once both get the frame that is kept
                value = instance.__dict__[self.slot]
                if isinstance(value, AreaSource):
                    value = instance.__dict__[self.slot] = frame
        return value

    def __set__(self, instance: BoundarySet, value: object) -> None:
        instance.__dict__[self.slot] = value


@dataclass
class BoundarySet:
    name: str
    scheme: str
    vintage: str
    # code, name, area_m2, [members, population], geometry (EPSG:4326); or an AreaSource
    areas: gpd.GeoDataFrame = _AreasField()  # type: ignore[assignment]
    source: str = ""
    code_field: str | None = None
    name_field: str | None = None
    notes: list[str] = field(default_factory=list)  # automatic choices and repairs, reported
    quality: QualityReport = field(default_factory=QualityReport)
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    extra: dict = field(default_factory=dict)  # e.g. a cluster's ward set, population method
    # The set's name for people ("Torbay wards (2019)"); "" = none given: pages show the code.
    title: str = ""

    @property
    def codes(self) -> list[str]:
        return list(self.area_columns().codes)

    def area_columns(self) -> AreaColumns:
        """The areas' codes, names and geometries; a stored set gives them without building its
        GeoDataFrame (see the module's docstring)."""
        source = self.__dict__["_areas"]
        return source.columns() if isinstance(source, AreaSource) else AreaColumns.of(source)

    @property
    def display_name(self) -> str:
        """What a page calls the set: its title, or its code when it has none."""
        return self.title or self.name

    def metadata(self) -> dict:
        return {
            "name": self.name,
            "scheme": self.scheme,
            "vintage": self.vintage,
            "source": self.source,
            "code_field": self.code_field,
            "name_field": self.name_field,
            "notes": self.notes,
            "quality": self.quality.to_dict(),
            "created": self.created,
            "areas": len(self.areas),
            "extra": self.extra,
            "title": self.title,
        }


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise BoundaryError(
            f"set name {quoted(name)} must be lower-case letters, digits, '.', '_' or '-' "
            "(up to 80, starting with a letter or digit), e.g. torbay-wards-2019"
        )
    return name


def display_name(description: dict) -> str:
    """A stored set's title from its description (``BoundaryStore.describe``), else its code:
    sets stored before titles existed keep being named by their code."""
    return str(description.get("title") or description["name"])


def check_title(title: str) -> str:
    """A display name: one line of 1-120 printable characters, surrounding spaces dropped."""
    cleaned = " ".join(title.split())  # runs of spaces tidied; a line break is refused below
    if not cleaned or len(cleaned) > MAX_TITLE or not title.strip().isprintable():
        raise BoundaryError(
            f"a set's title must be one line of 1 to {MAX_TITLE} printable characters, e.g. "
            f'"Torbay wards (2019)"; got {quoted(title)}'
        )
    return cleaned


def check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise BoundaryError(f"unknown scheme {quoted(scheme)}; use one of {', '.join(SCHEMES)}")
    return scheme


def check_vintage(vintage: str) -> str:
    if not _VINTAGE.match(vintage):
        raise BoundaryError(
            f"vintage must be a year (2019), YYYY-MM or a date, got {quoted(vintage)}"
        )
    return vintage


def read_boundary_file(path: Path, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read GeoJSON, Shapefile or GeoPackage (any CRS) with pyogrio; one clear error otherwise."""
    import geopandas as gpd
    import pyogrio  # only reading a file needs it; a study of a stored set must not pay 0.1 s

    path = Path(path)
    if not path.exists():
        raise BoundaryError(f"boundary file {path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyogrio's "more than one layer" note: reported below
            frame = gpd.read_file(path, engine="pyogrio", layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise BoundaryError(
            f"cannot read {path} as GeoJSON, Shapefile or GeoPackage: {first_line}"
        ) from None
    if len(frame) == 0:
        raise BoundaryError(f"{path} holds no features")
    if "geometry" not in frame or frame.geometry.isna().all():
        raise BoundaryError(f"{path} has no geometry; boundaries must be polygons")
    return frame


def load_boundary_file(
    path: Path,
    name: str,
    scheme: str,
    vintage: str | None = None,
    code_field: str | None = None,
    name_field: str | None = None,
    layer: str | None = None,
) -> BoundarySet:
    """Load, check and normalise a boundary file into a set (not yet stored)."""
    check_name(name)
    check_scheme(scheme)
    frame = read_boundary_file(path, layer)
    return prepare_areas(
        frame, name, scheme, vintage, code_field, name_field, source=str(Path(path).resolve())
    )


def prepare_areas(
    frame: gpd.GeoDataFrame,
    name: str,
    scheme: str,
    vintage: str | None = None,
    code_field: str | None = None,
    name_field: str | None = None,
    source: str = "",
) -> BoundarySet:
    """Choose fields, check and repair geometry, reproject, measure and check the tiling."""
    import geopandas as gpd
    import pandas as pd

    check_name(name)
    check_scheme(scheme)
    if frame.crs is None:
        raise BoundaryError(
            "the boundaries have no coordinate reference system (a Shapefile without its .prj?); "
            "add one or convert the file to GeoJSON in EPSG:4326"
        )
    choice = detect_fields(list(frame.columns), scheme, code_field, name_field)
    notes = []
    if choice.reason != "given":
        notes.append(f"codes from {choice.code_field} ({choice.reason})")
    vintage = vintage or choice.vintage_hint
    if not vintage:
        raise BoundaryError("cannot tell the vintage of these boundaries; pass --vintage (a year)")
    if choice.vintage_hint and vintage == choice.vintage_hint and choice.reason != "given":
        notes.append(f"vintage {vintage}")
    check_vintage(vintage)

    codes = frame[choice.code_field].astype("string").str.strip()
    if codes.isna().any() or (codes == "").any():
        missing = int((codes.isna() | (codes == "")).sum())
        raise BoundaryError(
            f"{missing} feature(s) have no value in the code field {choice.code_field}"
        )
    names = (
        frame[choice.name_field].astype("string").str.strip().fillna(codes)
        if choice.name_field
        else codes
    )
    geometries = frame.geometry.values
    empty = geometries.isna() | geometries.is_empty
    if empty.any():
        raise BoundaryError(f"areas with no or empty geometry: {_listing(codes[empty])}")
    types = pd.Series(geometries.geom_type, index=frame.index)
    wrong = ~types.isin(["Polygon", "MultiPolygon"])
    if wrong.any():
        kinds = ", ".join(sorted(set(types[wrong])))
        raise BoundaryError(
            f"boundaries must be polygons; {int(wrong.sum())} area(s) are {kinds}: "
            f"{_listing(codes[wrong])}"
        )

    areas = gpd.GeoDataFrame(
        {"code": codes.to_numpy(dtype=object), "name": names.to_numpy(dtype=object)},
        geometry=gpd.GeoSeries(geometries, crs=frame.crs).to_crs(WGS84).values,
        crs=WGS84,
    )
    areas, repaired = _repair_all(areas)
    if repaired:
        notes.append(f"repaired invalid geometry of {_listing(pd.Series(repaired))}")
    duplicated = [c for c, n in Counter(areas["code"]).items() if n > 1]
    if duplicated:
        areas = areas.dissolve(by="code", aggfunc={"name": "first"}, as_index=False)
        notes.append(f"merged features sharing a code: {_listing(pd.Series(duplicated))}")
    return finish_set(
        areas,
        name=name,
        scheme=scheme,
        vintage=vintage,
        source=source,
        code_field=choice.code_field,
        name_field=choice.name_field,
        notes=notes,
    )


def finish_set(areas: gpd.GeoDataFrame, **fields: object) -> BoundarySet:
    """Sort by code, measure in EPSG:27700 and check the tiling; areas are valid EPSG:4326."""
    areas = areas.sort_values("code", kind="stable").reset_index(drop=True)
    projected = areas.geometry.to_crs(BRITISH_NATIONAL_GRID).values
    areas["area_m2"] = np.round(projected.area, 1)
    ordered = ["code", "name", "area_m2"]
    ordered += [c for c in areas.columns if c not in (*ordered, "geometry")]
    areas = areas[[*ordered, "geometry"]]
    quality = check_tiling(areas["code"].tolist(), np.asarray(projected))
    return BoundarySet(areas=areas, quality=quality, **fields)  # type: ignore[arg-type]


def _repair_all(areas: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    import geopandas as gpd
    import pandas as pd

    invalid = ~areas.geometry.is_valid
    repaired: list[str] = []
    if not invalid.any():
        return areas, repaired
    fixed_geometries = areas.geometry.values.copy()
    lost = []
    for position in np.flatnonzero(invalid.to_numpy()):
        code = areas["code"].iat[position]
        fixed = repair(fixed_geometries[position])
        if fixed is None or fixed.is_empty:
            lost.append(code)
            continue
        fixed_geometries[position] = fixed
        repaired.append(code)
    if lost:
        raise BoundaryError(
            f"geometry of {_listing(pd.Series(lost))} is invalid and nothing of it survives repair"
        )
    areas = areas.set_geometry(gpd.GeoSeries(fixed_geometries, crs=areas.crs).values)
    return areas, repaired


def _listing(codes: pd.Series) -> str:
    values = [str(c) for c in codes.tolist()]
    shown = ", ".join(values[:_SHOWN])
    return shown + (f" and {len(values) - _SHOWN} more" if len(values) > _SHOWN else "")
