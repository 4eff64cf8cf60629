"""Brent's bounded minimisation of a function of one variable, step for step as SciPy does it.

This is ``scipy.optimize.minimize_scalar(fun, bounds=..., method="bounded")`` (SciPy's
``_minimize_scalar_bounded``, the Fortran FMIN of Forsythe, Malcolm and Moler), ported line by
line so that the high-count fit (``pipelines.analysis.high_count``) needs no
``import scipy.optimize``: that import costs 0.15-0.2 s on every study in a new process (SciPy
1.17 parses the docstrings of ~280 functions while importing it), more than the whole fit. The
same operations in the same order on the same float64 values give the same minimum bit for bit;
tests/test_bounded_minimum.py checks that against SciPy on real and generated counts, so a SciPy
upgrade that changed the algorithm would fail there rather than change a result silently.

Port of SciPy's code: Copyright (c) 2001-2002 Enthought, Inc. 2003, SciPy Developers. All rights
reserved. BSD 3-Clause licence: its conditions and disclaimer are in THIRD_PARTY_NOTICES.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import isfinite, sqrt

import numpy as np


@dataclass(frozen=True)
class BoundedMinimum:
    x: float  # where the minimum was found
    fun: float  # the function's value there
    evaluations: int  # calls of the function (SciPy's nfev)
    converged: bool  # False when ``max_evaluations`` ran out or a value was NaN


def minimize_bounded(
    fun: Callable[[float], float],
    bounds: tuple[float, float],
    xatol: float = 1e-5,
    max_evaluations: int = 500,
) -> BoundedMinimum:
    """The minimum of ``fun`` on ``bounds`` to an absolute tolerance ``xatol`` in x, found by
    golden-section and parabolic steps exactly as SciPy's bounded method finds it."""
    low, high = bounds
    if not (isfinite(low) and isfinite(high)):
        raise ValueError("bounds must be finite")
    if low > high:
        raise ValueError("the lower bound exceeds the upper bound")
    failed = False
    sqrt_eps = sqrt(2.2e-16)
    golden_mean = 0.5 * (3.0 - sqrt(5.0))
    # The names are SciPy's: xf/fx the best point so far, nfc/fnfc the second best,
    # fulc/ffulc the third; e and rat the last two steps.
    a, b = low, high
    fulc = a + golden_mean * (b - a)
    nfc, xf = fulc, fulc
    rat = e = 0.0
    x = xf
    fx = fun(x)
    num = 1
    fu = np.inf
    ffulc = fnfc = fx
    xm = 0.5 * (a + b)
    tol1 = sqrt_eps * np.abs(xf) + xatol / 3.0
    tol2 = 2.0 * tol1

    while np.abs(xf - xm) > (tol2 - 0.5 * (b - a)):
        golden = 1
        if np.abs(e) > tol1:  # try a parabola through the three best points
            golden = 0
            r = (xf - nfc) * (fx - ffulc)
            q = (xf - fulc) * (fx - fnfc)
            p = (xf - fulc) * q - (xf - nfc) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = np.abs(q)
            r = e
            e = rat
            if (np.abs(p) < np.abs(0.5 * q * r)) and (p > q * (a - xf)) and (p < q * (b - xf)):
                rat = (p + 0.0) / q
                x = xf + rat
                if ((x - a) < tol2) or ((b - x) < tol2):
                    si = np.sign(xm - xf) + ((xm - xf) == 0)
                    rat = tol1 * si
            else:
                golden = 1
        if golden:
            e = a - xf if xf >= xm else b - xf
            rat = golden_mean * e

        si = np.sign(rat) + (rat == 0)
        x = xf + si * np.maximum(np.abs(rat), tol1)
        fu = fun(x)
        num += 1

        if fu <= fx:
            if x >= xf:
                a = xf
            else:
                b = xf
            fulc, ffulc = nfc, fnfc
            nfc, fnfc = xf, fx
            xf, fx = x, fu
        else:
            if x < xf:
                a = x
            else:
                b = x
            if (fu <= fnfc) or (nfc == xf):
                fulc, ffulc = nfc, fnfc
                nfc, fnfc = x, fu
            elif (fu <= ffulc) or (fulc == xf) or (fulc == nfc):  # noqa: SIM109 (`in` differs on NaN)
                fulc, ffulc = x, fu

        xm = 0.5 * (a + b)
        tol1 = sqrt_eps * np.abs(xf) + xatol / 3.0
        tol2 = 2.0 * tol1

        if num >= max_evaluations:
            failed = True
            break

    if np.isnan(xf) or np.isnan(fx) or np.isnan(fu):
        failed = True
    return BoundedMinimum(float(xf), float(fx), num, not failed)
