"""The window moves with the data; cached answers of older versions expire; pinned windows keep
theirs (geo_service/results.py: the study cache keyed by the data a study can read)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from boundaries.store import BoundaryStore
from geo_service.app import create_app
from geo_service.precompute import PRECOMPUTE_ENV, WATCH_ENV
from geo_service.results import StudyCache
from geo_service.settings import Settings
from pipelines.analysis.study import StudyRequest
from pipelines.ingest.archive import ingest_archive
from pipelines.store import CrimeStore
from tests.archive_fixtures import ArchiveBuilder, crime_line
from tests.service_town import HOT, WARDS, build_town

DEFAULT = StudyRequest(WARDS, permutations=0, p_for_classes="analytic")
PINNED = StudyRequest(
    WARDS, first="2019-01", last="2019-06", permutations=0, p_for_classes="analytic"
)


def _publish(archive: ArchiveBuilder, store: CrimeStore, month: str) -> None:
    lines = [
        crime_line(month, f"{month}-{i}", longitude=str(HOT[0]), latitude=str(HOT[1]))
        for i in range(30)
    ]
    archive.write("devon-and-cornwall", month, lines)
    ingest_archive(store, archive.root)


def test_new_month_moves_the_default_window_and_expires_its_old_answer(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    store = CrimeStore(data_dir)
    cache = StudyCache(store, BoundaryStore(data_dir))
    before, version_before = cache.get(DEFAULT)
    assert before.window.last == "2019-12"

    _publish(ArchiveBuilder(tmp_path / "new"), store, "2020-01")
    after, version_after = cache.get(DEFAULT)

    assert after.window.last == "2020-01" and after.window.first == "2019-02"
    assert version_after != version_before
    assert after.cells["count"].sum() != before.cells["count"].sum()
    assert len(cache) == 1  # the answer on the older data is gone, not left to the LRU
    assert (cache.hits, cache.misses) == (0, 2)


def test_pinned_window_keeps_its_cached_answer_when_a_later_month_arrives(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    store = CrimeStore(data_dir)
    cache = StudyCache(store, BoundaryStore(data_dir))
    first, version = cache.get(PINNED)

    _publish(ArchiveBuilder(tmp_path / "new"), store, "2020-01")
    again, version_again = cache.get(PINNED)

    # Served from the cache (the same answer, read back from disk), on the same version.
    assert again.cells.equals(first.cells) and version_again == version
    assert (cache.hits, cache.misses) == (1, 1)


def test_pinned_window_recomputes_when_a_month_inside_it_is_revised(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    store = CrimeStore(data_dir)
    cache = StudyCache(store, BoundaryStore(data_dir))
    first, version = cache.get(PINNED)

    _publish(ArchiveBuilder(tmp_path / "revised"), store, "2019-03")  # republished, inside
    again, version_again = cache.get(PINNED)

    assert version_again != version
    assert again.cells["count"].sum() != first.cells["count"].sum()
    assert len(cache) == 1


def test_running_service_warms_the_moved_defaults_after_new_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update while the service runs: the defaults are warmed again on the new data, so the
    first request after it is answered from the cache, on the moved window."""
    data_dir, _ = build_town(tmp_path)
    monkeypatch.setenv(PRECOMPUTE_ENV, "1")
    monkeypatch.setenv(WATCH_ENV, "0.2")
    service = create_app(Settings(data_dir=data_dir))
    with TestClient(service) as client:
        service.state.precompute.join(timeout=300)
        _publish(ArchiveBuilder(tmp_path / "new"), CrimeStore(data_dir), "2020-01")
        deadline = time.monotonic() + 300
        while service.state.precompute_watch.rewarmed == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert service.state.precompute_watch.rewarmed == 1, "the new data was not noticed"
        service.state.precompute.join(timeout=300)
        assert service.state.precompute.report.failed == []
        cache: StudyCache = service.state.cache
        computed = cache.misses
        answer = client.get("/v1/hotspots", params={"boundaries": WARDS, "top": 5})
    assert answer.status_code == 200, answer.text
    assert answer.json()["provenance"]["window"]["last"] == "2020-01"
    assert cache.misses == computed  # warmed on the new data before it was asked for
