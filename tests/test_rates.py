"""Intervals, comparisons and change tests for profile numbers, against textbook values and scipy
(pipelines/analysis/rates.py)."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binomtest, chi2, norm

from pipelines.analysis.rates import (
    Rate,
    compare_with_parent,
    count_change,
    is_small,
    poisson_interval,
    rate_with_interval,
    weighted_change,
)


@pytest.mark.parametrize(
    ("count", "low", "high"),
    [  # exact (Garwood) 95 % limits, as tabulated (e.g. PHE's technical guide, Table 1)
        (0, 0.0, 3.689),
        (1, 0.0253, 5.572),
        (4, 1.090, 10.242),
        (10, 4.795, 18.390),
        (48, 35.390, 63.640),
    ],
)
def test_exact_poisson_interval_matches_the_tables(count: int, low: float, high: float) -> None:
    assert poisson_interval(count) == pytest.approx((low, high), abs=1.5e-3)


def test_rate_interval_scales_the_count_interval() -> None:
    rate = rate_with_interval(90, 2000)  # 45 per 1,000
    assert rate.value == pytest.approx(45.0)
    assert rate.low == pytest.approx(chi2.ppf(0.025, 180) / 2 / 2)
    assert rate.high == pytest.approx(chi2.ppf(0.975, 182) / 2 / 2)
    with pytest.raises(ValueError, match="population above 0"):
        rate_with_interval(3, 0)


def test_parent_comparison_as_fingertips() -> None:
    assert compare_with_parent(Rate(45.0, 36.2, 55.3), 23.0) == "higher"
    assert compare_with_parent(Rate(6.0, 3.1, 10.5), 8.0) == "similar"
    assert compare_with_parent(Rate(2.0, 0.9, 3.9), 8.0) == "lower"
    assert compare_with_parent(Rate(8.0, 8.0, 9.0), 8.0) == "similar"  # touching is not above


def test_change_of_two_counts_is_the_exact_conditional_test() -> None:
    # 30 against 18 over equal windows: p = binomtest(30, 48, 1/2) = 0.112, no arrow.
    change = count_change(30, 18)
    assert change.p == pytest.approx(binomtest(30, 48, 0.5).pvalue)
    assert change.direction == "no-significant-change"
    assert change.ratio == pytest.approx(30 / 18)
    # 40 against 18: p = 0.0046, a significant rise; the ratio's interval is above 1.
    rise = count_change(40, 18)
    assert rise.p == pytest.approx(binomtest(40, 58, 0.5).pvalue) and rise.p < 0.05
    assert rise.direction == "up" and rise.ratio_low > 1
    interval = binomtest(40, 58, 0.5).proportion_ci(0.95, method="exact")
    assert rise.ratio_low == pytest.approx(interval.low / (1 - interval.low))
    # A change of one crime is never an arrow.
    assert count_change(2, 1).direction == "no-significant-change"
    assert count_change(0, 0).p == 1.0


def test_unequal_exposure_compares_rates_not_counts() -> None:
    # 22 crimes in 11 stored months against 24 in 12: the same rate, p = 1.
    same = count_change(24, 22, 12, 11)
    assert same.ratio == pytest.approx(1.0)
    assert same.p == pytest.approx(binomtest(24, 46, 12 / 23).pvalue)
    assert same.direction == "no-significant-change"


def test_weighted_change_uses_the_sum_of_squared_weights() -> None:
    # Harm 5,000 from 20 crimes (squares 2.5e6) against 1,000 from 5 (squares 4e5).
    change = weighted_change(5000, 1000, 2.5e6, 4e5)
    z = 4000 / math.sqrt(2.9e6)
    assert change.p == pytest.approx(2 * norm.sf(z))
    assert change.direction == "up"


def test_small_counts() -> None:
    assert [is_small(c) for c in (None, 0, 1, 4, 5)] == [False, False, True, True, False]
