"""The scheme comparison page: one choropleth per boundary scheme, side by side and kept in step
(Leaflet.Sync, vendored), the comparison's significant hot cells over every map, and beneath
them the measures per scheme, the per-area ranks and rank moves, and the provenance.

Colour classes. Totals (``count``, ``harm``) are not comparable across schemes -- a cluster's
total is the sum of its wards' totals -- so each map gets its own quantile classes and the page
says so. Densities (``rate``, ``harm_per_km2``) are comparable, so their classes are quantiles
of every scheme's areas pooled, one legend's colours meaning the same on every map.

The page is a Jinja template (``templates/compare.html``): every text is escaped there, and the
map data travel as JSON made safe for a <script> element (``styling.script_safe``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson
import shapely

from boundaries.errors import BoundaryError
from boundaries.sets import BoundarySet
from geo_service.maps.assets import LEAFLET_CSS, LEAFLET_JS, STATIC_URL
from geo_service.maps.outlines import layer_name
from geo_service.maps.styling import (
    NO_DATA_COLOUR,
    Classes,
    class_decimals,
    feature_collection,
    harm_name,
    hexagon_geometry,
    in_wgs84,
    quantile_classes,
    round_geometries,
    script_safe,
    tile_source,
)
from geo_service.pages import template_environment
from geo_service.plain_words import COMPARE_TERMS, HOT_SPOT_KEY, SPLIT_HOT_SPOT_KEY, Term
from pipelines.errors import InputError
from pipelines.harm.table import summed_unit
from pipelines.planning.compare import Comparison, SchemeSummary
from pipelines.quoting import quoted
from pipelines.wording import counted

LEAFLET_SYNC_VERSION = "0.2.4"
LEAFLET_SYNC_JS = f"{STATIC_URL}/leaflet.sync-{LEAFLET_SYNC_VERSION}/L.Map.Sync.js"

METRICS: dict[str, str] = {
    "harm_per_km2": "Harm per km²",
    "rate": "Crimes per 1,000 residents",
    "harm": "Harm",
    "count": "Crimes",
}
DEFAULT_METRIC = "harm_per_km2"
# The column of a scheme's area table each metric is read from.
METRIC_COLUMNS: dict[str, str] = {
    "harm_per_km2": "harm_per_km2",
    "rate": "rate_per_1000",
    "harm": "harm",
    "count": "crimes",
}
SHARED_CLASS_METRICS = ("harm_per_km2", "rate")  # densities: one set of classes for every map
HOT_COLOUR = "#1a1a1a"  # a hot cell's outline: reads on every class of the YlOrRd ramp
STRADDLE_COLOUR = "#2166ac"  # a hot cell this scheme's boundaries cut through
MAX_MAPS = 4


def check_compare_metric(metric: str, sets: Sequence[BoundarySet]) -> None:
    """Refuse, saying what to change, a metric a scheme cannot answer."""
    if metric not in METRICS:
        raise InputError(f"metric must be one of {', '.join(METRICS)}, got {quoted(metric)}")
    if metric == "rate":
        missing = [s.name for s in sets if "population" not in s.areas]
        if missing:
            raise BoundaryError(
                f"boundary set(s) {', '.join(missing)} have no population, so no rate per "
                "1,000; attach it with `hotspots boundaries population SET --population FILE`, "
                "or use metric=harm_per_km2"
            )


def metric_classes(comparison: Comparison, metric: str) -> list[Classes]:
    """One Classes per scheme: shared quantiles of the pooled areas for densities, each
    scheme's own quantiles for totals."""
    values = [_values(summary, metric) for summary in comparison.schemes]
    if metric in SHARED_CLASS_METRICS:
        shared = quantile_classes(np.concatenate(values))
        return [shared] * len(values)
    return [quantile_classes(v) for v in values]


def _values(summary: SchemeSummary, metric: str) -> np.ndarray:
    column = METRIC_COLUMNS[metric]
    if column not in summary.areas:
        return np.full(len(summary.areas), np.nan)
    return summary.areas[column].to_numpy(dtype=np.float64)


# -- the page's parts --------------------------------------------------------------------------


@dataclass
class LegendRow:
    colour: str
    label: str
    areas: int


@dataclass
class SchemePanel:
    """What the page shows of one scheme: its map's legend and its area table."""

    index: int
    name: str
    scheme: str
    vintage: str
    layer: str
    legend: list[LegendRow]
    rows: list[dict]  # area rows, by rank
    has_population: bool


