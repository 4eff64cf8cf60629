"""Benchmark: Gi* on about 50,000 H3 cells of London (2017) against esda, in the same run.

Grid: every resolution-10 cell holding a Metropolitan Police crime of 2017 (data.police.uk API
output in ../shared/data), plus its 1-ring, trimmed to the ``--cells`` cells nearest the grid's
median point. A crime's cell is the resolution-10 parent of its resolution-12 cell, as in a study.
Values are crimes per cell, zeros included; weights are binary 1-rings with the cell itself.

Baselines (esda as installed: without numba, esda runs its pure-Python fallback; numba must not
be on a request path since it costs ~17 s of compilation in every new process):
- analytic: ``esda.G_Local(y, w, transform="B", star=True, permutations=0)`` vs ``gistar_z``
- permutations: ``esda.G_Local(..., permutations=999, n_jobs=1)`` vs ``gistar_p_permutation``
  with 999 permutations. ``--esda-cells N`` times esda on the first N cells' sub-grid only and
  scales linearly to the full grid (esda's cost is linear in cells, see the printout).

    python -m benchmarks.gistar [--cells 50000] [--repeats 5] [--esda-cells N]

Targets (issue 4): analytic >= 50x esda, 999-permutation inference >= 10x esda.
Weights are built once, outside every timing, for both sides.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
import warnings
from pathlib import Path

import h3
import numpy as np
import orjson

from pipelines.analysis.gistar import gistar, gistar_p_permutation, gistar_z
from pipelines.analysis.neighbours import kring_weights, to_libpysal
from pipelines.index.h3_cells import cells_for_points, parent_cells

DEFAULT_API = Path(__file__).resolve().parents[1].parent / "shared/data/police_uk/api/metropolitan"
RESOLUTION = 10
TARGET_ANALYTIC = 50.0
TARGET_PERMUTATION = 10.0
PERMUTATIONS = 999


def load_points(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    latitude: list[float] = []
    longitude: list[float] = []
    for path in sorted(folder.glob("2017-*.json.gz")):
        with gzip.open(path) as handle:
            for crime in orjson.loads(handle.read()):
                location = crime.get("location") or {}
                if location.get("latitude") and location.get("longitude"):
                    latitude.append(float(location["latitude"]))
                    longitude.append(float(location["longitude"]))
    return np.array(latitude), np.array(longitude)


def build_grid(
    latitude: np.ndarray, longitude: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Crime cells plus their 1-ring, the ``size`` nearest the median point; counts per cell."""
    base = cells_for_points(latitude, longitude)
    crime_cells = parent_cells(base, RESOLUTION).to_numpy(zero_copy_only=False)
    occupied = np.unique(crime_cells)
    grid: set[int] = set()
    for cell in occupied.tolist():
        grid.update(h3.api.basic_int.grid_disk(cell, 1))
    cells = np.array(sorted(grid), dtype=np.uint64)
    if size and size < len(cells):
        centres = np.array([h3.api.basic_int.cell_to_latlng(int(c)) for c in cells])
        middle = np.median(centres, axis=0)
        scale = np.array([1.0, np.cos(np.radians(middle[0]))])
        distance = (((centres - middle) * scale) ** 2).sum(axis=1)
        cells = np.sort(cells[np.argsort(distance, kind="stable")[:size]])
    position = np.searchsorted(cells, crime_cells)
    position[position == len(cells)] = 0
    inside = cells[position] == crime_cells
    counts = np.bincount(position[inside], minlength=len(cells)).astype(np.float64)
    return cells, counts


def best_of(repeats: int, run) -> tuple[float, float, object]:
    timings, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - start)
    return min(timings), statistics.median(timings), result


