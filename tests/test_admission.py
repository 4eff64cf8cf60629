"""Admission control (issue 10, finding 3): a flood of heavy requests is answered 503 with
Retry-After beyond a bounded pool and queue, a request past its deadline gets a 503 in words,
and /health keeps answering throughout. Wall times are measured by benchmarks/admission_flood.py,
never asserted here."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from geo_service.settings import Settings
from tests.live_server import live_server
from tests.service_town import WARDS, build_town

FLOOD = 12
# No background warm-up: it would take a slot of the pool these tests count.
pytestmark = pytest.mark.usefixtures("no_precompute")


def _heavy(seed: int) -> dict:
    # A new seed is a new study: nothing in the cache can answer it.
    return {"boundaries": WARDS, "res": 10, "permutations": 9999, "seed": seed}


def test_a_flood_gets_503_beyond_the_queue_while_health_answers(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    settings = Settings(data_dir=data_dir, study_workers=1, study_queue=2)
    health_statuses: list[int] = []
    flooding = threading.Event()

    with live_server(settings) as base:

        def poll_health() -> None:
            with httpx.Client(base_url=base, timeout=30) as client:
                while flooding.is_set():
                    health_statuses.append(client.get("/health").status_code)
                    time.sleep(0.05)

        def ask(seed: int) -> httpx.Response:
            return httpx.get(f"{base}/v1/hotspots", params=_heavy(seed), timeout=300)

        flooding.set()
        poller = threading.Thread(target=poll_health)
        poller.start()
        with ThreadPoolExecutor(FLOOD) as clients:
            answers = list(clients.map(ask, range(FLOOD)))
        flooding.clear()
        poller.join()
        health = httpx.get(f"{base}/health").json()

    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {200, 503}, statuses
    refused = [answer for answer in answers if answer.status_code == 503]
    assert refused, "a flood beyond 1 running + 2 waiting must be refused in part"
    assert statuses.count(200) >= 3  # the admitted ones are answered
    for answer in refused:
        assert int(answer.headers["retry-after"]) > 0
        assert "busy" in answer.json()["error"]
    assert health_statuses and set(health_statuses) == {200}  # /health never waited or failed
    assert health["admission"]["refused"] == len(refused)
    assert health["admission"]["in_progress"] == 0
    assert (health["admission"]["workers"], health["admission"]["queue"]) == (1, 2)


def test_a_request_past_its_deadline_gets_503_and_its_answer_later(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    settings = Settings(data_dir=data_dir, study_workers=1, study_queue=2, request_deadline=0.001)
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=120) as api:
        late = api.get("/v1/hotspots", params=_heavy(1))
        assert late.status_code == 503, late.text
        assert "deadline" in late.json()["error"] and late.headers["retry-after"]
        # The work went on in its slot and was kept on disk.
        while api.get("/health").json()["admission"]["in_progress"]:
            time.sleep(0.1)
    # A server with time to answer (sharing the store's cache) finds the study already done.
    with live_server(Settings(data_dir=data_dir)) as base, httpx.Client(base_url=base) as api:
        again = api.get("/v1/hotspots", params=_heavy(1), timeout=300)
        assert again.status_code == 200, again.text
        assert api.get("/health").json()["cache"]["misses"] == 0
