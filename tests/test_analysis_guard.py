"""Sparse-data guard, cold-spot rule and multiple-testing corrections."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from pipelines.analysis.multiple_testing import METHODS, adjust_p
from pipelines.analysis.sparse_guard import (
    MIN_CELLS,
    MIN_CRIMES,
    check_enough_data,
    cold_spot_observable,
    min_expected_for_cold_spot,
)

# -- check_enough_data -----------------------------------------------------------------------


def test_enough_data_proceeds_and_reports_figures() -> None:
    verdict = check_enough_data(14_713, 4_779, window_months=12, resolution=10)
    assert verdict.ok and verdict.action == "proceed"
    assert verdict.mean_per_cell == pytest.approx(14_713 / 4_779)
    assert verdict.expected_per_neighbourhood == pytest.approx(7 * 14_713 / 4_779)
    assert verdict.warnings == [] and verdict.message == "enough crimes and cells"
    assert verdict.thresholds["min_cells"] == MIN_CELLS == 30


def test_too_few_crimes_widens_the_window_or_refuses() -> None:
    verdict = check_enough_data(12, 500, window_months=1, resolution=9)
    assert not verdict.ok and verdict.action == "widen_window"
    assert verdict.suggested_window_months == 3  # 12 a month -> 36 >= 30
    assert f"at least {MIN_CRIMES}" in verdict.reason
    refused = check_enough_data(12, 500, window_months=12, resolution=9)
    assert refused.action == "refuse" and "12-month" in refused.reason
    assert check_enough_data(0, 500).action == "refuse"


def test_thin_crime_per_cell_widens_then_coarsens() -> None:
    # 200 crimes over 2,000 cells in 3 months: 0.7 per 7-cell neighbourhood.
    widen = check_enough_data(200, 2_000, window_months=3, resolution=10)
    assert widen.action == "widen_window" and widen.suggested_window_months == 5
    coarsen = check_enough_data(200, 2_000, window_months=12, resolution=10)
    assert coarsen.action == "coarsen_resolution" and coarsen.suggested_resolution == 9
    assert "coarsen the resolution to 9" in coarsen.reason
    # No window or resolution known: nothing to suggest.
    assert check_enough_data(200, 2_000).action == "refuse"
    # Already at the coarsest study resolution.
    assert check_enough_data(200, 2_000, window_months=12, resolution=7).action == "refuse"


def test_too_few_cells_refines_the_resolution_when_crime_allows() -> None:
    verdict = check_enough_data(5_000, 12, window_months=12, resolution=8)
    assert verdict.action == "refine_resolution" and verdict.suggested_resolution == 9
    assert check_enough_data(5_000, 12, resolution=10).action == "refuse"


def test_sparse_but_usable_data_warns_that_cold_spots_cannot_show() -> None:
    verdict = check_enough_data(1_500, 5_000, window_months=12, resolution=10)  # 2.1 expected
    assert verdict.ok
    assert any("cold spot" in warning for warning in verdict.warnings)


def test_guard_bad_input() -> None:
    with pytest.raises(ValueError, match="cells must be >= 1"):
        check_enough_data(10, 0)
    with pytest.raises(ValueError, match="k must be at least 1"):
        check_enough_data(10, 10, k=0)
    with pytest.raises(ValueError, match="total_crimes must be an integer"):
        check_enough_data(10.5, 10)
    with pytest.raises(ValueError, match=r"resolution must be 7\.\.10"):
        check_enough_data(100, 100, resolution=12)


# -- cold-spot rule --------------------------------------------------------------------------


def test_cold_spot_threshold_is_where_an_empty_neighbourhood_becomes_significant() -> None:
    for alpha in (0.10, 0.05, 0.01):
        mu = min_expected_for_cold_spot(alpha)
        assert mu == pytest.approx(math.log(2 / alpha))
        # Under Poisson(mu), seeing zero has probability exactly alpha / 2 at the threshold.
        assert stats.poisson.pmf(0, mu) == pytest.approx(alpha / 2)
    np.testing.assert_array_equal(
        cold_spot_observable(np.array([0.0, 2.1, 3.68, 3.69, 50.0])),
        [False, False, False, True, True],
    )
    with pytest.raises(ValueError, match="non-negative"):
        cold_spot_observable(np.array([-1.0]))


# -- multiple testing ------------------------------------------------------------------------


def test_adjust_p_methods_against_hand_computation() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    m = len(p)
    order = np.argsort(p)
    bh = np.empty(m)
    ranked = p[order] * m / np.arange(1, m + 1)
    bh[order] = np.minimum(1, np.minimum.accumulate(ranked[::-1])[::-1])
    np.testing.assert_allclose(adjust_p(p, "fdr_bh"), bh)
    harmonic = np.sum(1 / np.arange(1, m + 1))
    np.testing.assert_allclose(adjust_p(p, "fdr_by"), np.minimum(1, bh * harmonic))
    np.testing.assert_allclose(adjust_p(p, "bonferroni"), np.minimum(1, p * m))
    np.testing.assert_allclose(adjust_p(p), adjust_p(p, "fdr_bh"))
    # Holm: sorted 0.005, 0.01, 0.03, 0.04, 0.5 times 5, 4, 3, 2, 1, running max.
    np.testing.assert_allclose(adjust_p(p, "holm"), [0.04, 0.09, 0.09, 0.025, 0.5])
    np.testing.assert_array_equal(adjust_p(p, "none"), p)
    for method in METHODS:
        adjusted = adjust_p(p, method)
        assert np.all(adjusted >= p) and np.all(adjusted <= 1)


def test_adjust_p_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown multiple-testing method 'sidak'"):
        adjust_p(np.array([0.1]), "sidak")
    with pytest.raises(ValueError, match="p is empty"):
        adjust_p(np.array([]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        adjust_p(np.array([0.1, 1.2]))
    with pytest.raises(ValueError, match="NaN"):
        adjust_p(np.array([0.1, np.nan]))
