"""Benchmark: how long `hotspots --help` takes, against starting Python and doing nothing.

Each run is a fresh process (what a user waits for): the median wall time of ``hotspots
--help`` beside ``python -c pass`` in the same run, with the CPU time each used (less disturbed
than wall time when the machine is busy). The target is at most 0.5 s; before commands were
imported lazily (cli/lazy_group.py) it took 2-4 s, importing pandas, geopandas, pyarrow and
FastAPI to print a list.

    python -m benchmarks.cli_startup [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.5


def timed(command: list[str], runs: int) -> tuple[float, float]:
    """Median wall and median CPU (user + system) seconds of ``runs`` fresh runs."""
    walls, cpus = [], []
    for _ in range(runs):
        before = os.times()
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = os.times()
        cpus.append(
            (after.children_user - before.children_user)
            + (after.children_system - before.children_system)
        )
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    hotspots = shutil.which("hotspots", path=str(Path(sys.executable).parent)) or "hotspots"
    timed([hotspots, "--help"], 2)  # warm the file cache and .pyc files first
    base_wall, base_cpu = timed([sys.executable, "-c", "pass"], args.runs)
    help_wall, help_cpu = timed([hotspots, "--help"], args.runs)
    load = os.getloadavg()[0]
    print(f"hotspots --help, median of {args.runs} fresh processes (load average {load:.1f}):")
    print(f"  python -c pass (baseline)  wall {base_wall:.3f} s   cpu {base_cpu:.3f} s")
    print(f"  hotspots --help            wall {help_wall:.3f} s   cpu {help_cpu:.3f} s")
    print(
        f"  over the baseline          wall {help_wall - base_wall:+.3f} s   "
        f"({help_wall / base_wall:.1f}x)   target: at most {TARGET_S} s wall"
    )
    verdict = "meets" if help_wall <= TARGET_S else "misses"
    print(f"  {verdict} the target" + ("" if load < 2 else " (machine busy: see cpu)"))


if __name__ == "__main__":
    main()
