"""Warm the study cache with the questions users ask first, so the first request is fast too.

The default hotspot query of an area is the latest 12 stored months at H3 resolution 9 with the
default statistics, counted and harm-weighted: exactly ``StudyRequest(set, areas=(code,),
weights=w)`` with every other field left at its default, which is the cache key the hotspot list
and hotspot map routes produce for a request that only names the set and the area. The whole
set (``areas=()``) is warmed too, for set-wide maps and lists, and each area's query with its
window spelled out, which is how the area profile asks for its hot spots.

It runs after ``hotspots quickstart`` ingests, and at service start-up in a background thread
(see :func:`precompute_lifespan`), and again whenever the data version changes while the service
runs (``hotspots update``; checked every ``HOTSPOTS_PRECOMPUTE_WATCH`` seconds, default 60, 0
turns it off); set ``HOTSPOTS_PRECOMPUTE=0`` to start cold.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

from fastapi import FastAPI

from boundaries.errors import BoundaryError
from geo_service.results import StudyCache
from pipelines.analysis.study import StudyRequest
from pipelines.analysis.window import WindowError, choose_window

DEFAULT_WEIGHTS: tuple[str, ...] = ("count", "home-office-2018")
DEFAULT_RESOLUTION = 9
PRECOMPUTE_ENV = "HOTSPOTS_PRECOMPUTE"
# Seconds between checks for new data (an update or ingest) that re-warm the defaults; 0: never.
WATCH_ENV = "HOTSPOTS_PRECOMPUTE_WATCH"
DEFAULT_WATCH_SECONDS = 60.0
_OFF = ("0", "false", "no", "off")
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


Progress = Callable[[int, int, StudyRequest], None]


def default_request(
    set_name: str,
    area: str | None = None,
    weights: str = "count",
    resolution: int = DEFAULT_RESOLUTION,
) -> StudyRequest:
    """The default hotspot query of one area (or, with ``area=None``, of the whole set)."""
    return StudyRequest(
        boundaries=set_name,
        areas=(area,) if area else (),
        resolution=resolution,
        weights=weights,
    )


def default_requests(
    cache: StudyCache,
    set_names: Iterable[str] | None = None,
    weights: Sequence[str] = DEFAULT_WEIGHTS,
    resolution: int = DEFAULT_RESOLUTION,
    skipped: list[str] | None = None,
    explicit_window: bool = True,
) -> list[StudyRequest]:
    """For every set (default: every stored set), the whole set then each area, per weights.

    With ``explicit_window`` each area's query is also warmed with the same window spelled out
    (``first``/``last`` = the latest 12 stored months): the area profile asks for its hot spots
    that way, and the cache keys the two spellings apart. A set that cannot be read, or a store
    with no crimes, is left out and described in ``skipped``.
    """
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
            codes = cache.boundaries.read(name).codes
        except BoundaryError as error:
            notes.append(f"{name}: {error}")
            continue
        for weight in weights:
            requests.append(default_request(name, None, weight, resolution))
            for code in codes:
                request = default_request(name, code, weight, resolution)
                requests.append(request)
                if explicit_window:
                    requests.append(replace(request, first=window.first, last=window.last))
    return requests


def precompute(
    target: StudyCache | FastAPI,
    set_names: Iterable[str] | None = None,
    weights: Sequence[str] = DEFAULT_WEIGHTS,
    resolution: int = DEFAULT_RESOLUTION,
    *,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    explicit_window: bool = True,
) -> PrecomputeReport:
    """Compute (or find cached) the default study of every area; never raises for one bad area.

    ``target`` is the service's StudyCache or the app holding it (``app.state.cache``). An area
    the study refuses (too little data, no crimes stored) is listed in ``failed`` with the
    message a request for it would get; requests for it compute and fail the same way later.
    """
    cache = target.state.cache if isinstance(target, FastAPI) else target
    started = time.perf_counter()
    report = PrecomputeReport()
    requests = default_requests(
        cache, set_names, weights, resolution, report.skipped, explicit_window
    )
    # The cache is on disk and bounded in bytes, not entries: every default study is warmed.
    report.requests = len(requests)
    for done, request in enumerate(requests, start=1):
        if stop is not None and stop.is_set():
            report.stopped = True
            break
        try:
            cache.get(request)
            report.warmed += 1
        except ValueError as error:
            # The pipelines' input errors (StudyError, WindowError, BoundaryError...) are all
            # ValueErrors: an answer for that area, not a reason to stop warming the others.
            report.failed.append((request, str(error)))
        if progress is not None:
            progress(done, len(requests), request)
    report.seconds = time.perf_counter() - started
    return report


class BackgroundPrecompute:
    """:func:`precompute` in a daemon thread; ``stop()`` ends it between two studies."""

    def __init__(self, target: StudyCache | FastAPI, **options: object) -> None:
        self.report: PrecomputeReport | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(target, options), name="hotspots-precompute", daemon=True
        )

    def start(self) -> BackgroundPrecompute:
        self._thread.start()
        return self

    def _run(self, target: StudyCache | FastAPI, options: dict) -> None:
        try:
            self.report = precompute(target, stop=self._stop, **options)
        except Exception as error:  # a broken store must not take the service down with it
            self.error = error
            log.exception("precompute stopped")
            return
        report = self.report
        log.info(
            "precompute: %d of %d studies warmed in %.1f s, %d refused%s",
            report.warmed,
            report.requests,
            report.seconds,
            len(report.failed),
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
            self.app.state.precompute = BackgroundPrecompute(self.app).start()
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
    enabled = enabled_at_startup()
    app.state.precompute = BackgroundPrecompute(app).start() if enabled else None
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
