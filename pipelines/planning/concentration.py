"""How concentrated harm is across areas: the numbers planners quote when schemes change."""

from __future__ import annotations

import math

import numpy as np


def gini(values: np.ndarray) -> float:
    """Gini coefficient of a non-negative distribution (0 = equal, towards 1 = concentrated),
    by PySAL's ``inequality.gini.Gini``: the relative mean difference, sum_i sum_j |x_i - x_j|
    / (2 n^2 mean). 0 for no areas or no harm, where the ratio is undefined."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if len(x) == 0 or x.sum() == 0:
        return 0.0
    # Imported here: the inequality package imports matplotlib.pyplot (~1 s) on import, which
    # the service should not pay for at start-up, before anyone compares schemes.
    from inequality.gini import Gini

    return float(Gini(x).g)


def areas_holding_half(values: np.ndarray) -> int:
    """The fewest areas that together hold at least half of the total."""
    x = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    if x.sum() == 0:
        return 0
    return int(np.searchsorted(np.cumsum(x), x.sum() / 2) + 1)


def share_in_top(values: np.ndarray, fraction: float = 0.2) -> float:
    """Share of the total held by the top ``fraction`` of areas (at least one area)."""
    x = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    if x.sum() == 0:
        return 0.0
    k = max(1, math.ceil(fraction * len(x)))
    return float(x[:k].sum() / x.sum())
