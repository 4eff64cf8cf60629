"""Benchmark: the study region's H3 cover, new (land-only, hierarchical, vectorised) against the
earlier covers and the cover an analyst's script would take, in the same run.

Data: all 704 London wards of 2022, Torbay's 16 wards of 2019 and the 8,648 km² square of
``benchmarks.london_pipeline`` (centred on Devon and Cornwall's 2020 crimes) from ../shared/data.

    python -m benchmarks.h3_cover [--res 8 9 10] [--repeats 3] [--skip-old] [--modes]

- new: ``boundaries.h3_cover.compute_cover`` (no cache): one h3ronpy centre fill of the merged
  areas for the interior, exact geometry only for a band of cells along the boundary
  (``boundaries/land_share.py``); cells at least half inside enter, with their land share.
- previous: the cover of 2 December 2026 morning: H3's C "overlap" fill per area, every cell's
  polygon, a prepared containment test per cell and exact intersections for the rim (0.76 s of a
  5.15 s London study). Its candidates follow edges straight in degrees, so it misses cells along
  long edges (the square's: 3 region cells, 149 touching cells at resolution 9).
- old: every resolution-12 cell overlapping each ward (H3 "overlap"), its parent at the study
  resolution taken in a Python loop (5.9 M base cells for London); kept sea and neighbouring land.
  Not run on the square (29 M base cells).
- analyst: ``h3.geo_to_cells`` per area (centre containment), as the issue 12 baseline script
  does; it drops rim cells whatever their land share and carries no share.
- ``--modes``: each polygon containment mode of H3 (C) and h3ronpy (Rust) on the merged areas,
  the measurement the new cover's design rests on.

- cached: ``cover_areas`` reading the cover back from an on-disk cache (``pipelines.cache``), as
  every study after the first does.

Prints wall and CPU seconds (median of the repeats; old once), the ratio against new, cells, the
area each region covers, and the machine's load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import shapely
from h3ronpy.vector import ContainmentMode, geometry_to_cells

from boundaries.h3_cover import (
    EQUAL_AREA,
    MIN_LAND_SHARE,
    cell_polygons,
    compute_cover,
    cover_areas,
)
from boundaries.land_share import equal_area, merged_region
from boundaries.sets import BoundarySet, load_boundary_file
from pipelines.cache import caching_in, open_cache
from pipelines.schema import BASE_H3_RESOLUTION

SHARED = Path(__file__).resolve().parents[1].parent / "shared/data"
REGIONS = {
    "London (704 wards)": (SHARED / "boundaries/wards_2022/E12000007.geojson", "2022"),
    "Torbay (16 wards)": (SHARED / "boundaries/wards_2019/E06000027.geojson", "2019"),
}
_h3 = h3.api.basic_int


def old_cover(areas: gpd.GeoDataFrame, resolution: int) -> np.ndarray:
    """The first rule: parents of every resolution-12 cell touching an area."""
    parents: set[int] = set()
    for geometry in areas.geometry.values:
        for part in shapely.get_parts(geometry):
            shape = _h3.geo_to_h3shape(part.__geo_interface__)
            base = _h3.h3shape_to_cells_experimental(shape, BASE_H3_RESOLUTION, "overlap")
            parents.update(_h3.cell_to_parent(cell, resolution) for cell in base)
    return np.array(sorted(parents), dtype=np.uint64)


def previous_cover(areas: gpd.GeoDataFrame, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """The second rule's cells and shares: H3 "overlap" per area, every cell's polygon tested."""
    found: list[int] = []
    for geometry in areas.geometry.values:
        for part in shapely.get_parts(geometry):
            shape = _h3.geo_to_h3shape(part.__geo_interface__)
            found.extend(_h3.h3shape_to_cells_experimental(shape, resolution, "overlap"))
    cells = np.unique(np.asarray(found, dtype=np.uint64))
    region = equal_area(merged_region(list(areas.geometry.values)))
    shapely.prepare(region)
    polygons = cell_polygons(cells)
    shares = np.ones(len(cells))
    rim = ~shapely.contains_properly(region, polygons)
    inside = shapely.area(shapely.intersection(polygons[rim], region))
    shares[rim] = np.minimum(inside / shapely.area(polygons[rim]), 1.0)
    keep = shares >= MIN_LAND_SHARE
    # Cell areas and centres, as the previous cover computed them one cell at a time.
    _ = [(_h3.cell_area(int(c), unit="km^2"), _h3.cell_to_latlng(int(c))) for c in cells[keep]]
    return cells[keep], shares[keep]


def analyst_cover(areas: gpd.GeoDataFrame, resolution: int) -> np.ndarray:
    cells: set[str] = set()
    for geometry in areas.geometry.values:
        cells.update(h3.geo_to_cells(geometry.__geo_interface__, resolution))
    return np.array(sorted(h3.str_to_int(c) for c in cells), dtype=np.uint64)


def cells_km2(cells: np.ndarray) -> float:
    return float(sum(_h3.cell_area(int(c), unit="km^2") for c in cells))


def timed(job: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``repeats`` runs, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = job()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def containment_modes(areas: gpd.GeoDataFrame, resolution: int, repeats: int) -> None:
    """Each polygon fill of the merged areas: H3's C modes and h3ronpy's."""
    region = merged_region(list(areas.geometry.values))

    def h3_fill(mode: str) -> int:
        return sum(
            len(
                _h3.h3shape_to_cells_experimental(
                    _h3.geo_to_h3shape(part.__geo_interface__), resolution, mode
                )
            )
            for part in shapely.get_parts(region)
        )

    jobs: dict[str, Callable[[], int]] = {
        f"h3 {mode}": (lambda m=mode: h3_fill(m))
        for mode in ("center", "full", "overlap", "bbox_overlap")
    }
    for mode in ("ContainsCentroid", "ContainsBoundary", "IntersectsBoundary", "Covers"):
        jobs[f"h3ronpy {mode}"] = lambda m=mode: len(
            geometry_to_cells(region, resolution, containment_mode=getattr(ContainmentMode, m))
        )
    for label, job in jobs.items():
        wall, cpu, cells = timed(job, repeats)
        print(f"{'':20} {resolution:>3} {label:28} {wall:8.3f} s wall {cpu:8.3f} s CPU {cells:>9,}")


def square_region(folder: Path) -> tuple[str, BoundarySet] | None:
    """The london_pipeline benchmark's 8,648 km² square, when the Devon archive is present."""
    from benchmarks.london_pipeline import DEVON_ARCHIVE, region_square

    if not DEVON_ARCHIVE.is_dir():
        return None
    square = region_square(DEVON_ARCHIVE, [f"2020-{month:02d}" for month in range(1, 13)])
    path = folder / "square.geojson"
    path.write_text(square.to_json())
    return "8,648 km² square", load_boundary_file(
        path, "bench-square", "lad", vintage="2020", code_field="code", name_field="name"
    )


