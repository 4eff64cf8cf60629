"""Benchmark: the study region's H3 cover, new (land-only, hierarchical, vectorised) against the
old cover and against the cover an analyst's script would take, in the same run.

Data: all 704 London wards of 2022 and Torbay's 16 wards of 2019 (../shared/data).

    python -m benchmarks.h3_cover [--res 8 9 10] [--repeats 3] [--skip-old]

- new: ``boundaries.h3_cover.compute_cover`` (no cache): H3's C "overlap" polygon fill per ward,
  one prepared containment test per cell against the wards' coverage union in EPSG:3035, exact
  intersections for the rim cells only; cells at least half inside enter, with their land share.
- old: the cover this project used before: every resolution-12 cell overlapping each ward
  (H3 "overlap"), its parent at the study resolution taken in a Python loop (5.9 M base cells
  for London). It kept sea and neighbouring land (95.5/75.5/68.0 km² for Torbay's 62.9 km² at
  resolutions 8/9/10).
- analyst: ``h3.geo_to_cells`` per ward (centre containment), as the issue 12 baseline script
  does; fast, but it drops rim cells whatever their land share and carries no share.

Prints seconds (median of the repeats; old once), cells, and the area each region covers.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import shapely

from boundaries.h3_cover import EQUAL_AREA, compute_cover
from boundaries.sets import load_boundary_file
from pipelines.schema import BASE_H3_RESOLUTION

SHARED = Path(__file__).resolve().parents[1].parent / "shared/data"
REGIONS = {
    "London (704 wards)": (SHARED / "boundaries/wards_2022/E12000007.geojson", "2022"),
    "Torbay (16 wards)": (SHARED / "boundaries/wards_2019/E06000027.geojson", "2019"),
}
_h3 = h3.api.basic_int


def old_cover(areas: gpd.GeoDataFrame, resolution: int) -> np.ndarray:
    """The previous rule: parents of every resolution-12 cell touching an area."""
    parents: set[int] = set()
    for geometry in areas.geometry.values:
        for part in shapely.get_parts(geometry):
            shape = _h3.geo_to_h3shape(part.__geo_interface__)
            base = _h3.h3shape_to_cells_experimental(shape, BASE_H3_RESOLUTION, "overlap")
            parents.update(_h3.cell_to_parent(cell, resolution) for cell in base)
    return np.array(sorted(parents), dtype=np.uint64)


def analyst_cover(areas: gpd.GeoDataFrame, resolution: int) -> np.ndarray:
    cells: set[str] = set()
    for geometry in areas.geometry.values:
        cells.update(h3.geo_to_cells(geometry.__geo_interface__, resolution))
    return np.array(sorted(h3.str_to_int(c) for c in cells), dtype=np.uint64)


def cells_km2(cells: np.ndarray) -> float:
    return float(sum(_h3.cell_area(int(c), unit="km^2") for c in cells))


def timed(job: Callable[[], object], repeats: int) -> tuple[float, object]:
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = job()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--res", type=int, nargs="+", default=[8, 9, 10])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-old", action="store_true", help="leave out the slow old cover")
    args = parser.parse_args()
    if not all(path.exists() for path, _ in REGIONS.values()):
        raise SystemExit(f"needs the ward files under {SHARED / 'boundaries'}")
    print(f"{'region':20} {'res':>3} {'method':8} {'seconds':>8} {'ratio':>7} {'cells':>7} km²")
    for label, (path, vintage) in REGIONS.items():
        areas = load_boundary_file(path, f"bench-{vintage}", "ward", vintage=vintage).areas
        land = float(areas.geometry.to_crs(EQUAL_AREA).area.sum() / 1e6)
        print(f"{label}: ward land {land:,.1f} km²")
        for resolution in args.res:
            new_s, cover = timed(lambda a=areas, r=resolution: compute_cover(a, r), args.repeats)
            ana_s, analyst = timed(lambda a=areas, r=resolution: analyst_cover(a, r), args.repeats)
            rows = [
                ("new", new_s, len(cover.cells), f"{cover.land_km2.sum():,.1f} land in "
                 f"{cover.cell_km2.sum():,.1f} of cells ({cover.cells_below_share} rim cells "
                 "below half left out)"),
                ("analyst", ana_s, len(analyst), f"{cells_km2(analyst):,.1f} of cells"),
            ]  # fmt: skip
            if not args.skip_old:
                old_s, old = timed(lambda a=areas, r=resolution: old_cover(a, r), 1)
                rows.append(("old", old_s, len(old), f"{cells_km2(old):,.1f} of cells"))
            for method, seconds, cells, km2 in rows:
                ratio = seconds / new_s
                print(
                    f"{'':20} {resolution:>3} {method:8} {seconds:8.2f} {ratio:6.1f}x "
                    f"{cells:>7,} {km2}"
                )
    print("ratio = method seconds / new seconds (above 1: the new cover is faster)")


if __name__ == "__main__":
    main()
