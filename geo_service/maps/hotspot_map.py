"""The hotspot map: a study's H3 cells coloured by class, over the region's area outlines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from geo_service.maps.outlines import Outline, outline_layer
from geo_service.maps.styling import (
    GI_COLOURS,
    GI_LABELS,
    LISA_COLOURS,
    LISA_LABELS,
    Legend,
    LegendEntry,
    PropertyStyledGeoJson,
    feature_collection,
    format_p,
    hexagon_geometry,
    map_page,
)
from pipelines.analysis.study import StudyResult

NOT_SIGNIFICANT: dict[str, int | str] = {"gistar": 0, "lisa": "ns"}  # class of ordinary cells


def cells_to_draw(cells: pd.DataFrame) -> pd.DataFrame:
    """Only cells that carry data: at least one crime, or a significant class (a cold spot can
    have none). The study's empty, ordinary cells are most of a region and say nothing."""
    significant = ~cells["class"].astype(str).isin([str(v) for v in NOT_SIGNIFICANT.values()])
    return cells[(cells["count"] > 0) | significant]


def hexagon_features(cells: pd.DataFrame) -> str:
    """A FeatureCollection of the cells with the popup's numbers, rounded for the page."""
    geometries = [hexagon_geometry(cell) for cell in cells["h3"]]
    streets = cells["streets"] if "streets" in cells else pd.Series([[]] * len(cells))
    properties = [
        {
            "h3": cell,
            "area": area,
            "class": klass if isinstance(klass, str) else int(klass),
            "count": int(count),
            "harm": round(float(value), 2),
            "z": None if np.isnan(z) else round(float(z), 2),
            "p_adj": format_p(float(p)),
            "streets": "; ".join(street),
        }
        for cell, area, klass, count, value, z, p, street in zip(
            cells["h3"],
            cells["area_name"],
            cells["class"],
            cells["count"],
            cells["value"],
            cells["z"],
            cells["p_adjusted"],
            streets,
            strict=True,
        )
    ]
    return feature_collection(geometries, properties)


def hotspot_layer(result: StudyResult) -> tuple[PropertyStyledGeoJson, Legend]:
    """The hexagon layer and its legend, for a Gi* or a local Moran's I study."""
    provenance = result.provenance
    method = provenance["method"]
    cells = cells_to_draw(result.cells)
    colours, labels = (GI_COLOURS, GI_LABELS) if method == "gistar" else (LISA_COLOURS, LISA_LABELS)
    weights = provenance["weights"]
    harm_label = (
        "Crimes (count weights)" if weights["name"] == "count" else f"Harm ({weights['name']})"
    )
    statistic = "Gi* z" if method == "gistar" else "Local Moran's I z"
    layer = PropertyStyledGeoJson(
        hexagon_features(cells),
        name="Hot and cold spots (Gi*)" if method == "gistar" else "Local Moran's I clusters",
        style={"color": "#636363", "weight": 0.5, "opacity": 0.7, "fillOpacity": 0.75},
        colour_by="class",
        palette={str(k): v for k, v in colours.items()},
        popup_fields=[
            ("area", "Area"),
            ("class", "Class", {str(k): v for k, v in labels.items()}),
            ("count", "Crimes"),
            ("harm", harm_label),
            ("z", statistic),
            ("p_adj", "Adjusted p"),
            ("streets", "Streets"),
            ("h3", "H3 cell"),
        ],
        tooltip_fields=[("class", "", {str(k): v for k, v in labels.items()})],
    )
    drawn = cells["class"].astype(str).value_counts()
    entries = [
        LegendEntry(
            colours[key],
            f"{labels[key]} ({int(drawn.get(str(key), 0)):,} cells"
            + (" with crimes)" if key == NOT_SIGNIFICANT[method] else ")"),
        )
        for key in colours
    ]
    window = result.window
    notes = [
        f"{window.first} to {window.last}; weights {weights['name']} {weights['version']}; "
        f"H3 resolution {provenance['resolution']}.",
        f"Classes from p adjusted by {provenance['multiple_testing']} (alpha "
        f"{provenance['alpha']:g}).",
        f"{len(cells):,} of {len(result.cells):,} cells drawn: cells with no crime that are not "
        "significant are left out.",
        *result.adjustments,
    ]
    if window.missing:
        notes.append(f"Months with no data stored: {', '.join(window.missing)}.")
    title = "Hot and cold spots" if method == "gistar" else "Local Moran's I"
    return layer, Legend(title, entries, notes)


def hotspot_map_html(
    result: StudyResult, outlines: Sequence[Outline], tiles: str = "none", title: str = ""
) -> str:
    """The hotspot page: the study's cells that carry data, the outlines, legend, layer control."""
    frames = [outline.areas.geometry for outline in outlines if len(outline.areas)]
    if frames:
        west, south, east, north = pd.concat(frames).total_bounds
    else:  # no outline given: frame the cells themselves
        west, east = result.cells["lng"].min(), result.cells["lng"].max()
        south, north = result.cells["lat"].min(), result.cells["lat"].max()
    page_title = title or f"Hot spots: {result.provenance['region']['boundary_set']}"
    layer, legend = hotspot_layer(result)
    lines = [outline_layer(outline) for outline in outlines]  # above the cells, not clickable
    return map_page((west, south, east, north), tiles, page_title, [layer, *lines, legend])
