"""Benchmark: do the Gi* class rules keep false hot spots at or below alpha on honest nulls?

Region: the study region of Torbay's 2019 wards (``build_grid``, whatever cover rule main has)
at resolutions 8, 9 and 10, with 1-ring weights. Null scenarios (no spatial structure at all):

- ``shuffled``: the real Torbay 2019 crime counts per cell (Devon and Cornwall archive, crimes
  inside the wards), shuffled at random over the region's cells: the real, over-dispersed
  marginal without its map;
- ``nb mean M``: negative-binomial counts with shape 0.5 (variance = M + 2 M^2) at M = 0.3, 1, 5;
- ``poisson mean M``: homogeneous Poisson counts at the same means.

Power scenario ``cluster 3x``: Poisson counts at mean 5 with a 7-cell cluster (an interior cell
and its 1-ring, placed at random each run) at 3x the rate.

Per rule (``p_for_classes``) it prints the mean number of flagged cells per run (a flag is the
one meaning of "hot spot" and "cold spot": class != 0 and adjusted p <= alpha), the share of runs
with any flagged cell (under a complete null, BH's false discovery rate equals this share, so
it must stay at or below alpha within Monte Carlo error) and, for the cluster, the share of runs
in which a cluster cell is flagged hot (power) with the mean number of flagged cells outside the
cluster and its ring. Default rule, alpha 0.05, BH, 999 permutations refined up to 999,999.

    python -m benchmarks.null_calibration [--runs 100] [--seed 20191] [--workers 2]

The high-count test (``pipelines.analysis.high_count``) is scored on the same nulls in a last
table: a shuffled map has the real marginal, so only the generated nulls are nulls for it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from boundaries.sets import load_boundary_file
from pipelines.analysis.gistar import DEFAULT_P_FOR_CLASSES, P_FOR_CLASSES, gistar
from pipelines.analysis.grid import build_grid, locate_crimes, sum_by_cell
from pipelines.analysis.high_count import high_count_places
from pipelines.analysis.neighbours import kring_weights

SHARED = Path(__file__).resolve().parents[1].parent / "shared/data"
RESOLUTIONS = (8, 9, 10)
MEANS = (0.3, 1.0, 5.0)
NB_SHAPE = 0.5
CLUSTER_MEAN = 5.0
CLUSTER_FACTOR = 3.0
ALPHA = 0.05
RULES = (DEFAULT_P_FOR_CLASSES, *[r for r in P_FOR_CLASSES if r != DEFAULT_P_FOR_CLASSES])


@dataclass
class Region:
    resolution: int
    cells: np.ndarray
    counts: np.ndarray  # real Torbay 2019 crimes per cell
    cells_km2: float  # the cells' area inside the wards
    land_km2: float  # the wards' area


def torbay_regions(shared: Path) -> list[Region]:
    from pipelines.ingest.archive import ingest_archive
    from pipelines.store import CrimeStore

    wards = load_boundary_file(
        shared / "boundaries/wards_2019/E06000027.geojson", "torbay-wards-2019", "ward"
    )
    with tempfile.TemporaryDirectory() as folder:
        store = CrimeStore(folder)
        archive = shared / "police_uk/archive/devon-and-cornwall"
        ingest_archive(store, archive, first="2019-01", last="2019-12")
        crimes = store.read(columns=["longitude", "latitude", "h3_cell"])
    regions = []
    for resolution in RESOLUTIONS:
        grid = build_grid(wards, resolution)
        located = locate_crimes(grid, wards, crimes)
        counts = sum_by_cell(located, len(grid))
        area = float(grid.cell_areas_km2().sum())
        regions.append(Region(resolution, grid.cells, counts, area, grid.land_km2))
    return regions


def null_counts(scenario: str, region: Region, rng: np.random.Generator) -> np.ndarray:
    n = len(region.cells)
    if scenario == "shuffled":
        return rng.permutation(region.counts)
    kind, mean = scenario.split(" mean ")
    mu = float(mean)
    if kind == "nb":
        # numpy's (n, p): mean n (1 - p) / p = mu with n = shape.
        return rng.negative_binomial(NB_SHAPE, NB_SHAPE / (NB_SHAPE + mu), size=n).astype(float)
    return rng.poisson(mu, size=n).astype(float)


def _score(task: tuple) -> dict:
    """One run of one scenario: flags per rule (and the high-count test)."""
    scenario, region, run, seed = task
    rng = np.random.default_rng([seed, region.resolution, run, hash(scenario) % 2**31])
    weights = kring_weights(region.cells, 1)
    cluster = None
    if scenario == "cluster 3x":
        x = rng.poisson(CLUSTER_MEAN, size=len(region.cells)).astype(float)
        full = np.flatnonzero(np.diff(weights.indptr) == 7)
        centre = int(rng.choice(full))
        cluster = weights[centre].indices
        x[cluster] = rng.poisson(CLUSTER_MEAN * CLUSTER_FACTOR, size=len(cluster))
    else:
        x = null_counts(scenario, region, rng)
    out: dict = {}
    if np.ptp(x) == 0:  # an all-equal map: no rule can flag anything
        return {rule: (0, False, 0) for rule in (*RULES, "high-count")}
    for rule in RULES:
        permutations = 999 if rule == "permutation" else 0
        result = gistar(
            x, weights, permutations=permutations, seed=run, alpha=ALPHA, p_for_classes=rule
        )
        flagged = result.significant
        if cluster is None:
            out[rule] = (int(flagged.sum()), bool(flagged.any()), 0)
        else:
            ring = np.unique(weights[cluster].indices)
            outside = np.setdiff1d(np.arange(len(x)), ring)
            hit = bool((flagged[cluster] & (result.classes[cluster] > 0)).any())
            out[rule] = (int(flagged[outside].sum()), bool(flagged[outside].any()), hit)
    places = high_count_places(x, alpha=ALPHA).flagged
    if cluster is not None:  # the cluster's cells are true excess: count only the others
        places[cluster] = False
    out["high-count"] = (int(places.sum()), bool(places.any()), 0)
    return out


def monte_carlo_limit(share: float, runs: int) -> float:
    """alpha plus two binomial standard errors at alpha: the 'within Monte Carlo error' bar."""
    return share + 2 * math.sqrt(share * (1 - share) / runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20191)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--data", type=Path, default=SHARED)
    args = parser.parse_args(argv)
    if not (args.data / "police_uk/archive/devon-and-cornwall").is_dir():
        print(f"no shared data at {args.data}: this benchmark needs the Torbay archive")
        return 2
    started = time.perf_counter()
    regions = torbay_regions(args.data)
    scenarios = [
        "shuffled",
        *[f"nb mean {m:g}" for m in MEANS],
        *[f"poisson mean {m:g}" for m in MEANS],
        "cluster 3x",
    ]
    tasks = [
        (scenario, region, run, args.seed)
        for region in regions
        for scenario in scenarios
        for run in range(args.runs)
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        scored = list(pool.map(_score, tasks, chunksize=10))
    print(
        f"Null calibration on the Torbay 2019 ward region: {args.runs} runs per scenario, "
        f"seed {args.seed}, alpha {ALPHA}, BH, 1-ring; flag = class != 0 and adjusted p <= "
        f"alpha. Monte Carlo bar for 'share of runs with any flag': "
        f"{monte_carlo_limit(ALPHA, args.runs):.3f}."
    )
    for region in regions:
        print(
            f"\nresolution {region.resolution}: {len(region.cells):,} cells "
            f"({region.cells_km2:.1f} km² inside {region.land_km2:.1f} km² of wards), "
            f"{int(region.counts.sum()):,} crimes, variance/mean "
            f"{region.counts.var() / region.counts.mean():.1f}"
        )
        print(f"| scenario | {' | '.join(RULES)} | high-count places |")
        print("|---" * (len(RULES) + 2) + "|")
        for scenario in scenarios:
            rows = [
                s for s, t in zip(scored, tasks, strict=True) if t[0] == scenario and t[1] is region
            ]
            cells = []
            for rule in (*RULES, "high-count"):
                false = np.mean([r[rule][0] for r in rows])
                anyflag = np.mean([r[rule][1] for r in rows])
                if scenario == "cluster 3x" and rule != "high-count":
                    power = np.mean([r[rule][2] for r in rows])
                    cells.append(f"power {power:.2f}; {false:.2f} false, any {anyflag:.2f}")
                else:
                    cells.append(f"{false:.2f} false, any {anyflag:.2f}")
            print(f"| {scenario} | {' | '.join(cells)} |")
    print(
        f"\n{len(tasks):,} runs in {time.perf_counter() - started:.0f} s ({args.workers} workers)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
