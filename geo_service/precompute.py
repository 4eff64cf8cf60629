"""Warm the study cache with the questions users ask first, so the first request is fast too.

The default hotspot query of an area is the latest 12 stored months at H3 resolution 9 with the
default statistics, counted and harm-weighted: exactly ``StudyRequest(set, areas=(code,),
weights=w)`` with every other field left at its default, which is the question the hotspot list
and hotspot map routes ask for a request that only names the set and the area; the cache keys it
with its window spelled out, which is how the area profile asks, so one study serves both. The
whole set (``areas=()``) is warmed too, for set-wide maps and lists. The studies run in worker
processes (``HOTSPOTS_PRECOMPUTE_WORKERS``, default one per core), so the service answers at once
and keeps answering while it warms; ``hotspots precompute`` runs the same on Dask.

It runs after ``hotspots quickstart`` ingests, and at service start-up in a background thread
(see :func:`precompute_lifespan`), and again whenever the data version changes while the service
runs (``hotspots update``; checked every ``HOTSPOTS_PRECOMPUTE_WATCH`` seconds, default 60, 0
turns it off); set ``HOTSPOTS_PRECOMPUTE=0`` to start cold.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from filelock import FileLock, Timeout

from boundaries.counts import count_crimes
from boundaries.errors import BoundaryError
from boundaries.store import BoundaryStore
from geo_service.held_store import HeldCrimeStore
from geo_service.results import StudyCache
from geo_service.warm_up_status import SharedWarmUp, status_of
from pipelines.analysis.request import DEFAULT_SCOPE
from pipelines.analysis.study import StudyRequest
from pipelines.analysis.window import WindowError, choose_window

DEFAULT_WEIGHTS: tuple[str, ...] = ("count", "home-office-2018")
DEFAULT_RESOLUTION = 9
PRECOMPUTE_ENV = "HOTSPOTS_PRECOMPUTE"
WORKERS_ENV = "HOTSPOTS_PRECOMPUTE_WORKERS"
# Seconds between checks for new data (an update or ingest) that re-warm the defaults; 0: never.
WATCH_ENV = "HOTSPOTS_PRECOMPUTE_WATCH"
DEFAULT_WATCH_SECONDS = 60.0
_OFF = ("0", "false", "no", "off")
# Seconds between a warm-up worker's checks that the server process that started it is alive.
_PARENT_CHECK_SECONDS = 1.0
# Added to a warm-up worker's nice value (lower priority than the server's processes).
_WORKER_NICENESS = 10
# Seconds the service waits at shutdown for the study in progress before leaving it (daemon).
_STOP_WAIT = 5.0

log = logging.getLogger("hotspots.precompute")


@dataclass
class PrecomputeReport:
    requests: int = 0  # studies asked for
    warmed: int = 0  # studies now in the cache (computed now or already there)
    failed: list[tuple[StudyRequest, str]] = field(default_factory=list)  # with the reason
    skipped: list[str] = field(default_factory=list)  # what was not attempted, and why
    stopped: bool = False  # asked to stop before the end
    seconds: float = 0.0
    done: int = 0  # studies finished so far (warmed or failed): progress while it runs
    computed: int = 0  # of those, studies computed now rather than found in the cache
    started: float = field(default_factory=time.perf_counter)


Progress = Callable[[int, int, StudyRequest | None], None]  # None: the list is made


def default_request(
    set_name: str,
    area: str | None = None,
    weights: str = "count",
    resolution: int = DEFAULT_RESOLUTION,
    scope: str = DEFAULT_SCOPE,
) -> StudyRequest:
    """The default hotspot query of one area (or, with ``area=None``, of the whole set). By
    default an area is judged against its whole set, so its answer is the set's study."""
    return StudyRequest(
        boundaries=set_name,
        areas=(area,) if area else (),
        resolution=resolution,
        weights=weights,
        scope=scope,
    )


