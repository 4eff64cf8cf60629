"""The rules issue 11 calls for, tested on generated data: which Gi* p rule keeps false hot spots
at alpha on a shuffled over-dispersed map, the high-count test (a lone busy cell) and the
map-point rule for resolutions the data can resolve (docs/hotspot-statistics.md)."""

from __future__ import annotations

import h3
import numpy as np
import pytest
from scipy import stats

from pipelines.analysis.gistar import gistar
from pipelines.analysis.high_count import high_count_places
from pipelines.analysis.map_points import MIN_MEDIAN_POINTS, map_point_support
from pipelines.analysis.multiple_testing import adjust_p
from pipelines.analysis.neighbours import kring_weights

_h3 = h3.api.basic_int
LONDON = _h3.latlng_to_cell(51.5074, -0.1278, 9)


def disk(centre: int, radius: int) -> np.ndarray:
    return np.array(sorted(_h3.grid_disk(centre, radius)), dtype=np.uint64)


def _shuffled_over_dispersed_runs(rule: str, runs: int = 10) -> list[int]:
    """Flagged cells per run on an over-dispersed map with no spatial structure.

    Negative-binomial counts, shape 0.5 at mean 1 (variance 3, the shape of real crime counts),
    shuffled over 1,951 cells: nothing is clustered, so every flag is false."""
    cells = disk(LONDON, 25)
    w = kring_weights(cells, 1)
    flagged = []
    for run in range(runs):
        rng = np.random.default_rng(900 + run)
        y = rng.permutation(rng.negative_binomial(0.5, 0.5 / 1.5, len(cells)).astype(float))
        flagged.append(int(gistar(y, w, seed=run, p_for_classes=rule).significant.sum()))
    return flagged


def test_the_permutation_rule_flags_almost_nothing_on_a_shuffled_over_dispersed_map() -> None:
    # BH at 0.05 under a complete null: a run flags anything with probability <= 0.05, so 3 or
    # more flagged runs of 10 would happen by chance about 1 % of the time for a correct rule.
    flagged = _shuffled_over_dispersed_runs("permutation")
    assert sum(count > 0 for count in flagged) <= 2, flagged


def test_the_analytic_gated_rule_fails_the_same_null() -> None:
    """The tolerance above is one the count-gated analytic p cannot meet."""
    flagged = _shuffled_over_dispersed_runs("analytic-gated")
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


def test_snapped_crimes_on_one_point_a_cell_cannot_resolve_it() -> None:
    cell = np.repeat(np.arange(10), 5)
    lon = np.repeat(np.linspace(-3.6, -3.5, 10), 5)
    support = map_point_support(cell, lon, np.full(50, 50.45), n_cells=20, resolution=10)
    assert support.median_points_per_occupied_cell == 1 < MIN_MEDIAN_POINTS
    assert support.shared_point_share == 1.0 and not support.resolvable
    assert support.cells_with_a_point_share == 0.5 and support.single_point_share == 1.0
    assert "cannot resolve cells this small" in support.reason


def test_two_points_a_cell_resolve_and_unsnapped_crimes_are_left_to_the_guard() -> None:
    cell = np.repeat(np.arange(10), 4)
    lon = np.repeat(np.linspace(-3.6, -3.5, 20), 2)  # two points a cell, two crimes each
    support = map_point_support(cell, lon, np.full(40, 50.45), n_cells=10, resolution=9)
    assert support.median_points_per_occupied_cell == 2 and support.resolvable
    single = map_point_support(
        np.arange(10), np.linspace(-3.6, -3.5, 10), np.full(10, 50.4), 10, 10
    )
    assert single.median_points_per_occupied_cell == 1 and single.shared_point_share == 0
    assert single.resolvable
    outside = map_point_support(np.array([-1, -1]), np.zeros(2), np.zeros(2), 5, 9)
    assert outside.occupied_cells == 0 and outside.resolvable
