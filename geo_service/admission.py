"""Admission control: heavy work runs in a bounded pool, with a bounded queue and a deadline.

A study at resolution 10 with 9,999 permutations takes seconds of CPU and hundreds of MB; 45 of
them at once held /health for 143 s and took RSS to 3 GB (issue 10, finding 3). So every
computation a request cannot answer from the cache (a study, a page or comparison built from
studies) runs through :meth:`Admission.run`:

- at most ``workers`` run at once (default: the cores this process may use), in their own
  threads, so memory is bounded by a few studies, not by the number of clients;
- at most ``queue`` more wait; beyond that the request is refused at once with 503 and
  ``Retry-After`` (:class:`Overloaded`), before it costs anything;
- a request waits at most ``deadline`` seconds in all; past it the client gets a 503 saying
  the answer is still being computed (it is kept in the cache for the retry) and the slot stays
  taken until the work ends, so the bound on work in progress always holds.

Work nested inside admitted work (a study inside a page being built) runs in the slot it is in.
/health never passes through here.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import ClassVar, TypeVar

from pipelines.errors import UnavailableError

T = TypeVar("T")

DEFAULT_QUEUE = 8
DEFAULT_DEADLINE = 120.0
RETRY_AFTER_SECONDS = 30

_inside = contextvars.ContextVar("hotspots_admitted", default=False)


class Overloaded(UnavailableError):
    """Too much heavy work in progress and queued: come back later (503, Retry-After)."""

    headers: ClassVar[dict[str, str]] = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class DeadlineExceeded(UnavailableError):
    """The answer took longer than the request deadline; it is still being computed."""

    headers: ClassVar[dict[str, str]] = {"Retry-After": str(RETRY_AFTER_SECONDS)}


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


class Admission:
    def __init__(
        self,
        workers: int | None = None,
        queue: int = DEFAULT_QUEUE,
        deadline: float = DEFAULT_DEADLINE,
    ) -> None:
        self.workers = workers or default_workers()
        self.queue = queue
        self.deadline = deadline
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="heavy")
        self._lock = threading.Lock()
        self._admitted = 0  # running + waiting
        self.refused = 0  # refusals so far (reported by /health)

    @property
    def in_progress(self) -> int:
        with self._lock:
            return self._admitted

    def run(self, work: Callable[[], T]) -> T:
        """``work()`` in the pool; raises Overloaded or DeadlineExceeded (both 503)."""
        if _inside.get():
            return work()
        with self._lock:
            if self._admitted >= self.workers + self.queue:
                self.refused += 1
                raise Overloaded(
                    f"the service is busy: {self.workers} heavy requests are running and "
                    f"{self.queue} waiting; ask again in {RETRY_AFTER_SECONDS} s"
                )
            self._admitted += 1
        context = contextvars.copy_context()  # the request's pinned store version goes along

        def admitted() -> T:
            try:
                return context.run(_run_admitted, work)
            finally:
                self._release()

        future = self._pool.submit(admitted)
        try:
            return future.result(timeout=self.deadline)
        except FutureTimeout:
            if future.cancel():  # never started: it gives its place back at once
                self._release()
            raise DeadlineExceeded(
                f"the answer took longer than this service's {self.deadline:g} s deadline; "
                "it is still being computed and will be kept, so ask again in a minute"
            ) from None

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _run_admitted(work: Callable[[], T]) -> T:
    _inside.set(True)
    return work()
