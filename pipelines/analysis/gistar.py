"""Getis-Ord Gi* hot spots on H3 cells: analytic z, conditional permutation p, Gi_Bin classes.

Gi* of cell i with binary weights w (w_ii = 1, the cell is part of its own neighbourhood):

    z_i = (sum_j w_ij x_j - xbar W_i) / (s sqrt((n W_i - W_i^2) / (n - 1)))

with W_i = sum_j w_ij, xbar the mean and s the population standard deviation of all n values
(Getis and Ord 1992, Ord and Getis 1995; the formula ArcGIS uses). It equals
``esda.G_Local(y, w, transform="B", star=True).Zs``; esda's default ``transform="R"`` is another
statistic (row-standardised weights) with different, smaller z.

Conditional permutation (Anselin 1995): for each cell, hold its own value and draw its k
neighbours' values at random, without replacement, from the other n - 1 cells. Gi*_i =
(x_i + S_i) / sum(x), where S_i is the neighbours' sum; x_i and sum(x) stay fixed under the
draw, so ranking simulated Gi* is ranking simulated S_i. The engine below therefore works on
neighbour sums, and the same p-values serve any statistic that is monotone in S_i for fixed x_i
(Local Moran's I, see ``pipelines.analysis.lisa``). docs/hotspot-statistics.md has the details.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse, special

from pipelines.analysis.classes import gi_bin
from pipelines.analysis.multiple_testing import adjust_p, check_alpha, check_method
from pipelines.analysis.request import DEFAULT_P_FOR_CLASSES, P_FOR_CLASSES
from pipelines.analysis.sparse_guard import cold_spot_observable
from pipelines.quoting import quoted

# Conditional permutation p with BH: the one rule whose false hot spots stay at or below alpha on
# nulls that look like real crime (the real counts shuffled, negative-binomial and Poisson
# counts); the analytic p (what ArcGIS's Gi_Bin uses), with or without the Poisson count gate,
# flags many cells on shuffled over-dispersed counts and is kept only as an opt-in.
# benchmarks/null_calibration.py measures all three; docs/hotspot-statistics.md has the table.
# A lone busy cell is not a cluster under this rule: pipelines.analysis.high_count answers that.
# (P_FOR_CLASSES and DEFAULT_P_FOR_CLASSES live with the request, pipelines.analysis.request.)
DEFAULT_PERMUTATIONS = 999
# Cells whose p rests on fewer simulations as extreme as observed get more permutations, up to
# this many in all (gistar, local_moran). With m cells, BH can only flag anything once the
# smallest attainable p, 2 / (permutations + 1), is below alpha * (flagged cells) / m.
DEFAULT_MAX_PERMUTATIONS = 999_999
MIN_EXTREME = 20

# Permutations simulated together; bounds memory at about _BATCH x (largest neighbourhood + 1)
# draws however many permutations are asked for.
_BATCH = 1024
# Beyond this many indices a batch of full shuffles is replaced by rejection sampling.
_SHUFFLE_ELEMENTS = 4_000_000
# Indices drawn at once by the block sampler (``_distinct_rows``): bounds its memory at a few MB.
_BLOCK_ELEMENTS = 1 << 19
# Up to this many cells' tails are counted by comparing every simulated sum with their bounds.
_FEW_BOUNDS = 16
# Rows up to this wide are checked for repeats pair by pair (28 comparisons at most).
_PAIRWISE_WIDTH = 8
# One bit per index, for finding repeated indices in regions of up to 64 cells.
_BITS = np.left_shift(np.uint64(1), np.arange(64, dtype=np.uint64))


@dataclass
class GiStarResult:
    z: np.ndarray  # analytic Gi* z-score per cell
    p_analytic: np.ndarray  # two-sided p from the standard normal
    p_permutation: np.ndarray | None  # two-sided conditional permutation p; None without
    p: np.ndarray  # the p that drives the classes (settings["p_for_classes"])
    p_adjusted: np.ndarray  # ``p`` after the multiple-testing correction
    classes: np.ndarray  # int8, -3..3 like ArcGIS Gi_Bin (3 = hot spot at 99 % confidence)
    cold_observable: np.ndarray  # bool: a cold spot could be observed in this neighbourhood
    settings: dict = field(default_factory=dict)
    # Two-sided Poisson p of the neighbourhood's crime count, corrected ("analytic-gated" only)
    p_count_adjusted: np.ndarray | None = None

    @property
    def significant(self) -> np.ndarray:
        """Cells flagged hot or cold at ``alpha`` after correction (cold rule applied)."""
        alpha = self.settings["alpha"]
        return (self.p_adjusted <= alpha) & (self.classes != 0)


# -- input checks ----------------------------------------------------------------------------


def check_values(values: np.ndarray) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"values must be a 1-D array, one value per cell; got shape {array.shape}")
    if len(array) == 0:
        raise ValueError("values is empty: a study needs at least one cell")
    if not (np.issubdtype(array.dtype, np.number) and not np.iscomplexobj(array)):
        raise ValueError(f"values must be numbers (crime counts or harm), got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError("values hold NaN or infinite entries; give every cell a value (0 if none)")
    return array


def check_weights(weights: sparse.spmatrix, n: int) -> sparse.csr_matrix:
    if not sparse.issparse(weights):
        raise ValueError("weights must be a scipy sparse matrix (see neighbours.kring_weights)")
    matrix = sparse.csr_matrix(weights, dtype=np.float64)
    if matrix.shape != (n, n):
        raise ValueError(
            f"weights are {matrix.shape[0]} x {matrix.shape[1]} but there are {n} values; "
            "build the weights from the same cells, in the same order"
        )
    matrix.eliminate_zeros()
    if matrix.nnz and (not np.isfinite(matrix.data).all() or matrix.data.min() < 0):
        raise ValueError("weights must be finite and non-negative")
    return matrix


def _binary_with_self(weights: sparse.spmatrix, n: int) -> sparse.csr_matrix:
    matrix = check_weights(weights, n)
    if not np.all(matrix.data == 1.0):
        raise ValueError("Gi* here uses binary weights (every weight 1); use kring_weights")
    if not np.all(matrix.diagonal() == 1.0):
        raise ValueError(
            "Gi* includes each cell in its own neighbourhood: the weights' diagonal must be 1 "
            "(kring_weights builds it so)"
        )
    return matrix


def check_permutations(permutations: int, allow_zero: bool = False) -> int:
    if isinstance(permutations, bool) or not isinstance(permutations, int | np.integer):
        raise ValueError(f"permutations must be an integer, got {quoted(permutations)}")
    least = 0 if allow_zero else 1
    if permutations < least:
        raise ValueError(f"permutations must be at least {least}, got {permutations}")
    return int(permutations)


def check_max_permutations(max_permutations: int, permutations: int) -> int:
    if isinstance(max_permutations, bool) or not isinstance(max_permutations, int | np.integer):
        raise ValueError(f"max_permutations must be an integer, got {quoted(max_permutations)}")
    # A ceiling below the first stage just means "no refinement".
    return max(int(max_permutations), permutations)


def _check_seed(seed: int | None) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise ValueError(f"seed must be an integer or None, got {quoted(seed)}")
    return seed


# -- analytic Gi* ----------------------------------------------------------------------------


def gistar_z(values: np.ndarray, weights: sparse.csr_matrix) -> np.ndarray:
    """Analytic Gi* z-score of every cell (binary weights, self included)."""
    x = check_values(values)
    n = len(x)
    matrix = _binary_with_self(weights, n)
    if n < 2:
        raise ValueError("Gi* needs at least two cells")
    return _z(x, matrix)


def _z(x: np.ndarray, matrix: sparse.csr_matrix) -> np.ndarray:
    n = len(x)
    mean = x.mean()
    sd = x.std()  # population s, as in Getis-Ord and ArcGIS
    if not sd > 0:
        raise ValueError("all values are equal, so Gi* is undefined (no variation to test)")
    lag = matrix @ x
    w_sum = np.diff(matrix.indptr).astype(np.float64)  # binary: the row sum is the count
    spread = sd * np.sqrt((n * w_sum - w_sum**2) / (n - 1))
    # A neighbourhood that is the whole study region has no variance and no evidence: z = 0.
    return np.divide(lag - mean * w_sum, spread, out=np.zeros(n), where=spread > 0)


# -- conditional permutation engine ----------------------------------------------------------


@dataclass
class PermutationTails:
    """Counts of simulated neighbour sums at least as high / as low as observed, per cell."""

    at_least: np.ndarray  # int64: simulated S >= observed S (ties count in both tails)
    at_most: np.ndarray  # int64: simulated S <= observed S
    permutations: np.ndarray  # int64: permutations each cell's counts are out of

    @property
    def p_greater(self) -> np.ndarray:
        return (self.at_least + 1.0) / (self.permutations + 1.0)

    @property
    def p_lesser(self) -> np.ndarray:
        return (self.at_most + 1.0) / (self.permutations + 1.0)

    @property
    def p_two_sided(self) -> np.ndarray:
        """Twice the smaller one-sided p, capped at 1."""
        return np.minimum(1.0, 2.0 * np.minimum(self.p_greater, self.p_lesser))

    @property
    def direction(self) -> np.ndarray:
        """+1 where the neighbours' sum is in the high tail, -1 in the low tail, 0 if neither."""
        return np.sign(self.at_most - self.at_least).astype(np.int8)


