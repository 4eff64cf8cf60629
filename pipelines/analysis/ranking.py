"""Ranked hotspot lists: the cells that matter, in order, with the share of area and harm they hold.

Cumulative shares are taken over every cell of the region in ranking order, so "the top 2.6 % of
the area holds 41 % of the harm" reads straight off the list. A patrol constraint keeps selected
cells at least a given distance apart (greedy in ranking order, so the best cell always stays).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.errors import InputError
from pipelines.quoting import quoted
from pipelines.wording import counted

RANK_BY = ("z", "value")


class RankingError(InputError):
    """A ranking that cannot be made as asked."""


def rank_cells(
    cells: pd.DataFrame,
    by: str = "z",
    top: int | None = None,
    per_area: bool = False,
    significant_only: bool = True,
    min_separation_m: float | None = None,
) -> pd.DataFrame:
    """The ``top`` cells by Gi* z or by value (harm), overall or per area.

    ``cells`` needs columns h3, lat, lng, area_km2, value, z, hotspot, area_code. Adds rank,
    cumulative_area_share and cumulative_value_share (over the whole region, in ranking order).
    """
    if by not in RANK_BY:
        raise RankingError(f"rank by one of {', '.join(RANK_BY)}, got {quoted(by)}")
    if top is not None and top < 1:
        raise RankingError(f"--top must be at least 1, got {top}")
    if min_separation_m is not None and min_separation_m < 0:
        raise RankingError(f"minimum separation must be >= 0 metres, got {min_separation_m}")
    key = "value" if by == "value" else "z"
    tiebreak = "z" if key == "value" else "value"
    ordered = cells.sort_values([key, tiebreak, "h3"], ascending=[False, False, True])
    ordered = ordered.reset_index(drop=True)
    total_area = float(ordered["area_km2"].sum())
    total_value = float(ordered["value"].sum())
    ordered["cumulative_area_share"] = ordered["area_km2"].cumsum() / total_area
    ordered["cumulative_value_share"] = (
        ordered["value"].cumsum() / total_value if total_value > 0 else 0.0
    )
    if significant_only:
        ordered = ordered[ordered["hotspot"]]
    groups = (
        [group for _, group in ordered.groupby("area_code", sort=True)] if per_area else [ordered]
    )
    picked = [_pick(group, top, min_separation_m) for group in groups]
    ranked = pd.concat(picked, ignore_index=True) if picked else ordered.iloc[0:0]
    rank_group = ranked["area_code"] if per_area else pd.Series(0, index=ranked.index)
    ranked.insert(0, "rank", ranked.groupby(rank_group).cumcount() + 1)
    return ranked


def _pick(group: pd.DataFrame, top: int | None, min_separation_m: float | None) -> pd.DataFrame:
    if not min_separation_m:
        return group.head(top) if top else group
    chosen: list[int] = []
    lat = np.radians(group["lat"].to_numpy())
    lng = np.radians(group["lng"].to_numpy())
    for i in range(len(group)):
        if (
            chosen
            and _haversine_m(lat[i], lng[i], lat[chosen], lng[chosen]).min() < min_separation_m
        ):
            continue
        chosen.append(i)
        if top and len(chosen) == top:
            break
    return group.iloc[chosen]


def _haversine_m(lat: float, lng: float, lats: np.ndarray, lngs: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres (centre to centre; good to well under a metre here)."""
    earth_radius_m = 6_371_008.8
    a = np.sin((lats - lat) / 2) ** 2 + np.cos(lat) * np.cos(lats) * np.sin((lngs - lng) / 2) ** 2
    return 2 * earth_radius_m * np.arcsin(np.sqrt(a))


def shortfall_note(
    cells: pd.DataFrame,
    ranked: pd.DataFrame,
    top: int,
    per_area: bool = False,
    min_separation_m: float | None = None,
    significance: str = "",
) -> str | None:
    """Why ``ranked`` (from ``rank_cells(cells, top=top, ...)``) holds fewer rows than asked,
    in words for the answer; None when nothing is missing.

    A list only ever holds significant hot spots, so a short list means the region has fewer of
    them than ``top`` (``significance`` names the test, e.g. "at alpha 0.05 after fdr_bh"), or
    that the patrol spacing left some out.
    """
    significant = cells[cells["hotspot"].astype(bool)]
    test = f" {significance}" if significance else ""
    if per_area:
        areas = sorted(cells["area_code"].unique())
        listed = ranked.groupby("area_code").size() if len(ranked) else pd.Series(dtype=int)
        short = {code: int(listed.get(code, 0)) for code in areas if listed.get(code, 0) < top}
        if not short:
            return None
        shown = ", ".join(f"{code} {n}" for code, n in list(short.items())[:10])
        more = f" and {len(short) - 10} more" if len(short) > 10 else ""
        return (
            f"top={top} per area: {len(short)} of {len(areas)} areas "
            f"{'has' if len(short) == 1 else 'have'} fewer significant hot spots{test} than "
            f"that ({shown}{more}){_spacing(min_separation_m)}"
        )
    if len(ranked) >= top:
        return None
    if len(significant) < top:
        note = (
            f"top={top} asked, {len(ranked)} returned: only {len(significant)} of the region's "
            f"{counted(len(cells), 'cell')} {_are_hot_spots(len(significant))}{test}, and the "
            "list holds no others"
        )
        left_out = len(significant) - len(ranked)
    else:
        note = f"top={top} asked, {len(ranked)} returned"
        left_out = top - len(ranked)
    if left_out > 0 and min_separation_m:
        note += (
            f"; {left_out} more significant hot spot{'s lie' if left_out > 1 else ' lies'} "
            f"within min_separation_m={min_separation_m:g} m of a higher-ranked one"
        )
    return note


def _spacing(min_separation_m: float | None) -> str:
    if not min_separation_m:
        return ""
    return f"; min_separation_m={min_separation_m:g} m may leave out hot spots near a better one"


def _are_hot_spots(n: int) -> str:
    return "is a significant hot spot" if n == 1 else "are significant hot spots"
