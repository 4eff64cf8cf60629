"""Benchmark: the service on the London store - warm-up, /health during it, load at 8 and 50.

Data: the Met 2017 API crimes as a police.uk archive and the 704 London wards of 2022, built in a
temporary folder as benchmarks.london_pipeline does. The server is ``hotspots serve --workers N``
on 127.0.0.1 (a real HTTP server in its own processes). The load generator runs on the same
machine and shares its 2 cores: ``wrk`` (C, Debian package ``wrk``) when it is installed, else
an httpx asyncio client in this process. Either one's own ceiling is measured first, against a
trivial ASGI app served by the same uvicorn settings, so a figure limited by the generator says
so.

Measured, each bounded in time:
- warm-up from start: seconds until every ward's default answer is warm: a ward is judged
  against its whole set by default (``scope=set``), so that is the whole set's study under both
  default weights in the on-disk study cache (a result, or the data guard's refusal, which is
  that question's answer), or how many were by ``--max-warm`` seconds; ``/health`` latency
  (p50, p99) polled every 50 ms meanwhile;
- warm ``/v1/hotspots`` (the ranked list of one of the 50 busiest wards) at concurrency 8:
  p50 and p99, and requests per second;
- the same at concurrency 50 with the server's ``--workers``: requests per second;
- after a restart: seconds from the new server's start until it answers /health, and until
  all 50 ward lists have been answered (from the cache the first server filled).

    python -m benchmarks.service_load [--workers 2] [--max-warm 150] [--seconds 10]

Targets (issue 12): warm within 60 s on 2 cores, /health p99 <= 50 ms during warm-up, warm p99
<= 20 ms at concurrency 8, >= 1,000 requests/s at concurrency 50, warm within 5 s after restart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from benchmarks.london_pipeline import HOTSPOTS, LONDON_WARDS, build_met_archive, hotspots
from boundaries.store import BoundaryStore
from geo_service.precompute import _busiest_first
from geo_service.results import StudyCache
from pipelines.analysis.window import choose_window
from pipelines.store import CrimeStore

SET = "london-wards-2022"
# A new connection per /health poll, so the polls reach every server process, the one that
# warms (and reports its progress) among them: a kept-alive connection stays with one.
_EACH_POLL_ITS_OWN = httpx.Limits(max_keepalive_connections=0)
WARDS_ASKED = 50
# A trivial ASGI app for the load generator's own ceiling: the same server, no application work.
_TRIVIAL_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"ok":true}'})
"""


