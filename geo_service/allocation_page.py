"""The printable allocation page: each area's units beside the equal share, with the method.

``allocation_bars`` works out the bar chart (pure numbers, tested without a browser);
``render_allocation_html`` fills ``templates/allocation.html``. The page is self-contained (inline
CSS and SVG, no script), like the area profile, so it opens on locked-down networks and prints.
Measures and the rounding method are named for anyone (``geo_service.plain_words``); their
technical names are tooltips and the closing technical notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geo_service.pages import template_environment
from geo_service.plain_words import ALLOCATION_TERMS, MEASURE_WORDS, ROUNDING_NAMES
from pipelines.attribution import ATTRIBUTION
from pipelines.harm.table import summed_unit
from pipelines.wording import counted

BAR_WIDTH = 100  # SVG units of the longest bar


@dataclass(frozen=True)
class Bar:
    units_width: float  # the allocated units' bar
    equal_x: float  # where the equal share's mark sits
    label: str  # for screen readers and the tooltip


def allocation_bars(rows: list[dict[str, Any]], width: float = BAR_WIDTH) -> list[Bar]:
    """One bar per row on a common scale: the units allocated, and the equal share's mark."""
    largest = max([1.0, *(max(r["units"], r["equal_share"]) for r in rows)])
    return [
        Bar(
            units_width=round(width * r["units"] / largest, 2),
            equal_x=round(width * r["equal_share"] / largest, 2),
            label=f"{counted(r['units'], 'unit')} allocated; equal share {r['equal_share']:g}",
        )
        for r in rows
    ]


def _signed(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:+,.{digits}f}".replace("-", "−")


_environment = template_environment(signed=_signed)


def render_allocation_html(body: dict[str, Any], set_title: str | None = None) -> str:
    """The page for an allocation body (``provenance``, ``rows``, ``totals``, as the JSON);
    ``set_title`` names the boundary set for people (default: its code)."""
    rows = body["rows"]
    provenance = body["provenance"]
    return _environment.get_template("allocation.html").render(
        a=body,
        p=provenance,
        set_title=set_title or provenance["boundaries"],
        t=ALLOCATION_TERMS,
        measure_words=MEASURE_WORDS.get(provenance["measure"], provenance["measure"]),
        rounding_name=ROUNDING_NAMES.get(provenance["rounding"], provenance["rounding"]),
        bars=allocation_bars(rows),
        bar_width=BAR_WIDTH,
        has_population=any(r.get("population") is not None for r in rows),
        # Harm is a sum of weights in the table's unit (e.g. "GBP (2015/16 prices)"), shown
        # whole: decimals of pounds or crime-days say nothing a planner can use.
        harm_unit=summed_unit(provenance["weights"].get("unit") or "unstated"),
        measure_digits=1 if provenance["measure"] == "rate" else 0,
        attribution=ATTRIBUTION,
    )
