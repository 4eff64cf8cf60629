"""Per-area need measures for allocation: crimes, harm, and rate per 1,000 residents."""

from __future__ import annotations

import numpy as np
import pandas as pd

from boundaries.assign import AreaIndex, assign_table
from boundaries.sets import BoundarySet
from pipelines.harm import HarmTable
from pipelines.store import CrimeStore

MEASURES = ("harm", "count", "rate")


def area_measures(
    store: CrimeStore,
    boundary_set: BoundarySet,
    table: HarmTable,
    first: str,
    last: str,
    force: str | None = None,
) -> pd.DataFrame:
    """code, name, crimes, harm[, population, rate] per area, crimes placed by point in polygon."""
    crimes = store.read(force, first, last, columns=["longitude", "latitude", "category"])
    assignment = assign_table(AreaIndex.of(boundary_set), crimes)
    harm = table.weights_for(crimes["category"])
    placed = assignment.area >= 0
    n = len(boundary_set.areas)
    frame = pd.DataFrame(
        {
            "code": boundary_set.areas["code"].to_numpy(),
            "name": boundary_set.areas["name"].to_numpy(),
            "crimes": assignment.counts(),
            "harm": np.bincount(assignment.area[placed], weights=harm[placed], minlength=n),
        }
    )
    if "population" in boundary_set.areas:
        population = boundary_set.areas["population"].to_numpy(dtype=np.float64)
        frame["population"] = population
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["rate"] = np.where(population > 0, frame["crimes"] * 1000 / population, np.nan)
    return frame
