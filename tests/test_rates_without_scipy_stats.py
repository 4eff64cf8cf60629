"""Rate intervals, change tests and the displacement odds ratio equal scipy.stats bit for bit,
computed with the scipy.special functions scipy.stats itself calls, so that a server process
does not import scipy.stats (0.4-0.8 s) when it starts."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from pipelines.analysis.rates import (
    chi2_quantile,
    normal_upper_tail,
    poisson_interval,
    weighted_change,
)
from pipelines.planning.displacement import CONFIDENCE, odds_ratio
from tests.fresh_process import modules_loaded

COUNTS = [*range(0, 2_001), 0.5, 2.25, 7.75, 12_345, 98_765, 1_000_000]
CONFIDENCES = [0.8, 0.9, 0.95, 0.99, 0.998, 0.999999]


def test_chi2_quantile_equals_scipy_stats_exactly() -> None:
    rng = np.random.default_rng(5)
    q = np.concatenate([rng.uniform(0, 1, 400), [1e-12, 1e-6, 0.025, 0.5, 0.975, 1 - 1e-9]])
    df = np.concatenate([rng.uniform(0.01, 5_000, 400), [2.0, 1.0, 4001.0, 0.5, 2e6, 3.0]])
    for quantile, freedom in zip(q, df, strict=True):
        assert chi2_quantile(quantile, freedom) == stats.chi2.ppf(quantile, freedom)


def test_poisson_interval_equals_the_scipy_stats_formula_exactly() -> None:
    for confidence in CONFIDENCES:
        tail = (1 - confidence) / 2
        for count in COUNTS:
            low = 0.0 if count == 0 else float(stats.chi2.ppf(tail, 2 * count)) / 2
            high = float(stats.chi2.ppf(1 - tail, 2 * count + 2)) / 2
            assert poisson_interval(count, confidence) == (low, high), (count, confidence)


def test_normal_tail_and_weighted_change_equal_scipy_stats_exactly() -> None:
    z = np.concatenate([np.linspace(0, 40, 4_001), np.random.default_rng(6).normal(0, 3, 500)])
    for value in z:
        assert normal_upper_tail(value) == stats.norm.sf(value)
    for current, previous in [(120.0, 80.0), (3.0, 9.5), (1_000.0, 1_001.0), (0.0, 4.0)]:
        change = weighted_change(current, previous, current * 2.5, previous * 2.5)
        z_value = abs(current - previous) / math.sqrt(current * 2.5 + previous * 2.5)
        assert change.p == float(2 * stats.norm.sf(z_value))


def test_odds_ratio_interval_equals_scipy_normal_quantile_exactly() -> None:
    for counts in [(40, 25, 60, 58), (0, 3, 10, 12), (7, 7, 7, 7), (1_000, 650, 900, 880)]:
        result = odds_ratio(*counts)
        cells = [c + 0.5 for c in counts] if min(counts) == 0 else list(counts)
        spread = stats.norm.ppf(0.5 + CONFIDENCE / 2) * math.sqrt(sum(1 / c for c in cells))
        log = math.log(result.value)
        assert (result.low, result.high) == (math.exp(log - spread), math.exp(log + spread))


def test_the_web_service_starts_without_importing_scipy_stats_or_spatial() -> None:
    """A server process (and each of its workers) starts faster without them; scipy.spatial
    is only needed to build the demo city."""
    loaded, _ = modules_loaded("import geo_service.app", ["scipy.stats", "scipy.spatial"])
    assert loaded == []
