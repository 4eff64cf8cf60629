"""The printable backtest page: hit rate and PAI per resolution and selection, the best setting
highlighted and read out in plain words, and every setting behind the numbers.

Rendered from the same body as the JSON answer (geo_service.routers.backtest.result_body), so
the page and the API can never disagree. Self-contained: inline CSS, no script, nothing fetched.
"""

from __future__ import annotations

from geo_service.pages import template_environment


def selection_label(selection: str) -> str:
    """How a selection reads in a sentence."""
    return "crime counts" if selection == "count" else f"harm ({selection})"


def reading(row: dict) -> str:
    """One row's result in plain words, for a reader who has not met PAI before."""
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


def render_backtest_html(body: dict) -> str:
    """The page for a backtest body (``provenance``, ``rows``, ``best``)."""
    top = body["best"]
    best_row = next(
        row
        for row in body["rows"]
        if (row["resolution"], row["selection"]) == (top["resolution"], top["selection"])
    )
    return _environment.get_template("backtest.html").render(
        p=body["provenance"],
        rows=body["rows"],
        best=best_row,
        best_reading=reading(best_row),
        label=selection_label,
    )


def _percent(value: float) -> str:
    return f"{value:.1%}"


_environment = template_environment(share=_percent)
