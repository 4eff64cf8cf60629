"""Benchmark: archive ingest of the 24 Devon and Cornwall months against a naive baseline.

Both sides do the same job end to end (parse, H3 index at the base resolution, write Parquet), in
this process, after imports; interpreter start-up is excluded. The baseline is what an analyst
would write first: pandas read_csv, DataFrame.apply of h3.latlng_to_cell row by row, to_parquet.

    python -m benchmarks.ingest_archive [--archive PATH] [--repeats N]

Targets (issue 2): at least 500,000 rows/s and at least 5x the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h3
import pandas as pd

from pipelines.ingest.archive import ingest_archive
from pipelines.schema import BASE_H3_RESOLUTION
from pipelines.store import CrimeStore

DEFAULT_ARCHIVE = (
    Path(__file__).resolve().parents[1].parent / "shared/data/police_uk/archive/devon-and-cornwall"
)
TARGET_ROWS_PER_SECOND = 500_000
TARGET_RATIO = 5.0


def run_pipeline(archive: Path) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        store = CrimeStore(folder)
        start = time.perf_counter()
        report = ingest_archive(store, archive)
        elapsed = time.perf_counter() - start
    if report.failed:
        raise SystemExit(f"ingest failed for {[f.name for f in report.failed]}")
    return elapsed, report.source_rows


def run_baseline(archive: Path) -> tuple[float, int]:
    def cell(row: pd.Series) -> str | None:
        if pd.isna(row["Latitude"]) or pd.isna(row["Longitude"]):
            return None
        return h3.latlng_to_cell(row["Latitude"], row["Longitude"], BASE_H3_RESOLUTION)

    rows = 0
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        for path in sorted(archive.glob("*/*-street.csv")):
            frame = pd.read_csv(path)
            frame["h3_cell"] = frame.apply(cell, axis=1)
            frame.to_parquet(Path(folder) / f"{path.stem}.parquet")
            rows += len(frame)
        elapsed = time.perf_counter() - start
    return elapsed, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--repeats", type=int, default=5, help="pipeline runs (best is reported)")
    args = parser.parse_args(argv)
    if not args.archive.is_dir():
        print(f"archive folder {args.archive} not found; pass --archive", file=sys.stderr)
        return 2

    run_pipeline(args.archive)  # warm-up: first-call costs of Arrow kernels and the OS cache
    timings = []
    for _ in range(args.repeats):
        elapsed, rows = run_pipeline(args.archive)
        timings.append(elapsed)
    baseline_elapsed, baseline_rows = run_baseline(args.archive)
    if baseline_rows != rows:
        print(f"warning: baseline read {baseline_rows} rows, pipeline {rows}", file=sys.stderr)

    best, median = min(timings), statistics.median(timings)
    rate = rows / best
    ratio = baseline_elapsed / best
    print(f"archive:            {args.archive}")
    print(f"rows:               {rows:,}")
    print(f"pipeline best:      {best:.3f} s  ({rate:,.0f} rows/s)")
    median_rate = rows / median
    baseline_rate = baseline_rows / baseline_elapsed
    runs = len(timings)
    print(f"pipeline median:    {median:.3f} s  ({median_rate:,.0f} rows/s) over {runs} runs")
    print(f"baseline (pandas):  {baseline_elapsed:.3f} s  ({baseline_rate:,.0f} rows/s)")
    print(f"speed-up vs baseline (best): {ratio:.1f}x; (median): {baseline_elapsed / median:.1f}x")
    rate_verdict = "met" if rate >= TARGET_ROWS_PER_SECOND else "NOT met"
    ratio_verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(
        f"targets: >= {TARGET_ROWS_PER_SECOND:,} rows/s: {rate_verdict}; "
        f">= {TARGET_RATIO:.0f}x baseline: {ratio_verdict}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
