"""Colours, classes and the Leaflet elements both map pages are built from.

Layers are styled in the browser by one small JavaScript function that reads a property of each
feature and looks its colour up in a palette. folium's ``style_function`` instead writes one
JavaScript ``case`` per feature, which stalls the browser past a few thousand features (50,000
hexagons took 13-16 s to draw; the property-styled layer draws them in about 3 s).
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import folium
import geopandas as gpd
import h3
import numpy as np
import orjson
import shapely
from branca.element import Element, MacroElement
from folium.map import Layer
from folium.template import Template

from geo_service.maps.assets import MAP_CSS, MAP_JS
from pipelines.analysis.classes import CLASS_LABELS
from pipelines.attribution import ATTRIBUTION

# 5 decimal places of a degree is about 1.1 m on the ground: far finer than a res-10 hexagon's
# 66 m edge or the 20 m generalisation of ONS boundaries, and a sixth of the bytes of full floats.
COORDINATE_DECIMALS = 5

# Gi* classes (ArcGIS Gi_Bin): reds for hot spots at 99/95/90 % confidence, blues for cold ones
# (ColorBrewer RdBu, 7 classes, a diverging scheme readable by most colour-blind readers).
GI_COLOURS: dict[int, str] = {
    3: "#b2182b",
    2: "#ef8a62",
    1: "#fddbc7",
    0: "#f7f7f7",
    -1: "#d1e5f0",
    -2: "#67a9cf",
    -3: "#2166ac",
}
GI_LABELS: dict[int, str] = CLASS_LABELS

# Local Moran's I quadrants where significant (HH a hot spot, LL a cold spot, HL/LH outliers).
LISA_COLOURS: dict[str, str] = {
    "HH": "#b2182b",
    "HL": "#f4a582",
    "LH": "#92c5de",
    "LL": "#2166ac",
    "ns": "#f7f7f7",
}
LISA_LABELS: dict[str, str] = {
    "HH": "High among high (hot spot)",
    "HL": "High among low (outlier)",
    "LH": "Low among high (outlier)",
    "LL": "Low among low (cold spot)",
    "ns": "Not significant",
}

# ColorBrewer YlOrRd, 5 classes: a sequential ramp for the choropleth, light = low.
SEQUENTIAL_COLOURS: tuple[str, ...] = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
NO_DATA_COLOUR = "#bdbdbd"
OUTLINE_COLOUR = "#252525"


@dataclass(frozen=True)
class Classes:
    """Classes of a numeric value: class i holds values up to ``upper[i]`` (inclusive)."""

    lower: float  # the smallest value classed
    upper: tuple[float, ...]  # ascending upper bounds, one per class
    colours: tuple[str, ...]
    method: str

    def classify(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """The class index of each value; -1 for a missing (NaN) value."""
        array = np.asarray(values, dtype=np.float64)
        index = np.searchsorted(np.asarray(self.upper), array, side="left")
        index = np.minimum(index, len(self.upper) - 1)
        return np.where(np.isnan(array), -1, index).astype(np.int64)

    def labels(self, decimals: int = 0) -> list[str]:
        """ "a – b" for each class, in the units of the value."""
        bounds = [self.lower, *self.upper]
        return [
            f"{_number(bounds[i], decimals)} – {_number(bounds[i + 1], decimals)}"
            for i in range(len(self.upper))
        ]


def quantile_classes(values: Sequence[float] | np.ndarray, k: int = 5) -> Classes:
    """Up to ``k`` colour classes holding about equal numbers of areas (mapclassify's
    quantiles), so every colour of the legend is used whatever the skew. Missing values are
    left out; a class that tied values leave empty merges into the next, so no legend colour
    is unused. (mapclassify's Fisher-Jenks is not offered: without numba it took 8.5 s for 700
    wards on the loaded build machine, and numba is a large dependency for one legend.)"""
    # Imported here: mapclassify brings scikit-learn (~1 s), which a process drawing no map
    # (the CLI's analyse, a worker) should not pay for.
    import mapclassify

    array = np.asarray(values, dtype=np.float64)
    array = array[~np.isnan(array)]
    if len(array) == 0:
        return Classes(0.0, (0.0,), (NO_DATA_COLOUR,), "quantile")
    k = min(k, len(np.unique(array)))
    if k == 1:
        upper = np.array([array.max()])
    else:
        with warnings.catch_warnings():
            # "Not enough unique values": the tied quantiles are merged just below.
            warnings.simplefilter("ignore", UserWarning)
            classifier = mapclassify.Quantiles(array, k=k)
        upper = classifier.bins[np.asarray(classifier.counts) > 0]
    colours = _spread(SEQUENTIAL_COLOURS, len(upper))
    return Classes(float(array.min()), tuple(float(u) for u in upper), colours, "quantile")


def _spread(ramp: Sequence[str], n: int) -> tuple[str, ...]:
    """``n`` colours from a ramp, as far apart as they go (the darkest always last)."""
    if n >= len(ramp):
        return tuple(ramp)
    positions = np.round(np.linspace(len(ramp) - 1, 0, n)).astype(int)[::-1]
    return tuple(ramp[p] for p in positions)


def _number(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def round_geometries(geometries: np.ndarray, decimals: int = COORDINATE_DECIMALS) -> np.ndarray:
    """The geometries with every coordinate rounded (smaller pages; shared edges stay shared)."""
    return shapely.transform(geometries, lambda xy: np.round(xy, decimals))


def in_wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` in longitude/latitude (EPSG:4326), as Leaflet draws it."""
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    return frame


