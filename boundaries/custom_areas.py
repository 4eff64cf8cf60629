"""Custom areas (a town centre, an estate, a night-time economy zone) from uploaded GeoJSON.

Accepted: a FeatureCollection, a Feature, or a bare Polygon/MultiPolygon, in WGS84 lon/lat
(RFC 7946) or in another CRS named by a legacy ``crs`` member (e.g. EPSG:27700). Each area's
code is its ``code``/``id`` property (or the Feature ``id``), else a slug of its ``name``.
Refused, with a message naming the area: non-polygon geometry, coordinates out of range,
polygons with more than ``MAX_VERTICES`` vertices, areas under ``MIN_AREA_M2`` or over
``MAX_AREA_KM2``, more than ``MAX_AREAS`` areas. Self-intersections are repaired (and reported).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import orjson
import pyproj
import shapely
from shapely.geometry import shape

from boundaries.errors import BoundaryError
from boundaries.geometry import BRITISH_NATIONAL_GRID, WGS84, repair
from boundaries.sets import BoundarySet, check_name, check_vintage, finish_set
from pipelines.quoting import quoted

MAX_AREAS = 200
MAX_VERTICES = 20_000  # per area: a hand-drawn patch has hundreds; more is a pasted coastline
MAX_AREA_KM2 = 2_000.0  # larger than Greater London (1,572 km²): a custom area is local
MIN_AREA_M2 = 100.0  # smaller than a house plot: a mistake, or coordinates in the wrong order
MAX_UPLOAD_BYTES = 20_000_000


def load_custom_file(path: Path, name: str, vintage: str | None = None) -> BoundarySet:
    path = Path(path)
    if not path.exists():
        raise BoundaryError(f"custom area file {path} does not exist")
    return custom_areas_from_geojson(path.read_bytes(), name, vintage, source=str(path.resolve()))


def custom_areas_from_geojson(
    data: dict | bytes | str, name: str, vintage: str | None = None, source: str = "upload"
) -> BoundarySet:
    """Validate and repair uploaded GeoJSON into a boundary set of scheme ``custom``."""
    check_name(name)
    vintage = check_vintage(vintage) if vintage else date.today().isoformat()
    document = _parse(data)
    features = _features(document)
    crs = _crs(document)
    codes: list[str] = []
    names: list[str] = []
    geometries = []
    notes: list[str] = []
    for number, feature in enumerate(features, start=1):
        code, label = _identity(feature, number)
        geometry = _geometry(feature, label)
        if crs == WGS84:
            _check_range(geometry, label)
        if shapely.get_num_coordinates(geometry) > MAX_VERTICES:
            raise BoundaryError(
                f"area {quoted(label)} has {shapely.get_num_coordinates(geometry):,} vertices, "
                "more "
                f"than the limit of {MAX_VERTICES:,}; simplify it (e.g. mapshaper -simplify)"
            )
        codes.append(code)
        names.append(label)
        geometries.append(geometry)
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise BoundaryError(f"several areas share the code(s) {', '.join(duplicates)}")

    series = gpd.GeoSeries(geometries, crs=crs).to_crs(WGS84)
    fixed = []
    for label, geometry in zip(names, series.values, strict=True):
        repaired = repair(geometry)
        if repaired is None or repaired.is_empty:
            raise BoundaryError(
                f"area {quoted(label)} is not a usable polygon: nothing is left after repairing it "
                "(a ring with no area, or all points on a line)"
            )
        if repaired is not geometry:
            notes.append(f"repaired invalid geometry (self-intersection) of {quoted(label)}")
        fixed.append(repaired)
    frame = gpd.GeoDataFrame(
        {"code": codes, "name": names}, geometry=gpd.GeoSeries(fixed, crs=WGS84).values, crs=WGS84
    )
    areas_m2 = frame.geometry.to_crs(BRITISH_NATIONAL_GRID).area.to_numpy()
    for label, area in zip(names, areas_m2, strict=True):
        if not np.isfinite(area) or area < MIN_AREA_M2:
            raise BoundaryError(
                f"area {quoted(label)} covers {area:,.0f} m², less than the minimum of "
                f"{MIN_AREA_M2:g} m² "
                "(are longitude and latitude swapped?)"
            )
        if area > MAX_AREA_KM2 * 1e6:
            raise BoundaryError(
                f"area {quoted(label)} covers {area / 1e6:,.0f} km², more than the limit of "
                f"{MAX_AREA_KM2:,.0f} km² for a custom area; "
                "use ward or LSOA sets for large regions"
            )
    return finish_set(
        frame, name=name, scheme="custom", vintage=vintage, source=source, notes=notes
    )


def _parse(data: dict | bytes | str) -> dict:
    if isinstance(data, dict):
        return data
    if len(data) > MAX_UPLOAD_BYTES:
        raise BoundaryError(f"upload is larger than {MAX_UPLOAD_BYTES // 1_000_000} MB")
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise BoundaryError(f"custom areas must be GeoJSON; this is not JSON ({error})") from None
    if not isinstance(document, dict):
        raise BoundaryError("custom areas must be a GeoJSON object, not a JSON list or value")
    return document


def _features(document: dict) -> list[dict]:
    kind = document.get("type")
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            raise BoundaryError("the FeatureCollection has no 'features' list")
    elif kind == "Feature":
        features = [document]
    elif kind in ("Polygon", "MultiPolygon"):
        features = [{"type": "Feature", "properties": {}, "geometry": document}]
    else:
        raise BoundaryError(
            "custom areas must be a GeoJSON FeatureCollection, Feature or Polygon, "
            f"got type {quoted(kind)}"
        )
    if not features:
        raise BoundaryError("the FeatureCollection has no features; draw at least one polygon")
    if len(features) > MAX_AREAS:
        raise BoundaryError(f"{len(features)} areas uploaded; the limit is {MAX_AREAS} per set")
    return features


def _crs(document: dict) -> str:
    declared = document.get("crs")
    if declared is None:
        return WGS84
    try:
        crs = pyproj.CRS.from_user_input(declared["properties"]["name"])
    except (KeyError, TypeError, pyproj.exceptions.CRSError):
        raise BoundaryError(
            f"cannot understand the GeoJSON 'crs' member {quoted(declared)}"
        ) from None
    epsg = crs.to_epsg()
    if epsg == 4326 or "CRS84" in crs.to_string().upper():
        return WGS84  # GeoJSON coordinates are longitude, latitude whatever EPSG's axis order
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def _identity(feature: dict, number: int) -> tuple[str, str]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise BoundaryError(f"item {number} of the FeatureCollection is not a GeoJSON Feature")
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise BoundaryError(f"item {number}'s 'properties' must be a JSON object")
    code = properties.get("code") or properties.get("id") or feature.get("id")
    label = properties.get("name") or (str(code) if code else f"area {number}")
    if not code:
        code = re.sub(r"[^a-z0-9]+", "-", str(label).lower()).strip("-") or f"area-{number}"
    return str(code), str(label)


def _geometry(feature: dict, label: str) -> shapely.Geometry:
    geometry = feature.get("geometry")
    if not geometry:
        raise BoundaryError(f"area {quoted(label)} has no geometry")
    if not isinstance(geometry, dict):
        raise BoundaryError(f"area {quoted(label)}: 'geometry' must be a GeoJSON geometry object")
    kind = geometry.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise BoundaryError(
            f"area {quoted(label)} is a {kind}; custom areas must be Polygon or MultiPolygon"
        )
    try:
        result = shape(geometry)
    except (
        ValueError,
        TypeError,
        IndexError,
        AttributeError,
        shapely.errors.GEOSException,
    ) as error:
        raise BoundaryError(f"area {quoted(label)} has malformed coordinates: {error}") from None
    if result.is_empty:
        raise BoundaryError(f"area {quoted(label)} has no coordinates")
    return result


def _check_range(geometry: shapely.Geometry, label: str) -> None:
    coordinates = shapely.get_coordinates(geometry)
    if not np.isfinite(coordinates).all():
        raise BoundaryError(f"area {quoted(label)} has coordinates that are not numbers")
    lon, lat = coordinates[:, 0], coordinates[:, 1]
    if (np.abs(lon) > 180).any() or (np.abs(lat) > 90).any():
        hint = (
            "; they look like British National Grid metres: declare "
            '"crs": {"type": "name", "properties": {"name": "EPSG:27700"}}'
            if (lon >= 0).all() and (lat >= 0).all()
            else ""
        )
        raise BoundaryError(
            f"area {quoted(label)} has coordinates outside longitude -180..180 / "
            f"latitude -90..90{hint}"
        )
