"""The rules issue 11 calls for, tested on generated data: which Gi* p rule keeps false hot spots
at alpha on a shuffled over-dispersed map, and the high-count test (a lone busy cell)
(docs/hotspot-statistics.md). The map-point rule's tests are in tests/test_resolution_support.py;
the null maps in tests/null_maps.py."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pipelines.analysis.gistar import DEFAULT_P_FOR_CLASSES
from pipelines.analysis.high_count import high_count_places
from pipelines.analysis.multiple_testing import adjust_p
from tests.null_maps import LONDON, disk, shuffled_over_dispersed_runs


def test_the_permutation_rule_flags_almost_nothing_on_a_shuffled_over_dispersed_map() -> None:
    # BH at 0.05 under a complete null: a run flags anything with probability <= 0.05, so 3 or
    # more flagged runs of 10 would happen by chance about 1 % of the time for a correct rule.
    assert DEFAULT_P_FOR_CLASSES == "permutation"  # the rule every study uses unless told
    flagged = shuffled_over_dispersed_runs(DEFAULT_P_FOR_CLASSES)
    assert sum(count > 0 for count in flagged) <= 2, flagged


def test_the_analytic_gated_rule_fails_the_same_null() -> None:
    """The tolerance above is one the count-gated analytic p cannot meet."""
    flagged = shuffled_over_dispersed_runs("analytic-gated")
    assert sum(count > 0 for count in flagged) >= 6, flagged
    assert np.mean(flagged) > 3


def test_a_lone_busy_cell_is_a_high_count_place() -> None:
    cells = disk(LONDON, 25)
    y = np.random.default_rng(3).poisson(0.3, len(cells)).astype(float)
    busy = list(cells).index(np.uint64(LONDON))
    y[busy] = 240
    places = high_count_places(y)
    assert np.flatnonzero(places.flagged).tolist() == [busy]
    assert places.p_adjusted[busy] < 1e-6
    assert places.settings["name"] == "high-count places" and places.settings["fitted_shape"]


def test_high_count_places_on_an_over_dispersed_null_flag_almost_nothing() -> None:
    flagged_runs = 0
    for run in range(20):
        rng = np.random.default_rng(700 + run)
        y = rng.negative_binomial(0.5, 0.5 / 1.5, 1951).astype(float)
        flagged_runs += bool(high_count_places(y).flagged.any())
    assert flagged_runs <= 3
    # A Poisson null (no over-dispersion) would wrongly flag the ordinary busy cells.
    y = np.random.default_rng(1).negative_binomial(0.5, 0.5 / 1.5, 1951).astype(float)
    naive = stats.poisson.sf(y - 1, y.mean())
    assert (adjust_p(naive) <= 0.05).sum() > 20


def test_high_count_places_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="alpha must be strictly between 0 and 1"):
        high_count_places(np.array([1.0, 2.0]), alpha=1.5)
    with pytest.raises(ValueError, match="whole, non-negative"):
        high_count_places(np.array([1.5, 2.0]))
    with pytest.raises(ValueError, match="unknown multiple-testing method"):
        high_count_places(np.array([1.0, 2.0]), correction="magic")