def hexagon_geometry(cell: str, decimals: int = COORDINATE_DECIMALS) -> str:
    """The cell's hexagon (or pentagon) as a GeoJSON Polygon, lng/lat rounded, ring closed."""
    ring = [[round(lng, decimals), round(lat, decimals)] for lat, lng in h3.cell_to_boundary(cell)]
    ring.append(ring[0])
    return orjson.dumps({"type": "Polygon", "coordinates": [ring]}).decode()


def class_decimals(values: np.ndarray) -> int:
    """Decimals a legend's class bounds need: none from 100 up, one from 10, else two."""
    finite = values[np.isfinite(values)]
    largest = float(np.abs(finite).max()) if len(finite) else 0.0
    return 0 if largest >= 100 else 1 if largest >= 10 else 2


def harm_name(weights: str | None) -> str:
    """What a popup calls the harm of a harm table: count weights make it the crimes."""
    return "Crimes" if weights == "count" else f"Harm ({weights})"


def feature_collection(geometries: Sequence[str], properties: Sequence[dict]) -> str:
    """A GeoJSON FeatureCollection from GeoJSON geometry strings and property dicts, compact."""
    features = [
        b'{"type":"Feature","properties":'
        + orjson.dumps(props)
        + b',"geometry":'
        + geometry.encode()
        + b"}"
        for geometry, props in zip(geometries, properties, strict=True)
    ]
    return (b'{"type":"FeatureCollection","features":[' + b",".join(features) + b"]}").decode()


def script_safe(json_text: str) -> str:
    """JSON text safe to place inside a <script> element: no "</script>" or "<!--" can form."""
    return json_text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def base_map(bounds: tuple[float, float, float, float], tiles: str, title: str) -> folium.Map:
    """A folium Map over ``bounds`` (min lng, min lat, max lng, max lat) that loads only the
    service's own Leaflet, with the basemap the ``tiles`` setting names and the OGL attribution."""
    west, south, east, north = bounds
    fmap = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        tiles=None,
        control_scale=True,
        prefer_canvas=False,  # SVG: every feature is a DOM path, clickable and countable
    )
    # Instance attributes, never the class lists: folium's add_js_link mutates those in place.
    fmap.default_js = list(MAP_JS)
    fmap.default_css = list(MAP_CSS)
    if tiles != "none":
        tile_layer(tiles).add_to(fmap)
    fmap.fit_bounds([[south, west], [north, east]])
    root = fmap.get_root()
    root.header.add_child(Element(f"<title>{html.escape(title)}</title>"), name="title")
    # An empty icon, so the browser does not ask the server for /favicon.ico.
    root.header.add_child(Element('<link rel="icon" href="data:,">'), name="favicon")
    root.header.add_child(Element(f"<style>{PAGE_CSS}</style>"), name="hotspots_css")
    OglAttribution().add_to(fmap)
    return fmap


OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


def tile_source(tiles: str) -> tuple[str, str]:
    """(URL template, attribution) of a ``tiles`` setting: "osm" or an http(s) URL template with
    {z}, {x} and {y}; ValueError for anything else."""
    if tiles == "osm":
        return OSM_URL, OSM_ATTRIBUTION
    if not tiles.startswith(("https://", "http://")) or not all(
        part in tiles for part in ("{z}", "{x}", "{y}")
    ):
        raise ValueError(
            f"tiles must be 'none', 'osm' or an http(s) URL template with {{z}}, {{x}} and {{y}}; "
            f"got {tiles!r} (set HOTSPOTS_TILES)"
        )
    return tiles, f"Basemap tiles: {html.escape(tiles.split('/')[2])}"


def tile_layer(tiles: str) -> folium.TileLayer:
    """The basemap layer for a ``tiles`` setting other than "none"."""
    url, attribution = tile_source(tiles)
    return folium.TileLayer(url, attr=attribution, name="Basemap", max_zoom=19, control=False)


def tile_origin(tiles: str) -> str:
    """Where a ``tiles`` setting's images come from, as a CSP source ({s} subdomains -> *)."""
    url, _ = tile_source(tiles)
    scheme, _, host = url.split("/")[:3]
    return f"{scheme}//{host.replace('{s}', '*')}"


def content_security_policy(tiles: str, script_hashes: Iterable[str] = ()) -> str:
    """The header that has the browser itself refuse anything the page would fetch from
    elsewhere than this service (and the basemap's tile server, when one is configured).

    Scripts: the service's own files and the page's inline scripts named by their SHA-256
    (``script_hashes``, from geo_service.csp); no 'unsafe-inline', and no event handler
    attributes at all, so text that escaped escaping still cannot run."""
    images = "'self' data:" + ("" if tiles == "none" else f" {tile_origin(tiles)}")
    scripts = " ".join(["'self'", *(f"'{digest}'" for digest in script_hashes)])
    return (
        f"default-src 'self'; script-src {scripts}; script-src-attr 'none'; "
        f"style-src 'self' 'unsafe-inline'; img-src {images}; object-src 'none'; "
        "base-uri 'none'; form-action 'self'"
    )


PAGE_CSS = """
.hotspots-legend { background: rgba(255,255,255,0.92); padding: 6px 10px; font: 13px/1.4 sans-serif;
  border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,0.3); max-width: 300px; }
.hotspots-legend h4 { margin: 0 0 4px; font-size: 14px; }
.hotspots-legend p { margin: 4px 0 0; font-size: 12px; color: #444; }
.hotspots-legend i { display: inline-block; width: 16px; height: 12px; margin-right: 6px;
  border: 1px solid #777; vertical-align: middle; }
.hotspots-legend-lead { color: #222 !important; }
.hotspots-legend details summary { cursor: pointer; font-size: 12px; margin-top: 4px;
  color: #1f4e79; }
.hotspots-title { position: absolute; top: 10px; left: 54px; right: 240px; z-index: 1000;
  background: rgba(255,255,255,0.94); padding: 6px 12px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,0.3); font: 13px/1.4 sans-serif; max-width: 640px; }
.hotspots-title h1 { font-size: 17px; margin: 0; }
.hotspots-title nav { font-size: 12px; color: #444; }
.hotspots-title nav a, .hotspots-title .links a { color: #1f4e79; }
.hotspots-title .links { font-size: 12px; margin-top: 2px; }
.hotspots-area-label { background: none; border: none; }
.hotspots-area-label span { display: inline-block; transform: translate(-50%, -50%);
  white-space: nowrap; font: bold 12px/1.2 sans-serif; color: #1b1b1b;
  text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff; pointer-events: none; }
.hotspots-popup th { text-align: left; padding-right: 8px; font-weight: 600; vertical-align: top; }
.hotspots-popup td { max-width: 220px; }
"""


