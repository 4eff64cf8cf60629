"""Gi*: k-ring weights, analytic z and conditional permutation p against esda, Gi_Bin classes,
multiple-testing and the sparse-data behaviour (real Torbay data where ../shared/data exists)."""

from __future__ import annotations

import functools
import tempfile
import warnings
from pathlib import Path

import h3
import numpy as np
import pyarrow.compute as pc
import pytest
from scipy import sparse, stats

from boundaries.h3_cover import cover_areas
from boundaries.sets import load_boundary_file
from pipelines.analysis.classes import class_labels, gi_bin
from pipelines.analysis.gistar import (
    gistar,
    gistar_p_permutation,
    gistar_z,
    permutation_tails,
)
from pipelines.analysis.high_count import high_count_places
from pipelines.analysis.neighbours import kring_weights, to_libpysal, without_self
from pipelines.index.h3_cells import parent_cells
from pipelines.ingest.archive import ingest_archive
from pipelines.store import CrimeStore
from tests.null_maps import LONDON, disk

_h3 = h3.api.basic_int


@functools.lru_cache(maxsize=1)
def torbay_study(data_root: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Torbay 2019 crimes per study cell (zeros included) at resolutions 8, 9 and 10.

    Crimes: LSOA name starting "Torbay" in the Devon and Cornwall 2019 archive. Region: the H3
    cover of Torbay's 2019 wards. A crime's cell is the parent of its resolution-12 cell.
    """
    root = Path(data_root)
    with tempfile.TemporaryDirectory() as folder:
        store = CrimeStore(folder)
        archive = root / "police_uk/archive/devon-and-cornwall"
        report = ingest_archive(store, archive, first="2019-01", last="2019-12")
        assert not report.failed
        crimes = store.read(columns=["lsoa_name", "h3_cell"])
    torbay = pc.starts_with(pc.fill_null(crimes.column("lsoa_name"), ""), "Torbay")
    crimes = crimes.filter(pc.and_(torbay, crimes.column("h3_cell").is_valid()))
    wards = load_boundary_file(
        root / "boundaries/wards_2019/E06000027.geojson", "torbay-wards-2019", "ward"
    )
    study = {}
    for resolution in (8, 9, 10):
        cells = cover_areas(wards, resolution).cells
        parents = parent_cells(crimes.column("h3_cell"), resolution).to_numpy()
        position = np.minimum(np.searchsorted(cells, parents), len(cells) - 1)
        found = cells[position] == parents
        # The rest sit in rim cells mostly at sea or next door (boundaries/h3_cover.py).
        assert found.mean() > 0.97
        position = position[found]
        study[resolution] = (cells, np.bincount(position, minlength=len(cells)).astype(float))
    return study


@pytest.fixture(scope="module")
def torbay(shared_data: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return torbay_study(str(shared_data))


def esda_tails(y: np.ndarray, weights: sparse.csr_matrix, permutations: int, seed: int):
    """esda's own conditional randomisation of Gi* (one-sided, greater and lesser)."""
    from esda.crand import crand
    from esda.getisord import _g_local_star_crand

    observed = (weights @ y) / y.sum()
    result = []
    for alternative in ("greater", "lesser"):
        w = to_libpysal(weights)  # crand zeroes the diagonal of W.sparse in place
        w.transform = "B"
        p, _ = crand(
            y, w, observed, permutations, False, 1, _g_local_star_crand,
            scaling=y.sum(), seed=seed, alternative=alternative,
        )  # fmt: skip
        result.append(np.asarray(p, dtype=float))
    return result


def assert_within_monte_carlo(
    ours: np.ndarray, theirs: np.ndarray, permutations: int, two_sided: bool = False
) -> None:
    """Two independent estimates of the same p: each cell within 5 standard errors."""
    scale = 2.0 if two_sided else 1.0  # a two-sided p is twice a one-sided estimate
    p = np.clip((ours + theirs) / 2 / scale, 1 / (permutations + 1), 0.5)
    se = scale * np.sqrt(2 * p * (1 - p) / permutations)
    deviation = np.abs(ours - theirs) / (se + 1 / (permutations + 1))
    # Cells with the same number of neighbours share draws (in esda too), so their errors move
    # together and a mean over cells is no sharper a check than the worst cell.
    assert deviation.max() < 5, f"worst cell is {deviation.max():.1f} standard errors away"


# -- weights ---------------------------------------------------------------------------------


def test_kring_weights_binary_with_self_and_only_present_cells() -> None:
    cells = disk(LONDON, 2)
    shuffled = np.random.default_rng(0).permutation(cells)
    w = kring_weights(shuffled, 1)
    assert w.shape == (19, 19)
    assert np.all(w.diagonal() == 1) and np.all(w.data == 1)
    assert (w != w.T).nnz == 0
    row_of_centre = int(np.flatnonzero(shuffled == LONDON)[0])
    assert w[row_of_centre].nnz == 7
    # Row order follows the input: row i's neighbours are the 1-ring of shuffled[i].
    for i in (0, 5, 18):
        expected = set(_h3.grid_disk(int(shuffled[i]), 1)) & set(cells.tolist())
        assert {int(shuffled[j]) for j in w[i].indices} == expected
    # Outer-ring cells lose the neighbours outside the set.
    assert sorted(np.diff(w.indptr).tolist()) == [4] * 6 + [5] * 6 + [7] * 7
    assert np.diff(kring_weights(disk(LONDON, 3), 2).indptr).max() == 19


def test_kring_weights_equal_h3_grid_disk_near_a_pentagon() -> None:
    # A pentagon has 5 neighbours, not 6: the vectorised disks must still be h3's own.
    pentagon = _h3.get_pentagons(7)[0]
    cells = np.array(sorted(_h3.grid_disk(pentagon, 4)), dtype=np.uint64)
    w = kring_weights(cells, 2)
    index = {int(cell): i for i, cell in enumerate(cells.tolist())}
    for i, cell in enumerate(cells.tolist()):
        expected = sorted(index[c] for c in _h3.grid_disk(cell, 2) if c in index)
        assert w.indices[w.indptr[i] : w.indptr[i + 1]].tolist() == expected


def test_kring_weights_bad_input() -> None:
    cells = disk(LONDON, 1)
    with pytest.raises(ValueError, match="k must be at least 1"):
        kring_weights(cells, 0)
    with pytest.raises(ValueError, match="integer"):
        kring_weights(cells, 1.5)
    with pytest.raises(ValueError, match="empty"):
        kring_weights(np.array([], dtype=np.uint64))
    with pytest.raises(ValueError, match="duplicates"):
        kring_weights(np.concatenate([cells, cells[:1]]))
    with pytest.raises(ValueError, match="duplicates"):  # in sorted order too
        kring_weights(np.sort(np.concatenate([cells, cells[:1]])))
    with pytest.raises(ValueError, match="mix H3 resolutions"):
        kring_weights(np.append(cells, np.uint64(_h3.cell_to_parent(LONDON, 8))))
    with pytest.raises(ValueError, match="not a valid H3 cell"):
        kring_weights(np.array([12345], dtype=np.uint64))
    with pytest.raises(ValueError, match="12345 is not a valid H3 cell"):
        kring_weights(np.append(cells, np.uint64(12345)))


# -- analytic z ------------------------------------------------------------------------------


def test_gistar_z_matches_formula_and_esda_on_synthetic_counts() -> None:
    import esda

    cells = disk(LONDON, 6)
    y = np.random.default_rng(3).negative_binomial(1, 0.3, len(cells)).astype(float)
    w = kring_weights(cells, 1)
    z = gistar_z(y, w)
    n, w_sum = len(y), np.diff(w.indptr)
    by_hand = (w @ y - y.mean() * w_sum) / (y.std() * np.sqrt((n * w_sum - w_sum**2) / (n - 1)))
    np.testing.assert_allclose(z, by_hand, rtol=0, atol=1e-12)
    expected = esda.G_Local(y, to_libpysal(w), transform="B", star=True, permutations=0).Zs
    np.testing.assert_allclose(z, expected, rtol=0, atol=1e-9)
    # esda's default row-standardised weights give a different statistic with smaller z.
    row = esda.G_Local(y, to_libpysal(w), transform="R", star=True, permutations=0).Zs
    assert np.abs(row).mean() < 0.5 * np.abs(z).mean()


@pytest.mark.shared_data
@pytest.mark.parametrize("resolution", [8, 9, 10])
def test_gistar_z_equals_esda_on_torbay(torbay, resolution: int) -> None:
    import esda

    cells, counts = torbay[resolution]
    assert counts.sum() > 14_000  # Torbay has ~1.2k crimes a month
    w = kring_weights(cells, 1)
    expected = esda.G_Local(counts, to_libpysal(w), transform="B", star=True, permutations=0)
    np.testing.assert_allclose(gistar_z(counts, w), expected.Zs, rtol=0, atol=1e-9)


# -- permutation p ---------------------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.parametrize(("resolution", "permutations"), [(8, 9999), (9, 9999), (10, 999)])
def test_permutation_p_agrees_with_esda_on_torbay(torbay, resolution: int, permutations) -> None:
    cells, counts = torbay[resolution]
    w = kring_weights(cells, 1)
    tails = permutation_tails(counts, w, permutations, seed=11)
    greater, lesser = esda_tails(counts, w, permutations, seed=5)
    assert_within_monte_carlo(tails.p_greater, greater, permutations)
    assert_within_monte_carlo(tails.p_lesser, lesser, permutations)
    two_sided = np.minimum(1, 2 * np.minimum(greater, lesser))
    ours = gistar_p_permutation(counts, w, permutations, 11)
    assert_within_monte_carlo(ours, two_sided, permutations, two_sided=True)


def test_permutation_engine_matches_naive_conditional_draws() -> None:
    # Independent check of the shared-draw engine: per cell, shuffle the other n - 1 values.
    cells = disk(LONDON, 3)  # 37 cells: the engine takes its small-n path
    rng = np.random.default_rng(8)
    y = rng.poisson(2.0, len(cells)).astype(float)
    w = kring_weights(cells, 1)
    neighbours = without_self(w)
    permutations = 4000
    naive_greater = np.empty(len(y))
    for i, k in enumerate(np.diff(neighbours.indptr)):
        others = np.tile(np.delete(y, i), (permutations, 1))
        sums = rng.permuted(others, axis=1)[:, :k].sum(axis=1)
        naive_greater[i] = (np.sum(sums >= neighbours[i] @ y) + 1) / (permutations + 1)
    tails = permutation_tails(y, w, permutations, seed=1)
    assert_within_monte_carlo(tails.p_greater, naive_greater, permutations)


def test_permutation_p_is_seeded_bounded_and_refined_only_near_its_floor() -> None:
    cells = disk(LONDON, 12)
    rng = np.random.default_rng(4)
    y = rng.poisson(1.0, len(cells)).astype(float)
    y[:7] += 15  # a few strong cells so some p sit at the floor
    w = kring_weights(cells, 1)
    first = gistar_p_permutation(y, w, 199, seed=7)
    np.testing.assert_array_equal(first, gistar_p_permutation(y, w, 199, seed=7))
    assert not np.array_equal(first, gistar_p_permutation(y, w, 199, seed=8))
    assert first.min() >= 2 / 200 and first.max() <= 1.0
    assert set(np.round(first * 200, 6)) <= {float(v) for v in range(1, 201)}  # (x + 1) / 200

    refined = permutation_tails(y, w, 199, seed=7, max_permutations=19_999)
    fixed = permutation_tails(y, w, 199, seed=7)
    more = refined.permutations > 199
    assert more.any() and not more.all()
    assert np.all(np.minimum(fixed.at_least, fixed.at_most)[more] < 20)
    np.testing.assert_array_equal(refined.p_two_sided[~more], fixed.p_two_sided[~more])
    assert refined.p_two_sided[more].min() < 2 / 200


def test_isolated_cell_has_p_one() -> None:
    cells = np.append(disk(LONDON, 3), np.uint64(_h3.latlng_to_cell(53.48, -2.24, 9)))
    y = np.random.default_rng(2).poisson(3.0, len(cells)).astype(float)
    y[-1] = 50  # far away: no neighbours, nothing to permute
    p = gistar_p_permutation(y, kring_weights(cells, 1), 99)
    assert p[-1] == 1.0


# -- the whole analysis ----------------------------------------------------------------------


@pytest.mark.parametrize("p_for_classes", ["analytic-gated", "permutation"])
def test_planted_hot_and_cold_spots_are_found_in_their_place(p_for_classes: str) -> None:
    cells = disk(LONDON, 25)  # 1,951 cells
    w = kring_weights(cells, 1)
    rng = np.random.default_rng(5)
    y = rng.poisson(6.0, len(cells)).astype(float)
    centre = list(cells).index(np.uint64(LONDON))
    far = list(cells).index(np.uint64(sorted(_h3.grid_ring(LONDON, 15))[0]))
    hot = w[centre].indices
    cold = kring_weights(cells, 2)[far].indices
    y[hot] = rng.poisson(30.0, len(hot))
    y[cold] = 0
    result = gistar(y, w, seed=1, p_for_classes=p_for_classes)
    assert np.all(result.classes[hot] == 3)
    assert result.classes[far] < 0
    # Everything flagged is near a planted spot, but for the few false discoveries FDR allows.
    near = set(kring_weights(cells, 3)[centre].indices) | set(kring_weights(cells, 3)[far].indices)
    flagged = set(np.flatnonzero(result.classes != 0).tolist())
    assert len(flagged - near) <= 0.1 * len(flagged)
    assert result.settings["p_for_classes"] == p_for_classes
    assert result.p_permutation is not None
    if p_for_classes == "permutation":
        assert np.all(result.p == result.p_permutation)
    else:
        assert np.all(result.p == result.p_analytic) and result.p_count_adjusted is not None
    assert np.all(result.p_adjusted >= result.p)
    assert class_labels(result.classes[hot[:1]]) == ["Hot spot - 99% confidence"]


@pytest.mark.parametrize("p_for_classes", ["analytic-gated", "permutation"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pure_poisson_noise_at_0_3_per_cell_flags_almost_nothing(
    seed: int, p_for_classes: str
) -> None:
    cells = disk(LONDON, 40)  # 4,921 cells
    w = kring_weights(cells, 1)
    y = np.random.default_rng(100 + seed).poisson(0.3, len(cells)).astype(float)
    result = gistar(y, w, seed=seed, p_for_classes=p_for_classes)
    assert np.sum(result.classes != 0) <= 2
    assert np.sum(result.significant) <= 1
    # No cold spot can exist here at all: 0.3 x 7 crimes expected per neighbourhood.
    assert not result.cold_observable.any()


def test_analytic_classes_and_permutation_free_run() -> None:
    cells = disk(LONDON, 8)
    y = np.random.default_rng(6).poisson(5.0, len(cells)).astype(float)
    w = kring_weights(cells, 1)
    result = gistar(y, w, permutations=0, p_for_classes="analytic", correction="none")
    assert result.p_permutation is None
    np.testing.assert_array_equal(result.p, result.p_analytic)
    np.testing.assert_array_equal(result.p_adjusted, result.p_analytic)

    np.testing.assert_allclose(result.p_analytic, 2 * stats.norm.sf(np.abs(result.z)))
    expected = gi_bin(result.z, result.p_analytic, result.cold_observable)
    np.testing.assert_array_equal(result.classes, expected)
    assert result.settings["permutations"] == 0 and result.settings["correction"] == "none"


@pytest.mark.shared_data
def test_esda_directed_p_flags_half_of_torbay_where_ours_does_not(torbay) -> None:
    # The measurement behind the default (docs/hotspot-statistics.md): esda's default p_sim
    # counts every tie as "more extreme" in its tail, so the 77 % of zero cells with empty
    # neighbourhoods all get p = 0.001.
    import esda

    cells, counts = torbay[10]
    w = kring_weights(cells, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = esda.G_Local(
            counts, to_libpysal(w), transform="B", star=True, permutations=999, seed=0, n_jobs=1
        )
    assert np.mean(g.p_sim < 0.05) > 0.4
    ours = gistar(counts, w, seed=0)
    assert np.mean(ours.p_permutation < 0.05) < 0.1
    assert 0 < np.sum(ours.classes > 0) < 0.05 * len(cells)
    assert np.all(ours.classes >= 0)  # no cold spot survives the rule in Torbay at res 10


def test_gi_bin_levels_and_cold_suppression() -> None:
    z = np.array([3.0, 2.0, 1.0, -1.0, -2.0, -3.0, 4.0, -4.0])
    p = np.array([0.001, 0.03, 0.08, 0.09, 0.05, 0.01, 0.2, 0.001])
    np.testing.assert_array_equal(gi_bin(z, p), [3, 2, 1, -1, -2, -3, 0, -3])
    observable = np.array([True] * 7 + [False])
    np.testing.assert_array_equal(gi_bin(z, p, observable), [3, 2, 1, -1, -2, -3, 0, 0])
    with pytest.raises(ValueError, match="one length"):
        gi_bin(z, p[:-1])


def test_bad_input_is_refused_with_clear_messages() -> None:
    cells = disk(LONDON, 3)
    w = kring_weights(cells, 1)
    y = np.arange(len(cells), dtype=float)
    with pytest.raises(ValueError, match="values is empty"):
        gistar_z(np.array([]), w)
    with pytest.raises(ValueError, match="37 x 37 but there are 36 values"):
        gistar_z(y[:-1], w)
    with pytest.raises(ValueError, match="NaN"):
        gistar_z(np.where(y == 3, np.nan, y), w)
    with pytest.raises(ValueError, match="all values are equal"):
        gistar_z(np.ones(len(cells)), w)
    with pytest.raises(ValueError, match="diagonal must be 1"):
        gistar_z(y, without_self(w))
    with pytest.raises(ValueError, match="binary"):
        gistar_z(y, 2 * w)
    with pytest.raises(ValueError, match="permutations must be at least 1"):
        gistar_p_permutation(y, w, permutations=0)
    with pytest.raises(ValueError, match="permutations must be at least 0"):
        gistar(y, w, permutations=-1)
    with pytest.raises(ValueError, match="unknown multiple-testing method 'fdr'"):
        gistar(y, w, correction="fdr")
    for alpha in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="alpha must be strictly between 0 and 1"):
            gistar(y, w, alpha=alpha)
    with pytest.raises(ValueError, match="p_for_classes must be one of"):
        gistar(y, w, p_for_classes="sim")
    with pytest.raises(ValueError, match="needs permutations >= 1"):
        gistar(y, w, permutations=0, p_for_classes="permutation")
    with pytest.raises(ValueError, match="counts has 36 entries"):
        gistar(y, w, counts=y[:-1])


def test_a_lone_busy_cell_is_a_high_count_place_not_a_hot_spot() -> None:
    """One street with many crimes in a quiet area is a concentration, not a cluster.

    Conditional permutation holds the busy cell's own value fixed, so its neighbourhood looks
    ordinary and the default never flags it (shuffle the map and the busy cell's ring is just as
    extreme somewhere else). The analytic z sees it, at the price of flagging noise
    (tests/test_calibration_rules.py); the high-count test answers the question that was asked.
    """
    cells = disk(LONDON, 25)
    w = kring_weights(cells, 1)
    y = np.random.default_rng(3).poisson(0.3, len(cells)).astype(float)
    busy = list(cells).index(np.uint64(LONDON))
    y[busy] = 240
    default = gistar(y, w, seed=0)
    analytic = gistar(y, w, seed=0, p_for_classes="analytic-gated")
    assert default.settings["p_for_classes"] == "permutation"
    assert not default.significant.any()
    assert analytic.classes[busy] == 3
    places = high_count_places(y)
    assert np.flatnonzero(places.flagged).tolist() == [busy]
    assert places.p_adjusted[busy] < 1e-6
