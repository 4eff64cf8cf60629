"""Benchmark: wards against ward clusters (issue 6) on a year of Barnet's crime, against the same
answer computed the usual way with geopandas and esda, in the same run.

Data: the Metropolitan Police's 2017 police.uk API output (../shared/data), the crimes within
2 km of Barnet written into a temporary store as 12 API partitions; Barnet's 21 wards of 2019;
5 clusters of them (west-to-east bands of ward centroids). Loading is outside every timing.

    python -m benchmarks.compare_schemes [--repeats 5] [--res 9]

- ours: ``pipelines.planning.compare.compare_schemes`` from the store (read, cells, Gi* with the
  count gate, per-scheme counts, harm, ranks, concentration, straddling hot cells, variance split).
  Its grid is the complete cover (every cell any resolution-12 cell of the region overlaps), which
  costs most of a first call; the first call is reported apart from repeats, which reuse it.
- baseline ("geopandas + esda"): read the same store to pandas, ``geopandas.sjoin`` the points to
  each scheme's polygons for counts and harm, group harm by H3 cell, ``libpysal`` weights from the
  cells' k-rings (the cells with crime and their 1-ring),
  ``esda.G_Local(star=True, permutations=0)``, Benjamini-Hochberg by scipy. It computes less
  than ours (no straddling, no variance split, no count gate, a grid without the region's empty
  cells), which flatters the baseline.
Both sides must agree on every area's crime count, or the benchmark fails.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import orjson
import pandas as pd

from boundaries.clusters import build_clusters
from boundaries.sets import BoundarySet, load_boundary_file
from pipelines.harm import load_table
from pipelines.ingest.api_rows import parse_crimes
from pipelines.months import months_between
from pipelines.planning.compare import compare_schemes
from pipelines.schema import SOURCE_API
from pipelines.store import CrimeStore, PartitionCoverage

SHARED = Path(__file__).resolve().parents[1].parent / "shared/data"
API = SHARED / "police_uk/api/metropolitan"
WARDS_FILE = SHARED / "boundaries/wards_2019/E09000003.geojson"
MONTHS = months_between("2017-01", "2017-12")
WEIGHTS = "home-office-2018"
MARGIN_DEGREES = 0.03  # about 2 km: neighbours' crimes stay in, as they do in a real store


def build_store(root: Path, wards: BoundarySet) -> tuple[CrimeStore, int]:
    store = CrimeStore(root)
    west, south, east, north = wards.areas.total_bounds
    rows = 0
    for month in MONTHS:
        crimes = orjson.loads(gzip.decompress((API / f"{month}.json.gz").read_bytes()))
        near = [
            c
            for c in crimes
            if west - MARGIN_DEGREES <= float(c["location"]["longitude"]) <= east + MARGIN_DEGREES
            and south - MARGIN_DEGREES <= float(c["location"]["latitude"]) <= north + MARGIN_DEGREES
        ]
        table = parse_crimes(near, "metropolitan", month).table
        coverage = PartitionCoverage(
            "metropolitan",
            month,
            SOURCE_API,
            source_rows=len(near),
            stored=table.num_rows,
            no_location=0,
            provenance=[{"kind": "benchmark", "file": f"metropolitan/{month}.json.gz"}],
        )
        store.write_partition(table, coverage)
        rows += table.num_rows
    return store, rows


def band_clusters(wards: BoundarySet, bands: int = 5) -> BoundarySet:
    """``bands`` clusters of wards, by the west-to-east order of their centroids."""
    x = wards.areas.to_crs(27700).geometry.centroid.x.to_numpy()
    order = np.argsort(x)
    mapping = {
        wards.codes[i]: f"Band {number + 1}"
        for number, members in enumerate(np.array_split(order, bands))
        for i in members
    }
    return build_clusters(wards, mapping, "barnet-bands").clusters


def baseline(store: CrimeStore, sets: list[BoundarySet], resolution: int) -> dict:
    """The per-area counts and harm and the hot cells, as an analyst would with the usual stack."""
    import esda
    import libpysal
    from scipy.stats import false_discovery_control, norm

    frame = store.read(None, MONTHS[0], MONTHS[-1]).to_pandas()
    frame = frame.dropna(subset=["longitude", "latitude"])
    frame["harm"] = load_table(WEIGHTS).weights_for(frame["category"])
    points = gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["longitude"], frame["latitude"]), crs=4326
    )
    region = sets[0].areas[["geometry"]]
    points = points.loc[gpd.sjoin(points, region, predicate="within").index.unique()]
    result: dict = {}
    for boundary_set in sets:
        joined = gpd.sjoin(points, boundary_set.areas[["code", "geometry"]], predicate="within")
        joined = joined[~joined.index.duplicated()]
        result[boundary_set.name] = joined.groupby("code").agg(
            crimes=("harm", "size"), harm=("harm", "sum")
        )
    coordinates = zip(points["latitude"], points["longitude"], strict=True)
    cells = [h3.latlng_to_cell(lat, lng, resolution) for lat, lng in coordinates]
    harm_by_cell = pd.Series(points["harm"].to_numpy()).groupby(cells).sum()
    # The grid: cells with crime and their 1-ring (zero cells count in Gi*'s mean).
    grid = set(harm_by_cell.index) | {n for c in harm_by_cell.index for n in h3.grid_disk(c, 1)}
    neighbours = {c: [n for n in h3.grid_disk(c, 1) if n != c and n in grid] for c in grid}
    weights = libpysal.weights.W(neighbours, silence_warnings=True)
    values = harm_by_cell.reindex(weights.id_order, fill_value=0.0).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = esda.G_Local(values, weights, transform="B", star=True, permutations=0)
    adjusted = false_discovery_control(2 * norm.sf(np.abs(local.Zs)))
    result["hot_cells"] = int(((local.Zs > 0) & (adjusted <= 0.05)).sum())
    return result


def timed(function: object, repeats: int) -> tuple[list[float], object]:
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return times, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--res", type=int, default=9)
    args = parser.parse_args()
    if not API.is_dir() or not WARDS_FILE.exists():
        print(f"needs ../shared/data ({API} and {WARDS_FILE}); not found", file=sys.stderr)
        return 2
    wards = load_boundary_file(WARDS_FILE, "barnet-wards-2019", "ward", vintage="2019")
    sets = [wards, band_clusters(wards)]
    with tempfile.TemporaryDirectory() as folder:
        store, rows = build_store(Path(folder), wards)
        ours_times, ours = timed(
            lambda: compare_schemes(
                store, sets, MONTHS[0], MONTHS[-1], weights=WEIGHTS, resolution=args.res
            ),
            args.repeats,
        )
        base_times, base = timed(lambda: baseline(store, sets, args.res), args.repeats)
    for summary in ours.schemes:
        expected = base[summary.name]["crimes"]
        got = summary.areas.set_index("code")["crimes"]
        if not (got[got > 0].sort_index() == expected.sort_index()).all():
            print(f"MISMATCH in {summary.name}: the two sides count areas differently")
            return 1
    cells = ours.provenance["cells"]
    print(f"Barnet: {rows:,} stored crimes (12 months, 2 km margin), {len(wards.areas)} wards")
    print(f"against {len(sets[1].areas)} clusters, {cells:,} cells at resolution {args.res}")
    # The first call computes the region's H3 cover; later calls in the process reuse it
    # (boundaries/h3_cover.py), as the service does after its first request on a set.
    cold, warm = ours_times[0], ours_times[1:] or ours_times
    best_base, median_base = min(base_times), statistics.median(base_times)
    print("per-area crime counts: identical on both sides, both schemes")
    print(
        f"hot cells (BH 0.05): ours {ours.schemes[0].hot_cells} with the count gate, "
        f"baseline {base['hot_cells']} without it"
    )
    print(f"ours, first call (cover computed): {cold:.3f} s")
    print(f"ours, repeated (cover reused):     best {min(warm):.3f} s, "
          f"median {statistics.median(warm):.3f} s")  # fmt: skip
    print(f"baseline (geopandas + esda):       best {best_base:.3f} s, median {median_base:.3f} s")
    print(
        f"ratio baseline / ours: first call {best_base / cold:.1f}x, "
        f"repeated {median_base / statistics.median(warm):.1f}x (medians)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
