"""The displacement map: target, buffer ring and control in distinct colours, the crimes before
and after in each (popups and legend), and a panel with the result in plain words: the measures
named for anyone (``geo_service.plain_words``), the WDQ and odds ratios in tooltips and a
footnote."""

from __future__ import annotations

import html

import numpy as np
import shapely
from branca.element import Element, MacroElement
from folium.map import FitBounds
from folium.template import Template

from geo_service.maps.styling import (
    Legend,
    LegendEntry,
    PropertyStyledGeoJson,
    feature_collection,
    map_page,
    round_geometries,
)
from geo_service.plain_words import DISPLACEMENT_TERMS, displacement_reading
from pipelines.planning.displacement import NO_CHANGE, NO_SUCCESS
from pipelines.planning.displacement_areas import BUFFER, CONTROL, TARGET
from pipelines.planning.displacement_check import DisplacementCheck

# ColorBrewer Set1: three hues told apart by most colour-blind readers.
PLACE_COLOURS = {TARGET: "#e41a1c", BUFFER: "#ff7f00", CONTROL: "#377eb8"}
PLACE_LABELS = {TARGET: "Target", BUFFER: "Buffer ring", CONTROL: "Control"}
DRAW_ORDER = (BUFFER, TARGET, CONTROL)  # the ring beneath, so the target's edge stays visible
PANEL_HEIGHT_PX = 300  # about the height of the result panel in the bottom-left corner


class Panel(MacroElement):
    """A box of ready-made (escaped) HTML in a corner of the map."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var panel = L.control({position: {{ this.position|tojson }}});
            panel.onAdd = function () {
                var div = L.DomUtil.create("div", "hotspots-legend displacement-panel");
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            panel.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, markup: str, position: str = "bottomleft") -> None:
        super().__init__()
        self._name = "Panel"
        self.html = markup
        self.position = position


def change_text(before: float, after: float) -> str:
    """ "126 → 120 (−4.8 %)": the counts and the change, no % from zero."""
    text = f"{before:,.0f} → {after:,.0f}"
    if before > 0:
        text += f" ({(after - before) * 100 / before:+.1f} %)"
    return text.replace("-", "−")


def place_name(check: DisplacementCheck, place: str) -> str:
    if place == BUFFER:
        return f"{check.areas.buffer_m:g} m around the target"
    source = check.target if place == TARGET else check.control
    if source.name:
        return f"{source.name} ({source.boundary_set}:{source.code})"
    return source.spec


def result_panel(body: dict) -> str:
    """The result in plain words, each measure with its technical name as the row's tooltip,
    and the analyst's terms in a closing footnote (every text escaped). Crimes saved are said
    only where the notes claim them: when the target's fall is significant."""
    words = DISPLACEMENT_TERMS
    improved = body["reading"] not in (NO_CHANGE, NO_SUCCESS)
    rows = [
        (words["wdq"], _wdq_text(body["wdq"], improved, body["buffer_odds_ratio"]["significant"])),
        (words["target"], _odds_text(body["target_odds_ratio"])),
        (words["buffer"], _odds_text(body["buffer_odds_ratio"])),
        (words["success"], _per_control_crime(body, TARGET)),
        (words["buffer_change"], _per_control_crime(body, BUFFER)),
        (words["net"], _net_text(body["total_net_effect"], body["reading"])),
    ]
    table = "".join(
        f'<tr><th title="{html.escape(term.tooltip)}">{html.escape(term.plain)}</th>'
        f"<td>{html.escape(value)}</td></tr>"
        for term, value in rows
    )
    names = "; ".join(f"{term.plain}: {term.technical}" for term, _ in rows)
    plain = displacement_reading(body["reading"])
    return (
        "<h4>Did the crime move next door?</h4>"
        f'<p class="displacement-reading"><strong>{html.escape(plain)}.</strong></p>'
        f'<table class="hotspots-popup displacement-result">{table}</table>'
        f"<p>Before {html.escape(body['before_period'])}, after "
        f"{html.escape(body['after_period'])}; hover a row for what it means.</p>"
        '<details class="footnote displacement-explanation"><summary>Technical notes</summary>'
        "<p>Weighted Displacement Quotient (Bowers and Johnson 2003): "
        f"{html.escape(body['reading'])}. {html.escape(body['explanation'])}</p>"
        f"<p>Names: {html.escape(names)}.</p></details>"
    )


def _odds_text(ratio: dict) -> str:
    return (
        f"{ratio['direction']} (× {ratio['value']:.2f}; {ratio['confidence']:.0%} range "
        f"{ratio['low']:.2f} to {ratio['high']:.2f})"
    )


