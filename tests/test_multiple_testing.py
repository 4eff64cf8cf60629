"""Adjusted p-values equal scipy's, bit for bit, without importing scipy.stats on the study path."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pipelines.analysis.multiple_testing import adjust_p
from tests.fresh_process import modules_loaded


@pytest.mark.parametrize("method", ["fdr_bh", "fdr_by"])
def test_false_discovery_rate_equals_scipy_exactly(method: str) -> None:
    rng = np.random.default_rng(12)
    # Permutation-like p (many ties on the 1/1000 grid), a few tiny ones, and a 1.
    p = np.concatenate(
        [rng.integers(1, 1001, 5_000) / 1000, rng.uniform(0, 1e-4, 20), [1.0, 1.0, 0.0]]
    )
    rng.shuffle(p)
    expected = stats.false_discovery_control(p, method=method[-2:])
    np.testing.assert_array_equal(adjust_p(p, method), expected)


def test_false_discovery_rate_of_one_test_is_its_p() -> None:
    assert adjust_p(np.array([0.03]), "fdr_bh").tolist() == [0.03]
    assert stats.false_discovery_control([0.03]).tolist() == [0.03]


def test_study_modules_do_not_import_scipy_stats() -> None:
    """A study pays 0.4-0.8 s for importing scipy.stats; its default path must not need it."""
    code = "import pipelines.analysis.study, pipelines.analysis.output"
    loaded, _ = modules_loaded(code, ["scipy.stats"])
    assert loaded == []
