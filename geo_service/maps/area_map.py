"""The area map: a choropleth of one metric per area (count, harm, rate, harm per km²)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from boundaries.errors import BoundaryError
from boundaries.sets import BoundarySet
from geo_service.maps.map_text import elsewhere_words, window_words
from geo_service.maps.outlines import Outline, layer_name, outline_layer
from geo_service.maps.styling import (
    NO_DATA_COLOUR,
    AreaLabels,
    Classes,
    Legend,
    LegendEntry,
    MapTitle,
    PropertyStyledGeoJson,
    class_decimals,
    feature_collection,
    harm_name,
    in_wgs84,
    map_page,
    quantile_classes,
    round_geometries,
)
from pipelines.analysis.window import StudyWindow, choose_window
from pipelines.errors import InputError
from pipelines.harm import HarmTable, load_table
from pipelines.planning.measures import area_counts
from pipelines.quoting import quoted
from pipelines.store import CrimeStore
from pipelines.wording import counted

METRICS: dict[str, str] = {
    "count": "Crimes",
    "harm": "Harm",
    "rate": "Crimes per 1,000 residents",
    "harm_per_km2": "Harm per km²",
}
METRIC_COLUMNS: dict[str, str] = {
    "count": "crimes",
    "harm": "harm",
    "rate": "rate",
    "harm_per_km2": "harm_per_km2",
}
HARM_METRICS = ("harm", "harm_per_km2")


@dataclass
class AreaMetrics:
    """Every metric for every area of a set over one window."""

    set_name: str
    table: pd.DataFrame  # code, name, crimes, harm, area_km2, population, rate, harm_per_km2
    window: StudyWindow
    weights: HarmTable
    outside: int  # crimes of the window in no area of the set
    no_location: int


def area_metrics(
    store: CrimeStore,
    boundary_set: BoundarySet,
    first: str | None = None,
    last: str | None = None,
    weights: str = "count",
    force: str | None = None,
) -> AreaMetrics:
    """Every metric of every area over the chosen window (``pipelines.planning.measures``)."""
    table = load_table(weights)
    window = choose_window(store, force, first, last)
    counts = area_counts(store, boundary_set, table, window.first, window.last, force)
    return AreaMetrics(
        boundary_set.name, counts.table, window, table, counts.outside, counts.no_location
    )


def check_metric(metric: str, boundary_set: BoundarySet, weights: str | None) -> None:
    """Refuse, saying what to change, a metric the set or the weights cannot answer."""
    if metric not in METRICS:
        raise InputError(f"metric must be one of {', '.join(METRICS)}, got {quoted(metric)}")
    if metric == "rate" and "population" not in boundary_set.areas:
        raise BoundaryError(
            f"boundary set {quoted(boundary_set.name)} has no population, so no rate per 1,000; "
            "attach "
            f"it with `hotspots boundaries population {boundary_set.name} --population FILE`, or "
            "use metric=count"
        )
    if metric in HARM_METRICS and weights is None:
        raise InputError(
            f"metric={metric} needs a harm table: add weights=cchi or weights=home-office-2018 "
            "(weights=count makes harm the number of crimes)"
        )


def metric_label(metric: str, weights: HarmTable) -> str:
    """The legend's title, with the harm table's unit where the metric is harm."""
    if metric not in HARM_METRICS:
        return METRICS[metric]
    unit = weights.total_unit
    per = " per km²" if metric == "harm_per_km2" else ""
    return f"Harm{per} ({weights.name}: {unit}{per})"


def area_layer(
    boundary_set: BoundarySet, metrics: AreaMetrics, metric: str
) -> tuple[PropertyStyledGeoJson, Legend, Classes]:
    """The filled areas and their classed legend."""
    if metric not in METRICS:
        raise InputError(f"metric must be one of {', '.join(METRICS)}, got {quoted(metric)}")
    table = metrics.table
    values = table[METRIC_COLUMNS[metric]].to_numpy(dtype=np.float64)
    classes = quantile_classes(values)
    index = classes.classify(values)
    decimals = class_decimals(values)
    label = metric_label(metric, metrics.weights)
    harm = harm_name(metrics.weights.name)

    def shown(value: float, places: int) -> float | None:
        return None if not np.isfinite(value) else round(float(value), places)

    properties = [
        {
            "code": row.code,
            "name": row.name,
            "k": int(k),
            "value": shown(value, decimals),
            "crimes": int(row.crimes),
            "harm": shown(row.harm, 1),
            "rate": shown(row.rate, 1),
            "harm_per_km2": shown(row.harm_per_km2, 1),
            "population": shown(row.population, 0),
            "area_km2": shown(row.area_km2, 2),
        }
        for row, k, value in zip(table.itertuples(index=False), index, values, strict=True)
    ]
    areas = in_wgs84(boundary_set.areas)
    geometries = shapely.to_geojson(round_geometries(areas.geometry.values.to_numpy()))
    palette = {str(i): colour for i, colour in enumerate(classes.colours)}
    palette["-1"] = NO_DATA_COLOUR
    layer = PropertyStyledGeoJson(
        feature_collection(list(geometries), properties),
        name=f"{label} by {layer_name(boundary_set)}",
        style={"color": "#525252", "weight": 1, "opacity": 0.8, "fillOpacity": 0.75},
        colour_by="k",
        palette=palette,
        popup_fields=[
            ("name", "Area"),
            ("code", "Code"),
            ("crimes", "Crimes"),
            ("harm", harm),
            ("rate", "Crimes per 1,000 residents"),
            ("harm_per_km2", f"{harm} per km²"),
            ("population", "Residents"),
            ("area_km2", "Area (km²)"),
        ],
        tooltip_fields=[("name", "Area"), ("value", label)],
    )
    per_class = np.bincount(index[index >= 0], minlength=len(classes.upper))
    entries = [
        LegendEntry(colour, f"{text} ({counted(int(n), 'area')})")
        for colour, text, n in zip(
            classes.colours, classes.labels(decimals), per_class, strict=True
        )
    ]
    missing = int((index < 0).sum())
    if missing:
        entries.append(LegendEntry(NO_DATA_COLOUR, f"No data ({counted(missing, 'area')})"))
    window = metrics.window
    lead = [
        f"{window_words(window.first, window.last)}. Darker areas have more; each colour holds "
        "about as many areas. Click an area for its numbers."
    ]
    elsewhere = elsewhere_words(metrics.outside, window.forces)
    if elsewhere:
        lead.append(elsewhere)
    notes = [
        f"{window.first} to {window.last}; weights {metrics.weights.name} "
        f"{metrics.weights.version}.",
        "Quantile classes: about as many areas in each.",
        f"{counted(metrics.no_location, 'crime')} {', '.join(window.forces) or 'no force'} "
        "recorded in "
        "the window (a force-wide count, not this set's) had no map location, so they are in "
        "no area.",
    ]
    if window.missing:
        notes.append(f"Months with no data stored: {', '.join(window.missing)}.")
    return layer, Legend(label, entries, notes, lead), classes


def area_map_html(
    boundary_set: BoundarySet,
    metrics: AreaMetrics,
    metric: str,
    tiles: str = "none",
    outlines: Sequence[Outline] = (),
    title: str = "",
    crumbs_html: str = "",
    links: Sequence[tuple[str, str]] = (),
) -> str:
    """The choropleth page: the set's areas filled by ``metric``'s class, optional extra outlines
    (a cluster's wards), legend and layer control."""
    west, south, east, north = boundary_set.areas.total_bounds
    page_title = title or f"{METRICS[metric]}: {boundary_set.name}"
    layer, legend, _ = area_layer(boundary_set, metrics, metric)
    lines = [outline_layer(outline) for outline in outlines]
    names = AreaLabels(boundary_set.areas)
    heading = MapTitle(page_title, crumbs_html, links)
    parts = [layer, *lines, names, legend, heading]
    return map_page((west, south, east, north), tiles, page_title, parts)
