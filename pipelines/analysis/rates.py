"""Counts and rates a board can defend: intervals, comparisons and change tests, as PHE does.

Rate interval (exact Poisson; Garwood 1936). For k events, the 95 % interval of the expected count
is [chi2(0.025; 2k) / 2, chi2(0.975; 2k + 2) / 2] (the lower bound 0 when k = 0); a rate per
1,000 residents divides both by the population and multiplies by 1,000. Public Health England's
Fingertips profiles use Byar's approximation of the same interval (PHE, "Technical guide:
confidence intervals", 2018); the exact interval is what Byar approximates, so it is used here.

Comparison with the parent area (as Fingertips does): the area is "higher" when the lower bound
of its rate's interval is above the parent's rate, "lower" when the upper bound is below it, and
"similar" otherwise. The parent includes the area (as England includes each district).

Change between two periods (exact conditional test on two Poisson counts; Przyborowski and
Wilenski 1940): given n = c1 + c0 events over exposures t1 and t0, c1 ~ Binomial(n, t1 / (t1 + t0))
when the rate did not change; the two-sided p is scipy's exact ``binomtest``. A change is read as
a rise or a fall only when p < alpha; its rate ratio's interval comes from the Clopper-Pearson
interval of the binomial proportion pi: RR = pi / (1 - pi) x t0 / t1.

Harm is a sum of weights, not a count: a weighted sum of Poisson counts has variance sum(w^2)
(compound Poisson), so a change in harm is tested with z = (H1 / t1 - H0 / t0) / sqrt(S1 / t1^2 +
S0 / t0^2), S the sums of squared weights, two-sided normal p.

Small counts: published outputs may suppress counts of 1 to 4 (shown "<5"), with everything that
would reveal them (the rate, its interval, a category's harm), the practice of ONS and police.uk's
partners for small-area tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy import special

CONFIDENCE = 0.95
ALPHA = 0.05
SMALL_COUNT_MAX = 4  # 1..4 suppressed; 0 is shown (an absence is not disclosive)
SUPPRESSED = "<5"

Comparison = Literal["higher", "similar", "lower"]
Direction = Literal["up", "down", "no-significant-change"]


def poisson_interval(count: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The exact (Garwood) interval of the expected count behind ``count`` events."""
    if count < 0:
        raise ValueError(f"a count must be >= 0, got {count}")
    tail = (1 - confidence) / 2
    low = 0.0 if count == 0 else float(chi2_quantile(tail, 2 * count)) / 2
    high = float(chi2_quantile(1 - tail, 2 * count + 2)) / 2
    return low, high


def chi2_quantile(q: float, df: float) -> float:
    """``scipy.stats.chi2.ppf(q, df)`` for 0 < q < 1 and df > 0: the function it evaluates,
    called directly (equal bit for bit, tests/test_rates_without_scipy_stats.py), because
    importing scipy.stats costs 0.4-0.8 s in every process that imports this module."""
    return 2 * special.gammaincinv(df / 2, q)


def normal_upper_tail(z: float) -> float:
    """``scipy.stats.norm.sf(z)``, which is ``ndtr(-z)`` (equal bit for bit, as above)."""
    return special.ndtr(-z)


@dataclass(frozen=True)
class Rate:
    """A rate per ``per`` residents with its exact interval."""

    value: float
    low: float
    high: float


def rate_with_interval(
    count: float, population: float, per: float = 1000.0, confidence: float = CONFIDENCE
) -> Rate:
    """``count`` per ``per`` residents of ``population``, with the exact Poisson interval."""
    if population <= 0:
        raise ValueError(f"a rate needs a population above 0, got {population}")
    low, high = poisson_interval(count, confidence)
    scale = per / population
    return Rate(count * scale, low * scale, high * scale)


def compare_with_parent(rate: Rate, parent_rate: float) -> Comparison:
    """Fingertips' rule: the area's interval wholly above or below the parent's value."""
    if rate.low > parent_rate:
        return "higher"
    if rate.high < parent_rate:
        return "lower"
    return "similar"


@dataclass(frozen=True)
class Change:
    """A change from ``previous`` to ``current`` with its test."""

    p: float
    direction: Direction  # up or down only when p < alpha
    ratio: float | None  # current rate / previous rate; None when previous is 0
    ratio_low: float | None
    ratio_high: float | None
    test: str


def count_change(
    current: int,
    previous: int,
    current_exposure: float = 1.0,
    previous_exposure: float = 1.0,
    alpha: float = ALPHA,
) -> Change:
    """Exact conditional test of two Poisson counts over their exposures (months stored)."""
    if current < 0 or previous < 0:
        raise ValueError("counts must be >= 0")
    if current_exposure <= 0 or previous_exposure <= 0:
        raise ValueError("exposures must be above 0")
    total = current + previous
    share = current_exposure / (current_exposure + previous_exposure)
    test = "exact conditional binomial test of two Poisson counts, two-sided"
    if total == 0:
        return Change(1.0, "no-significant-change", None, None, None, test)
    from scipy.stats import binomtest  # only a change test needs it (0.4-0.8 s to import)

    result = binomtest(current, total, share)
    p = float(result.pvalue)
    interval = result.proportion_ci(confidence_level=1 - alpha, method="exact")
    scale = previous_exposure / current_exposure

    def ratio_of(pi: float) -> float | None:
        return None if pi >= 1 else pi / (1 - pi) * scale

    ratio = None if previous == 0 else (current / current_exposure) / (previous / previous_exposure)
    return Change(
        p,
        _direction(p, current / current_exposure - previous / previous_exposure, alpha),
        ratio,
        ratio_of(interval.low),
        ratio_of(interval.high),
        test,
    )


def weighted_change(
    current: float,
    previous: float,
    current_squares: float,
    previous_squares: float,
    current_exposure: float = 1.0,
    previous_exposure: float = 1.0,
    alpha: float = ALPHA,
) -> Change:
    """Change in a sum of weights (harm): compound Poisson z test."""
    test = "compound Poisson z test on the sums of weights (variance = sum of squared weights)"
    difference = current / current_exposure - previous / previous_exposure
    variance = current_squares / current_exposure**2 + previous_squares / previous_exposure**2
    if variance <= 0:
        return Change(1.0, "no-significant-change", None, None, None, test)
    p = float(2 * normal_upper_tail(abs(difference) / math.sqrt(variance)))
    ratio = None if previous <= 0 else (current / current_exposure) / (previous / previous_exposure)
    return Change(p, _direction(p, difference, alpha), ratio, None, None, test)


def _direction(p: float, difference: float, alpha: float) -> Direction:
    if p >= alpha or difference == 0:
        return "no-significant-change"
    return "up" if difference > 0 else "down"


def is_small(count: float | None) -> bool:
    """A count a published table suppresses (1 to 4)."""
    return count is not None and 0 < count <= SMALL_COUNT_MAX
