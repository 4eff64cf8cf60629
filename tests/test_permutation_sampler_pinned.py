"""Same seed, same p: the permutation sampler's output is pinned on generated regions.

The digests were taken from the sampler before it was made faster (re-checking only the rows it
redraws); any change to the draws, their order or the counting changes them, so a faster sampler
must reproduce the old p-values exactly, not only in distribution."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from pipelines.analysis import gistar
from pipelines.analysis.gistar import (
    _rows_with_repeats,
    _sample_without_replacement,
    permutation_tails,
)
from pipelines.analysis.neighbours import kring_weights
from tests.null_maps import LONDON, disk


def digest(*arrays: np.ndarray) -> str:
    hashed = hashlib.sha256()
    for array in arrays:
        hashed.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
    return hashed.hexdigest()[:16]


@pytest.mark.parametrize(
    ("radius", "ring", "cells", "expected", "total"),
    [
        # 37 cells, 6 neighbours: a small ward; draws by rejection, extreme cells refined
        (3, 1, 37, "04c2fa03f33aa27e", 135_963),
        # 331 cells: a larger ward
        (10, 1, 331, "c83cb026957311c3", 2_598_669),
        # 18 neighbours of 36 others: every row shuffled in full
        (3, 2, 37, "8605a371ff6dfa52", 351_963),
        # 7 cells, the centre's neighbourhood is the whole region
        (1, 1, 7, "66b9bce1e6f1f190", 6_993),
    ],
)
def test_permutation_tails_for_a_fixed_seed_are_pinned(
    radius: int, ring: int, cells: int, expected: str, total: int
) -> None:
    region = disk(LONDON, radius)
    assert len(region) == cells
    rng = np.random.default_rng(radius * 10 + ring)
    # Over-dispersed counts (negative binomial, mean 1) with a hot cluster in the middle.
    values = rng.negative_binomial(0.5, 0.5 / 2.0, cells).astype(float)
    values[np.isin(region, disk(LONDON, 1))] += 6
    tails = permutation_tails(
        values, kring_weights(region, ring), 999, seed=7, max_permutations=999_999
    )
    assert int(tails.permutations.sum()) == total
    assert digest(tails.at_least, tails.at_most, tails.permutations) == expected


@pytest.mark.parametrize(
    ("n", "rows", "size", "expected"),
    [
        (37, 3000, 7, "d43e321959ca8cba"),  # rejection sampling, many rows redrawn
        (331, 3000, 7, "f1cdb0493bcec3ef"),  # rejection sampling, few rows redrawn
        (37, 100, 19, "e3fc465adfdf6910"),  # full shuffles
        (5, 50, 3, "f09cdd9c71f9fba3"),
    ],
)
def test_draws_without_replacement_for_a_fixed_seed_are_pinned(
    n: int, rows: int, size: int, expected: str
) -> None:
    draws = _sample_without_replacement(np.random.default_rng(3), n, rows, size)
    assert draws.shape == (rows, size)
    # Every row holds distinct indices of range(n).
    ordered = np.sort(draws, axis=1)
    assert (ordered[:, 1:] != ordered[:, :-1]).all()
    assert draws.min() >= 0 and draws.max() < n
    assert digest(draws) == expected


@pytest.mark.parametrize("size", [7, 8, 9, 19])
@pytest.mark.parametrize("n", [2, 7, 37, 63, 64, 65, 331, 40_000])
def test_rows_with_repeats_are_found_exactly(n: int, size: int) -> None:
    """The rows the sampler redraws: exactly those with a repeated index (pair by pair for rows
    of up to 8 indices, as int16 up to 32,767 cells, else a bit mask for up to 64 cells, a
    sort beyond)."""
    draws = np.random.default_rng(n).integers(0, n, size=(2_000, min(n, size)))
    # Row 0: distinct indices, the last of them n - 1 (the top bit of the mask).
    draws[0] = np.arange(draws.shape[1])
    draws[0, -1] = n - 1
    naive = [i for i, row in enumerate(draws.tolist()) if len(set(row)) < len(row)]
    assert _rows_with_repeats(draws, n).tolist() == naive


@pytest.mark.parametrize(
    ("n", "rows", "size", "block"),
    [
        (37, 5_000, 7, 1 << 19),  # many rows repeat an index; one block
        (37, 5_000, 7, 700),  # blocks of 100 rows: many blocks, the last one drawn again
        (331, 2_500, 7, 1 << 19),  # few rows repeat
        (91, 1_024, 7, 1 << 19),  # exactly one batch
        (64, 3_000, 11, 77),  # the bit-mask check, blocks of 7 rows
        (37, 300, 19, 1 << 19),  # full shuffles (size * size > 2n): batch by batch
    ],
)
def test_block_sampler_draws_the_batch_samplers_rows_and_leaves_the_same_state(
    n: int, rows: int, size: int, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counts sum over samples, so drawing many batches at once must give the same samples
    (in any order) as ``_sample_without_replacement`` batch by batch, and must leave the
    generator where the batches leave it (the next stage draws on from there)."""
    monkeypatch.setattr(gistar, "_BLOCK_ELEMENTS", block)
    batched = np.random.default_rng(5)
    expected = [
        _sample_without_replacement(batched, n, min(gistar._BATCH, rows - start), size)
        for start in range(0, rows, gistar._BATCH)
    ]
    blocked = np.random.default_rng(5)
    got = list(gistar._draws(blocked, n, rows, size))

    def in_order(parts: list[np.ndarray]) -> np.ndarray:
        whole = np.concatenate(parts)
        return whole[np.lexsort(whole.T[::-1])]

    assert sum(len(part) for part in got) == rows
    np.testing.assert_array_equal(in_order(got), in_order(expected))
    assert blocked.bit_generator.state == batched.bit_generator.state
    assert blocked.integers(0, 2**62, 4).tolist() == batched.integers(0, 2**62, 4).tolist()


@pytest.mark.parametrize("cells", [1, 5, 16, 17, 400, 5_000])
def test_tail_counts_count_every_comparison_exactly(cells: int) -> None:
    """Each way of counting the tails (bound by bound, sums placed among sorted bounds, bounds
    found in sorted sums) gives the plain count of sums >= low and <= high, ties included."""
    rng = np.random.default_rng(cells)
    simulated = rng.integers(0, 40, 3_000).astype(float)  # many sums equal to a bound
    low = rng.integers(-2, 42, cells).astype(float)
    high = low + rng.integers(0, 3, cells)
    at_least, at_most = gistar._tail_counts(simulated, low, high)
    assert at_least.tolist() == [int((simulated >= bound).sum()) for bound in low]
    assert at_most.tolist() == [int((simulated <= bound).sum()) for bound in high]
