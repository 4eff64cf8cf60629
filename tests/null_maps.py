"""Generated H3 regions and null maps for the statistics tests: a disk of cells around central
London, and shuffled over-dispersed counts on it (no spatial structure, so every flag is false).
Shared by the Gi*, LISA and calibration tests."""

from __future__ import annotations

import h3
import numpy as np

from pipelines.analysis.gistar import gistar
from pipelines.analysis.neighbours import kring_weights

_h3 = h3.api.basic_int
LONDON = _h3.latlng_to_cell(51.5074, -0.1278, 9)


def disk(centre: int, radius: int) -> np.ndarray:
    """The cells within ``radius`` grid steps of ``centre``, sorted, as uint64."""
    return np.array(sorted(_h3.grid_disk(centre, radius)), dtype=np.uint64)


def shuffled_over_dispersed_runs(rule: str, runs: int = 10) -> list[int]:
    """Flagged cells per run on an over-dispersed map with no spatial structure.

    Negative-binomial counts, shape 0.5 at mean 1 (variance 3, the shape of real crime counts),
    shuffled over 1,951 cells: nothing is clustered, so every flag is false."""
    cells = disk(LONDON, 25)
    w = kring_weights(cells, 1)
    flagged = []
    for run in range(runs):
        rng = np.random.default_rng(900 + run)
        y = rng.permutation(rng.negative_binomial(0.5, 0.5 / 1.5, len(cells)).astype(float))
        flagged.append(int(gistar(y, w, seed=run, p_for_classes=rule).significant.sum()))
    return flagged
