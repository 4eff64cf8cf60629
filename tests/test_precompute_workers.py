"""Precompute of every area in worker processes: locally, on a Dask LocalCluster, from the CLI."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from boundaries.store import BoundaryStore
from cli.main import app as cli
from geo_service.precompute import (
    WORKERS_ENV,
    BackgroundPrecompute,
    default_requests,
    precompute,
)
from geo_service.results import StudyCache
from geo_service.warm_up_status import SharedWarmUp, shared_status
from pipelines.analysis.window import choose_window
from pipelines.store import CrimeStore
from tests.service_town import EAST, WARDS, WEST, build_town

WEIGHTS = ("count", "home-office-2018")


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir, _ = build_town(tmp_path_factory.mktemp("town"))
    return data_dir


def _cache(data_dir: Path) -> StudyCache:
    return StudyCache(CrimeStore(data_dir), BoundaryStore(data_dir))


def test_the_whole_set_per_weights_and_areas_alone_on_request_busiest_first(town: Path) -> None:
    # The set's study answers every ward's default question (judged against the set).
    assert [(r.areas, r.weights) for r in default_requests(_cache(town), weights=WEIGHTS)] == [
        ((), weight) for weight in WEIGHTS
    ]
    requests = default_requests(_cache(town), weights=WEIGHTS, areas_alone=True)
    assert len(requests) == len(set(requests)) == 2 * 3
    for weight in WEIGHTS:
        mine = [r for r in requests if r.weights == weight]
        # The whole set, then the West ward (the busy street's) before the quieter East ward.
        assert [r.areas for r in mine] == [(), (WEST,), (EAST,)]
        assert [r.scope for r in mine] == ["set", "areas", "areas"]


def test_a_window_spelled_out_is_the_same_cached_question(town: Path) -> None:
    cache = _cache(town)
    default = default_requests(cache, weights=("count",), areas_alone=True)[1]
    window = choose_window(cache.store)
    cache.get(default)
    cache.get(replace(default, first=window.first, last=window.last))  # as the profile asks
    assert (cache.misses, cache.hits) == (1, 1)


def test_worker_processes_fill_the_services_cache(town: Path) -> None:
    cache = _cache(town)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        report = precompute(cache, weights=WEIGHTS, executor=pool)
    assert (report.requests, report.warmed, report.failed) == (2, 2, [])
    for request in default_requests(cache, weights=WEIGHTS):
        cache.get(request)
        cache.get(replace(request, areas=(WEST,)))  # a ward's default answer: the set's study
    assert (cache.misses, cache.hits) == (0, 4)  # every answer came from the workers


def test_dask_local_cluster_and_the_cli_run_the_same_batch(town: Path) -> None:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        cache = _cache(town)
        report = precompute(cache, weights=WEIGHTS, executor=client.get_executor(pure=False))
        assert (report.warmed, report.failed) == (2, [])
        assert all(cache.holds(request)[0] for request in default_requests(cache, weights=WEIGHTS))

        result = CliRunner().invoke(
            cli,
            [
                "precompute",
                "--scheduler",
                cluster.scheduler_address,
                "--boundaries",
                WARDS,
                "--weights",
                "count",
                "--data-dir",
                str(town),
            ],
        )
    assert result.exit_code == 0, result.output
    assert "1 of 1 studies computed" in result.output


def test_cli_refuses_an_unknown_boundary_set(town: Path) -> None:
    result = CliRunner().invoke(
        cli, ["precompute", "--boundaries", "nope", "--data-dir", str(town)]
    )
    assert result.exit_code != 0 and "no boundary set named nope" in result.output


def test_cli_refuses_a_cache_folder_it_cannot_keep_studies_in(
    town: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a read-only data folder (here: a cache folder that is a file) precompute said "2 of 2
    studies computed and cached", exit 0, while every study warned it worked uncached."""
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder should be")
    monkeypatch.setenv("HOTSPOTS_CACHE_DIR", str(not_a_folder))
    result = CliRunner().invoke(cli, ["precompute", "--workers", "1", "--data-dir", str(town)])
    assert result.exit_code == 2, result.output
    assert f"the cache folder {not_a_folder} cannot be opened or written" in result.output
    assert "computed and cached" not in result.output


def test_warm_up_progress_never_goes_back_whichever_process_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/health of the warming process and of its siblings (reading the shared file), asked
    alternately as a load balancer would, never see the progress go backwards."""
    monkeypatch.setenv(WORKERS_ENV, "0")  # warm in this process: its studies take a while
    data_dir, _ = build_town(tmp_path / "fresh")
    shared_dir = tmp_path / "shared"
    shared_dir.mkdir()
    warmer = BackgroundPrecompute(_cache(data_dir), shared=SharedWarmUp(shared_dir)).start()
    seen: list[tuple[int, int]] = []
    while True:
        finished = not warmer.running
        for status in (warmer.status(), shared_status(shared_dir)):
            if status is not None:
                seen.append((status["studies"], status["done"]))
        if finished:
            break
    warmer.join()
    assert seen == sorted(seen), [pair for pair in seen if pair != seen[0]][:10]
    assert seen[-1] == seen[-2] == (2, 2)  # the town's set, both weights; both sources agree
    assert warmer.status()["state"] == shared_status(shared_dir)["state"] == "done"
