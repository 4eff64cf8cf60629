"""Emerging hot spots: per-period Gi*, a Mann-Kendall trend per cell, ArcGIS's space-time patterns.

For each period (month or quarter) of a window of at least 10, Gi* marks every cell a significant
hot spot (+1), cold spot (-1) or neither (0). Each cell's series of bins, and the Mann-Kendall
trend of its series of Gi* z-scores, then place it in one of the categories of ArcGIS Pro's
Emerging Hot Spot Analysis: new, consecutive, intensifying, persistent, diminishing, sporadic,
oscillating or historical hot or cold spot, or no pattern. docs/emerging-hotspots.md states every
rule, and how this module settles the cases where the published definitions overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple

import numpy as np
from scipy import sparse

from pipelines.analysis.gistar import (
    DEFAULT_P_FOR_CLASSES,
    DEFAULT_PERMUTATIONS,
    check_permutations,
    gistar,
    normal_upper_tail,
)
from pipelines.analysis.multiple_testing import check_alpha, check_method
from pipelines.quoting import quoted

MIN_PERIODS = 10
NO_PATTERN = "No Pattern Detected"
# Pattern k (1-based) is code +k for hot and -k for cold spots; 0 is no pattern.
_KINDS: tuple[str, ...] = (
    "New",
    "Consecutive",
    "Intensifying",
    "Persistent",
    "Diminishing",
    "Sporadic",
    "Oscillating",
    "Historical",
)
NEW, CONSECUTIVE, INTENSIFYING, PERSISTENT, DIMINISHING, SPORADIC, OSCILLATING, HISTORICAL = range(
    1, 9
)
PATTERNS: dict[int, str] = {0: NO_PATTERN}
PATTERNS.update({k: f"{kind} Hot Spot" for k, kind in enumerate(_KINDS, start=1)})
PATTERNS.update({-k: f"{kind} Cold Spot" for k, kind in enumerate(_KINDS, start=1)})
_LABELS = np.array([PATTERNS[code] for code in range(-8, 9)])


class MannKendall(NamedTuple):
    """Mann-Kendall trend test per cell: Kendall's tau-b against time, normal z, two-sided p."""

    tau: np.ndarray
    z: np.ndarray
    p: np.ndarray


