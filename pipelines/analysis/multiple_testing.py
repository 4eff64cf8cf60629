"""Multiple-testing control: adjusted p-values for one test per cell.

A hotspot map tests every cell, so at p < 0.05 about 5 % of cells of a patternless region would be
flagged by chance. Adjusted p-values are compared with the same alpha as raw ones:

- ``fdr_bh`` (default) Benjamini-Hochberg: of the cells flagged, at most a fraction alpha are
  expected to be false discoveries. Valid for independent or positively dependent tests, which
  overlapping neighbourhoods are; the choice of ArcGIS's Hot Spot Analysis "FDR correction".
- ``fdr_by`` Benjamini-Yekutieli: FDR control under any dependence; more conservative.
- ``holm``: family-wise error (chance of even one false cell) at alpha; uniformly better than
  Bonferroni.
- ``bonferroni``: p x number of tests; the most conservative.
- ``none``: raw p, for comparison only.
"""

from __future__ import annotations

import numpy as np

from pipelines.quoting import quoted

METHODS: tuple[str, ...] = ("fdr_bh", "fdr_by", "holm", "bonferroni", "none")


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(
            f"unknown multiple-testing method {quoted(method)}; choose one of {', '.join(METHODS)}"
        )
    return method


def check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float | np.floating):
        raise ValueError(f"alpha must be a number between 0 and 1, got {quoted(alpha)}")
    if not np.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number between 0 and 1, got {alpha}")
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha}")
    return float(alpha)


def adjust_p(p: np.ndarray, method: str = "fdr_bh") -> np.ndarray:
    """Adjusted p-values (same order as ``p``), each in [raw p, 1]."""
    check_method(method)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p must be a 1-D array of p-values, got shape {p.shape}")
    if len(p) == 0:
        raise ValueError("p is empty: there are no tests to adjust")
    if not np.isfinite(p).all():
        raise ValueError("p holds NaN or infinite values; every test needs a p-value")
    if p.min() < 0.0 or p.max() > 1.0:
        raise ValueError(f"p-values must lie in [0, 1]; got {p.min()} .. {p.max()}")

    m = len(p)
    if method == "none":
        return p.copy()
    if method in ("fdr_bh", "fdr_by"):
        return false_discovery_adjusted(p, yekutieli=method == "fdr_by")
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    # Holm step-down: the i-th smallest p times (m - i), made monotone, capped at 1.
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    adjusted = np.empty(m, dtype=np.float64)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def false_discovery_adjusted(p: np.ndarray, yekutieli: bool = False) -> np.ndarray:
    """Benjamini-Hochberg (or, with ``yekutieli``, Benjamini-Yekutieli) adjusted p-values.

    The same arithmetic, step for step, as ``scipy.stats.false_discovery_control`` (which
    tests/test_multiple_testing.py checks bit for bit): importing scipy.stats costs 0.4-0.8 s,
    more than a London study's statistics, and every study adjusts its p-values."""
    m = len(p)
    if m <= 1:
        return p.copy()
    order = np.argsort(p, kind="stable")
    rank = np.arange(1, m + 1, dtype=np.float64)
    adjusted = p[order] * (m / rank)
    if yekutieli:
        adjusted = adjusted * np.sum(1 / rank)
    np.minimum.accumulate(adjusted[::-1], out=adjusted[::-1])
    result = np.empty(m, dtype=np.float64)
    result[order] = adjusted
    return np.clip(result, 0.0, 1.0)
