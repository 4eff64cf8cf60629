"""The hotspot map: a study's H3 cells coloured by class, over the region's area outlines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from geo_service.maps.map_text import (
    backtest_words,
    gi_class_words,
    lisa_class_words,
    measure_words,
    window_words,
)
from geo_service.maps.outlines import Outline, outline_layer
from geo_service.maps.styling import (
    GI_COLOURS,
    GI_LABELS,
    LISA_COLOURS,
    LISA_LABELS,
    AreaLabels,
    Legend,
    LegendEntry,
    MapTitle,
    PropertyStyledGeoJson,
    feature_collection,
    format_p,
    hexagon_geometry,
    map_page,
)
from pipelines.analysis.study import StudyResult
from pipelines.wording import counted

NOT_SIGNIFICANT: dict[str, int | str] = {"gistar": 0, "lisa": "ns"}  # class of ordinary cells


# Cells a page draws at most (about 350 bytes of HTML each, so about 4 MB): a browser stays
# responsive, and whole-London resolution-10 maps stay a download, not 12 MB.
MAX_DRAWN_CELLS = 12_000


def cells_to_draw(cells: pd.DataFrame, budget: int = MAX_DRAWN_CELLS) -> pd.DataFrame:
    """Only cells that carry data: at least one crime, or a significant class (a cold spot can
    have none). The study's empty, ordinary cells are most of a region and say nothing. Beyond
    ``budget`` cells, every significant cell is kept and the ordinary cells with the fewest
    crimes are left out (the caller says how many)."""
    significant = ~cells["class"].astype(str).isin([str(v) for v in NOT_SIGNIFICANT.values()])
    drawn = cells[(cells["count"] > 0) | significant]
    if len(drawn) <= budget:
        return drawn
    is_significant = significant[drawn.index]
    ordinary = drawn[~is_significant]
    room = max(0, budget - int(is_significant.sum()))
    kept = ordinary.sort_values("count", ascending=False, kind="stable").head(room)
    return drawn[is_significant | drawn.index.isin(kept.index)]


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


def hotspot_layer(
    result: StudyResult, backtest: dict | None = None
) -> tuple[PropertyStyledGeoJson, Legend]:
    """The hexagon layer and its legend, for a Gi* or a local Moran's I study: classes in plain
    words (the technical name as each swatch's tooltip), the settings one click away."""
    provenance = result.provenance
    method = provenance["method"]
    cells = cells_to_draw(result.cells)
    weights = provenance["weights"]
    if method == "gistar":
        colours, technical = GI_COLOURS, GI_LABELS
        labels: dict = gi_class_words(weights["name"])
    else:
        colours, technical = LISA_COLOURS, LISA_LABELS
        labels = lisa_class_words(weights["name"])
    harm_label = "Crimes" if weights["name"] == "count" else measure_words(weights["name"])
    statistic = "Gi* z" if method == "gistar" else "Local Moran's I z"
    layer = PropertyStyledGeoJson(
        hexagon_features(cells),
        name="Hot and cold spots (Gi*)" if method == "gistar" else "Local Moran's I clusters",
        style={"color": "#636363", "weight": 0.5, "opacity": 0.7, "fillOpacity": 0.75},
        colour_by="class",
        palette={str(k): v for k, v in colours.items()},
        popup_fields=[
            ("area", "Area"),
            ("streets", "Streets"),
            ("class", "What the test says", {str(k): v for k, v in labels.items()}),
            ("count", "Crimes"),
            ("harm", harm_label.capitalize()),
            ("z", f"{statistic} (technical)"),
            ("p_adj", "Adjusted p (technical)"),
            ("h3", "Map cell (H3)"),
        ],
        tooltip_fields=[("class", "", {str(k): v for k, v in labels.items()})],
    )
    drawn = cells["class"].astype(str).value_counts()
    entries = [
        LegendEntry(
            colours[key],
            f"{labels[key]}: {counted(int(drawn.get(str(key), 0)), 'cell')}"
            + (" with crimes" if key == NOT_SIGNIFICANT[method] else ""),
            technical=technical[key],
        )
        for key in colours
    ]
    window = result.window
    lead = [
        f"Each hexagon is about {_CELL_WORDS.get(provenance['resolution'], 'a block')}; "
        f"{window_words(window.first, window.last)}. Click one for its streets and numbers.",
    ]
    said = backtest_words(backtest)
    if said:
        lead.append(said)
    notes = [
        f"{window.first} to {window.last}; weights {weights['name']} {weights['version']}; "
        f"H3 resolution {provenance['resolution']}.",
        f"Classes from p adjusted by {provenance['multiple_testing']} (alpha "
        f"{provenance['alpha']:g}).",
        f"{len(cells):,} of {counted(len(result.cells), 'cell')} drawn: cells with no crime that "
        "are not "
        "significant are left out.",
        *_budget_note(result.cells, cells),
        *result.adjustments,
    ]
    if window.missing:
        notes.append(f"Months with no data stored: {', '.join(window.missing)}.")
    flagged = int(result.cells["high_count"].sum()) if "high_count" in result.cells else 0
    if flagged:
        entries.append(
            LegendEntry(
                HIGH_COUNT_COLOUR,
                f"High-count place (outlined: one cell with far more crime than the rest, "
                f"not a cluster): {counted(flagged, 'cell')}",
                technical="negative-binomial excess test, adjusted p <= alpha",
            )
        )
        notes.append(
            "High-count places: a cell's own crime count far above the region's "
            "(negative-binomial test, adjusted p <= alpha); a concentration, not a hot spot."
        )
    title = "Hot and cold spots" if method == "gistar" else "Clusters and outliers"
    return layer, Legend(title, entries, notes, lead)


# What an H3 cell is on the ground (edge to edge), for the legend.
_CELL_WORDS = {
    7: "2.5 km across",
    8: "900 m across",
    9: "350 m across (a few streets)",
    10: "130 m across (a street)",
}


def _budget_note(cells: pd.DataFrame, drawn: pd.DataFrame) -> list[str]:
    left_out = cells[(cells["count"] > 0) & ~cells.index.isin(drawn.index)]
    if left_out.empty:
        return []
    return [
        f"To keep the page small, {counted(len(left_out), 'cell')} with crimes that are not "
        "significant "
        f"(those with the fewest, {int(left_out['count'].max()):,} or fewer each) are not drawn "
        "either; /v1/hotspots lists every cell."
    ]


HIGH_COUNT_COLOUR = "#000000"
HIGH_COUNT_LAYER = "High-count places (not hot spots)"


def high_count_layer(result: StudyResult) -> PropertyStyledGeoJson | None:
    """The high-count places as outlined hexagons, a layer of their own (none when no place is
    flagged): a concentration answer beside the Gi* classes, never mixed into them."""
    if "high_count" not in result.cells:
        return None
    cells = result.cells[result.cells["high_count"]]
    if cells.empty:
        return None
    geometries = [hexagon_geometry(cell) for cell in cells["h3"]]
    properties = [
        {"place": cell, "area": area, "count": int(count), "p_adj": format_p(float(p))}
        for cell, area, count, p in zip(
            cells["h3"],
            cells["area_name"],
            cells["count"],
            cells["high_count_p_adjusted"],
            strict=True,
        )
    ]
    return PropertyStyledGeoJson(
        feature_collection(geometries, properties),
        name=HIGH_COUNT_LAYER,
        style={"color": HIGH_COUNT_COLOUR, "weight": 3, "opacity": 0.9, "fillOpacity": 0},
        popup_fields=[
            ("area", "High-count place in"),
            ("count", "Crimes"),
            ("p_adj", "Adjusted p (count above the region's expectation)"),
            ("place", "H3 cell"),
        ],
    )


def hotspot_map_html(
    result: StudyResult,
    outlines: Sequence[Outline],
    tiles: str = "none",
    title: str = "",
    crumbs_html: str = "",
    links: Sequence[tuple[str, str]] = (),
    backtest: dict | None = None,
) -> str:
    """The hotspot page: a title (what, where, when) with breadcrumbs and links, the study's
    cells that carry data, the outlines, the area names, the legend and the layer control."""
    frames = [outline.areas.geometry for outline in outlines if len(outline.areas)]
    if frames:
        west, south, east, north = pd.concat(frames).total_bounds
    else:  # no outline given: frame the cells themselves
        west, east = result.cells["lng"].min(), result.cells["lng"].max()
        south, north = result.cells["lat"].min(), result.cells["lat"].max()
    page_title = title or f"Hot spots: {result.provenance['region']['boundary_set']}"
    layer, legend = hotspot_layer(result, backtest)
    places = high_count_layer(result)
    extra = [places] if places is not None else []
    lines = [outline_layer(outline) for outline in outlines]  # above the cells, not clickable
    names = [AreaLabels(outlines[-1].areas)] if outlines and len(outlines[-1].areas) else []
    heading = MapTitle(page_title, crumbs_html, links)
    parts = [layer, *extra, *lines, *names, legend, heading]
    return map_page((west, south, east, north), tiles, page_title, parts)
