"""Emerging hot spots: Mann-Kendall, the ArcGIS pattern rules (a property test each), the driver."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import h3
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from pipelines.analysis.emerging import (
    CONSECUTIVE,
    DIMINISHING,
    HISTORICAL,
    INTENSIFYING,
    MIN_PERIODS,
    NEW,
    NO_PATTERN,
    OSCILLATING,
    PATTERNS,
    PERSISTENT,
    SPORADIC,
    classify_emerging,
    classify_emerging_codes,
    emerging_hotspots,
    mann_kendall,
    mann_kendall_s,
    months_to_quarters,
)
from pipelines.analysis.neighbours import kring_weights

ALPHA = 0.05
SIGNS = [1, -1]

# -- Mann-Kendall ----------------------------------------------------------------------------


def _reference_mk(x: list[float]) -> tuple[float, float, float, float]:
    """Textbook Mann-Kendall, one series, loops: (S, Var S, tau-b, z with continuity)."""
    n = len(x)
    s = sum(np.sign(x[j] - x[i]) for i in range(n) for j in range(i + 1, n))
    groups = Counter(x).values()
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in groups)) / 18
    n0 = n * (n - 1) / 2
    n2 = sum(t * (t - 1) / 2 for t in groups)
    tau = s / np.sqrt(n0 * (n0 - n2)) if n0 > n2 else 0.0
    z = (s - np.sign(s)) / np.sqrt(var) if var > 0 else 0.0
    return float(s), float(var), float(tau), float(z)


def test_mann_kendall_matches_scipy_kendalltau_without_ties() -> None:
    rng = np.random.default_rng(7)
    series = rng.normal(size=(15, 40)) + np.linspace(0, 1.5, 15)[:, None] * rng.normal(size=40)
    result = mann_kendall(series, continuity=False)
    time = np.arange(15)
    for cell in range(40):
        expected = stats.kendalltau(time, series[:, cell], method="asymptotic")
        assert result.tau[cell] == pytest.approx(expected.statistic, abs=1e-12)
        assert result.p[cell] == pytest.approx(expected.pvalue, rel=1e-9)


def test_mann_kendall_with_ties_matches_a_direct_reference_and_scipy() -> None:
    rng = np.random.default_rng(11)
    series = rng.integers(0, 4, size=(12, 30)).astype(float)  # many ties
    result = mann_kendall(series)
    plain = mann_kendall(series, continuity=False)
    s, var, _ = mann_kendall_s(series)
    time = np.arange(12)
    for cell in range(30):
        ref_s, ref_var, ref_tau, ref_z = _reference_mk(series[:, cell].tolist())
        assert s[cell] == ref_s and var[cell] == pytest.approx(ref_var)
        assert result.tau[cell] == pytest.approx(ref_tau, abs=1e-12)
        assert result.z[cell] == pytest.approx(ref_z, abs=1e-12)
        assert result.p[cell] == pytest.approx(2 * stats.norm.sf(abs(ref_z)), abs=1e-12)
        if np.ptp(series[:, cell]) > 0:
            expected = stats.kendalltau(time, series[:, cell], method="asymptotic")
            assert plain.p[cell] == pytest.approx(expected.pvalue, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=3, max_size=25))
def test_mann_kendall_any_integer_series_matches_reference(values: list[int]) -> None:
    result = mann_kendall(np.array(values, dtype=float))
    _, _, ref_tau, ref_z = _reference_mk([float(v) for v in values])
    assert float(result.tau) == pytest.approx(ref_tau, abs=1e-12)
    assert float(result.z) == pytest.approx(ref_z, abs=1e-12)


def test_mann_kendall_rising_series_by_hand() -> None:
    # n = 10 strictly rising: S = 45, Var S = 10*9*25/18 = 125, z = 44 / sqrt(125).
    result = mann_kendall(np.arange(10.0))
    assert float(result.tau) == 1.0
    assert float(result.z) == pytest.approx(44 / np.sqrt(125))
    assert float(mann_kendall(np.arange(10.0)[::-1]).z) == pytest.approx(-44 / np.sqrt(125))


def test_mann_kendall_constant_series_has_no_trend() -> None:
    result = mann_kendall(np.full((12, 3), 4.0))
    assert (result.tau == 0).all() and (result.z == 0).all() and (result.p == 1).all()


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (np.array([[1.0, np.nan]] * 5), "NaN"),
        (np.zeros((2, 3)), "at least 3 periods"),
        (np.zeros((4, 3, 2)), "2-D"),
        (np.array([["a", "b"]] * 4), "numbers"),
        (np.zeros((5, 0)), "no cells"),
    ],
)
def test_mann_kendall_rejects_bad_input(series: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mann_kendall(series)


# -- the pattern rules -------------------------------------------------------------------------
# A plain, one-cell restatement of docs/emerging-hotspots.md, checked against the vectorised
# classifier on arbitrary sequences; then one property test per rule on sequences built to meet
# (or break) that rule's definition.


def _reference_code(bins: list[int], trend_z: float, trend_p: float, alpha: float) -> int:
    n, final = len(bins), bins[-1]
    for sign in SIGNS:
        count = bins.count(sign)
        opposite = bins.count(-sign)
        run = 0
        for b in reversed(bins):
            if b != sign:
                break
            run += 1
        mostly = Fraction(count, n) >= Fraction(9, 10)
        stronger = trend_p <= alpha and trend_z * sign > 0
        weaker = trend_p <= alpha and trend_z * sign < 0
        if final == sign:
            if mostly:
                kind = INTENSIFYING if stronger else DIMINISHING if weaker else PERSISTENT
            elif opposite:
                kind = OSCILLATING
            elif count == 1:
                kind = NEW
            elif count == run:
                kind = CONSECUTIVE
            else:
                kind = SPORADIC
            return sign * kind
        if final == 0 and mostly:
            return sign * HISTORICAL
    return 0


def _classify_one(bins: list[int], trend_z: float, trend_p: float) -> str:
    column = np.array(bins, dtype=np.int8)[:, None]
    return str(classify_emerging(column, np.array([trend_z]), np.array([trend_p]), ALPHA)[0])


def _name(sign: int, kind: int) -> str:
    return PATTERNS[sign * kind]


lengths = st.integers(MIN_PERIODS, 30)
trend_z = st.floats(-6, 6, allow_nan=False)
trend_p = st.floats(0, 1, allow_nan=False)
sig_p = st.floats(0, ALPHA)
nonsig_p = st.floats(ALPHA, 1, exclude_min=True)


@st.composite
def mostly_spot(draw: st.DrawFn, final_spot: bool) -> list[int]:
    """A sequence of hot bins (1) in at least 90 % of periods; the final one hot or not."""
    n = draw(lengths)
    others = n // 10  # most non-hot periods that keep hot >= 90 %
    positions = draw(
        st.sets(st.integers(0, n - 2), max_size=others - (0 if final_spot else 1))
        if others - (0 if final_spot else 1) > 0
        else st.just(set())
    )
    bins = [1] * n
    for index in positions:
        bins[index] = draw(st.sampled_from([0, -1]))
    if not final_spot:
        bins[-1] = 0
    return bins


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from([-1, 0, 1]), min_size=MIN_PERIODS, max_size=30), trend_z, trend_p)
def test_classifier_agrees_with_the_written_rules(bins: list[int], tz: float, tp: float) -> None:
    expected = _reference_code(bins, tz, tp, ALPHA)
    assert _classify_one(bins, tz, tp) == PATTERNS[expected]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from([-1, 0, 1]), min_size=12, max_size=12), min_size=1, max_size=25
    ),
    st.data(),
)
def test_classifier_treats_cells_independently(columns: list[list[int]], data: st.DataObject):
    bins = np.array(columns, dtype=np.int8).T
    tz = np.array([data.draw(trend_z) for _ in columns])
    tp = np.array([data.draw(trend_p) for _ in columns])
    codes = classify_emerging_codes(bins, tz, tp, ALPHA)
    for cell in range(len(columns)):
        assert codes[cell] == _reference_code(columns[cell], tz[cell], tp[cell], ALPHA)


@pytest.mark.parametrize("sign", SIGNS)
@settings(max_examples=30, deadline=None)
@given(n=lengths, tz=trend_z, tp=trend_p, prefix_hot=st.integers(0, 28))
def test_new(sign: int, n: int, tz: float, tp: float, prefix_hot: int) -> None:
    # New: significant in the final period and never before.
    bins = [0] * (n - 1) + [1]
    assert _classify_one([sign * b for b in bins], sign * tz, tp) == _name(sign, NEW)
    # Violation: significant (same direction) in some earlier period.
    bins[prefix_hot % (n - 1)] = 1
    assert _classify_one([sign * b for b in bins], sign * tz, tp) != _name(sign, NEW)


@pytest.mark.parametrize("sign", SIGNS)
@settings(max_examples=40, deadline=None)
@given(n=lengths, run=st.integers(2, 30), tz=trend_z, tp=trend_p, gap=st.integers(0, 30))
def test_consecutive(sign: int, n: int, run: int, tz: float, tp: float, gap: int) -> None:
    # Consecutive: one uninterrupted final run of >= 2, nothing before it, < 90 % of periods.
    assume(10 * run < 9 * n)
    bins = [0] * (n - run) + [1] * run
    assert _classify_one([sign * b for b in bins], sign * tz, tp) == _name(sign, CONSECUTIVE)
    # Violation: an earlier spot separated from the final run makes it sporadic.
    earlier = gap % (n - run - 1)
    broken = bins.copy()
    broken[earlier] = 1
    assert _classify_one([sign * b for b in broken], sign * tz, tp) != _name(sign, CONSECUTIVE)
    # Violation: a run of >= 90 % of periods is persistent / intensifying / diminishing instead.
    long_run = [0] * (n - (9 * n + 9) // 10) + [1] * ((9 * n + 9) // 10)
    assert _classify_one([sign * b for b in long_run], sign * tz, tp) != _name(sign, CONSECUTIVE)


@pytest.mark.parametrize("sign", SIGNS)
@settings(max_examples=40, deadline=None)
@given(bins=mostly_spot(final_spot=True), tz=st.floats(0.01, 6), tp=sig_p)
def test_intensifying(sign: int, bins: list[int], tz: float, tp: float) -> None:
    # Intensifying: >= 90 % incl. the final period, and |Gi* z| rising significantly.
    signed = [sign * b for b in bins]
    assert _classify_one(signed, sign * tz, tp) == _name(sign, INTENSIFYING)
    # Violations: a trend that is not significant, or the final period not significant.
    assert _classify_one(signed, sign * tz, min(1.0, ALPHA + 0.01)) != _name(sign, INTENSIFYING)
    assert _classify_one([*signed[:-1], 0], sign * tz, tp) != _name(sign, INTENSIFYING)


@pytest.mark.parametrize("sign", SIGNS)
@settings(max_examples=40, deadline=None)
@given(bins=mostly_spot(final_spot=True), tz=trend_z, tp=nonsig_p)
def test_persistent(sign: int, bins: list[int], tz: float, tp: float) -> None:
    # Persistent: >= 90 % of periods (the final included) and no significant trend.
    signed = [sign * b for b in bins]
    assert _classify_one(signed, sign * tz, tp) == _name(sign, PERSISTENT)
    # Violation: a significant trend either way.
    assert _classify_one(signed, 2.5, ALPHA / 2) != _name(sign, PERSISTENT)
    assert _classify_one(signed, -2.5, ALPHA / 2) != _name(sign, PERSISTENT)


@pytest.mark.parametrize("sign", SIGNS)
@settings(max_examples=40, deadline=None)
@given(bins=mostly_spot(final_spot=True), tz=st.floats(-6, -0.01), tp=sig_p)
def test_diminishing(sign: int, bins: list[int], tz: float, tp: float) -> None:
    # Diminishing: >= 90 % incl. the final period, and |Gi* z| falling significantly.
    signed = [sign * b for b in bins]
    assert _classify_one(signed, sign * tz, tp) == _name(sign, DIMINISHING)
    assert _classify_one(signed, -sign * tz, tp) != _name(sign, DIMINISHING)
    assert _classify_one(signed, sign * tz, min(1.0, ALPHA + 0.01)) != _name(sign, DIMINISHING)


@pytest.mark.parametrize("sign", SIGNS)
@settings(max_examples=60, deadline=None)
@given(
    bins=st.lists(st.sampled_from([0, 1]), min_size=MIN_PERIODS - 1, max_size=29),
    tz=trend_z,
    tp=trend_p,
    where=st.integers(0, 28),
)
def test_sporadic(sign: int, bins: list[int], tz: float, tp: float, where: int) -> None:
    # Sporadic: final significant, on and off before (a spot before the final run), < 90 %,
    # never significant the other way.
    bins = [*bins, 1]
    run = len(bins) - (max(i for i, b in enumerate(bins) if b == 0) + 1 if 0 in bins else 0)
    assume(bins.count(1) > run and 10 * bins.count(1) < 9 * len(bins))
    signed = [sign * b for b in bins]
    assert _classify_one(signed, sign * tz, tp) == _name(sign, SPORADIC)
    # Violation: one opposite spot anywhere before makes it oscillating.
    zeros = [i for i, b in enumerate(bins) if b == 0]
    broken = signed.copy()
    broken[zeros[where % len(zeros)]] = -sign
    assert _classify_one(broken, sign * tz, tp) != _name(sign, SPORADIC)


@pytest.mark.parametrize("sign", SIGNS)
@settings(max_examples=60, deadline=None)
@given(
    bins=st.lists(st.sampled_from([-1, 0, 1]), min_size=MIN_PERIODS - 1, max_size=29),
    tz=trend_z,
    tp=trend_p,
)
def test_oscillating(sign: int, bins: list[int], tz: float, tp: float) -> None:
    # Oscillating: final significant, significant the other way in some earlier period, < 90 %.
    bins = [*bins, 1]
    assume(-1 in bins and 10 * bins.count(1) < 9 * len(bins))
    signed = [sign * b for b in bins]
    assert _classify_one(signed, sign * tz, tp) == _name(sign, OSCILLATING)
    # Violation: without the opposite spots it is never oscillating.
    cleared = [0 if b == -sign else b for b in signed]
    assert _classify_one(cleared, sign * tz, tp) != _name(sign, OSCILLATING)


@pytest.mark.parametrize("sign", SIGNS)
@settings(max_examples=40, deadline=None)
@given(bins=mostly_spot(final_spot=False), tz=trend_z, tp=trend_p)
def test_historical(sign: int, bins: list[int], tz: float, tp: float) -> None:
    # Historical: the final period not significant, but >= 90 % of periods were.
    signed = [sign * b for b in bins]
    assert _classify_one(signed, sign * tz, tp) == _name(sign, HISTORICAL)
    # Violation: dropping one more spot takes it below 90 %.
    fewer = signed.copy()
    fewer[fewer.index(sign)] = 0
    if Fraction(fewer.count(sign), len(fewer)) < Fraction(9, 10):
        assert _classify_one(fewer, sign * tz, tp) != _name(sign, HISTORICAL)


@settings(max_examples=60, deadline=None)
@given(
    bins=st.lists(st.sampled_from([-1, 0, 1]), min_size=MIN_PERIODS - 1, max_size=29),
    tz=trend_z,
    tp=trend_p,
)
def test_no_pattern(bins: list[int], tz: float, tp: float) -> None:
    # No pattern: the final period not significant and neither direction in >= 90 % of periods.
    bins = [*bins, 0]
    n = len(bins)
    mostly = max(bins.count(1), bins.count(-1)) * 10 >= 9 * n
    label = _classify_one(bins, tz, tp)
    assert (label == NO_PATTERN) == (not mostly)


def test_every_final_spot_gets_a_pattern() -> None:
    # The rules split all sequences whose final period is significant among the hot (or cold)
    # patterns: none of them is left without one.
    rng = np.random.default_rng(3)
    bins = rng.choice([-1, 0, 1], size=(15, 2000))
    bins[-1] = rng.choice([-1, 1], size=2000)
    codes = classify_emerging_codes(bins, rng.normal(size=2000), rng.uniform(size=2000))
    assert (np.sign(codes) == bins[-1]).all()


@pytest.mark.parametrize(
    ("bins", "tz", "tp", "message"),
    [
        (np.zeros((9, 2)), [0, 0], [1, 1], "at least 10 periods"),
        (np.full((10, 2), 2), [0, 0], [1, 1], "only -1"),
        (np.zeros(10), [0], [1], "2-D"),
        (np.zeros((10, 2)), [0], [1, 1], "trend_z"),
        (np.zeros((10, 2)), [0, 0], [np.nan, 1], "NaN"),
        (np.zeros((10, 2)), [0, 0], [1.5, 1], r"\[0, 1\]"),
    ],
)
def test_classify_rejects_bad_input(bins, tz, tp, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        classify_emerging(bins, np.array(tz, dtype=float), np.array(tp, dtype=float))


def test_classify_rejects_bad_alpha() -> None:
    with pytest.raises(ValueError, match="alpha"):
        classify_emerging(np.zeros((10, 1)), np.zeros(1), np.ones(1), alpha=1.5)


# -- the driver --------------------------------------------------------------------------------


def _disk(k: int, lat: float = 50.46, lng: float = -3.53) -> np.ndarray:
    centre = h3.latlng_to_cell(lat, lng, 9)
    return np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(centre, k)), dtype=np.uint64)


def _index(cells: np.ndarray, lat: float = 50.46, lng: float = -3.53) -> int:
    return int(np.flatnonzero(cells == h3.str_to_int(h3.latlng_to_cell(lat, lng, 9)))[0])


@pytest.fixture(scope="module")
def town() -> tuple[np.ndarray, object, int, int]:
    cells = _disk(6)
    weights = kring_weights(cells, 1)
    centre = _index(cells)
    rim = h3.str_to_int(sorted(h3.grid_ring(h3.int_to_str(int(cells[centre])), 5))[0])
    return cells, weights, centre, int(np.flatnonzero(cells == rim)[0])


def _town_series(cells: np.ndarray, weights, centre: int, rim: int, periods: int) -> np.ndarray:
    rng = np.random.default_rng(5)
    series = rng.poisson(2.0, size=(periods, len(cells))).astype(float)
    core = weights[centre].indices
    series[:, core] += 10 + 3 * np.arange(periods)[:, None]  # a growing cluster, all along
    series[-1, weights[rim].indices] += 40  # a cluster that appears in the last period only
    return series


def test_emerging_hotspots_finds_an_intensifying_and_a_new_hot_spot(town) -> None:
    cells, weights, centre, rim = town
    series = _town_series(cells, weights, centre, rim, 12)
    result = emerging_hotspots(series, weights)
    assert result.categories[centre] == PATTERNS[INTENSIFYING]
    assert result.categories[rim] == PATTERNS[NEW]
    assert result.bins.shape == (12, len(cells)) and result.z.shape == (12, len(cells))
    assert (result.bins[:, centre] == 1).all()
    assert result.trend.z[centre] > 0 and result.trend.p[centre] <= 0.05
    assert result.value_trend.z[centre] > 0
    assert result.settings["periods"] == 12
    assert sum(result.settings["patterns"].values()) == len(cells)
    # The classes follow from the bins and trends the result reports.
    again = classify_emerging(result.bins, result.trend.z, result.trend.p, 0.05)
    assert (again == result.categories).all()


def test_emerging_hotspots_with_permutations_is_reproducible(town) -> None:
    cells, weights, centre, rim = town
    series = _town_series(cells, weights, centre, rim, 10)
    options = {"permutations": 19, "seed": 1, "p_for_classes": "permutation"}
    first = emerging_hotspots(series, weights, **options)
    second = emerging_hotspots(series, weights, **options)
    assert (first.categories == second.categories).all()
    assert (first.p_adjusted == second.p_adjusted).all()
    assert first.settings["p_for_bins"] == "permutation"
    assert first.categories[centre].endswith("Hot Spot")


def test_a_period_without_variation_has_no_spots(town) -> None:
    cells, weights, centre, rim = town
    series = _town_series(cells, weights, centre, rim, 11)
    series[3] = 0.0
    result = emerging_hotspots(series, weights)
    assert result.settings["periods_without_variation"] == [3]
    assert (result.bins[3] == 0).all() and (result.z[3] == 0).all()


def test_emerging_hotspots_needs_ten_periods(town) -> None:
    cells, weights, *_ = town
    with pytest.raises(ValueError, match="at least 10 periods"):
        emerging_hotspots(np.ones((9, len(cells))), weights)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0}, "alpha"),
        ({"correction": "magic"}, "multiple-testing"),
        ({"permutations": -1}, "permutations"),
        ({"counts": np.ones((10, 3))}, "counts"),
    ],
)
def test_emerging_hotspots_rejects_bad_options(town, kwargs, message: str) -> None:
    cells, weights, *_ = town
    with pytest.raises(ValueError, match=message):
        emerging_hotspots(np.ones((10, len(cells))), weights, **kwargs)


def test_emerging_hotspots_rejects_weights_of_other_cells(town) -> None:
    _, weights, *_ = town
    series = np.random.default_rng(0).poisson(2.0, size=(10, 5)).astype(float)
    with pytest.raises(ValueError, match="weights"):
        emerging_hotspots(series, weights)


# -- months to quarters ------------------------------------------------------------------------


def test_months_to_quarters_sums_whole_quarters() -> None:
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    series = np.arange(24, dtype=float).reshape(12, 2)
    quarters, labels = months_to_quarters(series, months)
    assert labels == ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"]
    assert quarters[0].tolist() == [0 + 2 + 4, 1 + 3 + 5]
    assert quarters.sum() == series.sum()


def test_months_to_quarters_partial_quarters() -> None:
    months = ["2023-12", "2024-01", "2024-02", "2024-03", "2024-04"]
    series = np.ones((5, 3))
    with pytest.raises(ValueError, match="2023-Q4, 2024-Q2"):
        months_to_quarters(series, months)
    quarters, labels = months_to_quarters(series, months, drop_partial=True)
    assert labels == ["2024-Q1"] and quarters.tolist() == [[3.0, 3.0, 3.0]]


@pytest.mark.parametrize(
    ("months", "message"),
    [
        (["2024-01", "2024-01", "2024-02"], "strictly increasing"),
        (["2024-01", "2024-13", "2024-02"], "not a month"),
        (["2024/01", "2024-02", "2024-03"], "YYYY-MM"),
        (["2024-01", "2024-02"], "2 months given for 3 rows"),
    ],
)
def test_months_to_quarters_rejects_bad_months(months: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        months_to_quarters(np.ones((3, 2)), months)