def compare_page_html(
    comparison: Comparison,
    sets: Sequence[BoundarySet],
    metric: str,
    tiles: str = "none",
    data_version: str = "",
) -> str:
    """The whole page: maps side by side, measures, per-area ranks, rank moves, provenance."""
    check_compare_metric(metric, sets)
    if len(sets) > MAX_MAPS:
        raise InputError(f"the page shows at most {MAX_MAPS} schemes side by side")
    provenance = comparison.provenance
    weights = provenance["weights"]
    label = metric_label(metric, weights)
    all_classes = metric_classes(comparison, metric)
    decimals = class_decimals(np.concatenate([_values(s, metric) for s in comparison.schemes]))
    panels = []
    map_schemes = []
    for index, (summary, boundary_set, classes) in enumerate(
        zip(comparison.schemes, sets, all_classes, strict=True)
    ):
        values = _values(summary, metric)
        klass = classes.classify(values)
        panels.append(_panel(index, summary, boundary_set, classes, klass, decimals))
        palette = {str(i): colour for i, colour in enumerate(classes.colours)}
        map_schemes.append(
            {
                "name": summary.name,
                "layer": layer_name(boundary_set),
                "areas": orjson.Fragment(_area_features(boundary_set, summary, klass, values)),
                "palette": palette,
            }
        )
    west, south, east, north = _bounds(sets)
    tile = None
    if tiles != "none":
        url, attribution = tile_source(tiles)
        tile = {"url": url, "attribution": attribution}
    data = {
        "schemes": map_schemes,
        "hot": orjson.Fragment(_hot_features(comparison.hot_cells)),
        "bounds": [[south, west], [north, east]],
        "tiles": tile,
        "attribution": provenance.get("attribution", ""),
        "metric": label,
        "harmName": harm_name(weights.get("name")),
        "noData": NO_DATA_COLOUR,
        "hotColour": HOT_COLOUR,
        "straddleColour": STRADDLE_COLOUR,
    }
    shared = metric in SHARED_CLASS_METRICS
    return _environment.get_template("compare.html").render(
        title=f"Boundary schemes compared: {', '.join(s.display_name for s in sets)}",
        titles={s.name: s.display_name for s in sets},  # what the page calls each set
        metric=metric,
        metric_label=label,
        metrics=METRICS,
        shared_classes=shared,
        panels=panels,
        schemes=comparison.schemes,
        measures=_measures(comparison, weights),
        moves=_moves(comparison),
        provenance=_provenance_rows(
            comparison, metric, shared, data_version, {s.name: s.display_name for s in sets}
        ),
        harm_unit=_total_unit(weights),
        data_json=script_safe(orjson.dumps(data).decode()),
        leaflet_js=LEAFLET_JS,
        leaflet_css=LEAFLET_CSS,
        sync_js=LEAFLET_SYNC_JS,
        hot_colour=HOT_COLOUR,
        straddle_colour=STRADDLE_COLOUR,
        hot_key=HOT_SPOT_KEY,
        split_key=SPLIT_HOT_SPOT_KEY,
        attribution=provenance.get("attribution", ""),
        tiles_note=None if tile is None else html.unescape(_strip_tags(tile["attribution"])),
    )


def metric_label(metric: str, weights: dict) -> str:
    """The legend's title, with the harm table and its unit where the metric is harm."""
    if metric not in ("harm", "harm_per_km2"):
        return METRICS[metric]
    per = " per km²" if metric == "harm_per_km2" else ""
    return f"Harm{per} ({weights['name']}: {_total_unit(weights)}{per})"


def _total_unit(weights: dict) -> str:
    # "GBP per crime (2015/16 prices)" per crime; a sum of it is "GBP (2015/16 prices)".
    return summed_unit(str(weights.get("unit", "")))


def _strip_tags(text: str) -> str:
    # The OSM attribution carries a link; the printed footer wants its words only.
    return re.sub(r"<[^>]+>", "", text)


def _bounds(sets: Sequence[BoundarySet]) -> tuple[float, float, float, float]:
    boxes = np.array([in_wgs84(s.areas).total_bounds for s in sets])
    return (
        float(boxes[:, 0].min()),
        float(boxes[:, 1].min()),
        float(boxes[:, 2].max()),
        float(boxes[:, 3].max()),
    )


def _shown(value: object, places: int) -> float | None:
    if value is None:
        return None
    number = float(value)
    return round(number, places) if np.isfinite(number) else None


