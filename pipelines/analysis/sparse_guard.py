"""Sparse-data guard: is there enough crime for a hotspot map, and where can a cold spot exist?

police.uk counts per H3 cell are often tiny. Two pure rules, both documented in
docs/hotspot-statistics.md:

1. ``check_enough_data``: before a study runs, a verdict on the totals, with what to change when
   they are too thin (the orchestrator widens the window or coarsens the resolution and says so).
2. ``cold_spot_observable``: per cell, whether its neighbourhood expects enough crime for an
   unusually low count to be evidence. Classification drops cold spots where it does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pipelines.quoting import quoted
from pipelines.wording import counted

# ArcGIS's Hot Spot Analysis needs at least 30 input features; fewer cells give too few
# neighbourhoods to compare and a permutation null drawn from a handful of values.
MIN_CELLS = 30
# At least 30 crimes in the study (ArcGIS's minimum number of incidents for hot spot work).
MIN_CRIMES = 30
# Crimes expected in a typical neighbourhood (cell + k-ring) if crime were spread evenly. Below
# one, most neighbourhoods expect no crime at all and a single crime moves a neighbourhood's sum
# by more than its expectation: the map would show where individual crimes fell, not a pattern.
MIN_EXPECTED_PER_NEIGHBOURHOOD = 1.0
# Longest window the guard proposes before coarsening the resolution instead: a year keeps the
# picture current and covers every season once.
MAX_WINDOW_MONTHS = 12
# Study resolutions (boundaries.h3_cover.STUDY_RESOLUTIONS); one step coarser holds ~7x the area.
FINEST_RESOLUTION = 10
COARSEST_RESOLUTION = 7
CHILDREN_PER_PARENT = 7

ACTIONS = ("proceed", "widen_window", "coarsen_resolution", "refine_resolution", "refuse")


def min_expected_for_cold_spot(alpha: float = 0.05) -> float:
    """Poisson mean below which an empty neighbourhood is not significant (two-sided ``alpha``).

    The lowest count a neighbourhood can show is zero; under a Poisson count with mean mu its
    chance is exp(-mu). If exp(-mu) > alpha / 2 even zero crimes is not unusual in the lower
    tail, so no cold spot can be observed there: mu must be at least ln(2 / alpha)
    (3.00 at 90 %, 3.69 at 95 %, 5.30 at 99 % confidence). Over-dispersed crime counts make zero
    more likely still, so this is the least the rule can demand.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha}")
    return math.log(2.0 / alpha)


def cold_spot_observable(
    expected_neighbourhood_counts: np.ndarray, alpha: float = 0.05
) -> np.ndarray:
    """True where a neighbourhood expects enough crimes that a cold spot could be observed."""
    expected = np.asarray(expected_neighbourhood_counts, dtype=np.float64)
    if expected.ndim != 1:
        raise ValueError(f"expected counts must be a 1-D array, got shape {expected.shape}")
    if np.isnan(expected).any() or (expected < 0).any():
        raise ValueError("expected counts must be non-negative numbers")
    return expected >= min_expected_for_cold_spot(alpha)


def neighbourhood_size(k: int) -> int:
    """Cells in a full k-ring, the cell included: 1 + 3k(k + 1) (7 for k=1, 19 for k=2)."""
    return 1 + 3 * k * (k + 1)


@dataclass
class DataVerdict:
    ok: bool
    action: str  # one of ACTIONS; "proceed" when ok
    reason: str
    mean_per_cell: float
    expected_per_neighbourhood: float
    suggested_window_months: int | None = None
    suggested_resolution: int | None = None
    warnings: list[str] = field(default_factory=list)
    thresholds: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        """One line for a user: the reason (with what to change), then any warnings."""
        return "; ".join([self.reason, *self.warnings])


