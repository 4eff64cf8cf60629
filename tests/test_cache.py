"""The on-disk cache (issue 10 finding 3, issue 12 item 2): bounded in bytes with LRU eviction,
keyed by validated requests and the data version, shared between processes, warm after a
restart, safe under concurrent writers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pyarrow.compute as pc
import pytest

from boundaries.store import BoundaryStore
from geo_service.results import StudyCache
from geo_service.settings import Settings
from pipelines.analysis.study import StudyRequest
from pipelines.cache import DiskCache, cache_dir_for
from pipelines.store import CrimeStore
from tests.live_server import live_server
from tests.service_town import WARDS, build_town

MIB = 1024 * 1024
# No background warm-up in the servers here: it would add entries these tests count.
pytestmark = pytest.mark.usefixtures("no_precompute")


def test_the_cache_stays_within_its_bytes_and_keeps_what_was_used_last(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "cache", size_limit=4 * MIB)
    value = b"x" * (256 * 1024)
    cache.set("test", ("first",), value)
    for i in range(60):  # 15 MiB offered to a 4 MiB cache
        cache.set("test", (i,), value)
        assert cache.get("test", ("first",)) == value  # used all along: never the one to go
        assert cache.volume() <= 4 * MIB + 2 * len(value)
    assert len(cache) < 20
    assert cache.get("test", (0,)) is None  # least recently used: gone
    assert cache.get("test", (59,)) == value


def test_junk_and_reordered_parameters_add_no_entries(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    params = {"boundaries": WARDS, "permutations": 99}
    with live_server(Settings(data_dir=data_dir)) as base, httpx.Client(base_url=base) as api:

        def entries() -> int:
            return api.get("/health").json()["cache"]["entries"]

        assert api.get("/v1/hotspots", params=params, timeout=120).status_code == 200
        held = entries()
        same_question = [
            {**params, "alpha": "0.05", "res": "9"},  # defaults spelt out
            {"permutations": "99", "boundaries": WARDS, "alpha": "0.050"},  # reordered, respelt
            {**params, "seed": "0", "k": "1", "correction": "fdr_bh"},
        ]
        for variant in same_question:
            answer = api.get("/v1/hotspots", params=variant, timeout=120)
            assert answer.status_code == 200, answer.text
        junk = api.get("/v1/hotspots", params={**params, "utm_source": "x" * 500}, timeout=60)
        assert junk.status_code == 422  # unknown parameters are refused, never cached
        assert entries() == held


_STUDY_IN_ANOTHER_PROCESS = textwrap.dedent(
    """
    import sys
    from boundaries.store import BoundaryStore
    from geo_service.results import StudyCache
    from pipelines.analysis.study import StudyRequest
    from pipelines.store import CrimeStore
    cache = StudyCache(CrimeStore(sys.argv[1]), BoundaryStore(sys.argv[1]))
    cache.get(StudyRequest(sys.argv[2], permutations=99))
    print(cache.misses)
    """
)


def test_a_second_process_and_a_restarted_server_find_the_first_ones_answers(
    tmp_path: Path,
) -> None:
    data_dir, _ = build_town(tmp_path)
    other = subprocess.run(
        [sys.executable, "-c", _STUDY_IN_ANOTHER_PROCESS, str(data_dir), WARDS],
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.strip() == "1"  # it computed the study and kept it on disk

    cache = StudyCache(CrimeStore(data_dir), BoundaryStore(data_dir))
    cache.get(StudyRequest(WARDS, permutations=99))
    assert (cache.hits, cache.misses) == (1, 0)
    assert (cache_dir_for(data_dir)).is_dir()

    params = {"boundaries": WARDS, "permutations": 99, "format": "csv"}
    with live_server(Settings(data_dir=data_dir)) as base, httpx.Client(base_url=base) as api:
        first = api.get("/v1/hotspots", params=params, timeout=120)
        assert api.get("/health").json()["cache"]["misses"] == 0  # the study was on disk
    with live_server(Settings(data_dir=data_dir)) as base, httpx.Client(base_url=base) as api:
        again = api.get("/v1/hotspots", params=params, timeout=120)
        health = api.get("/health").json()["cache"]
        assert (health["hits"], health["misses"]) == (0, 0)  # a finished response, from disk
    assert again.content == first.content


def test_keys_change_with_the_data_version(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path)
    store = CrimeStore(data_dir)
    cache = StudyCache(store, BoundaryStore(data_dir))
    request = StudyRequest(WARDS, permutations=99)
    first, version = cache.get(request)

    force, month = store.partitions()[0]
    table = store.read_partition(force, month)
    coverage = store.coverage_of(force, month)
    coverage.stored = table.num_rows - 1
    keep = pc.invert(pc.equal(table["crime_id"], f"{month}-hot-0"))  # one burglary fewer
    store.write_partition(table.filter(keep), coverage)

    second, new_version = cache.get(request)
    assert new_version != version and new_version.startswith(store.version())
    assert (cache.hits, cache.misses) == (0, 2)
    assert second.cells["count"].sum() == first.cells["count"].sum() - 1
    assert cache.get(request)[1] == new_version and cache.hits == 1


_WRITER = textwrap.dedent(
    """
    import sys
    from pipelines.cache import DiskCache
    cache = DiskCache(sys.argv[1], size_limit=64 * 1024 * 1024)
    me = int(sys.argv[2])
    for i in range(200):
        cache.set("shared", (i % 20,), bytes([me]) * 50_000)
        value = cache.get("shared", ((i * 7) % 20,))
        assert value is None or (len(value) == 50_000 and len(set(value)) == 1), "torn value"
    """
)


def test_concurrent_writers_never_tear_a_value(tmp_path: Path) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path / "cache"), str(n)])
        for n in range(4)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    cache = DiskCache(tmp_path / "cache", size_limit=64 * MIB)
    for i in range(20):
        value = cache.get("shared", (i,))
        assert len(value) == 50_000 and len(set(value)) == 1  # whole, one writer's