def _area_features(
    boundary_set: BoundarySet, summary: SchemeSummary, klass: np.ndarray, values: np.ndarray
) -> str:
    """The scheme's areas as GeoJSON text, each with its class ``k`` and the popup's numbers."""
    areas = in_wgs84(boundary_set.areas)
    table = summary.areas
    if list(table["code"]) != list(areas["code"]):
        raise ValueError(f"{boundary_set.name}: the comparison's areas are not the set's areas")
    rate = table["rate_per_1000"] if "rate_per_1000" in table else [None] * len(table)
    population = table["population"] if "population" in table else [None] * len(table)
    properties = [
        {
            "code": str(code),
            "name": str(name),
            "k": int(k),
            "value": _shown(value, 2),
            "crimes": int(crimes),
            "harm": _shown(harm, 1),
            "harm_per_km2": _shown(density, 1),
            "rate": _shown(r, 1),
            "population": _shown(p, 0),
            "rank": int(rank),
            "of": len(table),
        }
        for code, name, k, value, crimes, harm, density, r, p, rank in zip(
            table["code"],
            table["name"],
            klass,
            values,
            table["crimes"],
            table["harm"],
            table["harm_per_km2"],
            rate,
            population,
            table["rank"],
            strict=True,
        )
    ]
    geometries = shapely.to_geojson(round_geometries(areas.geometry.values.to_numpy()))
    return feature_collection(list(geometries), properties)


def _hot_features(hot_cells: list[dict]) -> str:
    """The hot cells as hexagons (GeoJSON text); ``straddles`` names the schemes they cross."""
    geometries = [hexagon_geometry(cell["h3"]) for cell in hot_cells]
    properties = [
        {
            "h3": cell["h3"],
            "crimes": cell["crimes"],
            "harm": round(cell["harm"], 1),
            "class": cell["class"],
            "straddles": cell["straddles"],
        }
        for cell in hot_cells
    ]
    return feature_collection(geometries, properties)


def _panel(
    index: int,
    summary: SchemeSummary,
    boundary_set: BoundarySet,
    classes: Classes,
    klass: np.ndarray,
    decimals: int,
) -> SchemePanel:
    per_class = np.bincount(klass[klass >= 0], minlength=len(classes.upper))
    legend = [
        LegendRow(colour, text, int(n))
        for colour, text, n in zip(
            classes.colours, classes.labels(decimals), per_class, strict=True
        )
    ]
    missing = int((klass < 0).sum())
    if missing:
        legend.append(LegendRow(NO_DATA_COLOUR, "No data", missing))
    table = summary.areas.sort_values(["rank", "code"])
    rows = [
        {
            "rank": int(row["rank"]),
            "code": str(row["code"]),
            "name": str(row["name"]),
            "crimes": int(row["crimes"]),
            "harm": float(row["harm"]),
            "harm_per_km2": _shown(row["harm_per_km2"], 6),
            "rate": _shown(row.get("rate_per_1000"), 6),
            "population": _shown(row.get("population"), 0),
        }
        for _, row in table.iterrows()
    ]
    return SchemePanel(
        index=index,
        name=summary.name,
        scheme=summary.scheme,
        vintage=summary.vintage,
        layer=layer_name(boundary_set),
        legend=legend,
        rows=rows,
        has_population="population" in summary.areas,
    )


def _measures(comparison: Comparison, weights: dict) -> list[tuple[Term, list[str]]]:
    """The measures table: one row per measure (its Term, one formatted cell per scheme)."""
    unit = _total_unit(weights)
    schemes = comparison.schemes

    def share(part: float, whole: float) -> str:
        return f" ({part / whole:.0%})" if whole > 0 else ""

    def counted(plain: str, explanation: str) -> Term:  # plain already: no technical name
        return Term(plain, explanation, plain)

    words = COMPARE_TERMS
    straddling_harm = words["straddling_harm"]
    return [
        (counted("Areas", "areas in the scheme"), [f"{len(s.areas):,}" for s in schemes]),
        (
            counted("Crimes counted in the areas", "each crime in the area it fell in"),
            [f"{int(s.areas['crimes'].sum()):,}" for s in schemes],
        ),
        (
            counted(f"Harm in the areas ({unit})", "the harm of those crimes"),
            [_number(s.areas["harm"].sum()) for s in schemes],
        ),
        (words["gini"], [f"{s.gini_harm:.3f}" for s in schemes]),
        (words["top20"], [f"{s.top20_harm_share:.1%}" for s in schemes]),
        (
            words["half"],
            [f"{s.areas_holding_half_harm} of {len(s.areas)}" for s in schemes],
        ),
        (words["hot"], [f"{s.hot_cells:,}" for s in schemes]),
        (
            words["straddling"],
            [
                f"{s.straddling_hot_cells:,}{share(s.straddling_hot_cells, s.hot_cells)}"
                for s in schemes
            ],
        ),
        (
            Term(
                f"{straddling_harm.plain} ({unit})",
                straddling_harm.explanation,
                straddling_harm.technical,
            ),
            [
                f"{_number(s.straddling_hot_harm)}{share(s.straddling_hot_harm, s.hot_harm)}"
                for s in schemes
            ],
        ),
        (words["between"], [f"{s.between_share:.3f}" for s in schemes]),
        (words["outside"], [f"{s.outside_crimes:,}" for s in schemes]),
    ]


