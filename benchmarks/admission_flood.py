"""Benchmark: /health latency and server memory while a flood of heavy requests arrives.

Issue 10, finding 3: 45 concurrent heavy requests (res 10, 9,999 permutations) held /health for
143 s and took RSS to 3 GB. This builds the synthetic demo city in a temporary folder, starts
the real service in its own process (uvicorn on 127.0.0.1, as `hotspots serve` runs it), and
measures /health from one client:

    idle    /health alone, before any study (the baseline, same run)
    flood   /health while FLOOD clients each ask for a different heavy study at once
            (res 10, 9,999 permutations, a new seed each: nothing is cached)

It prints p50/p99 of /health in both phases and their ratio, how the flood was answered
(200 / 503 with Retry-After), and the server's peak RSS. Target: /health p99 under flood at
most 50 ms; the admission limits (HOTSPOTS_STUDY_WORKERS, HOTSPOTS_STUDY_QUEUE) bound the rest.

    python -m benchmarks.admission_flood [--flood 45] [--health-requests 200]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from boundaries.store import BoundaryStore
from pipelines.demo_city import WARDS_SET, build_demo
from pipelines.store import CrimeStore


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _health_latencies(base: str, count: int, stop: threading.Event | None = None) -> list[float]:
    times = []
    with httpx.Client(base_url=base, timeout=300) as client:
        for _ in range(count):
            if stop is not None and stop.is_set():
                break
            start = time.perf_counter()
            response = client.get("/health")
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.text
            time.sleep(0.02)
    return times


def _percentiles(times: list[float]) -> str:
    return f"p50 {np.percentile(times, 50):7.1f} ms  p99 {np.percentile(times, 99):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=45)
    parser.add_argument("--health-requests", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hotspots-flood-") as folder:
        data_dir = Path(folder) / "store"
        build_demo(CrimeStore(data_dir), BoundaryStore(data_dir))
        port = _free_port()
        env = {**os.environ, "HOTSPOTS_DATA_DIR": str(data_dir), "HOTSPOTS_PRECOMPUTE": "0"}
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "geo_service.app:create_app", "--factory"),
                *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            ],
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            admission = httpx.get(f"{base}/health").json()["admission"]
            idle = _health_latencies(base, args.health_requests)
            rss_before = _rss_mb(server.pid)

            peak = [rss_before]
            stop = threading.Event()

            def watch_memory() -> None:
                while not stop.is_set():
                    peak.append(_rss_mb(server.pid))
                    time.sleep(0.1)

            def heavy(seed: int) -> httpx.Response:
                params = {"boundaries": WARDS_SET, "res": 10, "permutations": 9999, "seed": seed}
                return httpx.get(f"{base}/v1/hotspots", params=params, timeout=600)

            watcher = threading.Thread(target=watch_memory)
            watcher.start()
            with ThreadPoolExecutor(args.flood + 1) as pool:
                answers = [pool.submit(heavy, seed) for seed in range(args.flood)]
                during = pool.submit(_health_latencies, base, args.health_requests, stop)
                statuses = [answer.result().status_code for answer in answers]
                stop.set()
                flood = during.result()
            watcher.join()
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(
        f"admission: {admission['workers']} workers, queue {admission['queue']}, "
        f"deadline {admission['deadline_seconds']:g} s; machine cores {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"/health idle   ({len(idle)} requests): {_percentiles(idle)}")
    print(f"/health flood  ({len(flood)} requests): {_percentiles(flood)}")
    ratio = np.percentile(flood, 99) / np.percentile(idle, 99)
    print(f"flood/idle p99 ratio: {ratio:.1f}x  (target: flood p99 <= 50 ms)")
    other = len(statuses) - statuses.count(200) - statuses.count(503)
    print(
        f"flood of {args.flood}: {statuses.count(200)} answered 200, "
        f"{statuses.count(503)} refused 503, other {other}"
    )
    print(f"server RSS: {rss_before:.0f} MB before, peak {max(peak):.0f} MB during the flood")


if __name__ == "__main__":
    main()
