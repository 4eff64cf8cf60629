"""Crimes per area of a boundary set, with the crimes that fall outside every area kept in view."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from boundaries.assign import AreaIndex, Assignment, assign_table
from boundaries.sets import BoundarySet
from pipelines.store import CrimeStore


@dataclass
class AreaCounts:
    set_name: str
    table: pd.DataFrame  # code, name, crimes[, population, crimes_per_1000], in code order
    outside: int  # located crimes in no area of the set
    no_location: int  # crimes without coordinates, which no area can claim
    distinct_points: int
    shared_edge_points: int

    @property
    def total(self) -> int:
        return int(self.table["crimes"].sum()) + self.outside + self.no_location

    def to_dict(self) -> dict:
        return {
            "set": self.set_name,
            "areas": self.table.replace({np.nan: None}).to_dict(orient="records"),
            "outside": self.outside,
            "no_location": self.no_location,
            "total": self.total,
            "distinct_points": self.distinct_points,
            "shared_edge_points": self.shared_edge_points,
        }


def counts_from_assignment(boundary_set: BoundarySet, assignment: Assignment) -> AreaCounts:
    areas = boundary_set.areas
    table = pd.DataFrame(
        {"code": areas["code"], "name": areas["name"], "crimes": assignment.counts()}
    )
    if "population" in areas:
        table["population"] = areas["population"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = table["crimes"] * 1000.0 / table["population"]
        table["crimes_per_1000"] = rate.where(table["population"] > 0).round(2)
    return AreaCounts(
        boundary_set.name,
        table,
        assignment.outside,
        assignment.no_location,
        assignment.distinct_points,
        assignment.shared_edge_points,
    )


def count_crimes(
    store: CrimeStore,
    boundary_set: BoundarySet,
    force: str | None = None,
    first: str | None = None,
    last: str | None = None,
) -> AreaCounts:
    """Count the stored crimes of a force (or all) and month range into the set's areas."""
    store = store.snapshot()  # one store version for every read of this answer
    table = store.read(force, first, last, columns=["longitude", "latitude"])
    assignment = assign_table(AreaIndex.of(boundary_set), table)
    return counts_from_assignment(boundary_set, assignment)
