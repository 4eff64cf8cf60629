"""The service's warm-up and its short way to cached answers (issue 12 items 4 and 7).

- warming runs beside the service: /health answers (and says how far warming is) while it runs;
- a warm-up worker's answers (regions read from memory) equal a fresh study's, refusals too;
- a refusal is kept, so asking again computes nothing;
- a repeated URL answered the short way (no routing) is byte for byte the full way's answer,
  and a new data version is never answered from the old one;
- a restarted service finds its warm-up already done in the on-disk cache.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from boundaries.store import BoundaryStore
from geo_service.app import create_app
from geo_service.held_store import HeldCrimeStore
from geo_service.precompute import PRECOMPUTE_ENV, WORKERS_ENV, default_requests
from geo_service.results import StudyCache
from geo_service.settings import Settings
from pipelines.analysis.study import StudyError, run_study
from pipelines.cache import DiskCache
from pipelines.store import CrimeStore
from tests.live_server import live_server
from tests.service_town import EAST, KEY, WARDS, WEST, build_town
from tests.torbay import TORBAY_WARDS, torbay_store


@pytest.fixture
def warming(monkeypatch: pytest.MonkeyPatch) -> None:
    """Warm at start-up, in one worker process (as `hotspots serve` does, with fewer)."""
    monkeypatch.setenv(PRECOMPUTE_ENV, "1")
    monkeypatch.setenv(WORKERS_ENV, "1")


def _wait_warm(client: httpx.Client, limit: float = 240) -> list[dict]:
    """Every /health answer until the warm-up says it is done (each one must be a 200)."""
    seen = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        answer = client.get("/health", timeout=30)
        assert answer.status_code == 200
        seen.append(answer.json()["warm_up"])
        if seen[-1]["state"] not in ("warming",):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"the warm-up did not finish within {limit} s: {seen[-1]}")


def test_health_answers_while_warming_and_a_restart_finds_it_done(
    tmp_path: Path, warming: None
) -> None:
    data_dir, _ = build_town(tmp_path)
    settings = Settings(data_dir=data_dir)
    with live_server(settings) as base, httpx.Client(base_url=base) as client:
        seen = _wait_warm(client)
        ward = client.get("/v1/hotspots", params={"boundaries": WARDS, "area": WEST, "top": 3})
    # The worker process takes seconds to start: /health answered while it was warming.
    assert seen[0]["state"] == "warming"
    # The whole set under both default weights: they answer every ward's default question.
    assert seen[-1] == {**seen[-1], "state": "done", "studies": 2, "done": 2, "computed": 2}
    assert ward.status_code == 200

    with live_server(settings) as base, httpx.Client(base_url=base) as client:
        seen = _wait_warm(client)
    # Same keys in new processes: every study was found in the on-disk cache.
    assert seen[-1] == {**seen[-1], "state": "done", "studies": 2, "done": 2, "computed": 0}


@pytest.fixture(scope="module")
def torbay(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("torbay")
    torbay_store(shared_data, data_dir, "2020-01", "2020-12")
    return data_dir


def test_a_warm_up_workers_answers_equal_fresh_studies_refusals_too(torbay: Path) -> None:
    boundaries = BoundaryStore(torbay)
    wards = boundaries.read(TORBAY_WARDS)
    cache = StudyCache(CrimeStore(torbay), boundaries, DiskCache(torbay / "unused"))
    requests = default_requests(
        cache, [TORBAY_WARDS], weights=("count", "home-office-2018"), areas_alone=True
    )
    held, fresh = HeldCrimeStore(torbay), CrimeStore(torbay)
    answered = refused = 0
    for request in requests:
        try:
            expected = run_study(fresh, wards, request)
        except StudyError as error:
            with pytest.raises(StudyError) as same:
                run_study(held, wards, request)
            assert str(same.value) == str(error)
            refused += 1
            continue
        got = run_study(held, wards, request)
        pd.testing.assert_frame_equal(got.cells, expected.cells)
        assert got.provenance == expected.provenance
        answered += 1
    assert answered >= 10  # Torbay's busier wards and the whole set, both weights
    assert len(held.held._files) == 12  # each month's file read once, then held


def test_a_refusal_is_kept_and_asking_again_computes_nothing(torbay: Path, tmp_path: Path) -> None:
    boundaries = BoundaryStore(torbay)
    cache = StudyCache(CrimeStore(torbay), boundaries, DiskCache(tmp_path / "cache"))
    quietest = default_requests(cache, [TORBAY_WARDS], weights=("count",), areas_alone=True)[-1]
    refused = replace(quietest, resolution=10, adjust=False)  # a quiet ward at res 10: refused
    with pytest.raises(StudyError) as first:
        cache.get(refused)
    again = StudyCache(CrimeStore(torbay), boundaries, DiskCache(tmp_path / "cache"))
    with pytest.raises(StudyError) as second:
        again.get(refused)
    assert str(second.value) == str(first.value)
    assert (again.misses, again.hits, again.refusals()) == (0, 1, 1)


def test_the_short_way_answers_byte_for_byte_and_never_from_old_data(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    app = create_app(Settings(data_dir=data_dir))
    url = f"/v1/hotspots?boundaries={WARDS}&area={EAST}&top=3"
    with TestClient(app) as client:
        full = client.get(url)  # computed: the URL is now known
        before = app.state.responses.hits
        short = client.get(url)
        reordered = client.get(f"/v1/hotspots?top=3&area={EAST}&boundaries={WARDS}")
    assert full.status_code == short.status_code == reordered.status_code == 200
    assert app.state.responses.hits == before + 2
    for answer in (short, reordered):
        assert answer.content == full.content
        assert _headers(answer) == _headers(full)
    assert (url.split("?")[0], url.split("?")[1].encode()) in app.state.responses._shortcuts

    # New data: the known URL must not be answered from the answer for the old version.
    version = full.headers["x-data-version"]
    manifest = data_dir / "crimes" / "manifest.json"
    text = manifest.read_text()
    _drop_one_month(data_dir)
    with TestClient(app) as client:
        after = client.get(url)
    manifest.write_text(text)
    assert after.status_code == 200
    assert after.headers["x-data-version"] != version
    assert after.json()["provenance"]["window"] != full.json()["provenance"]["window"]


def _headers(response: httpx.Response) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in response.headers.multi_items() if k not in ("date", "server"))


def _drop_one_month(data_dir: Path) -> None:
    """A new store version without the latest month (as a writer would publish it)."""
    manifest = data_dir / "crimes" / "manifest.json"
    body = json.loads(manifest.read_text())
    body["partitions"] = body["partitions"][:-1]
    body.pop("version", None)
    temporary = manifest.with_suffix(".tmp")
    temporary.write_text(json.dumps(body))
    os.replace(temporary, manifest)


def test_keyed_reads_take_the_short_way_only_with_a_valid_key(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    app = create_app(Settings(data_dir=data_dir, read_access="keyed"))
    url = f"/v1/hotspots?boundaries={WARDS}&area={EAST}&top=3"
    with TestClient(app) as client:
        assert client.get(url, headers={"X-API-Key": KEY}).status_code == 200
        known = client.get(url, headers={"X-API-Key": KEY})
        without = client.get(url)
        wrong = client.get(url, headers={"X-API-Key": "not-the-key"})
    assert known.status_code == 200
    assert (without.status_code, wrong.status_code) == (401, 403)


def test_a_server_stopped_while_warming_leaves_no_worker_behind(torbay: Path) -> None:
    import signal
    import subprocess
    import sys

    import psutil

    from tests.live_server import free_port

    data_dir = torbay.parent / "killed-while-warming"
    shutil.copytree(torbay, data_dir, ignore=shutil.ignore_patterns("cache"))
    env = {**os.environ, PRECOMPUTE_ENV: "1", WORKERS_ENV: "2"}
    hotspots = Path(sys.executable).with_name("hotspots")
    server = subprocess.Popen(
        [str(hotspots), "serve", "--port", str(free_port()), "--tiles", "none",
         "--data-dir", str(data_dir)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    workers: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(workers) < 2:
            workers = psutil.Process(server.pid).children(recursive=True)
            time.sleep(0.05)
        assert len(workers) >= 2, "the warm-up's worker processes never started"
    finally:
        server.send_signal(signal.SIGKILL)  # no shutdown at all: the workers must still go
        server.wait(30)
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert alive == []
