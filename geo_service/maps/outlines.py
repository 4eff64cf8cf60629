"""Area outlines drawn over a map: the region's own areas, and a cluster's member wards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import shapely

from boundaries.errors import BoundaryError
from boundaries.sets import BoundarySet
from boundaries.store import BoundaryStore
from geo_service.maps.styling import (
    OUTLINE_COLOUR,
    PropertyStyledGeoJson,
    feature_collection,
    in_wgs84,
    round_geometries,
)

_SCHEME_LAYER_NAMES = {"ward": "Wards", "cluster": "Ward clusters", "lsoa": "LSOAs"}


@dataclass
class Outline:
    name: str  # the layer's name in the layer control
    areas: gpd.GeoDataFrame  # code, name, geometry (EPSG:4326)
    weight: float = 2.0  # line width in pixels


def layer_name(boundary_set: BoundarySet) -> str:
    """ "Wards (barnet-wards-2019)": what the set's areas are, and which set; a titled set by its
    title ("Torbay wards (2019)"), which already says what its areas are."""
    if boundary_set.title:
        return boundary_set.title
    kind = _SCHEME_LAYER_NAMES.get(boundary_set.scheme, "Areas")
    return f"{kind} ({boundary_set.name})"


def region_outlines(
    boundaries: BoundaryStore, boundary_set: BoundarySet, codes: Sequence[str] = ()
) -> list[Outline]:
    """The outlines of the region's areas (all of the set when ``codes`` is empty) and, for a
    cluster set, its wards' outlines beneath them."""
    areas = boundary_set.areas
    if codes:
        areas = areas[areas["code"].isin(list(codes))]
    wards = member_wards(boundaries, boundary_set, codes)
    return [*([wards] if wards else []), Outline(layer_name(boundary_set), areas, weight=2.5)]


def member_wards(
    boundaries: BoundaryStore, boundary_set: BoundarySet, codes: Sequence[str] = ()
) -> Outline | None:
    """The wards of a cluster set's clusters (of ``codes``, or all), when its ward set is still
    stored; None for any other set."""
    wards_name = boundary_set.extra.get("wards") if boundary_set.scheme == "cluster" else None
    areas = boundary_set.areas
    if not wards_name or "members" not in areas or not boundaries.exists(wards_name):
        return None
    if codes:
        areas = areas[areas["code"].isin(list(codes))]
    try:
        wards = boundaries.read(wards_name)
    except BoundaryError:
        return None  # a ward set replaced by something unreadable: the clusters still draw
    members = {code for joined in areas["members"] for code in str(joined).split(";")}
    ward_areas = wards.areas[wards.areas["code"].isin(members)]
    return Outline(layer_name(wards), ward_areas, weight=1.0)


def outline_layer(outline: Outline) -> PropertyStyledGeoJson:
    """Lines only, not clickable, so the hexagons or areas beneath keep their popups."""
    frame = in_wgs84(outline.areas)
    geometries = shapely.to_geojson(round_geometries(frame.geometry.values.to_numpy()))
    properties = [
        {"code": str(code), "name": str(name)}
        for code, name in zip(frame["code"], frame["name"], strict=True)
    ]
    return PropertyStyledGeoJson(
        feature_collection(list(geometries), properties),
        name=outline.name,
        style={"color": OUTLINE_COLOUR, "weight": outline.weight, "opacity": 0.9, "fill": False},
        interactive=False,
    )