def cached_read(
    boundary_set: BoundarySet, resolution: int, folder: Path, repeats: int
) -> tuple[float, float]:
    """Median wall and CPU seconds of ``cover_areas`` once its cover is in an on-disk cache."""
    with caching_in(open_cache(folder / f"cache-{boundary_set.name}-{resolution}")):
        cover_areas(boundary_set, resolution)  # computed and stored
        wall, cpu, _ = timed(lambda: cover_areas(boundary_set, resolution), repeats)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--res", type=int, nargs="+", default=[8, 9, 10])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-old", action="store_true", help="leave out the slow first cover")
    parser.add_argument("--modes", action="store_true", help="time each containment mode too")
    args = parser.parse_args()
    if not all(path.exists() for path, _ in REGIONS.values()):
        raise SystemExit(f"needs the ward files under {SHARED / 'boundaries'}")
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores; other work shares them)")
    with tempfile.TemporaryDirectory(prefix="h3-cover-bench-") as folder:
        run(args, Path(folder))
    print("ratio = method wall seconds / new wall seconds (above 1: the new cover is faster)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def run(args: argparse.Namespace, folder: Path) -> None:
    regions = [
        (label, load_boundary_file(path, f"bench-{vintage}", "ward", vintage=vintage))
        for label, (path, vintage) in REGIONS.items()
    ]
    square = square_region(folder)
    if square:
        regions.append(square)
    print(
        f"{'region':20} {'res':>3} {'method':8} {'wall s':>8} {'CPU s':>7} {'ratio':>7} cells, km²"
    )
    for label, boundary_set in regions:
        areas = boundary_set.areas
        land = float(areas.geometry.to_crs(EQUAL_AREA).area.sum() / 1e6)
        print(f"{label}: land {land:,.1f} km²")
        for resolution in args.res:
            new_s, new_cpu, cover = timed(
                lambda a=areas, r=resolution: compute_cover(a, r), args.repeats
            )
            prev_s, prev_cpu, (prev, _) = timed(
                lambda a=areas, r=resolution: previous_cover(a, r), args.repeats
            )
            ana_s, ana_cpu, analyst = timed(
                lambda a=areas, r=resolution: analyst_cover(a, r), args.repeats
            )
            missed = len(np.setdiff1d(cover.cells, prev))
            rows = [
                ("new", new_s, new_cpu, len(cover.cells), f"{cover.land_km2.sum():,.1f} land in "
                 f"{cover.cell_km2.sum():,.1f} of cells ({cover.cells_below_share} rim cells "
                 "below half left out)"),
                ("previous", prev_s, prev_cpu, len(prev), f"{missed} region cells missed"),
                ("analyst", ana_s, ana_cpu, len(analyst), f"{cells_km2(analyst):,.1f} of cells"),
            ]  # fmt: skip
            if not args.skip_old and boundary_set.name != "bench-square":  # 29 M base cells
                old_s, old_cpu, old = timed(lambda a=areas, r=resolution: old_cover(a, r), 1)
                rows.append(("old", old_s, old_cpu, len(old), f"{cells_km2(old):,.1f} of cells"))
            cached_s, cached_cpu = cached_read(boundary_set, resolution, folder, args.repeats)
            rows.append(("cached", cached_s, cached_cpu, len(cover.cells), "read from disk"))
            for method, seconds, cpu, cells, km2 in rows:
                print(
                    f"{'':20} {resolution:>3} {method:8} {seconds:8.3f} {cpu:7.3f} "
                    f"{seconds / new_s:6.1f}x {cells:>7,} {km2}"
                )
            if args.modes:
                containment_modes(areas, resolution, args.repeats)


if __name__ == "__main__":
    main()