class OglAttribution(MacroElement):
    """The Open Government Licence attribution, shown whatever layers are on."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "OglAttribution"
        self.text = ATTRIBUTION


class AreaLabels(Layer):
    """Area names drawn on the map at a point inside each area (a layer that can be switched
    off), so a map reads without a basemap. Names go in as text, never as markup."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var group = L.layerGroup();
            {{ this.labels|tojson }}.forEach(function (label) {
                var text = document.createElement("span");
                text.textContent = label[2];
                L.marker([label[0], label[1]], {
                    interactive: false,
                    keyboard: false,
                    icon: L.divIcon({className: "hotspots-area-label", html: text, iconSize: null})
                }).addTo(group);
            });
            return group;
        })();
        {% endmacro %}
        """
    )

    def __init__(self, frame: gpd.GeoDataFrame, name: str = "Area names") -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "AreaLabels"
        frame = in_wgs84(frame)
        points = shapely.point_on_surface(frame.geometry.values.to_numpy())
        self.labels = [
            [round(float(point.y), 5), round(float(point.x), 5), str(name)]
            for point, name in zip(points, frame["name"], strict=True)
        ]


class MapTitle(MacroElement):
    """The page's title over the map (what, where, when), its breadcrumbs and links."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div class="hotspots-title" id="map-title">{{ this.markup|safe }}</div>
        {% endmacro %}
        """
    )

    def __init__(self, title: str, crumbs_html: str = "", links: Sequence[tuple[str, str]] = ()):
        super().__init__()
        self._name = "MapTitle"
        anchors = " · ".join(
            f'<a href="{html.escape(url)}">{html.escape(label)}</a>' for label, url in links
        )
        self.markup = (
            crumbs_html
            + f"<h1>{html.escape(title)}</h1>"
            + (f'<div class="links">{anchors}</div>' if anchors else "")
        )


class PropertyStyledGeoJson(Layer):
    """A GeoJSON layer styled in the browser from one feature property.

    ``style`` is the style every feature shares; when ``colour_by`` names a property, each
    feature's ``fillColor`` is ``palette[str(value)]`` (``fallback`` when absent). Popups and
    tooltips list ``(property, label[, {value: text}])`` fields, built by one function for the
    whole layer (bound once to the layer, not once per feature). ``data`` is GeoJSON text.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            function esc(value) {
                return String(value).replace(/[&<>"']/g, function (c) {
                    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
                });
            }
            function table(fields) {
                return function (layer) {
                    var p = layer.feature.properties, rows = [];
                    fields.forEach(function (field) {
                        var v = p[field[0]];
                        if (field[2] && field[2][String(v)] !== undefined) v = field[2][String(v)];
                        if (v !== undefined && v !== null && v !== "") {
                            rows.push("<tr><th>" + esc(field[1]) + "</th><td>" + esc(v) +
                                      "</td></tr>");
                        }
                    });
                    return '<table class="hotspots-popup">' + rows.join("") + "</table>";
                };
            }
            var base = {{ this.style|tojson }}, palette = {{ this.palette|tojson }};
            var key = {{ this.colour_by|tojson }}, fallback = {{ this.fallback|tojson }};
            var layer = L.geoJson({{ this.data|safe }}, {
                interactive: {{ this.interactive|tojson }},
                style: function (feature) {
                    var style = Object.assign({}, base);
                    if (key !== null) {
                        var colour = palette[String(feature.properties[key])];
                        style.fillColor = colour === undefined ? fallback : colour;
                    }
                    return style;
                }
            });
            {%- if this.popup_fields %}
            layer.bindPopup(table({{ this.popup_fields|tojson }}), {maxWidth: 320});
            {%- endif %}
            {%- if this.tooltip_fields %}
            layer.bindTooltip(table({{ this.tooltip_fields|tojson }}), {sticky: true});
            {%- endif %}
            return layer;
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        data: str,
        name: str,
        style: dict,
        colour_by: str | None = None,
        palette: dict[str, str] | None = None,
        fallback: str = NO_DATA_COLOUR,
        popup_fields: Sequence[tuple] = (),
        tooltip_fields: Sequence[tuple] = (),
        interactive: bool = True,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "PropertyStyledGeoJson"
        self.data = script_safe(data)
        self.style = style
        self.colour_by = colour_by
        self.palette = palette or {}
        self.fallback = fallback
        self.popup_fields = [list(f) for f in popup_fields]
        self.tooltip_fields = [list(f) for f in tooltip_fields]
        self.interactive = interactive