def _number(value: float) -> str:
    value = float(value)
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def _moves(comparison: Comparison) -> dict:
    """Each reference area's rank and, in every other scheme, its home area and that rank."""
    reference = comparison.schemes[0]
    others = comparison.schemes[1:]
    names = {s.name: dict(zip(s.areas["code"], s.areas["name"], strict=True)) for s in others}
    rows = []
    for move in sorted(comparison.rank_moves, key=lambda m: (m[reference.name], m["code"])):
        homes = []
        for other in others:
            home = move.get(other.name)
            if home is None:
                homes.append(None)
                continue
            homes.append(
                {
                    "code": home["code"],
                    "name": names[other.name].get(home["code"], ""),
                    "rank": home["rank"],
                    "of": len(other.areas),
                }
            )
        rows.append(
            {
                "code": move["code"],
                "name": move["name"],
                "rank": move[reference.name],
                "of": len(reference.areas),
                "homes": homes,
            }
        )
    return {"reference": reference.name, "others": [s.name for s in others], "rows": rows}


def _provenance_rows(
    comparison: Comparison,
    metric: str,
    shared: bool,
    data_version: str,
    titles: dict[str, str],
) -> list[tuple[str, str]]:
    p = comparison.provenance
    reference = titles.get(p["reference_set"], p["reference_set"])
    window = p["window"]
    weights = p["weights"]
    hot = p["hot_cells"]
    months = f"{window['first']} to {window['last']} ({counted(window['months'], 'month')}"
    months += f", {window['months_stored']} stored"
    if window.get("months_missing"):
        months += f"; no data stored for {', '.join(window['months_missing'])}"
    months += ")"
    if window.get("forces"):
        months += f"; forces: {', '.join(window['forces'])}"
    classes = (
        "shared by every map: quantiles of all the schemes' areas pooled (a density compares "
        "across schemes)"
        if shared
        else "each map its own quantiles: a total is not comparable across schemes (a cluster "
        "sums its wards), so compare colours within a map, or choose harm_per_km2 or rate"
    )
    return [
        (
            "Reference region",
            f"{reference} (crimes inside it are the crimes compared; hot cells judged against "
            f"the whole of {reference}; every scheme is measured on it)",
        ),
        ("Schemes", ", ".join(titles.get(name, name) for name in p["sets"])),
        ("Window", months),
        ("Crimes compared", f"{p['crimes_in_reference_region']:,}"),
        (
            "Crimes with no location",
            f"{window.get('no_location_crimes', 0):,}, force-wide for "
            f"{', '.join(window.get('forces', [])) or 'no force'} (in no area)",
        ),
        (
            "Harm weights",
            f"{weights['name']} version {weights['version']}: {weights.get('title', '')} "
            f"({weights.get('unit', '')})",
        ),
        (
            "H3 resolution",
            f"{p['resolution']} ({counted(p['cells'], 'cell')} in the reference region)",
        ),
        ("Neighbours", f"{p['neighbours']['type']}, k = {p['neighbours']['k']}"),
        (
            "Hot cells",
            f"{hot['method']}; alpha {hot['alpha']}, correction {hot['correction']}; "
            f"{hot.get('rule', '')}",
        ),
        ("Crime rule", p["crime_rule"]),
        ("Cell rule", p["cell_rule"]),
        ("Straddling", p.get("straddle_rule", "")),
        ("Map metric", f"{METRICS[metric]}; colour classes {classes}"),
        ("Data version", data_version or "not recorded"),
    ]


_environment = template_environment()
