"""The high-count fit's bounded minimiser is SciPy's, step for step: the same minimum, value and
number of evaluations as ``scipy.optimize.minimize_scalar(method="bounded")``, bit for bit, on
the negative-binomial likelihood of real and generated crime counts and on awkward functions."""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable
from pathlib import Path

import h3
import numpy as np
import orjson
import pytest
from scipy import optimize

from pipelines.analysis import high_count
from pipelines.analysis.bounded_minimum import minimize_bounded
from pipelines.analysis.high_count import fit_negative_binomial, profile_negative_log_likelihood
from tests.fresh_process import modules_loaded

BOUNDS = high_count.SHAPE_SEARCH


def _scipy_fit(counts: np.ndarray) -> float:
    """The shape r the fit found before it stopped importing scipy.optimize (its old call)."""
    best = optimize.minimize_scalar(
        profile_negative_log_likelihood(counts),
        bounds=BOUNDS,
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(best.x))


def _assert_same_as_scipy(fun: Callable[[float], float], bounds: tuple, xatol: float) -> None:
    ours = minimize_bounded(fun, bounds, xatol=xatol)
    theirs = optimize.minimize_scalar(
        fun, bounds=bounds, method="bounded", options={"xatol": xatol}
    )
    # assert_equal counts NaN equal to NaN (a function that turns NaN ends both the same way).
    np.testing.assert_equal(
        (ours.x, ours.fun, ours.evaluations, ours.converged),
        (float(theirs.x), float(theirs.fun), theirs.nfev, theirs.success),
    )


def _met_counts(shared_data: Path, month: str, resolution: int) -> np.ndarray:
    path = shared_data / "police_uk/api/metropolitan" / f"{month}.json.gz"
    if not path.is_file():
        pytest.skip(f"real Met crimes not found at {path}")
    crimes = orjson.loads(gzip.decompress(path.read_bytes()))
    cells = [
        h3.latlng_to_cell(
            float(c["location"]["latitude"]), float(c["location"]["longitude"]), resolution
        )
        for c in crimes
    ]
    _, counts = np.unique(cells, return_counts=True)
    # The region's cells without crime count too (zeros included in the fit): as many again.
    return np.concatenate([counts, np.zeros(len(counts), dtype=np.int64)]).astype(np.float64)


@pytest.mark.parametrize(("month", "resolution"), [("2017-01", 9), ("2017-06", 10), ("2017-12", 8)])
def test_fitted_shape_on_real_met_counts_equals_scipy(
    shared_data: Path, month: str, resolution: int
) -> None:
    counts = _met_counts(shared_data, month, resolution)
    _, shape = fit_negative_binomial(counts)
    assert np.isfinite(shape)  # real crime is over-dispersed: the optimiser ran
    assert shape == _scipy_fit(counts)


@pytest.mark.parametrize("seed", range(12))
def test_fitted_shape_on_generated_counts_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = [0.05, 0.4, 2.0, 30.0][seed % 4]
    cells = [40, 300, 5_000][seed % 3]
    counts = rng.negative_binomial(shape, shape / (shape + 3.0), cells).astype(np.float64)
    counts[rng.integers(0, cells)] += 500  # one very busy street
    _, fitted_shape = fit_negative_binomial(counts)
    assert np.isfinite(fitted_shape)
    assert fitted_shape == _scipy_fit(counts)


@pytest.mark.parametrize(
    ("fun", "bounds", "xatol"),
    [
        (lambda x: (x - 2.0) ** 2, (-10.0, 10.0), 1e-5),  # parabolic steps from the start
        (lambda x: abs(x - 0.3), (0.0, 1.0), 1e-8),  # a kink: golden-section steps
        (lambda x: math.cos(x), (0.0, 20.0), 1e-6),  # several minima
        (lambda x: -x, (0.0, 1.0), 1e-6),  # minimum on the bound
        (lambda x: 1.0, (-1.0, 1.0), 1e-6),  # flat
        (lambda x: float("nan") if x > 0.5 else x * x, (0.0, 2.0), 1e-6),  # NaN: not converged
    ],
)
def test_minimum_of_awkward_functions_equals_scipy(
    fun: Callable[[float], float], bounds: tuple, xatol: float
) -> None:
    _assert_same_as_scipy(fun, bounds, xatol)


def test_evaluation_limit_is_reported_as_not_converged() -> None:
    ours = minimize_bounded(lambda x: math.sin(50 * x), (0.0, 10.0), xatol=1e-12, max_evaluations=5)
    assert ours.evaluations == 5
    assert not ours.converged


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        minimize_bounded(lambda x: x, (0.0, float("inf")))
    with pytest.raises(ValueError, match="lower bound"):
        minimize_bounded(lambda x: x, (1.0, 0.0))


def test_a_study_in_a_new_process_does_not_import_scipy_optimize() -> None:
    code = (
        "import numpy as np\n"
        "from pipelines.analysis.high_count import high_count_places\n"
        "high_count_places(np.array([0, 0, 1, 2, 40, 3, 0, 9, 0, 1], dtype=float))\n"
    )
    loaded, _ = modules_loaded(code, ["scipy.optimize"])
    assert loaded == []
