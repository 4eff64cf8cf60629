"""Local Moran's I (LISA) on H3 cells: clusters (HH, LL) and outliers (HL, LH).

Weights: the same k-ring as Gi* but WITHOUT the cell itself, row-standardised, so a cell's
spatial lag is the mean of its neighbours. ``local_moran`` takes the binary k-ring of
``neighbours.kring_weights`` (or already row-standardised weights) and does both steps itself.

    z = (x - mean) / sd (population sd),  lag_i = sum_j w_ij z_j,
    I_i = (n - 1) z_i lag_i / sum(z^2)

as ``esda.Moran_Local(y, w, transformation="r")``. Quadrants as esda's: HH z > 0, lag > 0;
LH z <= 0, lag > 0; LL z <= 0, lag <= 0; HL z > 0, lag <= 0.

Inference is conditional permutation, the same engine as Gi*: with z_i fixed and equal
neighbour weights, I_i moves monotonically with the neighbours' sum (up if z_i > 0, down if
z_i < 0), so the two-sided p of I_i is the two-sided p of that sum (and 1 where z_i = 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from pipelines.analysis.gistar import (
    DEFAULT_MAX_PERMUTATIONS,
    DEFAULT_PERMUTATIONS,
    check_max_permutations,
    check_permutations,
    check_values,
    check_weights,
    permutation_tails,
)
from pipelines.analysis.multiple_testing import adjust_p, check_alpha, check_method
from pipelines.analysis.neighbours import row_standardised, without_self
from pipelines.analysis.sparse_guard import cold_spot_observable
from pipelines.quoting import quoted

QUADRANTS = ("HH", "LH", "LL", "HL")
NOT_SIGNIFICANT = "ns"


@dataclass
class LisaResult:
    I: np.ndarray  # noqa: E741 -- the statistic's own name
    quadrants: np.ndarray  # "HH", "LL", "HL" or "LH" per cell, significant or not
    p: np.ndarray  # two-sided conditional permutation p
    p_adjusted: np.ndarray  # ``p`` after the multiple-testing correction
    labels: np.ndarray  # the quadrant where significant at alpha after correction, else "ns"
    z: np.ndarray  # standardised values
    lag: np.ndarray  # mean of the neighbours' z
    settings: dict = field(default_factory=dict)


def lisa_weights(weights: sparse.spmatrix, n: int) -> sparse.csr_matrix:
    """Neighbours without self, row-standardised; refuses weights that differ within a row."""
    matrix = without_self(check_weights(weights, n))
    starts, ends = matrix.indptr[:-1], matrix.indptr[1:]
    filled = ends > starts
    row_max = np.zeros(n)
    row_min = np.zeros(n)
    row_max[filled] = np.maximum.reduceat(matrix.data, starts[filled])
    row_min[filled] = np.minimum.reduceat(matrix.data, starts[filled])
    if np.any(row_max - row_min > 1e-12 * np.maximum(row_max, 1.0)):
        raise ValueError(
            "local_moran needs equal weights for every neighbour of a cell (binary k-rings, "
            "or the same row-standardised); use kring_weights"
        )
    return row_standardised(matrix)


def local_moran(
    values: np.ndarray,
    weights: sparse.csr_matrix,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int | None = 0,
    alpha: float = 0.05,
    correction: str = "fdr_bh",
    counts: np.ndarray | None = None,
    max_permutations: int = DEFAULT_MAX_PERMUTATIONS,
) -> LisaResult:
    """Local Moran's I, quadrants, permutation p, corrected p and significant labels.

    Cells whose p sits near its floor get more permutations, up to ``max_permutations``, as in
    ``gistar``. An LL cluster is reported only where its neighbourhood (cell and k-ring) expects
    enough crimes for a cold spot to be observable (``counts`` defaults to ``values``).
    """
    x = check_values(values)
    n = len(x)
    matrix = lisa_weights(weights, n)
    permutations = check_permutations(permutations)
    max_permutations = check_max_permutations(max_permutations, permutations)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise ValueError(f"seed must be an integer or None, got {quoted(seed)}")
    alpha = check_alpha(alpha)
    check_method(correction)
    if n < 3:
        raise ValueError("Local Moran's I needs at least three cells")
    crime_counts = x if counts is None else check_values(counts)
    if len(crime_counts) != n:
        raise ValueError(f"counts has {len(crime_counts)} entries but there are {n} values")
    sd = x.std()
    if not sd > 0:
        raise ValueError("all values are equal, so Local Moran's I is undefined (no variation)")

    z = (x - x.mean()) / sd
    lag = matrix @ z
    statistic = (n - 1) * z * lag / (z * z).sum()
    high, high_lag = z > 0, lag > 0
    quadrant = np.select(
        [high & high_lag, ~high & high_lag, ~high & ~high_lag], ["HH", "LH", "LL"], "HL"
    ).astype(object)

    tails = permutation_tails(x, matrix, permutations, seed, max_permutations)
    p = tails.p_two_sided
    p[z == 0] = 1.0  # I_i = 0 in every permutation
    p_adjusted = adjust_p(p, correction)

    neighbourhood_size = np.diff(matrix.indptr) + 1  # the k-ring with the cell itself
    observable = cold_spot_observable(neighbourhood_size * crime_counts.mean(), alpha=alpha)
    significant = p_adjusted <= alpha
    suppressed = significant & (quadrant == "LL") & ~observable
    label = np.where(significant & ~suppressed, quadrant, NOT_SIGNIFICANT).astype(object)
    settings = {
        "statistic": "Local Moran's I",
        "weights": "k-ring without self, row-standardised",
        "cells": n,
        "permutations": permutations,
        "max_permutations": max_permutations,
        "cells_refined": int(np.sum(tails.permutations > permutations)),
        "smallest_attainable_p": 2.0 / (max_permutations + 1),
        "seed": seed,
        "alternative": "two-sided",
        "alpha": alpha,
        "correction": correction,
        "cold_spot_rule": f"LL only where expected neighbourhood count >= {-np.log(alpha / 2):.2f}",
        "cold_spots_suppressed": int(suppressed.sum()),
    }
    return LisaResult(
        I=statistic,
        quadrants=quadrant,
        p=p,
        p_adjusted=p_adjusted,
        labels=label,
        z=z,
        lag=lag,
        settings=settings,
    )
