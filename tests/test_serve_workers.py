"""`hotspots serve --workers 2`: several server processes on one port share the on-disk caches,
and one of them warms them."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
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