@dataclass(frozen=True)
class LegendEntry:
    colour: str
    label: str
    technical: str = ""  # the analyst's name of the class, shown as the swatch's tooltip


class Legend(MacroElement):
    """A classed legend in the map's corner: a title, one swatch per class, and notes."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: "bottomright"});
            legend.onAdd = function () {
                var div = L.DomUtil.create("div", "hotspots-legend");
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        title: str,
        entries: Sequence[LegendEntry],
        notes: Sequence[str],
        lead: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self._name = "Legend"
        self.title = title
        self.entries = list(entries)
        self.notes = list(notes)
        self.lead = list(lead)
        self.html = legend_html(title, entries, notes, lead)


def legend_html(
    title: str, entries: Sequence[LegendEntry], notes: Sequence[str], lead: Sequence[str] = ()
) -> str:
    """The legend's markup, every text escaped. With ``lead`` (plain sentences, always shown)
    the ``notes`` (settings an analyst checks) fold under "Technical settings", one click away."""
    rows = "".join(
        '<div class="hotspots-legend-class"'
        + (f' title="{html.escape(entry.technical)}"' if entry.technical else "")
        + f'><i style="background:{entry.colour}"></i>{html.escape(entry.label)}</div>'
        for entry in entries
    )
    paragraphs = "".join(f"<p>{html.escape(note)}</p>" for note in notes)
    if lead:
        shown = "".join(f'<p class="hotspots-legend-lead">{html.escape(s)}</p>' for s in lead)
        paragraphs = (
            f'{shown}<details class="hotspots-legend-technical"><summary>Technical settings'
            f"</summary>{paragraphs}</details>"
        )
    return f"<h4>{html.escape(title)}</h4>{rows}{paragraphs}"


def format_p(p: float) -> str:
    """An adjusted p for a popup: 3 significant figures, "< 0.001" below that."""
    if math.isnan(p):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3g}"


def map_page(
    bounds: tuple[float, float, float, float], tiles: str, title: str, parts: Iterable[Element]
) -> str:
    """The whole page: ``base_map``, each of ``parts`` (layers, outlines, legend, panels) added
    in order, then ``finish``."""
    fmap = base_map(bounds, tiles, title)
    for part in parts:
        part.add_to(fmap)
    return finish(fmap)


class TextLayerControl(folium.LayerControl):
    """folium's layer control with each layer's name escaped: Leaflet writes the names into the
    control with innerHTML, so an area called ``<img onerror=...>`` would otherwise be markup."""

    def render(self, **kwargs: object) -> None:
        self.reset()
        for item in self._parent._children.values():
            if isinstance(item, Layer) and item.control:
                named = self.overlays if item.overlay else self.base_layers
                named[html.escape(item.layer_name)] = item.get_name()
        MacroElement.render(self, **kwargs)


def finish(fmap: folium.Map) -> str:
    """Add the layer control (every overlay can be switched off) and render the whole page."""
    TextLayerControl(collapsed=False).add_to(fmap)
    return fmap.get_root().render()
