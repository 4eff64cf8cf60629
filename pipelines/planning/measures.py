"""Per-area measures: crimes and harm placed by point in polygon, rate per 1,000 residents and
harm per km². One count serves allocation (``area_measures``) and the area map (``area_counts``),
so the two can never place a crime differently."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from boundaries.assign import AreaIndex, assign_table
from boundaries.sets import BoundarySet
from pipelines.harm import HarmTable
from pipelines.store import CrimeStore

MEASURES = ("harm", "count", "rate")


@dataclass
class AreaCounts:
    """A window's crimes counted and weighed into a set's areas."""

    table: pd.DataFrame  # code, name, crimes, harm, area_km2, population, rate, harm_per_km2
    outside: int  # crimes of the window in no area of the set
    no_location: int  # crimes of the window without a location


def area_counts(
    store: CrimeStore,
    boundary_set: BoundarySet,
    table: HarmTable,
    first: str,
    last: str,
    force: str | None = None,
) -> AreaCounts:
    """Count and weigh the months' crimes into the set's areas (the exact point-in-polygon rule
    of ``boundaries.assign``), and divide by population and land area. Population and rate are
    NaN without a population column, as a rate is for an area with no residents (not infinite)."""
    store = store.snapshot()  # one store version for every read of this answer
    crimes = store.read(force, first, last, columns=["longitude", "latitude", "category"])
    assignment = assign_table(AreaIndex.of(boundary_set), crimes)
    harm = table.weights_for(crimes["category"])
    placed = assignment.area >= 0
    n = len(boundary_set.areas)
    counts = assignment.counts()
    harms = np.bincount(assignment.area[placed], weights=harm[placed], minlength=n)
    areas = boundary_set.areas
    frame = pd.DataFrame(
        {
            "code": areas["code"].astype(str).to_numpy(),
            "name": areas["name"].astype(str).to_numpy(),
            "crimes": counts,
            "harm": harms,
            "area_km2": areas["area_m2"].to_numpy(dtype=np.float64) / 1e6,
        }
    )
    population = areas["population"].to_numpy(dtype=np.float64) if "population" in areas else np.nan
    frame["population"] = population
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["rate"] = np.where(population > 0, counts * 1000.0 / population, np.nan)
        frame["harm_per_km2"] = np.where(frame["area_km2"] > 0, harms / frame["area_km2"], np.nan)
    return AreaCounts(frame, assignment.outside, assignment.no_location)


def area_measures(
    store: CrimeStore,
    boundary_set: BoundarySet,
    table: HarmTable,
    first: str,
    last: str,
    force: str | None = None,
) -> pd.DataFrame:
    """code, name, crimes, harm[, population, rate] per area, crimes placed by point in polygon;
    population and rate only when the set has residents attached."""
    store = store.snapshot()  # one store version for every read of this answer
    frame = area_counts(store, boundary_set, table, first, last, force).table
    columns = ["code", "name", "crimes", "harm"]
    if "population" in boundary_set.areas:
        columns += ["population", "rate"]
    return frame[columns].copy()
