"""The streets a cell's crimes were recorded on, so a team recognises the place."""

from __future__ import annotations

import numpy as np
import pandas as pd

_PREFIX = "On or near "
TOP_STREETS = 3


def top_streets(
    cell: np.ndarray, location: np.ndarray, n_cells: int, top: int = TOP_STREETS
) -> list[list[str]]:
    """Per cell, its ``top`` most frequent "On or near" locations (most frequent first; ties by
    name so the answer is stable), without the "On or near" prefix police.uk puts on all."""
    inside = cell >= 0
    frame = pd.DataFrame({"cell": cell[inside], "street": location[inside]}).dropna()
    frame["street"] = frame["street"].str.removeprefix(_PREFIX).str.strip()
    frame = frame[frame["street"] != ""]
    counts = frame.groupby(["cell", "street"]).size().reset_index(name="crimes")
    counts = counts.sort_values(["cell", "crimes", "street"], ascending=[True, False, True])
    best = counts.groupby("cell").head(top)
    streets: list[list[str]] = [[] for _ in range(n_cells)]
    for cell_index, street in zip(best["cell"].to_numpy(), best["street"].to_numpy(), strict=True):
        streets[int(cell_index)].append(str(street))
    return streets
