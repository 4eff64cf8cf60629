"""How concentrated harm is across areas: the numbers planners quote when schemes change."""

from __future__ import annotations

import math

import numpy as np


def gini(values: np.ndarray) -> float:
    """Gini coefficient of a non-negative distribution (0 = equal, towards 1 = concentrated)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float((2 * (ranks * x).sum()) / (n * x.sum()) - (n + 1) / n)


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
