"""`hotspots serve --workers 2`: several server processes on one port share the on-disk caches,
and one of them warms them."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil

from boundaries.store import BoundaryStore
from geo_service.results import StudyCache
from pipelines.store import CrimeStore
from tests.live_server import free_port
from tests.service_town import EAST, WARDS, build_town

HOTSPOTS = Path(sys.executable).with_name("hotspots")


def test_two_server_workers_answer_and_share_one_warmed_cache(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    port = free_port()
    env = {**os.environ, "HOTSPOTS_PRECOMPUTE": "1", "HOTSPOTS_PRECOMPUTE_WORKERS": "1"}
    server = subprocess.Popen(
        [str(HOTSPOTS), "serve", "--workers", "2", "--port", str(port), "--tiles", "none",
         "--data-dir", str(data_dir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    cache = StudyCache(CrimeStore(data_dir), BoundaryStore(data_dir))
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        with httpx.Client(base_url=base) as client:
            while time.monotonic() < deadline and len(cache) < 2:
                with contextlib.suppress(httpx.TransportError):  # not listening yet
                    assert client.get("/health", timeout=5).status_code == 200
                time.sleep(0.2)
            # uvicorn's supervisor and its two server processes (and their warming pool).
            assert len(psutil.Process(server.pid).children()) >= 2
            # 2 weights x the whole set (it answers each ward's default question), warmed once
            # into the cache both processes read.
            assert len(cache) == 2
            answer = client.get(
                "/v1/hotspots", params={"boundaries": WARDS, "area": EAST, "top": 3}, timeout=60
            )
        assert answer.status_code == 200
        assert cache.misses == 0
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "Started parent process" in output or "Uvicorn running" in output


def test_page_cursors_work_across_workers_on_a_read_only_data_folder(tmp_path: Path) -> None:
    """A read-only data folder cannot keep the cursor secret; the workers of one `hotspots
    serve` still share one (the parent makes it), so a cursor issued by one worker is good at
    the other, and nothing is written into the folder."""
    from tests.test_store_faults import read_only_view

    data_dir, _ = build_town(tmp_path / "town")
    assert not (data_dir / "cursor_secret").exists()
    with read_only_view(data_dir, tmp_path / "ro") as read_only:
        port = free_port()
        env = {
            **os.environ,
            "HOTSPOTS_PRECOMPUTE": "0",
            "HOTSPOTS_CACHE_DIR": str(tmp_path / "cache"),  # the caches: somewhere writable
        }
        server = subprocess.Popen(
            [str(HOTSPOTS), "serve", "--workers", "2", "--port", str(port), "--tiles", "none",
             "--data-dir", str(read_only)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(server.stdout or []), daemon=True)
        reader.start()
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_listening(base)
            _wait_for(lambda: sum("startup complete" in line for line in lines) >= 2)
            params = {"boundaries": WARDS, "limit": "3", "permutations": "99"}
            first_worker, second_worker = _listening_workers(server.pid, port)[:2]
            # Only the first worker can take the first page (the other is stopped), only the
            # second the next one: the second must accept the first one's cursor.
            with _stopped(second_worker):
                first = httpx.get(f"{base}/v1/hotspots", params=params, timeout=120)
            assert first.status_code == 200, first.text
            cursor = first.json()["page"]["next_cursor"]
            assert cursor
            with _stopped(first_worker):
                following = httpx.get(
                    f"{base}/v1/hotspots", params={**params, "cursor": cursor}, timeout=120
                )
            assert following.status_code == 200, following.text
            assert following.json()["page"]["offset"] == 3
        finally:
            server.terminate()
            server.wait(timeout=30)
            reader.join(timeout=10)
    assert not (data_dir / "cursor_secret").exists()  # nothing written into the data folder


def _listening_workers(parent: int, port: int) -> list[psutil.Process]:
    """The server processes that accept on ``port`` (not uvicorn's supervisor's other
    children)."""
    workers = [
        child
        for child in psutil.Process(parent).children()
        if any(c.laddr.port == port for c in child.net_connections(kind="tcp"))
    ]
    assert len(workers) >= 2, workers
    return workers


@contextlib.contextmanager
def _stopped(process: psutil.Process) -> Iterator[None]:
    """``process`` stopped (SIGSTOP): it accepts no connection until the block ends."""
    process.suspend()
    try:
        yield
    finally:
        process.resume()


def _wait_until_listening(base: str) -> None:
    def answers() -> bool:
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(f"{base}/health", timeout=5).status_code == 200
        return False

    _wait_for(answers)


def _wait_for(condition: Callable[[], bool], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not ready after {seconds} s")


def test_every_worker_reports_the_same_warm_up_progress(tmp_path: Path) -> None:
    """One worker warms the shared cache; /health from each worker alone (the other stopped)
    gives the same progress, not "elsewhere" from the one that does not warm."""
    data_dir, _ = build_town(tmp_path)
    port = free_port()
    env = {**os.environ, "HOTSPOTS_PRECOMPUTE": "1", "HOTSPOTS_PRECOMPUTE_WORKERS": "0"}
    server = subprocess.Popen(
        [str(HOTSPOTS), "serve", "--workers", "2", "--port", str(port), "--tiles", "none",
         "--data-dir", str(data_dir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(server.stdout or []), daemon=True)
    reader.start()
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_listening(base)
        _wait_for(lambda: sum("startup complete" in line for line in lines) >= 2)
        _wait_for(lambda: _warm_up(base)["state"] == "done")
        reports = []
        workers = _listening_workers(server.pid, port)[:2]
        for alone in workers:
            others = [worker for worker in workers if worker is not alone]
            with contextlib.ExitStack() as stack:
                for other in others:
                    stack.enter_context(_stopped(other))
                reports.append(_warm_up(base))
    finally:
        server.terminate()
        server.wait(timeout=30)
        reader.join(timeout=10)
    assert [report["state"] for report in reports] == ["done", "done"]
    assert reports[0] == reports[1]
    assert reports[0]["studies"] == reports[0]["done"] == 2  # the town's set, both weights


def _warm_up(base: str) -> dict:
    return httpx.get(f"{base}/health", timeout=10).json()["warm_up"]
