"""High-count p-values equal scipy.stats's distributions, bit for bit (called without it)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from pipelines.analysis.high_count import excess_p, fit_negative_binomial


def test_negative_binomial_excess_equals_scipy_stats_exactly() -> None:
    rng = np.random.default_rng(3)
    counts = np.concatenate([np.zeros(50), rng.negative_binomial(0.4, 0.05, 2_000), [900]])
    mean, shape = fit_negative_binomial(counts)
    assert np.isfinite(shape)
    expected = stats.nbinom.sf(counts - 1, shape, shape / (shape + mean))
    np.testing.assert_array_equal(excess_p(counts, mean, shape), expected)
    assert excess_p(np.array([0.0]), mean, shape).tolist() == [1.0]


def test_poisson_excess_equals_scipy_stats_exactly() -> None:
    counts = np.arange(0, 40, dtype=np.float64)
    expected = stats.poisson.sf(counts - 1, 6.5)
    np.testing.assert_array_equal(excess_p(counts, 6.5, float("inf")), expected)
