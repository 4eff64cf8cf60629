"""Benchmark: the service on the London store - warm-up, /health during it, load at 8 and 50.

Data: the Met 2017 API crimes as a police.uk archive and the 704 London wards of 2022, built in a
temporary folder as benchmarks.london_pipeline does. The server is ``hotspots serve --workers N``
on 127.0.0.1 (a real HTTP server in its own processes); the load generator (httpx, asyncio) runs
in this process on the same machine, so both share its 2 cores.

Measured, each bounded in time and count:
- warm-up from start: seconds until every ward of the set under both default weights (and the
  whole set) is in the on-disk study cache, or how many were by ``--max-warm`` seconds;
  ``/health`` latency (p50, p99) polled every 50 ms meanwhile;
- warm ``/v1/hotspots`` (a ward's ranked list) at concurrency 8: p50 and p99;
- the same at concurrency 50: requests per second;
- after a restart: seconds until 50 ward lists are answered from the cache.

    python -m benchmarks.service_load [--workers 2] [--max-warm 120] [--requests 2000]

Targets (issue 12): warm within 60 s on 2 cores, /health p99 <= 50 ms during warm-up, warm p99
<= 20 ms at concurrency 8, >= 1,000 requests/s at concurrency 50, warm within 5 s after restart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.london_pipeline import HOTSPOTS, LONDON_WARDS, build_met_archive, hotspots
from boundaries.store import BoundaryStore
from geo_service.results import StudyCache
from pipelines.store import CrimeStore

SET = "london-wards-2022"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(data: Path, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "HOTSPOTS_DATA_DIR": str(data)}
    return subprocess.Popen(
        [str(HOTSPOTS), "serve", "--port", str(port), "--tiles", "none", "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


async def wait_up(base: str, limit: float = 120.0) -> float:
    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=base) as client:
        while time.perf_counter() - start < limit:
            try:
                if (await client.get("/health", timeout=2)).status_code == 200:
                    return time.perf_counter() - start
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise SystemExit(f"the server did not answer /health within {limit:.0f} s")


async def warm_up(base: str, data: Path, wanted: int, max_seconds: float) -> tuple:
    """(seconds to warm or None, studies warm at the end, /health latencies in s)."""
    cache = StudyCache(CrimeStore(data), BoundaryStore(data))
    latencies: list[float] = []
    start = time.perf_counter()
    done = asyncio.Event()

    async def poll_health() -> None:
        async with httpx.AsyncClient(base_url=base) as client:
            while not done.is_set():
                sent = time.perf_counter()
                await client.get("/health", timeout=30)
                latencies.append(time.perf_counter() - sent)
                await asyncio.sleep(0.05)

    poller = asyncio.create_task(poll_health())
    warmed, seconds = 0, None
    while time.perf_counter() - start < max_seconds:
        warmed = len(cache)
        if warmed >= wanted:
            seconds = time.perf_counter() - start
            break
        await asyncio.sleep(1.0)
    done.set()
    await poller
    return seconds, warmed, latencies


async def load(base: str, paths: list[str], concurrency: int, total: int, limit: float) -> tuple:
    """(latencies in s, seconds) of ``total`` GETs (cycling ``paths``), ``concurrency`` at once."""
    latencies: list[float] = []
    queue = iter(range(total))
    deadline = time.perf_counter() + limit

    async def user(client: httpx.AsyncClient) -> None:
        for index in queue:
            if time.perf_counter() > deadline:
                return
            sent = time.perf_counter()
            response = await client.get(paths[index % len(paths)], timeout=60)
            response.raise_for_status()
            latencies.append(time.perf_counter() - sent)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(user(client) for _ in range(concurrency)))
        return latencies, time.perf_counter() - start


def _ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


async def run(args: argparse.Namespace, work: Path) -> None:
    archive, data = work / "archive", work / "data"
    cache_dir = work / "unused-cli-cache"
    rows = build_met_archive(archive)
    hotspots(["ingest", "archive", str(archive)], data, cache_dir)
    load_args = ["boundaries", "load", str(LONDON_WARDS), "--name", SET, "--scheme", "ward"]
    hotspots([*load_args, "--vintage", "2022"], data, cache_dir)
    codes = BoundaryStore(data).read(SET).codes
    wanted = 2 * (len(codes) + 1)
    print(f"London store: {rows:,} crimes, {len(codes)} wards; {wanted} default studies to warm")

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(data, port, args.workers)
    try:
        up = await wait_up(base)
        seconds, warmed, health = await warm_up(base, data, wanted, args.max_warm)
        warm_text = f"{seconds:.1f} s" if seconds is not None else f"not within {args.max_warm} s"
        print(f"server up in {up:.1f} s; all {wanted} warm: {warm_text} ({warmed} warm at end)")
        print(
            f"/health during warm-up: p50 {_ms(health, 50):.1f} ms, p99 {_ms(health, 99):.1f} ms "
            f"over {len(health)} requests (target p99 <= 50 ms)"
        )
        paths = [f"/v1/hotspots?boundaries={SET}&area={code}&top=10" for code in codes[:50]]
        await load(base, paths, 8, len(paths), 300)  # first asks: warms the response cache too
        latencies, _ = await load(base, paths, 8, args.requests // 4, 60)
        print(
            f"warm /v1/hotspots at concurrency 8: p50 {_ms(latencies, 50):.1f} ms, p99 "
            f"{_ms(latencies, 99):.1f} ms over {len(latencies)} (target p99 <= 20 ms)"
        )
        latencies, elapsed = await load(base, paths, 50, args.requests, 60)
        print(
            f"warm /v1/hotspots at concurrency 50 with {args.workers} workers: "
            f"{len(latencies) / elapsed:,.0f} requests/s, p99 {_ms(latencies, 99):.1f} ms over "
            f"{len(latencies)} (target >= 1,000/s)"
        )
    finally:
        stop_server(server)
    server = start_server(data, port, args.workers)
    try:
        start = time.perf_counter()
        await wait_up(base)
        await load(base, paths, 8, len(paths), 120)
        print(
            f"after a restart: 50 ward lists answered {time.perf_counter() - start:.1f} s "
            "after start (target: warm within 5 s)"
        )
    finally:
        stop_server(server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--max-warm", type=float, default=120.0, help="seconds to wait for warm")
    parser.add_argument("--requests", type=int, default=2000, help="requests at concurrency 50")
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores shared with other work)")
    with tempfile.TemporaryDirectory(prefix="service-load-") as folder:
        asyncio.run(run(args, Path(folder)))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