def default_requests(
    cache: StudyCache,
    set_names: Iterable[str] | None = None,
    weights: Sequence[str] = DEFAULT_WEIGHTS,
    resolution: int = DEFAULT_RESOLUTION,
    skipped: list[str] | None = None,
    areas_alone: bool = False,
) -> list[StudyRequest]:
    """For every set (default: every stored set), per weights, the whole set's study: it
    answers every area's default question (an area is judged against its set,
    pipelines/analysis/scope.py). Area-alone studies (``scope=areas``) are not the default, so
    they are warmed only with ``areas_alone``: each area after its set, the areas with the most
    crimes in the window first (those without any last: they are the ones a study refuses).
    Each question once. A set that cannot be read, or a store with no crimes, is left out and
    described in ``skipped``."""
    notes = skipped if skipped is not None else []
    try:
        window = choose_window(cache.store)
    except WindowError as error:
        notes.append(str(error))
        return []
    names = list(set_names) if set_names is not None else cache.boundaries.names()
    requests: list[StudyRequest] = []
    for name in names:
        try:
            boundary_set = cache.boundaries.read(name)
        except BoundaryError as error:
            notes.append(f"{name}: {error}")
            continue
        codes = (
            _busiest_first(cache, boundary_set, window.first, window.last) if areas_alone else []
        )
        for weight in weights:
            requests.append(default_request(name, None, weight, resolution))
            requests.extend(
                default_request(name, code, weight, resolution, scope="areas") for code in codes
            )
    # The cache keys a question by its window spelled out (results.canonical_request): asking
    # for the same months twice would compute nothing new.
    return list(dict.fromkeys(requests))


def _busiest_first(cache: StudyCache, boundary_set: object, first: str, last: str) -> list[str]:
    try:
        counts = count_crimes(cache.store, boundary_set, first=first, last=last).table
    except ValueError:
        return list(boundary_set.codes)
    ordered = counts.sort_values(["crimes", "code"], ascending=[False, True], kind="stable")
    return ordered["code"].tolist()


def compute_study(data_dir: str, request: StudyRequest) -> tuple[StudyRequest, str | None, bool]:
    """One study in a worker process (a local pool or a Dask worker), into the on-disk cache
    that every process of the store shares: (request, the reason when the study refuses,
    whether it was computed now rather than found in the cache)."""
    cache = _worker_cache(data_dir)
    before = cache.misses
    try:
        cache.get(request)
    except ValueError as error:
        return request, str(error), cache.misses > before
    return request, None, cache.misses > before


@functools.cache
def _worker_cache(data_dir: str) -> StudyCache:
    # One worker runs many studies of one store in a row: it reads each partition file once
    # and answers the region reads from memory (geo_service.held_store), while they fit.
    root = Path(data_dir)
    return StudyCache(HeldCrimeStore(root), BoundaryStore(root))


def lower_priority(parent: int) -> None:
    """Start of a warm-up worker process: below the server's own processes, so warming uses
    the cores the requests leave idle and /health and cached answers stay prompt; and gone
    with the server process ``parent`` that started it."""
    with contextlib.suppress(OSError):  # not allowed here: warm at normal priority
        os.nice(_WORKER_NICENESS)
    if os.getppid() != parent:  # it died while this process was starting
        os._exit(0)
    threading.Thread(
        target=_exit_with_parent, args=(parent,), name="hotspots-parent-watch", daemon=True
    ).start()


