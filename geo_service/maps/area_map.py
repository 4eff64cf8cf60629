"""The area map: a choropleth of one metric per area (count, harm, rate, harm per km²)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from boundaries.assign import AreaIndex, assign_table
from boundaries.errors import BoundaryError
from boundaries.sets import BoundarySet
from geo_service.maps.outlines import Outline, layer_name, outline_layer
from geo_service.maps.styling import (
    NO_DATA_COLOUR,
    Classes,
    Legend,
    LegendEntry,
    PropertyStyledGeoJson,
    base_map,
    feature_collection,
    finish,
    quantile_classes,
    round_geometries,
)
from pipelines.analysis.window import StudyWindow, choose_window
from pipelines.harm import HarmTable, load_table
from pipelines.store import CrimeStore

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
    """Count and weigh the window's crimes into the set's areas (the exact point-in-polygon rule
    of ``boundaries.assign``), and divide by population and land area."""
    table = load_table(weights)
    window = choose_window(store, force, first, last)
    crimes = store.read(
        force, window.first, window.last, columns=["longitude", "latitude", "category"]
    )
    assignment = assign_table(AreaIndex.of(boundary_set), crimes)
    harm = table.weights_for(crimes["category"])
    inside = assignment.area >= 0
    n = len(boundary_set.areas)
    counts = np.bincount(assignment.area[inside], minlength=n)
    harms = np.bincount(assignment.area[inside], weights=harm[inside], minlength=n)
    areas = boundary_set.areas
    frame = pd.DataFrame(
        {
            "code": areas["code"].astype(str).to_numpy(),
            "name": areas["name"].astype(str).to_numpy(),
            "crimes": counts.astype(np.int64),
            "harm": harms,
            "area_km2": areas["area_m2"].to_numpy(dtype=np.float64) / 1e6,
        }
    )
    if "population" in areas:
        population = areas["population"].to_numpy(dtype=np.float64)
        frame["population"] = population
        with np.errstate(divide="ignore", invalid="ignore"):
            # An area with no residents has no rate (not an infinite one): drawn as "no data".
            frame["rate"] = np.where(population > 0, counts * 1000.0 / population, np.nan)
    else:
        frame["population"] = np.nan
        frame["rate"] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["harm_per_km2"] = np.where(frame["area_km2"] > 0, harms / frame["area_km2"], np.nan)
    return AreaMetrics(
        boundary_set.name,
        frame,
        window,
        table,
        assignment.outside,
        assignment.no_location,
    )


def check_metric(metric: str, boundary_set: BoundarySet, weights: str | None) -> None:
    """Refuse, saying what to change, a metric the set or the weights cannot answer."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if metric == "rate" and "population" not in boundary_set.areas:
        raise BoundaryError(
            f"boundary set {boundary_set.name!r} has no population, so no rate per 1,000; attach "
            f"it with `hotspots boundaries population {boundary_set.name} --population FILE`, or "
            "use metric=count"
        )
    if metric in HARM_METRICS and weights is None:
        raise ValueError(
            f"metric={metric} needs a harm table: add weights=cchi or weights=home-office-2018 "
            "(weights=count makes harm the number of crimes)"
        )


def metric_label(metric: str, weights: HarmTable) -> str:
    """The legend's title, with the harm table's unit where the metric is harm."""
    if metric not in HARM_METRICS:
        return METRICS[metric]
    unit = weights.unit.removesuffix(" per crime")
    per = " per km²" if metric == "harm_per_km2" else ""
    return f"Harm{per} ({weights.name}: {unit}{per})"


def _decimals(values: np.ndarray) -> int:
    finite = values[np.isfinite(values)]
    largest = float(np.abs(finite).max()) if len(finite) else 0.0
    return 0 if largest >= 100 else 1 if largest >= 10 else 2


def area_layer(
    boundary_set: BoundarySet, metrics: AreaMetrics, metric: str
) -> tuple[PropertyStyledGeoJson, Legend, Classes]:
    """The filled areas and their classed legend."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    table = metrics.table
    values = table[METRIC_COLUMNS[metric]].to_numpy(dtype=np.float64)
    classes = quantile_classes(values)
    index = classes.classify(values)
    decimals = _decimals(values)
    label = metric_label(metric, metrics.weights)
    harm_name = "Crimes" if metrics.weights.name == "count" else f"Harm ({metrics.weights.name})"

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
    areas = boundary_set.areas
    if areas.crs is not None and areas.crs.to_epsg() != 4326:
        areas = areas.to_crs(4326)
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
            ("harm", harm_name),
            ("rate", "Crimes per 1,000 residents"),
            ("harm_per_km2", f"{harm_name} per km²"),
            ("population", "Residents"),
            ("area_km2", "Area (km²)"),
        ],
        tooltip_fields=[("name", "Area"), ("value", label)],
    )
    per_class = np.bincount(index[index >= 0], minlength=len(classes.upper))
    entries = [
        LegendEntry(colour, f"{text} ({int(n)} areas)")
        for colour, text, n in zip(
            classes.colours, classes.labels(decimals), per_class, strict=True
        )
    ]
    missing = int((index < 0).sum())
    if missing:
        entries.append(LegendEntry(NO_DATA_COLOUR, f"No data ({missing} areas)"))
    window = metrics.window
    notes = [
        f"{window.first} to {window.last}; weights {metrics.weights.name} "
        f"{metrics.weights.version}.",
        "Quantile classes: about as many areas in each.",
        f"{metrics.outside:,} crimes fell outside every area; {metrics.no_location:,} had no "
        "location.",
    ]
    if window.missing:
        notes.append(f"Months with no data stored: {', '.join(window.missing)}.")
    return layer, Legend(label, entries, notes), classes


def area_map_html(
    boundary_set: BoundarySet,
    metrics: AreaMetrics,
    metric: str,
    tiles: str = "none",
    outlines: Sequence[Outline] = (),
    title: str = "",
) -> str:
    """The choropleth page: the set's areas filled by ``metric``'s class, optional extra outlines
    (a cluster's wards), legend and layer control."""
    west, south, east, north = boundary_set.areas.total_bounds
    page_title = title or f"{METRICS[metric]}: {boundary_set.name}"
    fmap = base_map((west, south, east, north), tiles, page_title)
    layer, legend, _ = area_layer(boundary_set, metrics, metric)
    layer.add_to(fmap)
    for outline in outlines:
        outline_layer(outline).add_to(fmap)
    legend.add_to(fmap)
    return finish(fmap)
