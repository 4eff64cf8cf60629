"""Numbering distinct values in order of first appearance (what ``pandas.factorize`` does), with
Arrow's hash tables: the study path needs no pandas (importing it costs a new process ~0.15 s).

Values compare as numbers: 0.0 and -0.0 are one value (as in pandas), so a point is never split
in two by the sign of a zero. Callers pass values without NaN or nulls (located crimes only).
"""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc

from pipelines import arrow_numpy


def first_seen_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code of each value, 0..distinct-1 in order of first appearance; the position of each
    distinct value's first appearance)."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        values = values + 0.0  # -0.0 becomes 0.0: one value, as numbers compare
    codes = arrow_numpy.to_numpy(pc.dictionary_encode(arrow_numpy.from_numpy(values)).indices)
    codes = codes.astype(np.int64, copy=False)
    if len(codes) == 0:
        return codes, np.zeros(0, dtype=np.int64)
    # Codes are handed out in order of first appearance: a new running maximum marks one.
    running = np.maximum.accumulate(codes)
    first = np.flatnonzero(np.r_[True, running[1:] > running[:-1]])
    return codes, first


def pair_codes(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`first_seen_codes` of the exact (x, y) pairs of two float columns."""
    x_codes, _ = first_seen_codes(np.asarray(x, dtype=np.float64))
    y_codes, _ = first_seen_codes(np.asarray(y, dtype=np.float64))
    if len(x_codes) == 0:
        return first_seen_codes(x_codes)
    return first_seen_codes(x_codes * (int(y_codes.max()) + 1) + y_codes)