def _exit_with_parent(parent: int) -> None:
    # A server process that stops (or is killed) mid-warm-up cannot always shut its pool down;
    # its idle workers would wait for work for ever. Once the parent is gone, so is the worker.
    while True:
        time.sleep(_PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            os._exit(0)


def precompute(
    target: StudyCache | FastAPI,
    set_names: Iterable[str] | None = None,
    weights: Sequence[str] = DEFAULT_WEIGHTS,
    resolution: int = DEFAULT_RESOLUTION,
    *,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
    report: PrecomputeReport | None = None,
) -> PrecomputeReport:
    """Compute (or find cached) the default study of every area; never raises for one bad area.

    ``target`` is the service's StudyCache or the app holding it (``app.state.cache``). With an
    ``executor`` (a process pool, or a Dask client's ``get_executor()``) the studies run in its
    workers, each reading the store itself and writing to the on-disk cache this one reads.
    An area the study refuses (too little data, no crimes stored) is listed in ``failed`` with
    the message a request for it would get. A ``report`` given is filled in as studies finish
    (the service shows that progress on /health).
    """
    cache = target.state.cache if isinstance(target, FastAPI) else target
    started = time.perf_counter()
    report = report if report is not None else PrecomputeReport()
    report.started = started
    requests = default_requests(cache, set_names, weights, resolution, report.skipped)
    # The cache is on disk and bounded in bytes, not entries: every default study is warmed.
    report.requests = len(requests)
    if progress is not None:  # the number of studies is news before the first one finishes
        progress(0, len(requests), None)
    # Answers already cached (a restart, a second run) are counted here, without a worker.
    pending = []
    for request in requests:
        held, refusal = cache.holds(request)
        if not held:
            pending.append(request)
            continue
        if refusal is None:
            report.warmed += 1
        else:
            report.failed.append((request, refusal))
        report.done += 1
        if progress is not None:
            progress(report.done, len(requests), request)
    if executor is None:
        _run_here(cache, pending, report, stop, progress)
    elif pending:
        _run_in_workers(cache, pending, report, stop, progress, executor)
    report.seconds = time.perf_counter() - started
    return report


def _run_here(
    cache: StudyCache,
    requests: list[StudyRequest],
    report: PrecomputeReport,
    stop: threading.Event | None,
    progress: Progress | None,
) -> None:
    for request in requests:
        if stop is not None and stop.is_set():
            report.stopped = True
            break
        before = cache.misses
        try:
            cache.get(request)
            report.warmed += 1
        except ValueError as error:
            # The pipelines' input errors (StudyError, WindowError, BoundaryError...) are all
            # ValueErrors: an answer for that area, not a reason to stop warming the others.
            report.failed.append((request, str(error)))
        report.computed += cache.misses > before
        report.done += 1
        if progress is not None:
            progress(report.done, report.requests, request)


def _run_in_workers(
    cache: StudyCache,
    requests: list[StudyRequest],
    report: PrecomputeReport,
    stop: threading.Event | None,
    progress: Progress | None,
    executor: Executor,
) -> None:
    data_dir = str(cache.store.root)
    futures = [executor.submit(compute_study, data_dir, request) for request in requests]
    try:
        for future in as_completed(futures):
            if stop is not None and stop.is_set():
                report.stopped = True
                break
            request, refusal, computed = future.result()
            if refusal is not None:
                report.failed.append((request, refusal))
            else:
                report.warmed += 1
            report.computed += computed
            report.done += 1
            if progress is not None:
                progress(report.done, report.requests, request)
    finally:
        for future in futures:
            future.cancel()


def worker_count() -> int:
    """Precompute worker processes of the service: $HOTSPOTS_PRECOMPUTE_WORKERS, else one per
    core this process may use (0: warm in a thread of the service itself)."""
    text = os.environ.get(WORKERS_ENV)
    if text:
        try:
            return max(0, int(text))
        except ValueError:
            log.warning("%s=%r is not a number; using one worker per core", WORKERS_ENV, text)
    return len(os.sched_getaffinity(0))


class _WhenNeeded(Executor):
    """A pool of ``workers`` low-priority processes, started at the first ``submit``."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, fn: Callable, /, *args: object, **kwargs: object) -> Future:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=lower_priority,
                initargs=(os.getpid(),),
            )
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


class BackgroundPrecompute:
    """:func:`precompute` in a daemon thread; ``stop()`` ends it between two studies. With
    ``shared``, its progress is published for the service's other processes as it goes."""

    def __init__(
        self, target: StudyCache | FastAPI, shared: SharedWarmUp | None = None, **options: object
    ) -> None:
        self.report = PrecomputeReport()  # filled in as studies finish: /health shows it
        self.error: BaseException | None = None
        self.started_at = time.time()  # wall clock: the other processes count seconds from it
        self._shared = shared
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(target, options), name="hotspots-precompute", daemon=True
        )

    def start(self) -> BackgroundPrecompute:
        self._thread.start()
        return self

    def status(self) -> dict:
        """/health's ``warm_up`` fields (geo_service.warm_up_status.status_of). With ``shared``,
        the status last published: the one every other server process reports too."""
        published = self._shared.published() if self._shared is not None else None
        if published is None:
            return self._live_status()
        if published["state"] == "warming":
            published["seconds"] = round(time.time() - self.started_at, 1)
        return published

    def _live_status(self) -> dict:
        return status_of(self._state(), self.report, self.started_at)

    def _state(self) -> str:
        if self.running and not self._finished:
            return "warming"
        return "failed" if self.error else "stopped" if self.report.stopped else "done"

    _finished = False

    def _publish(self) -> None:
        if self._shared is not None:
            self._shared.publish(self._live_status(), self.started_at)

    def _run(self, target: StudyCache | FastAPI, options: dict) -> None:
        self._publish()
        if self._shared is not None:
            options = {**options, "progress": lambda *_: self._publish()}
        try:
            self._warm(target, options)
        finally:
            self._finished = True
            self._publish()

    def _warm(self, target: StudyCache | FastAPI, options: dict) -> None:
        workers = worker_count()
        try:
            if workers == 0:
                precompute(target, stop=self._stop, report=self.report, **options)
            else:
                # Worker processes, not threads: a study holds the GIL for much of its time,
                # and the service's own requests must not wait behind the warming. Started
                # only when a study is missing: after a restart usually none is.
                with _WhenNeeded(workers) as pool:
                    precompute(
                        target, stop=self._stop, executor=pool, report=self.report, **options
                    )
        except Exception as error:  # a broken store must not take the service down with it
            self.error = error
            log.exception("precompute stopped")
            return
        report = self.report
        log.info(
            "precompute: %d of %d studies warmed in %.1f s, %d refused (%d computed now)%s",
            report.warmed,
            report.requests,
            report.seconds,
            len(report.failed),
            report.computed,
            " (stopped)" if report.stopped else "",
        )

    def stop(self, wait: float = _STOP_WAIT) -> None:
        self._stop.set()
        self._thread.join(wait)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()


