"""High-count places: cells whose own crime count is far above what an over-dispersed region makes.

This answers a concentration question, not a clustering one. A Gi* hot spot is a neighbourhood
whose crimes stand out from the map shuffled at random; a lone busy street in a quiet town is
not such a cluster (shuffle the map and the same busy cell turns up somewhere else), but it is a
place with far more crime than the rest. The test:

- Null: each cell's count is a draw from one negative-binomial distribution, the region's own,
  fitted by maximum likelihood to every cell of the region (zeros included): the mean is the
  mean count, and the shape r maximises the profile likelihood (variance = mean + mean^2 / r).
  Real crime is over-dispersed (variance over mean 46 at resolution 10 in Torbay), so a Poisson
  null would call ordinary busy streets exceptional; where the counts are not over-dispersed
  the Poisson limit is used.
- p: one-sided, P(X >= observed) under that distribution.
- Multiple testing: Benjamini-Hochberg over all cells (or the method asked for). A place is
  flagged when its adjusted p <= alpha.

Crime counts are tested, not harm: the negative binomial is a model for counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from pipelines.analysis.bounded_minimum import minimize_bounded
from pipelines.analysis.multiple_testing import adjust_p, check_alpha, check_method

NAME = "high-count places"
# Shapes beyond this are Poisson to every practical purpose (variance within 1e-6 of the mean
# per unit mean); the search for r stays inside [_MIN_SHAPE, _MAX_SHAPE].
_MIN_SHAPE = 1e-3
_MAX_SHAPE = 1e6
SHAPE_SEARCH = (float(np.log(_MIN_SHAPE)), float(np.log(_MAX_SHAPE)))  # over log r


@dataclass
class HighCountResult:
    p: np.ndarray  # one-sided P(X >= count) under the fitted negative binomial
    p_adjusted: np.ndarray
    flagged: np.ndarray  # bool: adjusted p <= alpha
    settings: dict = field(default_factory=dict)


def fit_negative_binomial(counts: np.ndarray) -> tuple[float, float]:
    """(mean, shape r) of the negative binomial that fits ``counts`` best (maximum likelihood).

    The ML mean of a negative binomial is the sample mean; r maximises the profile
    log-likelihood. r = inf (Poisson) when the counts are not over-dispersed."""
    x = np.asarray(counts, dtype=np.float64)
    mean = float(x.mean())
    if mean <= 0 or x.var() <= mean:
        return mean, float("inf")
    # scipy.optimize.minimize_scalar(method="bounded", options={"xatol": 1e-6}), step for
    # step, without importing scipy.optimize (pipelines/analysis/bounded_minimum.py says why).
    best = minimize_bounded(profile_negative_log_likelihood(x), SHAPE_SEARCH, xatol=1e-6)
    return mean, float(np.exp(best.x))


def profile_negative_log_likelihood(counts: np.ndarray) -> Callable[[float], float]:
    """-log L of ``counts`` under NB(mean = the sample mean, shape = exp(log_r)), as a function
    of log_r: what the fit minimises over :data:`SHAPE_SEARCH`."""
    x = np.asarray(counts, dtype=np.float64)
    mean = float(x.mean())

    def negative_log_likelihood(log_r: float) -> float:
        r = float(np.exp(log_r))
        return -float(
            np.sum(special.gammaln(x + r) - special.gammaln(r))
            + len(x) * r * np.log(r / (r + mean))
            + np.sum(x) * np.log(mean / (r + mean))
        )

    return negative_log_likelihood


def excess_p(counts: np.ndarray, mean: float, shape: float) -> np.ndarray:
    """P(X >= count) for each count under NB(mean, shape) (Poisson when shape is infinite).

    The same functions scipy.stats's ``poisson.sf`` and ``nbinom.sf`` evaluate (equal bit for
    bit, tests/test_high_count.py), called directly: importing scipy.stats costs 0.4-0.8 s. A
    count of 0 lies below the support of X - 1 >= 0, where P(X >= 0) = 1, as scipy returns."""
    x = np.asarray(counts, dtype=np.float64)
    below = np.floor(x - 1)
    if not np.isfinite(shape):
        tail = special.pdtrc(below, mean)
    else:
        tail = special._ufuncs._nbinom_sf(below, shape, shape / (shape + mean))
    return np.where(below < 0, 1.0, tail)


def high_count_places(
    counts: np.ndarray, alpha: float = 0.05, correction: str = "fdr_bh"
) -> HighCountResult:
    """Cells whose crime count is significantly above the region's over-dispersed expectation."""
    x = np.asarray(counts, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError("counts must be a non-empty 1-D array, one crime count per cell")
    if not np.isfinite(x).all() or (x < 0).any() or np.any(x != np.rint(x)):
        raise ValueError("counts must be whole, non-negative crime counts")
    alpha = check_alpha(alpha)
    check_method(correction)
    mean, shape = fit_negative_binomial(x)
    p = np.ones(len(x)) if mean == 0 else np.clip(excess_p(x, mean, shape), 0.0, 1.0)
    p_adjusted = adjust_p(p, correction)
    flagged = (p_adjusted <= alpha) & (x > 0)
    settings = {
        "name": NAME,
        "question": (
            "is this cell's own crime count far above what the region's cells make? "
            "(concentration, not clustering: not a Gi* hot spot)"
        ),
        "test": "one-sided negative-binomial excess: p = P(X >= count)",
        "null": (
            "every cell's count drawn from one negative binomial fitted by maximum likelihood "
            "to all the region's cells (zeros included)"
            if np.isfinite(shape)
            else "counts not over-dispersed: Poisson at the region's mean count"
        ),
        "fitted_mean": mean,
        "fitted_shape": shape if np.isfinite(shape) else None,
        "variance_over_mean": float(x.var() / mean) if mean > 0 else None,
        "values": "crime counts (never harm)",
        "alpha": alpha,
        "correction": correction,
        "flagged": int(flagged.sum()),
    }
    return HighCountResult(p, p_adjusted, flagged, settings)
