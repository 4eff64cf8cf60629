"""The printable backtest page: hit rate and PAI per resolution and selection, the best setting
highlighted and read out in plain words, and every setting behind the numbers. Measures are
named for anyone (``geo_service.plain_words``); PAI, PEI* and the settings are in the technical
notes.

Rendered from the same body as the JSON answer (geo_service.routers.backtest.result_body), so
the page and the API can never disagree. Self-contained: inline CSS, no script, nothing fetched.
"""

from __future__ import annotations

from collections.abc import Mapping

import h3

from geo_service.pages import template_environment
from geo_service.plain_words import BACKTEST_TERMS
from pipelines.wording import areas_in_set


def selection_label(selection: str) -> str:
    """How a selection reads in a sentence."""
    return "crime counts" if selection == "count" else f"harm ({selection})"


def cell_size(resolution: int) -> str:
    """An H3 resolution as the size of its cells: 'about 0.1 km² cells'."""
    km2 = h3.average_hexagon_area(resolution, "km^2")
    shown = f"{km2:.1f}" if km2 >= 0.1 else f"{km2:.3f}"
    return f"about {shown} km² cells"


def reading(row: dict) -> str:
    """One row's result in plain words, for a reader who has not met a backtest before."""
    train, test = (row[key].replace("..", " to ") for key in ("train", "test"))
    how = f"{cell_size(row['resolution'])}, by {selection_label(row['selection'])}"
    if row["hotspot_cells"] == 0:
        return f"No place was a hot spot on {train} ({how}), so there was nothing to test."
    caught = (
        f"The hot spots chosen on {train} ({how}) cover {row['area_share']:.1%} of the land and "
        f"held {row['hit_rate']:.1%} ({row['hits']:,} of {row['test_crimes']:,}) of the crimes "
        f"of {test}"
    )
    pai = row["pai"]
    if pai < 1:
        verdict = f"{caught}: less than an even spread of crime would put there."
    else:
        verdict = f"{caught}: {pai:.1f} times what an even spread of crime would put there."
    return f"{verdict} {_top5_words(row, test)}"


def _top5_words(row: dict, test: str) -> str:
    """The equal-land comparison (PEI* at 5 %) in plain words: what the busiest places held,
    against the most any places of that size could have held."""
    held, share = row["hit_rate_top5"], row["pei_top5"]
    compared = "To compare settings on the same amount of land"
    if share <= 0:
        return f"{compared}: the busiest 5% of the land before held none of the crimes of {test}."
    best = held / share
    return (
        f"{compared}: the busiest 5% of the land before held {held:.1%} of the crimes of {test}; "
        f"the best 5% anyone could have picked held {best:.1%}, so the pick caught {share:.0%} "
        "of the most it could have."
    )


def technical_reading(row: dict) -> str:
    """The same result in the analyst's terms (PAI, PEI*), for the page's technical notes."""
    train, test = (row[key].replace("..", " to ") for key in ("train", "test"))
    where = (
        f"the hotspots picked on {train} (resolution {row['resolution']}, "
        f"{selection_label(row['selection'])})"
    )
    if row["hotspot_cells"] == 0:
        return (
            f"No cell was a hot spot on {train} at resolution {row['resolution']} with "
            f"{selection_label(row['selection'])}, so there was nothing to score (PAI 0)."
        )
    share = (
        f"they cover {row['area_share']:.1%} of the area and held {row['hit_rate']:.1%} "
        f"({row['hits']:,} of {row['test_crimes']:,}) of the crimes of {test}"
    )
    pai = row["pai"]
    top = (
        f" On the same 5% of the land for every setting, the top cells held "
        f"{row['hit_rate_top5']:.1%} of the crimes (PEI* {row['pei_top5']:.2f}: the share of the "
        "most any cells of that area could have held)."
    )
    if pai < 1:
        return (
            f"PAI {pai:.1f}: {where} held less crime than their area share predicts "
            f"(below 1 is worse than chance): {share}.{top}"
        )
    return (
        f"PAI {pai:.1f}: {where} held {pai:.1f}x the crime their area share predicts: {share}.{top}"
    )


def area_words(codes: list[str], names: Mapping[str, str]) -> str:
    """The scored areas by name ("Tormohun", "Tormohun and Ellacombe"), a code where the set
    names none."""
    shown = [names.get(code) or code for code in codes]
    if len(shown) <= 1:
        return "".join(shown)
    return f"{', '.join(shown[:-1])} and {shown[-1]}"


def region_words(provenance: Mapping, set_words: str, names: Mapping[str, str]) -> str:
    """What was studied and what was scored, in words, the set by its title and the areas by
    their names (the JSON's ``study_region.meaning`` keeps the codes, for programs)."""
    areas = list(provenance.get("areas") or [])
    if not areas:
        return f"hot spots judged against {set_words} together and scored on all of them"
    place = area_words(areas, names)
    if provenance.get("scope") == "areas":
        return f"hot spots judged against {place} alone and scored on {place}"
    return (
        f"hot spots chosen as on the map of {place}: judged against {set_words} together, then "
        f"scored on the cells of {place} alone (N their test crimes, A their cells' land area)"
    )


def render_backtest_html(
    body: dict,
    set_title: str | None = None,
    area_names: Mapping[str, str] | None = None,
    scheme: str = "",
) -> str:
    """The page for a backtest body (``provenance``, ``rows``, ``best``); ``set_title`` names
    the boundary set for people (default: its code), ``area_names`` (code -> name) the scored
    areas, and ``scheme`` ("ward", ...) what the set's areas are called."""
    names = area_names or {}
    provenance = body["provenance"]
    title = set_title or provenance["boundary_set"]
    count = len(names) if names else None
    top = body["best"]
    best_row = next(
        row
        for row in body["rows"]
        if (row["resolution"], row["selection"]) == (top["resolution"], top["selection"])
    )
    # A setting that flagged no hot spot tested nothing: it is never marked best, and its
    # "times an even spread" is no number (0.00 would read as a result).
    flagged = best_row["hotspot_cells"] > 0
    return _environment.get_template("backtest.html").render(
        p=provenance,
        set_title=title,
        places=area_words(list(provenance.get("areas") or []), names),
        region=region_words(provenance, areas_in_set(count, scheme, title), names),
        rows=body["rows"],
        best=best_row,
        best_key=(best_row["resolution"], best_row["selection"]) if flagged else None,
        none_flagged=not any(row["hotspot_cells"] for row in body["rows"]),
        best_reading=reading(best_row),
        technical_reading=technical_reading(best_row),
        label=selection_label,
        cell_size=cell_size,
        t=BACKTEST_TERMS,
    )


def _percent(value: float) -> str:
    return f"{value:.1%}"


_environment = template_environment(share=_percent)