def esda_g_local(y: np.ndarray, weights, permutations: int) -> tuple[float, object]:
    import esda

    w = to_libpysal(weights)  # fresh W each time: esda transforms it in place
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = esda.G_Local(
            y, w, transform="B", star=True, permutations=permutations, n_jobs=1, seed=0
        )
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", type=Path, default=DEFAULT_API)
    parser.add_argument("--cells", type=int, default=50_000, help="grid size (0: all cells)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of ours (best is reported)")
    parser.add_argument(
        "--esda-cells", type=int, default=0, help="time esda's permutations on a sub-grid"
    )
    args = parser.parse_args(argv)
    if not args.api.is_dir():
        print(f"API output folder {args.api} not found; pass --api", file=sys.stderr)
        return 2

    start = time.perf_counter()
    latitude, longitude = load_points(args.api)
    cells, counts = build_grid(latitude, longitude, args.cells)
    weights = kring_weights(cells, 1)
    prepared = time.perf_counter() - start
    print(f"crimes (located):   {len(latitude):,}")
    print(
        f"grid:               {len(cells):,} resolution-{RESOLUTION} cells, "
        f"{int(counts.sum()):,} crimes in them, {np.mean(counts == 0):.0%} zero cells "
        f"(built with weights in {prepared:.1f} s)"
    )

    # -- analytic ---------------------------------------------------------------------------
    ours_best, ours_median, z = best_of(args.repeats, lambda: gistar_z(counts, weights))
    esda_time, esda_analytic = esda_g_local(counts, weights, 0)
    difference = float(np.abs(z - esda_analytic.Zs).max())
    ratio = esda_time / ours_best
    print()
    timing = f"ours best {ours_best * 1e3:.2f} ms (median {ours_median * 1e3:.2f} ms)"
    print(f"analytic Gi* z      {timing}")
    print(f"                    esda G_Local(permutations=0) {esda_time * 1e3:.0f} ms")
    print(f"                    speed-up {ratio:,.0f}x; max |z - esda Zs| = {difference:.1e}")
    analytic_ok = ratio >= TARGET_ANALYTIC

    # -- 999 permutations -------------------------------------------------------------------
    perm_best, perm_median, p = best_of(
        args.repeats, lambda: gistar_p_permutation(counts, weights, PERMUTATIONS, seed=0)
    )
    if args.esda_cells and args.esda_cells < len(cells):
        subset = np.arange(args.esda_cells)
        sub_weights = weights[subset][:, subset]
        measured, _ = esda_g_local(counts[subset], sub_weights, PERMUTATIONS)
        esda_perm = measured * len(cells) / args.esda_cells
        how = (
            f"measured {measured:.2f} s on the first {args.esda_cells:,} cells, "
            f"scaled x{len(cells) / args.esda_cells:.1f} to the full grid"
        )
    else:
        esda_perm, _ = esda_g_local(counts, weights, PERMUTATIONS)
        how = "measured on the full grid"
    perm_ratio = esda_perm / perm_best
    print()
    timing = f"ours best {perm_best * 1e3:.0f} ms (median {perm_median * 1e3:.0f} ms)"
    print(f"999 permutations    {timing}")
    print(f"                    esda G_Local(permutations=999, n_jobs=1) {esda_perm:.2f} s ({how})")
    print(f"                    speed-up {perm_ratio:,.0f}x")
    permutation_ok = perm_ratio >= TARGET_PERMUTATION

    # -- the full default analysis ----------------------------------------------------------
    full_best, _, result = best_of(max(1, args.repeats // 2), lambda: gistar(counts, weights))
    classes = result.classes
    print()
    print(
        f"gistar() defaults   {full_best:.2f} s: 999 permutations for every cell, "
        f"{result.settings['cells_refined']:,} cells refined up to "
        f"{result.settings['max_permutations']:,}, BH FDR, Gi_Bin classes"
    )
    tally = ", ".join(f"{c:+d}: {int(np.sum(classes == c)):,}" for c in (3, 2, 1, -1, -2, -3))
    print(f"                    classes {tally}")
    analytic = gistar(counts, weights, permutations=0, p_for_classes="analytic").classes
    tally = ", ".join(f"{c:+d}: {int(np.sum(analytic == c)):,}" for c in (3, 2, 1, -1, -2, -3))
    print(f"                    (analytic p instead: {tally})")
    print(f"                    raw permutation p < 0.05 at 999: {np.mean(p < 0.05):.1%} of cells")
    print()
    print(
        f"targets: analytic >= {TARGET_ANALYTIC:.0f}x esda: {'met' if analytic_ok else 'NOT met'}; "
        f"999 permutations >= {TARGET_PERMUTATION:.0f}x esda: "
        f"{'met' if permutation_ok else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