def _sample_without_replacement(
    rng: np.random.Generator, n: int, rows: int, size: int
) -> np.ndarray:
    """``rows`` independent ordered samples of ``size`` distinct indices from range(n)."""
    if size * size <= 2 * n:
        # Draw with replacement and redraw the rows that repeat an index: conditioned on no
        # repeats, an ordered draw with replacement is an ordered draw without replacement.
        # Only the rows just redrawn are checked again: the others already hold distinct indices,
        # so the rows redrawn, and the random numbers drawn, are the same as checking them all.
        draws = rng.integers(0, n, size=(rows, size))
        bad = _rows_with_repeats(draws, n)
        while len(bad):
            redrawn = rng.integers(0, n, size=(len(bad), size))
            draws[bad] = redrawn
            bad = bad[_rows_with_repeats(redrawn, n)]
        return draws
    # Few cells or large neighbourhoods: shuffle every row in full (chunked to bound memory).
    out = np.empty((rows, size), dtype=np.int64)
    chunk = max(1, _SHUFFLE_ELEMENTS // n)
    for start in range(0, rows, chunk):
        stop = min(rows, start + chunk)
        block = np.tile(np.arange(n, dtype=np.int64), (stop - start, 1))
        out[start:stop] = rng.permuted(block, axis=1)[:, :size]
    return out


def _draws(rng: np.random.Generator, n: int, rows: int, size: int) -> Iterator[np.ndarray]:
    """``rows`` ordered samples of ``size`` distinct indices from range(n), in blocks: the same
    samples, in another order, as ``_sample_without_replacement`` drawing ``_BATCH`` rows at a
    time, and the generator left in the same state. The counts of ``_Simulation`` are sums over
    samples, so they are the same too (``tests/test_permutation_sampler_pinned.py``)."""
    if size * size <= 2 * n:
        yield from _distinct_rows(rng, n, rows, size)
        return
    for start in range(0, rows, _BATCH):
        yield _sample_without_replacement(rng, n, min(_BATCH, rows - start), size)


def _distinct_rows(rng: np.random.Generator, n: int, rows: int, size: int) -> Iterator[np.ndarray]:
    """The rejection sampler of ``_sample_without_replacement``, many batches at once.

    A batch there takes rows from the generator's stream of ``size``-index rows and redraws each
    one that repeats an index, in rounds, until it holds ``rows`` distinct ones; its last
    round's rows are all distinct. So a batch ends at the ``rows``-th distinct row of the stream
    after its start, and keeps exactly the distinct rows of the stream it read; batch after
    batch, a run of ``rows`` samples keeps the first ``rows`` distinct rows of the stream. The
    generator draws integers from one continuous stream however the calls are split, so this
    draws the stream in large blocks and keeps the distinct rows (a few Python steps per block
    instead of several per batch of 1,024 and per redraw round). A block that reaches past the
    last row needed is drawn again up to that row, from the state saved before it, so the
    generator ends where the batches would have left it.
    """
    # The chance that a row of ``size`` indices holds no index twice.
    distinct = float(np.prod(1.0 - np.arange(size) / n))
    block_rows = max(_BATCH, _BLOCK_ELEMENTS // size)
    needed = rows
    while needed > 0:
        # Enough rows for what is still needed, as expected (slightly fewer, so most blocks are
        # used whole; a short block is followed by a small one).
        drawn = min(block_rows, int(needed / distinct) + 1)
        state = rng.bit_generator.state
        block = rng.integers(0, n, size=(drawn, size))
        keep = np.ones(drawn, dtype=bool)
        keep[_rows_with_repeats(block, n)] = False
        kept = np.flatnonzero(keep)
        if len(kept) >= needed:
            kept = kept[:needed]
            used = int(kept[-1]) + 1
            if used < drawn:
                rng.bit_generator.state = state
                block = rng.integers(0, n, size=(used, size))  # the same rows, up to the last
        yield block[kept]
        needed -= len(kept)


def _rows_with_repeats(draws: np.ndarray, n: int) -> np.ndarray:
    """Indices of the rows of ``draws`` (indices of range(n)) that hold some index twice."""
    size = draws.shape[1]
    if size <= _PAIRWISE_WIDTH and n <= np.iinfo(np.int32).max:
        # Narrow rows (k = 1): compare every pair of columns, as narrow integer columns in a
        # row (about twice as fast as sorting each row, or as the bit mask).
        columns = draws.T.astype(np.int16 if n <= np.iinfo(np.int16).max else np.int32)
        repeated = np.zeros(len(draws), dtype=bool)
        for first in range(size - 1):
            for second in range(first + 1, size):
                repeated |= columns[first] == columns[second]
        return np.flatnonzero(repeated)
    if n <= len(_BITS):
        # Small regions: a row is distinct when its indices set as many bits as it has entries
        # (about twice as fast as sorting the rows).
        bits = np.bitwise_or.reduce(_BITS[draws], axis=1)
        return np.flatnonzero(np.bitwise_count(bits) != draws.shape[1])
    ordered = np.sort(draws, axis=1)
    return np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))


