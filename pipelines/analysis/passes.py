"""One pass of a study over the store: its window, the region's grid at one resolution, the
region's crimes and where each falls, and whether map points can be placed at that resolution.

A study (pipelines/analysis/study.py) makes one pass, or more when the sparse-data guard or the
map-point check changes its window or resolution. Kept apart from the statistics so that it
imports no scipy: ``hotspots analyse`` makes the first pass ahead (:func:`first_pass_ahead`) on
the thread that computes the region's cover, while its main thread imports the statistics
(cli/analyse_cmd.py); the Parquet reads and the geometry release the GIL, so the two overlap.
The study takes that pass as made: the same steps on the same store version give the same pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from boundaries.sets import BoundarySet
from pipelines import arrow_numpy
from pipelines.analysis.grid import LocatedCrimes, StudyGrid, build_grid, locate_crimes
from pipelines.analysis.map_points import MapPointSupport, map_point_support
from pipelines.analysis.request import StudyRequest
from pipelines.analysis.window import StudyWindow, choose_window
from pipelines.categories import canonical_category
from pipelines.index.h3_ranges import region_ranges
from pipelines.store import CrimeStore

# The columns a study reads of the crimes in its region.
COLUMNS = ["longitude", "latitude", "h3_cell", "category", "location", "month"]


@dataclass
class PreparedPass:
    window: StudyWindow
    grid: StudyGrid
    crimes: pa.Table
    located: LocatedCrimes
    resolution: int


def prepare_pass(
    store: CrimeStore,
    boundary_set: BoundarySet,
    request: StudyRequest,
    categories: list[str],
    first: str | None,
    resolution: int,
) -> PreparedPass:
    """The pass of ``request``'s study from ``first`` at ``resolution`` (``categories``: the
    request's, as canonical slugs, sorted)."""
    window = choose_window(store, request.force, first, request.last)
    grid = build_grid(boundary_set, resolution, list(request.areas) or None)
    # Only the rows whose cell can be in the region, from every force (pipelines/store/region).
    # One ring more than the cover: rim cells left out for their land share still hold crimes
    # inside the areas, which the provenance counts.
    ranges = region_ranges(grid.cells, grid.resolution, rings=1)
    crimes = store.snapshot().read_region(ranges, COLUMNS, request.force, window.first, window.last)
    if categories:
        chosen = arrow_numpy.from_strings(categories)
        crimes = crimes.filter(pc.is_in(crimes["category"], value_set=chosen))
    located = locate_crimes(grid, boundary_set, crimes)
    # Rows outside the ranges were never read: what lies outside the region is counted from
    # the coverage records (every located crime of the window), which have no categories.
    outside = None if categories else window.located - int(located.in_areas.sum())
    located = replace(located, outside_region=outside, no_location=window.no_location)
    return PreparedPass(window, grid, crimes, located, resolution)


def pass_map_point_support(prepared: PreparedPass) -> MapPointSupport:
    """Whether map points can be placed in ``prepared``'s cells (pipelines/analysis/map_points)."""
    return map_point_support(
        prepared.located.cell,
        arrow_numpy.to_numpy(prepared.crimes["longitude"], nulls_as=np.nan),
        arrow_numpy.to_numpy(prepared.crimes["latitude"], nulls_as=np.nan),
        len(prepared.grid),
        prepared.resolution,
    )


@dataclass(frozen=True)
class FirstPass:
    """The first pass of the study of ``request`` on one store version and boundary set, made
    before the study ran (:func:`first_pass_ahead`)."""

    request: StudyRequest
    version: str
    boundary_set: BoundarySet
    prepared: PreparedPass
    support: MapPointSupport

    def serves(self, store: CrimeStore, boundary_set: BoundarySet, request: StudyRequest) -> bool:
        """Whether this is the first pass the study of ``request`` would make on ``store``."""
        return (
            request == self.request
            and boundary_set is self.boundary_set
            and store.snapshot().version == self.version
        )


def first_pass_ahead(
    store: CrimeStore, boundary_set: BoundarySet, request: StudyRequest
) -> FirstPass | None:
    """The first pass of ``request``'s study (its window from ``request.first``, at
    ``request.resolution``), or None when it cannot be made: the study then makes it and says
    what is wrong (an unknown category, no stored months, ...)."""
    slugs = [canonical_category(name) for name in request.categories]
    if None in slugs:
        return None
    categories = sorted(set(slugs))
    snapshot = store.snapshot()
    try:
        prepared = prepare_pass(
            snapshot, boundary_set, request, categories, request.first, request.resolution
        )
        support = pass_map_point_support(prepared)
    except Exception:
        return None
    return FirstPass(request, snapshot.version, boundary_set, prepared, support)