@dataclass
class Load:
    """One load run: requests answered, seconds, latencies (p50, p99 in ms), errors."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    generator: str

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        errors = f", {self.errors} errors" if self.errors else ""
        return (
            f"{self.per_second:,.0f} requests/s, p50 {self.p50_ms:.1f} ms, p99 "
            f"{self.p99_ms:.1f} ms over {self.requests:,} ({self.generator}{errors})"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(data: Path, port: int, workers: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "HOTSPOTS_DATA_DIR": str(data)}
    args = ["serve", "--port", str(port), "--tiles", "none", "--workers", str(workers)]
    with open(log, "ab") as out:
        return subprocess.Popen([str(HOTSPOTS), *args], env=env, stdout=out, stderr=out)


def start_trivial(folder: Path, port: int) -> subprocess.Popen:
    (folder / "trivial_app.py").write_text(_TRIVIAL_APP)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "trivial_app:app",
            "--port",
            str(port),
            "--no-access-log",
        ],
        cwd=folder,
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


async def wait_up(base: str, path: str = "/health", limit: float = 120.0) -> float:
    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=base) as client:
        while time.perf_counter() - start < limit:
            try:
                if (await client.get(path, timeout=2)).status_code == 200:
                    return time.perf_counter() - start
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise SystemExit(f"the server did not answer {path} within {limit:.0f} s")


def _warm_count(cache: StudyCache) -> int:
    return len(cache) + cache.refusals()


async def warm_up(base: str, cache: StudyCache, wanted: int, limit: float) -> tuple:
    """(seconds to warm or None, studies warm at the end, /health latencies in s, the warming
    process's last /health warm_up block). Warm: every wanted study is cached (a result or
    the data guard's refusal), or the warming process says it is done (a study that fails with
    an error is not kept, so it would never count)."""
    latencies: list[float] = []
    start = time.perf_counter()
    done = asyncio.Event()
    status: dict = {}

    async def poll_health() -> None:
        async with httpx.AsyncClient(base_url=base, limits=_EACH_POLL_ITS_OWN) as client:
            while not done.is_set():
                sent = time.perf_counter()
                answer = await client.get("/health", timeout=30)
                latencies.append(time.perf_counter() - sent)
                warming = answer.json()["warm_up"]
                if warming["state"] != "elsewhere":  # the server process that warms
                    status.update(warming)
                await asyncio.sleep(0.05)

    poller = asyncio.create_task(poll_health())
    warmed, seconds = 0, None
    while time.perf_counter() - start < limit:
        warmed = await asyncio.to_thread(_warm_count, cache)
        if warmed >= wanted or status.get("state") == "done":
            seconds = time.perf_counter() - start
            break
        await asyncio.sleep(0.25)
    done.set()
    await poller
    return seconds, warmed, latencies, status


async def warm_after_start(base: str, cached: int, limit: float = 60.0) -> tuple[float, dict]:
    """Seconds until the warming process's /health says the warm-up is done, or has gone
    through the ``cached`` studies already in the cache (it checks those first, by key, before
    computing the rest), and its last warm_up block."""
    start = time.perf_counter()
    warming: dict = {}
    async with httpx.AsyncClient(base_url=base, limits=_EACH_POLL_ITS_OWN) as client:
        while time.perf_counter() - start < limit:
            answer = (await client.get("/health", timeout=30)).json()["warm_up"]
            if answer["state"] != "elsewhere":
                warming = answer
                if answer["state"] == "done" or answer["done"] >= cached:
                    return time.perf_counter() - start, warming
            await asyncio.sleep(0.05)
    return float("nan"), warming


async def httpx_load(base: str, paths: list[str], concurrency: int, seconds: float) -> Load:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def user(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal errors
        index = offset
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            response = await client.get(paths[index % len(paths)], timeout=60)
            latencies.append(time.perf_counter() - sent)
            errors += response.status_code >= 400
            index += concurrency

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(user(client, i) for i in range(concurrency)))
        elapsed = time.perf_counter() - start
    return Load(len(latencies), elapsed, _ms(latencies, 50), _ms(latencies, 99), errors, "httpx")


_WRK_SCRIPT = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


def wrk_load(base: str, paths: list[str], concurrency: int, seconds: float, folder: Path) -> Load:
    script = folder / "paths.lua"
    script.write_text(_WRK_SCRIPT % ", ".join(f'"{path}"' for path in paths))
    threads = min(2, concurrency)
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds:g}s", "--latency", "-s",
         str(script), base],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out = done.stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    seconds_taken = float(total.group(2)) / (1000 if total.group(3) == "ms" else 1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    load = Load(
        int(total.group(1)),
        seconds_taken,
        _wrk_ms(out, "50%"),
        _wrk_ms(out, "99%"),
        int(errors.group(1)) if errors else 0,
        "wrk" + (f"; socket errors {socket_errors.group(1)}" if socket_errors else ""),
    )
    return load


def _wrk_ms(out: str, percentile: str) -> float:
    found = re.search(rf"{re.escape(percentile)}\s+([\d.]+)(us|ms|s)", out)
    value, unit = float(found.group(1)), found.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


async def load(base: str, paths: list[str], concurrency: int, seconds: float, folder: Path) -> Load:
    if shutil.which("wrk"):
        return await asyncio.to_thread(wrk_load, base, paths, concurrency, seconds, folder)
    return await httpx_load(base, paths, concurrency, seconds)


def _ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def _cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


async def generator_ceiling(work: Path, seconds: float) -> None:
    port = _free_port()
    server = start_trivial(work, port)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_up(base, "/", 60)
        for concurrency in (8, 50):
            result = await load(base, ["/"], concurrency, seconds, work)
            print(f"  generator ceiling, trivial app, concurrency {concurrency}: {result.line()}")
    finally:
        stop_server(server)


async def run(args: argparse.Namespace, work: Path) -> None:
    archive, data = work / "archive", work / "data"
    cache_dir = work / "unused-cli-cache"
    rows = build_met_archive(archive)
    hotspots(["ingest", "archive", str(archive)], data, cache_dir)
    load_args = ["boundaries", "load", str(LONDON_WARDS), "--name", SET, "--scheme", "ward"]
    hotspots([*load_args, "--vintage", "2022"], data, cache_dir)
    boundary_set = BoundaryStore(data).read(SET)
    cache = StudyCache(CrimeStore(data), BoundaryStore(data))
    window = choose_window(cache.store)
    busiest = _busiest_first(cache, boundary_set, window.first, window.last)[:WARDS_ASKED]
    wanted = 2  # every ward's default answer is the whole set's study (scope=set)
    print(
        f"London store: {rows:,} crimes, {len(boundary_set.codes)} wards; {wanted} default "
        f"studies to warm (the whole set, count and home-office-2018: they answer every ward)"
    )
    generator = "wrk" if shutil.which("wrk") else "httpx (wrk not installed: apt-get install wrk)"
    print(f"load generator: {generator}, on this machine")
    await generator_ceiling(work, args.seconds / 2)

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = work / "server.log"
    cpu_before = _cpu_seconds()
    server = start_server(data, port, args.workers, log)
    try:
        up = await wait_up(base)
        seconds, warmed, health, status = await warm_up(base, cache, wanted, args.max_warm)
        if seconds is not None:
            warm_text = f"{up + seconds:.1f} s from start"
        else:
            warm_text = f"not within {up + args.max_warm:.0f} s"
        print(f"server up (answers /health) {up:.1f} s after start, {args.workers} workers")
        print(
            f"every ward warm: {warm_text} (target <= 60 s); {warmed} of {wanted} cached "
            f"(results and refusals)"
        )
        if status:
            print(
                f"  the server's /health: warm-up {status['state']}, {status['done']} of "
                f"{status['studies']} studies in {status['seconds']} s, {status['computed']} "
                f"computed, {status['refused']} refused (kept) or failed"
            )
        print(
            f"/health during warm-up: p50 {_ms(health, 50):.1f} ms, p99 {_ms(health, 99):.1f} ms "
            f"over {len(health)} requests (target p99 <= 50 ms)"
        )
        paths, refused = [], []
        async with httpx.AsyncClient(base_url=base, timeout=300) as client:
            for code in busiest:  # first asks: warms the response cache too
                path = f"/v1/hotspots?boundaries={SET}&area={code}&top=10"
                response = await client.get(path)
                if response.status_code == 200:
                    paths.append(path)
                else:
                    refused.append(f"{code}: {response.status_code} {response.text[:150]}")
        print(
            f"{len(paths)} of the {len(busiest)} busiest wards' lists answer 200 (used below); "
            f"{len(refused)} are refused" + (f", e.g. {refused[0]}" if refused else "")
        )
        result = await load(base, paths, 8, args.seconds, work)
        print(f"warm /v1/hotspots, concurrency 8: {result.line()} (target p99 <= 20 ms)")
        result = await load(base, paths, 50, args.seconds, work)
        print(
            f"warm /v1/hotspots, concurrency 50, {args.workers} workers: {result.line()} "
            "(target >= 1,000 requests/s)"
        )
    finally:
        stop_server(server)
    cpu = _cpu_seconds() - cpu_before  # a child's CPU is counted once it has ended
    print(f"  server CPU (all its processes, warm-up and load): {cpu:.1f} s")
    cached = _warm_count(cache)
    server = start_server(data, port, args.workers, log)
    try:
        start = time.perf_counter()
        up = await wait_up(base)
        async with httpx.AsyncClient(base_url=base, timeout=300) as client:
            for path in paths:
                (await client.get(path)).raise_for_status()
        answered = time.perf_counter() - start
        warm, status = await warm_after_start(base, cached)
        print(
            f"after a restart ({cached} studies cached by the first run): /health "
            f"{up:.1f} s after start, all {len(paths)} ward lists answered {answered:.1f} s "
            f"after start; the warm-up had found the {cached} cached ones "
            f"{answered + warm:.1f} s after start (target: warm within 5 s): {status}"
        )
    finally:
        stop_server(server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--max-warm", type=float, default=150.0, help="seconds to wait for warm")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of each load run")
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores shared with other work)")
    with tempfile.TemporaryDirectory(prefix="service-load-") as folder:
        asyncio.run(run(args, Path(folder)))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