class _Simulation:
    """Conditional permutation of every cell's neighbour sum S_i, counted batch by batch.

    Each permutation is an ordered draw of m = (largest neighbourhood + 1) distinct cells. A cell
    with k neighbours takes the first k cells of the draw, skipping itself (taking cell k + 1
    instead): the first k cells of a random order with cell i deleted are a uniform random
    k-subset of the other n - 1 cells, so this is exact conditional randomisation. Cells with the
    same k share the draw, as in esda: their simulated sums differ only where the cell itself was
    drawn, which is fixed up entry by entry. Counting against the sorted shared sums costs
    O(n log B) per batch of B permutations instead of esda's O(n k B).
    """

    def __init__(self, x: np.ndarray, neighbours: sparse.csr_matrix, seed: int | None) -> None:
        adjacency = sparse.csr_matrix(neighbours, copy=True)
        adjacency.setdiag(0)
        adjacency.eliminate_zeros()
        adjacency.data[:] = 1.0
        self.x = x
        self.n = len(x)
        self.cardinality = np.diff(adjacency.indptr)
        self.observed = adjacency @ x
        self.largest = int(self.cardinality.max())
        # Sums of one set of floats in different orders can differ in the last bits: values
        # this close count as ties, i.e. in both tails (the conservative side).
        self.tolerance = 1e-9 * float(np.abs(x).max()) * max(self.largest, 1)
        self.rng = np.random.default_rng(seed)
        self.at_least = np.zeros(self.n, dtype=np.int64)
        self.at_most = np.zeros(self.n, dtype=np.int64)
        self.done = np.zeros(self.n, dtype=np.int64)

    def run(self, permutations: int, active: np.ndarray) -> None:
        """Add ``permutations`` more simulations to the counts of the ``active`` cells."""
        self.done[active] += permutations
        # Cells without neighbours: every simulated sum equals the observed one.
        isolated = active & (self.cardinality == 0)
        self.at_least[isolated] += permutations
        self.at_most[isolated] += permutations
        target = np.where(active, self.cardinality, -1)
        groups = [(int(k), np.flatnonzero(target == k)) for k in np.unique(target[target > 0])]
        if not groups:
            return
        x, tolerance = self.x, self.tolerance
        bounds = [
            (k, members, self.observed[members] - tolerance, self.observed[members] + tolerance)
            for k, members in groups
        ]
        deepest = groups[-1][0]  # the largest neighbourhood among the active cells
        # Each cell's group as narrow integers: looked up for millions of draws when refining.
        narrow = np.int16 if self.largest < np.iinfo(np.int16).max else np.int64
        group_of_cell = target.astype(narrow)
        for draws in _draws(self.rng, self.n, permutations, self.largest + 1):
            # Only the draws the active cells read: their first k, and draw k + 1 for a cell
            # that drew itself.
            drawn = np.take(x, draws[:, : deepest + 1])
            # Draws of an active cell (its group's k; -1 for the others), found once for all
            # groups: the entries a group corrects are those of its own cells among its first k.
            group_of = np.take(group_of_cell, draws[:, :deepest])
            hit_rows, hit_cols = np.nonzero(group_of > 0)
            hit_group = group_of[hit_rows, hit_cols]
            # The running sum of the draws, column by column: the same additions, in the same
            # order, as a cumulative sum along each draw.
            shared, summed = drawn[:, 0], 1
            for k, members, low, high in bounds:
                while summed < k:
                    shared = shared + drawn[:, summed]
                    summed += 1
                at_least, at_most = _tail_counts(shared, low, high)
                self.at_least[members] += at_least
                self.at_most[members] += at_most

                # Active cells of this group drawn among the first k: their own simulated sum
                # swaps themselves for draw k + 1.
                mine = (hit_group == k) & (hit_cols < k)
                if not mine.any():
                    continue
                rows, columns = hit_rows[mine], hit_cols[mine]
                cells = draws[rows, columns]
                wrong = shared[rows]
                right = wrong - x[cells] + drawn[rows, k]
                low_cell = self.observed[cells] - tolerance
                high_cell = self.observed[cells] + tolerance
                np.add.at(
                    self.at_least, cells, (right >= low_cell).astype(np.int64) - (wrong >= low_cell)
                )
                np.add.at(
                    self.at_most,
                    cells,
                    (right <= high_cell).astype(np.int64) - (wrong <= high_cell),
                )

    def tails(self) -> PermutationTails:
        return PermutationTails(self.at_least.copy(), self.at_most.copy(), self.done.copy())