class RewarmOnNewData:
    """Warm the defaults again whenever the store's data version changes (``hotspots update``
    or an ingest while the service runs): the default window moved, so the warmed answers are
    for data no request will be asked on again. One stat of the manifest per check."""

    def __init__(self, app: FastAPI, every: float) -> None:
        self.app = app
        self.every = every
        self.rewarmed = 0
        self._seen = self._version()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name="hotspots-precompute-watch", daemon=True
        )

    def start(self) -> RewarmOnNewData:
        self._thread.start()
        return self

    def _version(self) -> str | None:
        try:
            return self.app.state.store.version()
        except Exception:  # a store fault is /health's news; check again next time
            return None

    def _watch(self) -> None:
        while not self._stop.wait(self.every):
            version = self._version()
            if version is None or version == self._seen:
                continue
            self._seen = version
            current = getattr(self.app.state, "precompute", None)
            if current is not None:
                current.stop()
            self.app.state.precompute = warm_up(self.app)
            self.rewarmed += 1
            log.info("new data version %s: warming the default studies again", version)

    def stop(self, wait: float = _STOP_WAIT) -> None:
        self._stop.set()
        self._thread.join(wait)


def watch_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(WATCH_ENV, DEFAULT_WATCH_SECONDS)))
    except ValueError:
        return DEFAULT_WATCH_SECONDS


def enabled_at_startup() -> bool:
    return os.environ.get(PRECOMPUTE_ENV, "1").strip().lower() not in _OFF


@asynccontextmanager
async def precompute_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """FastAPI lifespan: start warming when the service starts, stop it when it stops.

    The server answers at once; requests for a study not warmed yet compute it themselves (or
    wait for the warming thread if it is computing that very study: one computation per key).
    """
    # With several server workers (``hotspots serve --workers N``) one of them warms the cache
    # they share on disk: the one that holds the lock; the others only answer.
    enabled, warmer = _warmer(app) if enabled_at_startup() else (False, None)
    app.state.precompute = warm_up(app) if enabled else None
    app.state.precompute_elsewhere = enabled_at_startup() and not enabled
    every = watch_seconds()
    watcher = RewarmOnNewData(app, every).start() if enabled and every > 0 else None
    app.state.precompute_watch = watcher
    try:
        yield
    finally:
        if watcher is not None:
            await asyncio.to_thread(watcher.stop)
        warming = app.state.precompute
        if warming is not None:
            await asyncio.to_thread(warming.stop)
        if warmer is not None:
            warmer.release()


def warm_up(app: FastAPI) -> BackgroundPrecompute:
    """Start warming ``app``'s cache, its progress shared with the service's other processes
    through the cache folder (geo_service.warm_up_status)."""
    shared = SharedWarmUp(Path(app.state.settings.cache_dir))
    return BackgroundPrecompute(app, shared=shared).start()


def _warmer(app: FastAPI) -> tuple[bool, FileLock | None]:
    """(whether this process warms, the lock that says so): not when another process of the
    service holds the lock; yes, without a lock, when the cache folder cannot hold one."""
    folder = Path(app.state.settings.cache_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(folder / "precompute.lock")
        lock.acquire(timeout=0)
    except Timeout:
        return False, None
    except OSError:
        return True, None
    return True, lock
