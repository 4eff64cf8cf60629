"""Local Moran's I: statistic and quadrants equal esda's, permutation p agrees with esda's,
labels with FDR and the LL rule, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines.analysis.gistar import permutation_tails
from pipelines.analysis.lisa import lisa_weights, local_moran
from pipelines.analysis.neighbours import kring_weights, row_standardised, to_libpysal, without_self
from tests.null_maps import LONDON, disk
from tests.test_analysis_gistar import assert_within_monte_carlo, torbay_study

ESDA_QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}


@pytest.fixture(scope="module")
def torbay(shared_data: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return torbay_study(str(shared_data))


def esda_moran(y: np.ndarray, weights, permutations: int = 0):
    import esda

    w = to_libpysal(without_self(weights))
    return esda.Moran_Local(y, w, transformation="r", permutations=permutations, n_jobs=1)


def test_weights_are_the_k_ring_without_self_row_standardised() -> None:
    w = kring_weights(disk(LONDON, 2), 1)
    lisa = lisa_weights(w, w.shape[0])
    assert np.all(lisa.diagonal() == 0)
    np.testing.assert_allclose(np.asarray(lisa.sum(axis=1)).ravel(), 1.0)
    np.testing.assert_allclose(lisa.toarray(), row_standardised(without_self(w)).toarray())
    # Already row-standardised input gives the same weights.
    np.testing.assert_allclose(lisa_weights(lisa, w.shape[0]).toarray(), lisa.toarray())


def test_statistic_and_quadrants_equal_esda_on_synthetic_counts() -> None:
    cells = disk(LONDON, 8)
    y = np.random.default_rng(1).negative_binomial(2, 0.4, len(cells)).astype(float)
    w = kring_weights(cells, 1)
    result = local_moran(y, w, permutations=99)
    expected = esda_moran(y, w)
    np.testing.assert_allclose(result.I, expected.Is, rtol=0, atol=1e-9)
    assert [ESDA_QUADRANTS[q] for q in expected.q] == list(result.quadrants)
    assert set(result.quadrants) == {"HH", "LL", "HL", "LH"}


@pytest.mark.shared_data
@pytest.mark.parametrize("resolution", [9, 10])
def test_statistic_quadrants_and_p_agree_with_esda_on_torbay(torbay, resolution: int) -> None:
    from esda.crand import crand
    from esda.moran import _moran_local_crand

    cells, counts = torbay[resolution]
    w = kring_weights(cells, 1)
    result = local_moran(counts, w)
    expected = esda_moran(counts, w)
    np.testing.assert_allclose(result.I, expected.Is, rtol=0, atol=1e-9)
    assert [ESDA_QUADRANTS[q] for q in expected.q] == list(result.quadrants)

    permutations = 999
    lisa_w = to_libpysal(without_self(w))
    lisa_w.transform = "r"
    z = result.z
    greater, _ = crand(
        z, lisa_w, expected.Is, permutations, False, 1, _moran_local_crand,
        seed=3, alternative="greater",
    )  # fmt: skip
    tails = permutation_tails(counts, w, permutations, seed=1)
    ours = np.where(z > 0, tails.p_greater, tails.p_lesser)  # I falls as the sum rises if z < 0
    # esda compares floats, so a simulated sum equal to the observed one lands in either tail by
    # rounding; ours counts ties in both. Compare the cells where no simulation ties.
    untied = (tails.at_least + tails.at_most == permutations) & (z != 0)
    assert untied.sum() >= 80  # of Torbay's 629 land cells at resolution 9
    assert_within_monte_carlo(ours[untied], np.asarray(greater)[untied], permutations)


def test_planted_cluster_is_hh_and_noise_is_not_significant() -> None:
    cells = disk(LONDON, 25)
    w = kring_weights(cells, 1)
    rng = np.random.default_rng(2)
    y = rng.poisson(4.0, len(cells)).astype(float)
    centre = list(cells).index(np.uint64(LONDON))
    cluster = kring_weights(cells, 2)[centre].indices
    y[cluster] = rng.poisson(20.0, len(cluster))
    result = local_moran(y, w, seed=4)
    assert np.all(result.labels[w[centre].indices] == "HH")
    flagged = set(np.flatnonzero(result.labels != "ns").tolist())
    near = set(kring_weights(cells, 3)[centre].indices.tolist())
    assert len(flagged - near) <= 0.1 * len(flagged)
    assert np.all(result.p_adjusted >= result.p) and result.p.max() <= 1.0

    noise = np.random.default_rng(3).poisson(0.3, len(cells)).astype(float)
    quiet = local_moran(noise, w, seed=5)
    assert np.sum(quiet.labels != "ns") <= 2
    assert quiet.settings["weights"] == "k-ring without self, row-standardised"


def test_ll_clusters_need_an_observable_cold_spot() -> None:
    cells = disk(LONDON, 20)
    w = kring_weights(cells, 1)
    rng = np.random.default_rng(6)
    centre = list(cells).index(np.uint64(LONDON))
    hole = kring_weights(cells, 2)[centre].indices
    dense = rng.poisson(10.0, len(cells)).astype(float)
    dense[hole] = 0
    found = local_moran(dense, w, seed=1)
    assert found.labels[centre] == "LL"
    # The same hole where only 0.3 crimes per cell are expected cannot be told from chance.
    sparse_counts = rng.poisson(0.3, len(cells)).astype(float)
    sparse_counts[hole] = 0
    sparse_result = local_moran(sparse_counts, w, seed=1)
    assert "LL" not in set(sparse_result.labels)
    # Harm-weighted values with crime counts given: the rule follows the counts.
    by_counts = local_moran(dense, w, seed=1, counts=np.full(len(cells), 0.3))
    assert by_counts.labels[centre] == "ns" and by_counts.settings["cold_spots_suppressed"] > 0


def test_seeded_runs_repeat() -> None:
    cells = disk(LONDON, 6)
    y = np.random.default_rng(7).poisson(3.0, len(cells)).astype(float)
    w = kring_weights(cells, 1)
    np.testing.assert_array_equal(local_moran(y, w, seed=9).p, local_moran(y, w, seed=9).p)


def test_bad_input_is_refused_with_clear_messages() -> None:
    cells = disk(LONDON, 3)
    w = kring_weights(cells, 1)
    y = np.arange(len(cells), dtype=float)
    with pytest.raises(ValueError, match="values is empty"):
        local_moran(np.array([]), w)
    with pytest.raises(ValueError, match="37 x 37 but there are 36 values"):
        local_moran(y[:-1], w)
    with pytest.raises(ValueError, match="permutations must be at least 1"):
        local_moran(y, w, permutations=0)
    with pytest.raises(ValueError, match="unknown multiple-testing method 'BH'"):
        local_moran(y, w, correction="BH")
    with pytest.raises(ValueError, match="alpha must be strictly between 0 and 1"):
        local_moran(y, w, alpha=1.0)
    with pytest.raises(ValueError, match="all values are equal"):
        local_moran(np.zeros(len(cells)), w)
    uneven = w.copy()
    uneven.data[1] = 3.0
    with pytest.raises(ValueError, match="equal weights for every neighbour"):
        local_moran(y, uneven)