def _wdq_text(wdq: float | None, improved: bool, ring_changed: bool) -> str:
    if wdq is None:
        return "none: the target did not change against the control area"
    if not improved:
        return (
            "not worked out: crime in the target area did not clearly fall against the control "
            f"area, so none can have moved (the formula gives {_signed(wdq, 2)}, which means "
            "nothing here)"
        )
    if not ring_changed:
        moved = "crime did not clearly move into the buffer ring, nor fall there"
    else:
        moved = "crime moved into the buffer ring" if wdq < 0 else "the buffer ring gained too"
    return f"{_signed(wdq, 2)}: {moved}"


def _per_control_crime(body: dict, place: str) -> str:
    """The ratio behind the success and buffer measures, labelled: the place's crimes per
    control-area crime before and after, and the change."""
    before = body["before"][place] / body["before"][CONTROL]
    after = body["after"][place] / body["after"][CONTROL]
    return (
        f"{before:.2f} crimes per control-area crime before, {after:.2f} after "
        f"(change {_signed(after - before, 2)})"
    )


def _net_text(net: float, reading: str) -> str:
    """Crimes saved only with the significance that backs them, as the notes say."""
    if reading == NO_CHANGE:
        return (
            "none claimed: the change in the target area is not significant (the arithmetic "
            f"gives {_signed(net, 1)} crimes against the control area's trend, within chance)"
        )
    if reading == NO_SUCCESS:
        return "none: crime in the target area rose against the control area"
    fewer = "fewer" if net >= 0 else "more"
    return (
        f"about {abs(net):,.0f} {fewer} crimes than the control area's trend predicts, target "
        "and ring together (the target's fall is significant at 95 %; this total has no range "
        "of its own)"
    )


def _signed(value: float, digits: int) -> str:
    return f"{round(value, digits) + 0.0:+,.{digits}f}".replace("-", "−")  # no "−0.00"


def displacement_map_html(check: DisplacementCheck, tiles: str = "none") -> str:
    """The page: three layers (switchable), legend with the counts, result panel."""
    body = check.to_dict()
    geometries = check.areas.geometries()
    bounds = shapely.union_all(list(geometries.values())).bounds
    west, south, east, north = bounds
    # Fit again after base_map, leaving the bottom of the view to the result panel and legend.
    parts: list[Element] = [
        FitBounds(
            [[south, west], [north, east]],
            padding_top_left=(20, 20),
            padding_bottom_right=(20, PANEL_HEIGHT_PX),
        )
    ]
    areas_km2 = body["provenance"]["areas_km2"]
    entries = []
    for place in DRAW_ORDER:
        before, after = body["before"][place], body["after"][place]
        properties = {
            "place": place,
            "label": PLACE_LABELS[place],
            "area": place_name(check, place),
            "before": f"{before:,.0f}",
            "after": f"{after:,.0f}",
            "change": change_text(before, after),
            "km2": f"{areas_km2[place]:,.3f}",
        }
        geometry = shapely.to_geojson(round_geometries(np.array([geometries[place]])))
        colour = PLACE_COLOURS[place]
        layer = PropertyStyledGeoJson(
            feature_collection(list(geometry), [properties]),
            name=f"{PLACE_LABELS[place]}: {place_name(check, place)}",
            style={
                "color": colour,
                "weight": 2,
                "opacity": 0.9,
                "fillColor": colour,
                "fillOpacity": 0.2 if place == BUFFER else 0.35,
            },
            popup_fields=[
                ("label", "Place"),
                ("area", "Area"),
                ("before", f"Crimes before ({body['before_period']})"),
                ("after", f"Crimes after ({body['after_period']})"),
                ("change", "Change"),
                ("km2", "Area (km²)"),
            ],
            tooltip_fields=[("label", "Place"), ("change", "Crimes before → after")],
        )
        parts.append(layer)
    for place in (TARGET, BUFFER, CONTROL):
        counts = change_text(body["before"][place], body["after"][place])
        entries.append(LegendEntry(PLACE_COLOURS[place], f"{PLACE_LABELS[place]}: {counts}"))
    categories = body["provenance"]["categories"]
    notes = [
        f"Crimes before ({body['before_period']}) → after ({body['after_period']}).",
        "Categories: " + ("all" if categories == "all" else ", ".join(categories)) + ".",
        *_gap_notes(body["provenance"]["periods"]),
    ]
    parts += [Legend("Crimes before → after", entries, notes), Panel(result_panel(body))]
    title = f"Displacement check: {place_name(check, TARGET)}"
    return map_page(bounds, tiles, title, parts)


def _gap_notes(periods: dict) -> list[str]:
    return [
        f"No data stored for {', '.join(period['months_missing'])} ({name} period)."
        for name, period in periods.items()
        if period["months_missing"]
    ]