def check_enough_data(
    total_crimes: int,
    cells: int,
    *,
    k: int = 1,
    window_months: int | None = None,
    resolution: int | None = None,
    max_window_months: int = MAX_WINDOW_MONTHS,
    alpha: float = 0.05,
    statistic: str = "Gi*",
) -> DataVerdict:
    """Verdict on a planned study: proceed, or widen the window / change the resolution / refuse.

    ``window_months`` and ``resolution`` describe the planned study; without them the guard can
    only refuse rather than suggest a wider window or another resolution. ``statistic`` is the
    one asked for ("Gi*" or "Local Moran's I"), as the messages name it.
    """
    for name, value in (("total_crimes", total_crimes), ("cells", cells), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"{name} must be an integer, got {quoted(value)}")
    if total_crimes < 0:
        raise ValueError(f"total_crimes must be >= 0, got {total_crimes}")
    if cells < 1:
        raise ValueError(f"cells must be >= 1, got {cells}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if window_months is not None and window_months < 1:
        raise ValueError(f"window_months must be >= 1, got {window_months}")
    if resolution is not None and not COARSEST_RESOLUTION <= resolution <= FINEST_RESOLUTION:
        raise ValueError(
            f"resolution must be {COARSEST_RESOLUTION}..{FINEST_RESOLUTION}, got {resolution}"
        )
    size = neighbourhood_size(k)
    mean = total_crimes / cells
    expected = mean * size
    cold_floor = min_expected_for_cold_spot(alpha)
    thresholds = {
        "min_cells": MIN_CELLS,
        "min_crimes": MIN_CRIMES,
        "min_expected_per_neighbourhood": MIN_EXPECTED_PER_NEIGHBOURHOOD,
        "neighbourhood_size": size,
        "max_window_months": max_window_months,
        "min_expected_for_cold_spot": round(cold_floor, 3),
    }

    def verdict(action: str, reason: str, **extra: object) -> DataVerdict:
        return DataVerdict(
            ok=action == "proceed",
            action=action,
            reason=reason,
            mean_per_cell=mean,
            expected_per_neighbourhood=expected,
            thresholds=thresholds,
            **extra,
        )

    if total_crimes == 0:
        return verdict("refuse", "there are no crimes in the study region and window")

    if total_crimes < MIN_CRIMES:
        reason = (
            f"only {counted(total_crimes, 'crime')}; a hotspot analysis needs at least {MIN_CRIMES}"
        )
        months = _months_needed(window_months, MIN_CRIMES / total_crimes)
        if months is not None and months <= max_window_months:
            return verdict(
                "widen_window",
                f"{reason}: widen the window to {months} months",
                suggested_window_months=months,
            )
        return verdict("refuse", f"{reason}, even over a {max_window_months}-month window")

    if cells < MIN_CELLS:
        reason = (
            f"the study region has only {counted(cells, 'cell')}; {statistic} needs at least "
            f"{MIN_CELLS}"
        )
        steps = _steps_needed(MIN_CELLS / cells)
        finer = None if resolution is None else resolution + steps
        if finer is not None and finer <= FINEST_RESOLUTION:
            finer_expected = expected / CHILDREN_PER_PARENT**steps
            if finer_expected >= MIN_EXPECTED_PER_NEIGHBOURHOOD:
                return verdict(
                    "refine_resolution",
                    f"{reason}: use resolution {finer}",
                    suggested_resolution=finer,
                )
            reason += f", and at resolution {finer} there would be too few crimes per cell"
        return verdict("refuse", f"{reason}; choose a larger region")

    warnings = []
    if expected < MIN_EXPECTED_PER_NEIGHBOURHOOD:
        reason = (
            f"{mean:.2f} crimes per cell ({expected:.2f} per {size}-cell neighbourhood); "
            f"at least {MIN_EXPECTED_PER_NEIGHBOURHOOD:g} per neighbourhood is needed"
        )
        factor = MIN_EXPECTED_PER_NEIGHBOURHOOD / expected
        months = _months_needed(window_months, factor)
        if months is not None and months <= max_window_months:
            return verdict(
                "widen_window",
                f"{reason}: widen the window to {months} months",
                suggested_window_months=months,
            )
        steps = _steps_needed(factor)
        coarser = None if resolution is None else resolution - steps
        if (
            coarser is not None
            and coarser >= COARSEST_RESOLUTION
            and cells / CHILDREN_PER_PARENT**steps >= MIN_CELLS
        ):
            return verdict(
                "coarsen_resolution",
                f"{reason}: coarsen the resolution to {coarser}",
                suggested_resolution=coarser,
            )
        return verdict("refuse", f"{reason}, and no wider window or coarser resolution fits")

    if expected < cold_floor:
        warnings.append(
            f"a typical neighbourhood expects {expected:.2f} crimes, fewer than the "
            f"{cold_floor:.2f} needed to observe a cold spot: only hot spots can be reported "
            "in such neighbourhoods"
        )
    return verdict("proceed", "enough crimes and cells", warnings=warnings)


def too_small_for_map_points(
    cells: int, resolution: int, finer: int, map_point_reason: str, statistic: str = "Gi*"
) -> str:
    """The one message for a region too small at ``resolution`` whose finer ``finer`` (where
    it would have enough cells) the snapped map points cannot resolve: neither resolution
    works, so the only thing to change is the region. ``statistic`` is the one asked for."""
    return (
        f"the study region has only {counted(cells, 'cell')} at resolution {resolution} and "
        f"{statistic} needs at "
        f"least {MIN_CELLS}; resolution {finer} would have enough cells, but {map_point_reason}. "
        "Neither resolution can give a hotspot map here: choose a larger region (more areas, "
        "e.g. the ward with its neighbours, or a ward cluster)"
    )


def no_cells_in_region(resolution: int) -> str:
    """The message for a region that holds no cell at all: each cell belongs to the area that
    holds its centre, so an area smaller than a cell can own none."""
    return (
        f"the study region holds no H3 cell at resolution {resolution}: each cell belongs to the "
        "area holding its centre, and this region is smaller than one cell. Choose a larger "
        "region (more areas, e.g. the ward with its neighbours, or a ward cluster)"
    )


def _months_needed(window_months: int | None, factor: float) -> int | None:
    if window_months is None:
        return None
    return max(window_months + 1, math.ceil(window_months * factor - 1e-9))


def _steps_needed(factor: float) -> int:
    """Resolution steps (each x7 in cell area) that multiply a per-cell figure by ``factor``."""
    return max(1, math.ceil(math.log(factor) / math.log(CHILDREN_PER_PARENT) - 1e-9))
