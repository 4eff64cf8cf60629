"""The planning pages' measures named for a reader who is not an analyst.

Each measure has a plain name (what the page shows), a one-line explanation (shown beside it or
in the page's key) and the analyst's name, which a page shows only as the plain name's tooltip
and in its "Technical notes" footnote: the same rule as the maps' legends
(``geo_service.maps.map_text``). One table per page, so a page's words can be read and reviewed
in one place; tests/test_plain_words.py checks every page keeps its jargon to tooltips and
footnotes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """A measure as a page names it: ``plain`` in the text, ``technical`` in the tooltip and the
    footnote, ``explanation`` in one line for anyone."""

    plain: str
    explanation: str
    technical: str

    @property
    def tooltip(self) -> str:
        return f"{self.technical}: {self.explanation}"


# -- compare: boundary schemes side by side ----------------------------------------------------

COMPARE_TERMS: dict[str, Term] = {
    "gini": Term(
        "How unevenly harm is spread over the areas",
        "0 when every area has the same harm, close to 1 when one area holds it all",
        "Gini of harm across areas",
    ),
    "top20": Term(
        "Share of harm in the busiest fifth of areas",
        "the harm in the 20 % of areas with the most, as a share of all the harm",
        "Share of harm in the top 20 % of areas",
    ),
    "half": Term(
        "Areas holding half the harm",
        "how few areas, busiest first, hold half of all the harm",
        "Areas holding half the harm",
    ),
    "hot": Term(
        "Hot spots in the region",
        "small places with far more harm than chance would explain (95 % confidence)",
        "Significant hot cells (region): Gi* hot spots, adjusted p <= alpha",
    ),
    "straddling": Term(
        "Hot spots split by an area boundary",
        "hot spots whose surroundings lie in more than one area, so no one area's team owns them",
        "Hot cells straddling an area boundary",
    ),
    "straddling_harm": Term(
        "Harm in hot spots split by a boundary",
        "the harm of those split hot spots, and its share of all hot spot harm",
        "Harm in straddling hot cells",
    ),
    "between": Term(
        "How well the areas separate high-harm from low-harm places",
        "0 not at all, 1 perfectly: high-harm places fall in some areas, low-harm in others",
        "Between-area share of cell-harm variance (eta squared)",
    ),
    "outside": Term(
        "Crimes in the region but in none of these areas",
        "crimes the other scheme places in an area and this one does not",
        "Crimes outside the scheme's areas",
    ),
}
HOT_SPOT_KEY = Term(
    "A hot spot",
    "far more harm here than chance would explain (95 % confidence)",
    "Significant hot cell (Gi*, adjusted p <= alpha)",
)
SPLIT_HOT_SPOT_KEY = Term(
    "A hot spot split by a boundary",
    "its surroundings lie in more than one area of this map's scheme",
    "Hot cell straddling a boundary (its k-ring holds cells of more than one area)",
)


# -- backtest: did last period's hot spots hold the next months' crime? --------------------------

BACKTEST_TERMS: dict[str, Term] = {
    "resolution": Term(
        "Map cell size",
        "the size of the hexagons hot spots are chosen from",
        "H3 resolution",
    ),
    "selection": Term(
        "Hot spots chosen by",
        "what made a place a hot spot: the number of crimes, or their harm",
        "selection (weights table)",
    ),
    "hotspot_cells": Term(
        "Hot spot cells",
        "cells chosen as hot spots, of all the cells of the region",
        "hot cells (Gi* hot spots on the training window)",
    ),
    "area_share": Term(
        "Share of the land",
        "the part of the region's land the hot spots cover",
        "area share a/A",
    ),
    "test_crimes": Term(
        "Crimes in the test months",
        "every crime in the region in the months after the ones the hot spots were chosen on",
        "test crimes N",
    ),
    "hits": Term(
        "Of those, in the hot spots",
        "the test months' crimes that fell inside the hot spots",
        "hits n",
    ),
    "hit_rate": Term(
        "Share of crime caught",
        "the test months' crimes inside the hot spots, as a share of all of them",
        "hit rate n/N",
    ),
    "pai": Term(
        "Times an even spread",
        "share of crime caught divided by share of land: 1 is no better than places picked at "
        "random, 5 is five times better",
        "Predictive Accuracy Index (PAI)",
    ),
    "pei": Term(
        "Share of the best possible",
        "crime caught, against the most any cells covering the same land could have caught",
        "Predictive Efficiency Index (PEI*)",
    ),
    "hit_rate_top1": Term(
        "Crime caught by the top 1 % of land",
        "the same small share of land for every setting, so settings compare fairly",
        "hit rate at a fixed 1 % area",
    ),
    "hit_rate_top5": Term(
        "Crime caught by the top 5 % of land",
        "as above, on 5 % of the land",
        "hit rate at a fixed 5 % area",
    ),
    "pai_top5": Term(
        "Times an even spread, top 5 % of land",
        "share of crime caught on 5 % of the land, divided by 5 %",
        "PAI at a fixed 5 % area",
    ),
    "pei_top5": Term(
        "Share of the best possible, top 5 % of land",
        "crime caught on 5 % of the land, against the most any 5 % could have caught",
        "PEI* at a fixed 5 % area",
    ),
}


# -- allocation: units shared by need ----------------------------------------------------------

ALLOCATION_TERMS: dict[str, Term] = {
    "need": Term(
        "Need",
        "what the units are shared by",
        "measure",
    ),
    "exact_share": Term(
        "Share before rounding",
        "the units this area's need earns before units are made whole",
        "exact share (proportional quota)",
    ),
    "units": Term(
        "Units given",
        "whole units this area gets",
        "units allocated",
    ),
    "equal_share": Term(
        "Even split",
        "what every area would get if the units were split evenly",
        "equal share (units / areas)",
    ),
    "difference": Term(
        "Against an even split",
        "+ more units than an even split would give, − fewer",
        "difference (units allocated − equal share)",
    ),
}
ROUNDING_NAMES = {
    "webster": "the Webster (Sainte-Laguë) divisor method",
    "largest-remainder": "the largest remainder (Hamilton) method, which can show the "
    "Alabama paradox",
}
MEASURE_WORDS = {
    "harm": "harm",
    "count": "number of crimes",
    "rate": "crimes per 1,000 residents",
}


# -- displacement: did the crime move next door? -----------------------------------------------

DISPLACEMENT_TERMS: dict[str, Term] = {
    "wdq": Term(
        "Displacement score",
        "below 0: crime moved into the buffer ring; above 0: the ring gained too; "
        "read only when the target improved",
        "Weighted Displacement Quotient (WDQ)",
    ),
    "target": Term(
        "Target against the control area",
        "how crime in the target changed, allowing for the control area's trend",
        "target vs control odds ratio, with its 95 % confidence interval",
    ),
    "buffer": Term(
        "Buffer ring against the control area",
        "how crime in the ring around the target changed, allowing for the control's trend",
        "buffer vs control odds ratio, with its 95 % confidence interval",
    ),
    "success": Term(
        "Target's change against the control",
        "the target's crimes per control-area crime, before and after: a fall means the "
        "target improved on the control's trend",
        "success measure",
    ),
    "buffer_change": Term(
        "Ring's change against the control",
        "the ring's crimes per control-area crime, before and after: a rise means crime "
        "may have moved there",
        "buffer displacement measure",
    ),
    "net": Term(
        "Crimes saved, target and ring together",
        "against what the control area's trend predicts; claimed only when the target's fall "
        "is significant",
        "total net effect",
    ),
}
# Bowers and Johnson's classes (pipelines.planning.displacement) said for anyone.
DISPLACEMENT_READINGS = {
    "no significant change in the target relative to the control": (
        "No clear change in the target area compared with the control area"
    ),
    "no success: the target worsened relative to the control": (
        "Crime in the target area got worse compared with the control area"
    ),
    "success, with no significant displacement or diffusion of benefit": (
        "Crime fell in the target area and did not clearly move into the buffer ring"
    ),
    "diffusion of benefit": (
        "Crime fell in the target area, and in the buffer ring too: the benefit spread"
    ),
    "diffusion of benefit greater than the direct effect": (
        "Crime fell in the target area, and even more in the buffer ring"
    ),
    "displacement, less than the direct effect": (
        "Crime fell in the target area; some moved into the buffer ring, less than was prevented"
    ),
    "displacement greater than the direct effect": (
        "Crime fell in the target area, but more moved into the buffer ring than was prevented"
    ),
}


def displacement_reading(reading: str) -> str:
    """A Bowers and Johnson class in plain words (the class itself when it is new)."""
    return DISPLACEMENT_READINGS.get(reading, reading)
