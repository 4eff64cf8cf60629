"""Gi_Bin-style classes: hot and cold spots at 99, 95 and 90 % confidence.

ArcGIS's Hot Spot Analysis labels each feature -3..3 (its ``Gi_Bin`` field): +3 hot spot with
99 % confidence (p <= 0.01), +2 with 95 % (p <= 0.05), +1 with 90 % (p <= 0.10), 0 not
significant, and the same negative for cold spots. With a correction on, the p compared is the
adjusted one (for FDR, "significant at level a" is exactly "adjusted p <= a"). Cold spots are
only kept where the cold-spot rule (``sparse_guard.cold_spot_observable``) says one could be
observed at all.
"""

from __future__ import annotations

import numpy as np

# (class, largest p for it), strongest first.
CONFIDENCE_LEVELS: tuple[tuple[int, float], ...] = ((3, 0.01), (2, 0.05), (1, 0.10))

CLASS_LABELS: dict[int, str] = {
    3: "Hot spot - 99% confidence",
    2: "Hot spot - 95% confidence",
    # At the default alpha (0.05) a hot spot means adjusted p <= 0.05: the 90 % class is shown,
    # labelled for what it is, but is not counted as a hot spot.
    1: "90% confidence only (hot side; not a hot spot at 95%)",
    0: "Not significant",
    -1: "90% confidence only (cold side; not a cold spot at 95%)",
    -2: "Cold spot - 95% confidence",
    -3: "Cold spot - 99% confidence",
}


def gi_bin(
    direction: np.ndarray,
    p_adjusted: np.ndarray,
    cold_observable: np.ndarray | None = None,
) -> np.ndarray:
    """Class -3..3 per cell (int8) from the direction (z or its sign) and the adjusted p."""
    sign = np.sign(np.asarray(direction, dtype=np.float64))
    p = np.asarray(p_adjusted, dtype=np.float64)
    if sign.ndim != 1 or p.shape != sign.shape:
        raise ValueError(
            f"direction and p_adjusted must be 1-D arrays of one length, got {sign.shape} "
            f"and {p.shape}"
        )
    if np.isnan(p).any() or np.isnan(sign).any():
        raise ValueError("direction and p_adjusted must not hold NaN")
    level = np.zeros(len(p), dtype=np.int8)
    for value, threshold in reversed(CONFIDENCE_LEVELS):
        level[p <= threshold] = value
    classes = (sign * level).astype(np.int8)
    if cold_observable is not None:
        observable = np.asarray(cold_observable, dtype=bool)
        if observable.shape != p.shape:
            raise ValueError(f"cold_observable has shape {observable.shape}, expected {p.shape}")
        classes[(classes < 0) & ~observable] = 0
    return classes


def class_labels(classes: np.ndarray) -> list[str]:
    """The ArcGIS-style wording of each class, for tables and legends."""
    return [CLASS_LABELS[int(c)] for c in np.asarray(classes)]
