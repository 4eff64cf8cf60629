"""Benchmark: exact assignment of London's 2017 crimes to its 4,835 LSOAs against geopandas.sjoin.

Both sides place the same 771,121 points (data.police.uk API output for 2017) into the same
LSOA 2011 polygons, reprojected from EPSG:27700 to EPSG:4326 as the boundary store keeps them.
Timings start from arrays of longitude/latitude already in memory (reading the JSON is excluded)
and from the loaded boundary set; ours includes building its R-tree and preparing polygons.

    python -m benchmarks.assign_areas [--api PATH] [--lsoas PATH] [--repeats N]

"Exactly matching": sjoin(predicate="intersects") finds every LSOA whose closed polygon holds the
point, which is two or more for a point on a shared edge. A row matches when our single LSOA is
one of sjoin's (the shared-edge rule in boundaries/assign.py picks which), or when both find
none. Target (issue 3): 0 mismatches and at least 10x sjoin's speed, measured in the same run.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from boundaries.assign import assign_points
from boundaries.sets import load_boundary_file

SHARED = Path(__file__).resolve().parents[1].parent / "shared/data"
DEFAULT_API = SHARED / "police_uk/api/metropolitan"
DEFAULT_LSOAS = SHARED / "boundaries/london/london-2011-lsoa-gen20.shp"
TARGET_RATIO = 10.0


def read_points(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    lon: list[float] = []
    lat: list[float] = []
    for path in sorted(folder.glob("2017-*.json.gz")):
        for crime in orjson.loads(gzip.decompress(path.read_bytes())):
            lon.append(float(crime["location"]["longitude"]))
            lat.append(float(crime["location"]["latitude"]))
    return np.array(lon), np.array(lat)


def run_sjoin(areas: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> tuple[float, float]:
    """(seconds building the points frame, seconds in sjoin itself) and the joined frame."""
    start = time.perf_counter()
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    built = time.perf_counter()
    joined = gpd.sjoin(points, areas[["code", "geometry"]], predicate="intersects", how="left")
    done = time.perf_counter()
    run_sjoin.joined = joined  # type: ignore[attr-defined]
    return built - start, done - built


def mismatches(ours: np.ndarray, joined: pd.DataFrame) -> tuple[int, int]:
    """Rows where our code is not among sjoin's (or one side finds none); rows sjoin doubles."""
    found = joined["code"].notna().to_numpy()
    sjoin_pairs = pd.MultiIndex.from_arrays([joined.index[found], joined["code"][found]])
    placed = pd.notna(ours)
    our_pairs = pd.MultiIndex.from_arrays([np.flatnonzero(placed), ours[placed]])
    wrong = int((~our_pairs.isin(sjoin_pairs)).sum())
    sjoin_none = set(joined.index[~found].tolist())
    ours_none = set(np.flatnonzero(~placed).tolist())
    wrong += len(sjoin_none ^ ours_none)
    multiple = int(joined.index.value_counts().gt(1).sum())
    return wrong, multiple


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", type=Path, default=DEFAULT_API)
    parser.add_argument("--lsoas", type=Path, default=DEFAULT_LSOAS)
    parser.add_argument("--repeats", type=int, default=5, help="runs of ours (best is reported)")
    args = parser.parse_args(argv)
    if not args.api.is_dir() or not args.lsoas.exists():
        print(f"need {args.api} and {args.lsoas}; pass --api/--lsoas", file=sys.stderr)
        return 2

    start = time.perf_counter()
    lon, lat = read_points(args.api)
    read_seconds = time.perf_counter() - start
    lsoas = load_boundary_file(args.lsoas, "london-lsoa-2011", "lsoa")

    assign_points(lsoas, lon[:1000], lat[:1000])  # warm-up: first-call costs
    timings = []
    polygons = lsoas.areas.geometry.values.to_numpy()
    for _ in range(args.repeats):
        shapely.destroy_prepared(polygons)  # time preparing the polygons too, every run
        start = time.perf_counter()
        result = assign_points(lsoas, lon, lat)
        timings.append(time.perf_counter() - start)
    build_seconds, sjoin_seconds = run_sjoin(lsoas.areas, lon, lat)
    joined = run_sjoin.joined  # type: ignore[attr-defined]

    ours = result.area_codes().to_numpy(zero_copy_only=False)
    wrong, multiple = mismatches(ours, joined)
    best, median = min(timings), statistics.median(timings)
    ratio = sjoin_seconds / best
    print(f"crimes:             {len(lon):,} (JSON read in {read_seconds:.1f} s, not timed)")
    print(f"areas:              {len(lsoas.areas):,} LSOAs ({args.lsoas.name}, EPSG:27700 -> 4326)")
    print(f"distinct points:    {result.distinct_points:,}")
    print(f"in an LSOA:         {int((result.area >= 0).sum()):,}; outside all: {result.outside:,}")
    print(
        f"on a shared edge:   {result.shared_edge_points:,} distinct points; "
        f"{multiple:,} rows with 2+ sjoin matches"
    )
    print(f"ours best:          {best:.3f} s  ({len(lon) / best:,.0f} points/s)")
    print(f"ours median:        {median:.3f} s over {len(timings)} runs")
    print(f"sjoin:              {sjoin_seconds:.3f} s  (+ {build_seconds:.3f} s building points)")
    print(
        f"speed-up vs sjoin (best): {ratio:.1f}x; (median): {sjoin_seconds / median:.1f}x; "
        f"incl. building points: {(sjoin_seconds + build_seconds) / best:.1f}x"
    )
    print(f"mismatches vs sjoin: {wrong}")
    verdict_ratio = "met" if ratio >= TARGET_RATIO else "NOT met"
    verdict_match = "met" if wrong == 0 else "NOT met"
    print(f"targets: 0 mismatches: {verdict_match}; >= {TARGET_RATIO:.0f}x sjoin: {verdict_ratio}")
    return 0 if wrong == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
