"""Benchmark: latency of the running service under 8 concurrent clients, on warm caches.

Builds a store in a temporary folder (the Devon and Cornwall archive 2019-2020 from
../shared/data through the archive ingest, and Torbay's 2019 wards), starts the real service in
its own process (uvicorn on 127.0.0.1, exactly as `hotspots serve` runs it, start-up precompute
on), waits for the precompute to finish and asks every URL once (the warm-up), then drives it
with 8 threads, each with its own httpx client and keep-alive connection, for a fixed number of
requests per endpoint, cycling over Torbay's 16 wards:

    hotspots  /v1/hotspots?boundaries=<set>&area=<ward>&top=10      target p95 <= 50 ms
    profile   /v1/boundaries/<set>/areas/<ward>/profile              target p95 <= 100 ms
    map       /v1/maps/hotspots?boundaries=<set>&area=<ward>         target p95 <= 300 ms

Latency is measured by the client, from sending the request to having read the whole body. An
endpoint that answers 404 on the warm-up is reported "unavailable (404)" and not driven.

    python -m benchmarks.service_latency [--requests N] [--concurrency C] [--data-dir DIR]

Targets (issue 5 item 4): the p95 above at concurrency 8, with zero errors.
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
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from boundaries.sets import load_boundary_file
from boundaries.store import BoundaryStore
from geo_service.precompute import default_requests
from geo_service.results import StudyCache
from pipelines.ingest.archive import ingest_archive
from pipelines.store import CrimeStore

SHARED = Path(__file__).resolve().parents[1].parent / "shared/data"
ARCHIVE = SHARED / "police_uk/archive/devon-and-cornwall"
WARDS = SHARED / "boundaries/wards_2019/E06000027.geojson"
SET = "torbay-wards-2019"
# endpoint -> (URL template, p95 target in ms)
ENDPOINTS = {
    "hotspots": (f"/v1/hotspots?boundaries={SET}&area={{ward}}&top=10", 50.0),
    "profile": (f"/v1/boundaries/{SET}/areas/{{ward}}/profile", 100.0),
    "map": (f"/v1/maps/hotspots?boundaries={SET}&area={{ward}}", 300.0),
}
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Outcome:
    name: str
    target_ms: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unavailable: str | None = None
    warmup_s: float = 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    @property
    def met(self) -> bool:
        return not self.errors and bool(self.latencies_ms) and self.percentile(95) <= self.target_ms


def build_store(data_dir: Path) -> list[str]:
    """Load the archive and the wards (skipped when the folder already holds them)."""
    crimes, boundaries = CrimeStore(data_dir), BoundaryStore(data_dir)
    if not crimes.partitions("devon-and-cornwall"):
        started = time.perf_counter()
        report = ingest_archive(crimes, ARCHIVE)
        print(f"ingested {report.stored:,} crimes in {time.perf_counter() - started:.1f} s")
    if not boundaries.exists(SET):
        boundaries.save(load_boundary_file(WARDS, SET, "ward", vintage="2019"))
    return boundaries.read(SET).codes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "HOTSPOTS_DATA_DIR": str(data_dir), "HOTSPOTS_PRECOMPUTE": "1"}
    command = [
        sys.executable, "-m", "uvicorn", "geo_service.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, cwd=ROOT)


def wait_until_up(base: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer /health within {timeout:.0f} s")


def wait_for_precompute(base: str, expected: int, timeout: float = 900.0) -> float:
    """Seconds until /health shows the start-up precompute's studies cached (or it settles)."""
    started = time.monotonic()
    last, steady_since = -1, time.monotonic()
    while time.monotonic() - started < timeout:
        cache = httpx.get(f"{base}/health", timeout=10).json().get("cache") or {}
        entries = int(cache.get("entries", -1))
        if entries >= expected:
            return time.monotonic() - started
        if entries != last:
            last, steady_since = entries, time.monotonic()
        elif entries < 0 and time.monotonic() - steady_since > 5:
            break  # /health does not report the cache: the warm-up below does the warming
        time.sleep(0.5)
    return time.monotonic() - started