def mann_kendall_s(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """S, its tie-corrected variance, and the tied pairs of values, per cell (column).

    S = sum over periods i < j of sign(x_j - x_i). Under no trend, Var(S) =
    [n(n-1)(2n+5) - sum_g t_g(t_g-1)(2t_g+5)] / 18, t_g the size of each group of equal values
    (Kendall 1975). Each value's group size is counted directly, so the work is n^2 per cell.
    """
    x = _as_series(series)
    n = x.shape[0]
    s = np.zeros(x.shape[1], dtype=np.float64)
    for i in range(n - 1):
        s += np.sign(x[i + 1 :] - x[i]).sum(axis=0)
    # Summing (c-1)(2c+5) over the c members of a tie group gives t(t-1)(2t+5) for the group.
    tie_term = np.zeros(x.shape[1], dtype=np.float64)
    tied_pairs = np.zeros(x.shape[1], dtype=np.float64)
    for i in range(n):
        c = (x == x[i]).sum(axis=0).astype(np.float64)
        tie_term += (c - 1.0) * (2.0 * c + 5.0)
        tied_pairs += (c - 1.0) / 2.0
    var_s = (n * (n - 1.0) * (2.0 * n + 5.0) - tie_term) / 18.0
    return s, var_s, tied_pairs


def mann_kendall(series: np.ndarray, continuity: bool = True) -> MannKendall:
    """Mann-Kendall test of every column of ``series`` (periods x cells) for a monotonic trend.

    z = (S - sign(S)) / sqrt(Var S) with the continuity correction (``continuity=False`` gives
    S / sqrt(Var S), scipy.stats.kendalltau's asymptotic z); p is two-sided from the normal. tau is
    Kendall's tau-b between the values and the period index. A constant series has no trend:
    tau = 0, z = 0, p = 1. A 1-D series is one cell and gives 0-d arrays.
    """
    one_cell = np.asarray(series).ndim == 1
    x = _as_series(series)
    n = x.shape[0]
    s, var_s, tied_pairs = mann_kendall_s(x)
    pairs = n * (n - 1) / 2.0
    untied = pairs - tied_pairs
    tau = np.divide(s, np.sqrt(pairs * untied), out=np.zeros_like(s), where=untied > 0)
    numerator = s - np.sign(s) if continuity else s
    sd = np.sqrt(np.maximum(var_s, 0.0))
    z = np.divide(numerator, sd, out=np.zeros_like(s), where=sd > 0)
    p = 2.0 * normal_upper_tail(np.abs(z))
    if one_cell:
        return MannKendall(tau[0], z[0], p[0])
    return MannKendall(tau, z, p)


def classify_emerging_codes(
    bins: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray, alpha: float = 0.05
) -> np.ndarray:
    """Pattern code per cell (int8): +1..+8 hot, -1..-8 cold (order of ``PATTERNS``), 0 none."""
    b = _check_bins(bins)
    n, m = b.shape
    trend_z = _per_cell(trend_z, m, "trend_z")
    trend_p = _per_cell(trend_p, m, "trend_p")
    if (trend_p < 0).any() or (trend_p > 1).any():
        raise ValueError("trend_p must hold p-values in [0, 1]")
    alpha = check_alpha(alpha)
    significant = trend_p <= alpha
    rising = significant & (trend_z > 0)
    falling = significant & (trend_z < 0)

    codes = np.zeros(m, dtype=np.int8)
    final = b[-1]
    # Hot spots use the trend as it is; cold spots mirror it (a falling z is a colder cold spot).
    for sign, stronger, weaker in ((1, rising, falling), (-1, falling, rising)):
        spot = b == sign
        count = spot.sum(axis=0)
        final_run = np.cumprod(spot[::-1], axis=0).sum(axis=0)
        opposite = (b == -sign).sum(axis=0)
        mostly = 10 * count >= 9 * n  # at least 90 % of periods, in integers
        now = final == sign
        few = now & ~mostly
        never_opposite = few & (opposite == 0)
        codes[now & mostly & stronger] = sign * INTENSIFYING
        codes[now & mostly & weaker] = sign * DIMINISHING
        codes[now & mostly & ~stronger & ~weaker] = sign * PERSISTENT
        codes[few & (opposite > 0)] = sign * OSCILLATING
        codes[never_opposite & (count == 1)] = sign * NEW
        codes[never_opposite & (count > 1) & (count == final_run)] = sign * CONSECUTIVE
        codes[never_opposite & (count > final_run)] = sign * SPORADIC
        codes[(final == 0) & mostly] = sign * HISTORICAL
    return codes


def classify_emerging(
    bins: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray, alpha: float = 0.05
) -> np.ndarray:
    """ArcGIS emerging hot spot pattern name per cell, e.g. "Intensifying Hot Spot".

    ``bins``: periods x cells of -1 / 0 / 1 (significant cold / neither / hot) in time order;
    ``trend_z``, ``trend_p``: the Mann-Kendall trend of each cell's Gi* z series; ``alpha``: the
    level at which a trend counts as significant (p <= alpha). Rules: docs/emerging-hotspots.md.
    """
    codes = classify_emerging_codes(bins, trend_z, trend_p, alpha)
    return _LABELS[codes.astype(np.int64) + 8]


@dataclass
class EmergingResult:
    categories: np.ndarray  # pattern name per cell ("New Hot Spot", ..., "No Pattern Detected")
    codes: np.ndarray  # int8 per cell: +k / -k for the k-th hot / cold pattern, 0 none
    z: np.ndarray  # periods x cells Gi* z
    p_adjusted: np.ndarray  # periods x cells p after the multiple-testing correction
    bins: np.ndarray  # periods x cells int8: 1 hot, -1 cold, 0 neither (at alpha)
    trend: MannKendall  # Mann-Kendall of each cell's Gi* z series (drives the patterns)
    value_trend: MannKendall  # Mann-Kendall of each cell's values (is the crime rising?)
    settings: dict = field(default_factory=dict)


def emerging_hotspots(
    series: np.ndarray,
    weights: sparse.csr_matrix,
    alpha: float = 0.05,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int | None = 0,
    correction: str = "fdr_bh",
    counts: np.ndarray | None = None,
    p_for_classes: str = DEFAULT_P_FOR_CLASSES,
) -> EmergingResult:
    """Emerging hot spot analysis of ``series`` (periods x cells, oldest period first).

    Each period's Gi* uses ``pipelines.analysis.gistar.gistar`` with the same weights, alpha,
    correction and ``p_for_classes`` as a single-window study (permutations, when asked for,
    with seed ``seed + period``). A period in which every cell has the same value has no Gi*:
    its z is 0 and no cell is significant. ``counts`` (periods x cells crimes) feeds gistar's
    cold-spot rule and count gate when ``series`` is harm rather than counts.
    """
    values = _as_series(series)
    n_periods, n_cells = values.shape
    if n_periods < MIN_PERIODS:
        raise ValueError(
            f"emerging hot spots need at least {MIN_PERIODS} periods, got {n_periods}; "
            "widen the window (or use months rather than quarters)"
        )
    alpha = check_alpha(alpha)
    check_method(correction)
    permutations = check_permutations(permutations, allow_zero=True)
    if counts is not None:
        counts = _as_series(counts)
        if counts.shape != values.shape:
            raise ValueError(f"counts has shape {counts.shape}, series {values.shape}")

    z = np.zeros((n_periods, n_cells))
    p_adjusted = np.ones((n_periods, n_cells))
    bins = np.zeros((n_periods, n_cells), dtype=np.int8)
    flat_periods: list[int] = []
    for t in range(n_periods):
        if np.ptp(values[t]) == 0:
            flat_periods.append(t)
            continue
        result = gistar(
            values[t],
            weights,
            permutations=permutations,
            seed=None if seed is None else seed + t,
            alpha=alpha,
            correction=correction,
            p_for_classes=p_for_classes,
            counts=None if counts is None else counts[t],
        )
        z[t] = result.z
        p_adjusted[t] = result.p_adjusted
        bins[t] = np.where(result.significant, np.sign(result.classes), 0)

    trend = mann_kendall(z)
    codes = classify_emerging_codes(bins, trend.z, trend.p, alpha)
    categories = _LABELS[codes.astype(np.int64) + 8]
    found, found_counts = np.unique(categories, return_counts=True)
    settings = {
        "method": "emerging hot spot analysis (ArcGIS Pro pattern definitions)",
        "periods": n_periods,
        "min_periods": MIN_PERIODS,
        "alpha": alpha,
        "correction": correction,
        "permutations": permutations,
        "seed": seed,
        "p_for_bins": p_for_classes,
        "neighbourhood": "spatial only: each period's Gi* uses that period's values",
        "trend_test": (
            "Mann-Kendall on each cell's Gi* z series; tie-corrected variance, continuity "
            "correction; significant when p <= alpha"
        ),
        "periods_without_variation": flat_periods,
        "patterns": {str(name): int(c) for name, c in zip(found, found_counts, strict=True)},
        "rules": "docs/emerging-hotspots.md",
    }
    return EmergingResult(
        categories=categories,
        codes=codes,
        z=z,
        p_adjusted=p_adjusted,
        bins=bins,
        trend=trend,
        value_trend=mann_kendall(values),
        settings=settings,
    )


def months_to_quarters(
    series: np.ndarray, months: Sequence[str], drop_partial: bool = False
) -> tuple[np.ndarray, list[str]]:
    """Sum a months x cells series into calendar quarters; returns (quarters x cells, labels).

    ``months`` are the YYYY-MM rows of ``series``, strictly increasing. A quarter with fewer than
    three of its months would be undercounted, so it is an error unless ``drop_partial``, which
    leaves it out. Labels read "2024-Q1".
    """
    values = _as_series(series, min_periods=1)
    labels = [str(m) for m in months]
    if len(labels) != values.shape[0]:
        raise ValueError(f"{len(labels)} months given for {values.shape[0]} rows of series")
    for month in labels:
        if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit():
            raise ValueError(f"months must be written YYYY-MM, got {quoted(month)}")
        if not 1 <= int(month[5:]) <= 12:
            raise ValueError(f"{quoted(month)} is not a month")
    if any(a >= b for a, b in pairwise(labels)):
        raise ValueError("months must be strictly increasing, one row per month")
    quarter_of = [f"{m[:4]}-Q{(int(m[5:]) - 1) // 3 + 1}" for m in labels]
    quarters = list(dict.fromkeys(quarter_of))
    sizes = {q: quarter_of.count(q) for q in quarters}
    partial = [q for q in quarters if sizes[q] < 3]
    if partial and not drop_partial:
        raise ValueError(
            f"quarter(s) {', '.join(partial)} lack some months; give whole quarters or pass "
            "drop_partial=True to leave them out"
        )
    kept = [q for q in quarters if sizes[q] == 3]
    index = {q: i for i, q in enumerate(kept)}
    out = np.zeros((len(kept), values.shape[1]))
    for row, quarter in enumerate(quarter_of):
        if quarter in index:
            out[index[quarter]] += values[row]
    return out, kept


def _as_series(series: np.ndarray, min_periods: int = 3) -> np.ndarray:
    array = np.asarray(series)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"series must be periods x cells (2-D), got shape {array.shape}")
    if array.shape[1] == 0:
        raise ValueError("series has no cells")
    if array.shape[0] < min_periods:
        raise ValueError(f"a trend needs at least {min_periods} periods, got {array.shape[0]}")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(f"series must be numbers, got dtype {array.dtype}")
    out = array.astype(np.float64)
    if not np.isfinite(out).all():
        raise ValueError("series holds NaN or infinite values; give every cell a value (0 if none)")
    return out


def _check_bins(bins: np.ndarray) -> np.ndarray:
    array = np.asarray(bins)
    if array.ndim != 2:
        raise ValueError(f"bins must be periods x cells (2-D), got shape {array.shape}")
    if array.shape[0] < MIN_PERIODS:
        raise ValueError(
            f"emerging hot spot patterns need at least {MIN_PERIODS} periods, got {array.shape[0]}"
        )
    if not np.issubdtype(array.dtype, np.number) or not np.isin(array, (-1, 0, 1)).all():
        raise ValueError("bins must hold only -1 (cold), 0 (neither) and 1 (hot)")
    return array.astype(np.int8)


def _per_cell(values: np.ndarray, m: int, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (m,):
        raise ValueError(f"{name} must hold one value per cell ({m}), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return array