def _tail_counts(
    simulated: np.ndarray, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: how many ``simulated`` sums are >= its ``low`` and <= its ``high``.

    Many cells: the sums are sorted and each cell's bounds found in them. Fewer cells than sums
    (refining the cells near their p's floor): each sum is placed among the cells' sorted bounds
    instead, O(sums x log cells), and the places counted; a handful of cells: each bound
    compared with every sum. All count the same comparisons exactly."""
    count = len(simulated)
    if len(low) <= _FEW_BOUNDS:
        at_least = [np.count_nonzero(simulated >= bound) for bound in low.tolist()]
        at_most = [np.count_nonzero(simulated <= bound) for bound in high.tolist()]
        return np.array(at_least, dtype=np.int64), np.array(at_most, dtype=np.int64)
    if len(low) >= count:
        ordered = np.sort(simulated)
        at_least = count - np.searchsorted(ordered, low, side="left")
        return at_least, np.searchsorted(ordered, high, side="right")
    # A sum s is >= the r-th smallest low exactly when at least r + 1 lows are <= s.
    order = np.argsort(low, kind="stable")
    below = np.searchsorted(low[order], simulated, side="right")
    at_least = np.empty(len(low), dtype=np.int64)
    at_least[order] = count - np.cumsum(np.bincount(below, minlength=len(low) + 1))[:-1]
    # A sum s is <= the r-th smallest high exactly when at most r highs are < s.
    order = np.argsort(high, kind="stable")
    under = np.searchsorted(high[order], simulated, side="left")
    at_most = np.empty(len(high), dtype=np.int64)
    at_most[order] = np.cumsum(np.bincount(under, minlength=len(high) + 1))[:-1]
    return at_least, at_most


def permutation_tails(
    values: np.ndarray,
    neighbours: sparse.csr_matrix,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int | None = 0,
    max_permutations: int | None = None,
    min_extreme: int = MIN_EXTREME,
) -> PermutationTails:
    """Conditional permutation tails of every cell's neighbour sum (the diagonal of
    ``neighbours`` is ignored; off-diagonal entries mark the neighbours, whatever their weight).

    With ``max_permutations`` above ``permutations``, cells with fewer than ``min_extreme``
    simulations as extreme as observed get ten times more permutations (pooled with the ones
    they had), again and again up to ``max_permutations``: only cells whose p sits near its
    floor of 2 / (permutations + 1) are refined. Each stage either keeps a cell's p or replaces
    it with an estimate from more permutations, and refines exactly the cells whose p is below
    a fixed threshold, so every p stays a valid p-value (docs/hotspot-statistics.md).
    """
    x = np.asarray(values, dtype=np.float64)
    simulation = _Simulation(x, neighbours, seed)
    simulation.run(permutations, np.ones(len(x), dtype=bool))
    total = permutations
    ceiling = permutations if max_permutations is None else max_permutations
    while total < ceiling:
        extreme = np.minimum(simulation.at_least, simulation.at_most)
        active = extreme < min_extreme
        if not active.any():
            break
        step = min(ceiling, (total + 1) * 10 - 1) - total
        simulation.run(step, active)
        total += step
    return simulation.tails()


def gistar_p_permutation(
    values: np.ndarray,
    weights: sparse.csr_matrix,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int | None = 0,
) -> np.ndarray:
    """Two-sided conditional permutation p of Gi*: (extreme + 1) / (permutations + 1), doubled
    from the smaller tail and capped at 1. Same seed, same p."""
    return _gistar_tails(values, weights, permutations, seed).p_two_sided


def _gistar_tails(
    values: np.ndarray, weights: sparse.csr_matrix, permutations: int, seed: int | None
) -> PermutationTails:
    x = check_values(values)
    matrix = _binary_with_self(weights, len(x))
    permutations = check_permutations(permutations)
    seed = _check_seed(seed)
    if len(x) < 2:
        raise ValueError("Gi* needs at least two cells")
    return permutation_tails(x, matrix, permutations, seed)


# -- the whole analysis ----------------------------------------------------------------------


def gistar(
    values: np.ndarray,
    weights: sparse.csr_matrix,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int | None = 0,
    alpha: float = 0.05,
    correction: str = "fdr_bh",
    p_for_classes: str = DEFAULT_P_FOR_CLASSES,
    counts: np.ndarray | None = None,
    max_permutations: int = DEFAULT_MAX_PERMUTATIONS,
) -> GiStarResult:
    """Gi* z, p-values, corrected p-values and Gi_Bin classes for every cell.

    ``permutations`` are run for every cell; cells whose p is near its floor get more, up to
    ``max_permutations`` (pass ``max_permutations=permutations`` for a fixed count).
    ``counts``: crimes per cell, used to judge where a cold spot is observable; defaults to
    ``values`` (pass it when ``values`` are harm-weighted rather than counts).
    """
    x = check_values(values)
    n = len(x)
    matrix = _binary_with_self(weights, n)
    permutations = check_permutations(permutations, allow_zero=True)
    max_permutations = check_max_permutations(max_permutations, permutations)
    seed = _check_seed(seed)
    alpha = check_alpha(alpha)
    check_method(correction)
    if p_for_classes not in P_FOR_CLASSES:
        raise ValueError(
            f"p_for_classes must be one of {', '.join(P_FOR_CLASSES)}, got {quoted(p_for_classes)}"
        )
    if p_for_classes == "permutation" and permutations == 0:
        raise ValueError(
            "p_for_classes='permutation' needs permutations >= 1; "
            "pass p_for_classes='analytic' for a z-only run"
        )
    if n < 2:
        raise ValueError("Gi* needs at least two cells")
    crime_counts = x if counts is None else check_values(counts)
    if len(crime_counts) != n:
        raise ValueError(f"counts has {len(crime_counts)} entries but there are {n} values")

    z = _z(x, matrix)
    p_analytic = 2.0 * normal_upper_tail(np.abs(z))
    tails = (
        permutation_tails(x, matrix, permutations, seed, max_permutations) if permutations else None
    )
    if p_for_classes == "permutation":
        p, direction = tails.p_two_sided, tails.direction
    else:
        p, direction = p_analytic, np.sign(z).astype(np.int8)
    p_adjusted = adjust_p(p, correction)
    expected = np.diff(matrix.indptr) * crime_counts.mean()
    observable = cold_spot_observable(expected, alpha=alpha)
    classes = gi_bin(direction, p_adjusted, observable)
    p_count_adjusted = None
    if p_for_classes == "analytic-gated":
        p_count_adjusted = adjust_p(count_support_p(matrix, crime_counts, direction), correction)
        gate = gi_bin(direction, p_count_adjusted, observable)
        # A class holds at the lower of the two confidence levels: z and count must both agree.
        classes = (np.sign(classes) * np.minimum(np.abs(classes), np.abs(gate))).astype(np.int8)
    settings = {
        "statistic": "Getis-Ord Gi*",
        "weights": "binary, self included",
        "cells": n,
        "neighbourhood_sizes": sorted({int(s) for s in np.diff(matrix.indptr)}),
        "permutations": permutations,
        "max_permutations": max_permutations if permutations else 0,
        "cells_refined": int(np.sum(tails.permutations > permutations)) if tails else 0,
        "smallest_attainable_p": 2.0 / (max_permutations + 1) if permutations else None,
        "seed": seed,
        "alternative": "two-sided",
        "alpha": alpha,
        "correction": correction,
        "p_for_classes": p_for_classes,
        "count_gate": (
            "neighbourhood crime count two-sided Poisson p at the region's mean rate, "
            f"{correction}-corrected, must reach the class's confidence too"
            if p_for_classes == "analytic-gated"
            else None
        ),
        "class_confidence": {"3": 0.99, "2": 0.95, "1": 0.90},
        "cold_spot_rule": f"expected neighbourhood count >= {-np.log(alpha / 2):.2f}",
        "cold_spots_suppressed": int(np.sum(~observable & (direction < 0) & (p_adjusted <= 0.10))),
    }
    return GiStarResult(
        z=z,
        p_analytic=p_analytic,
        p_permutation=tails.p_two_sided if tails is not None else None,
        p=p,
        p_adjusted=p_adjusted,
        classes=classes,
        cold_observable=observable,
        settings=settings,
        p_count_adjusted=p_count_adjusted,
    )


def count_support_p(
    matrix: sparse.csr_matrix, counts: np.ndarray, direction: np.ndarray
) -> np.ndarray:
    """Two-sided Poisson p of each neighbourhood's crime count, in the direction of its z.

    Null: crime spread evenly at the region's mean rate per cell, so a neighbourhood of m cells
    holds Poisson(m x mean) crimes. Real crime is over-dispersed, so this null is lenient for real
    clusters; it only stops counts that even chance would produce (pure noise) from being classed.
    """
    from scipy import stats  # only the opt-in analytic-gated rule needs it (0.4-0.8 s import)

    observed = np.rint(matrix @ np.asarray(counts, dtype=np.float64))
    expected = np.diff(matrix.indptr) * float(np.mean(counts))
    upper = stats.poisson.sf(observed - 1, expected)  # P(X >= observed)
    lower = stats.poisson.cdf(observed, expected)  # P(X <= observed)
    one_sided = np.where(np.asarray(direction) >= 0, upper, lower)
    return np.minimum(1.0, 2.0 * one_sided)


def normal_upper_tail(z: np.ndarray) -> np.ndarray:
    """P(Z >= z) for the standard normal: ``scipy.stats.norm.sf`` computes exactly
    ``special.ndtr(-z)``; calling it directly keeps scipy.stats (0.4-0.8 s to import) out of
    every study."""
    return special.ndtr(-np.asarray(z, dtype=np.float64))