def warm_up(base: str, outcome: Outcome, urls: list[str]) -> None:
    """Ask every URL once: computes anything not precomputed, and finds missing routes."""
    started = time.perf_counter()
    with httpx.Client(base_url=base, timeout=300) as client:
        for url in urls:
            response = client.get(url)
            if response.status_code == 404 and _route_missing(response):
                outcome.unavailable = "unavailable (404)"
                break
            if response.status_code != 200:
                outcome.errors.append(f"warm-up {url}: HTTP {response.status_code}")
    outcome.warmup_s = time.perf_counter() - started


def _route_missing(response: httpx.Response) -> bool:
    """A 404 for the path itself (no such route), not for an unknown area of a real route."""
    try:
        return response.json().get("error") in ("Not Found", "not found")
    except ValueError:
        return True


def drive(base: str, outcome: Outcome, urls: list[str], requests: int, concurrency: int) -> None:
    """``requests`` requests spread over ``concurrency`` threads, URLs taken in turn."""
    lock = threading.Lock()
    next_index = [0]

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                with lock:
                    index = next_index[0]
                    if index >= requests:
                        return
                    next_index[0] += 1
                url = urls[index % len(urls)]
                started = time.perf_counter()
                try:
                    response = client.get(url)
                    elapsed = (time.perf_counter() - started) * 1000
                    error = None if response.status_code == 200 else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    elapsed, error = (time.perf_counter() - started) * 1000, type(exc).__name__
                with lock:
                    outcome.latencies_ms.append(elapsed)
                    if error:
                        outcome.errors.append(f"{url}: {error}")

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def report(outcomes: list[Outcome], concurrency: int) -> bool:
    print()
    print(f"concurrency {concurrency}, latency in ms (client side, whole body read)")
    print(f"{'endpoint':<10}{'requests':>9}{'errors':>8}{'p50':>9}{'p95':>9}{'p99':>9}"
          f"{'target p95':>12}  verdict")  # fmt: skip
    all_met = True
    for o in outcomes:
        if o.unavailable:
            print(f"{o.name:<10}{'-':>9}{'-':>8}{'-':>9}{'-':>9}{'-':>9}{o.target_ms:>12.0f}  "
                  f"{o.unavailable}")  # fmt: skip
            all_met = False
            continue
        verdict = "met" if o.met else "NOT met"
        all_met &= o.met
        print(
            f"{o.name:<10}{len(o.latencies_ms):>9}{len(o.errors):>8}{o.percentile(50):>9.1f}"
            f"{o.percentile(95):>9.1f}{o.percentile(99):>9.1f}{o.target_ms:>12.0f}  {verdict}"
        )
        for error in o.errors[:3]:
            print(f"    error: {error}")
    print(f"targets (p95 at concurrency {concurrency}, zero errors): "
          f"{'all met' if all_met else 'NOT all met'}")  # fmt: skip
    return all_met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--data-dir", type=Path, help="reuse a store here (built if empty)")
    args = parser.parse_args(argv)
    if not ARCHIVE.is_dir():
        print(f"needs the real open data in {SHARED}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="hotspots-bench-") as folder:
        data_dir = args.data_dir or Path(folder)
        wards = build_store(data_dir)
        expected = len(default_requests(StudyCache(CrimeStore(data_dir), BoundaryStore(data_dir))))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(data_dir, port)
        try:
            wait_until_up(base, server)
            waited = wait_for_precompute(base, expected)
            print(f"server up on {base}; start-up precompute of {expected} studies: {waited:.1f} s")
            outcomes = []
            for name, (template, target) in ENDPOINTS.items():
                outcome = Outcome(name, target)
                urls = [template.format(ward=ward) for ward in wards]
                warm_up(base, outcome, urls)
                if outcome.unavailable is None:
                    drive(base, outcome, urls, args.requests, args.concurrency)
                print(f"{name}: warm-up {outcome.warmup_s:.1f} s, driven")
                outcomes.append(outcome)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0 if report(outcomes, args.concurrency) else 1


if __name__ == "__main__":
    raise SystemExit(main())
