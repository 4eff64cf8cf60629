"""The worker processes of an archive ingest: how many, and starting them.

Light on purpose (no Arrow, NumPy or h3 here): the command line starts the workers before it
imports the ingest itself, so each worker's start (a new interpreter importing Arrow, NumPy and
h3, about 0.3 s of CPU) runs on the other core while the command is still importing them,
instead of after it.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Protocol

# Below this many bytes of CSV, starting worker processes (each imports Arrow and h3, about a
# second) costs more than it saves: the files are prepared in this process instead.
_PROCESSES_FROM_BYTES = 64_000_000
WORKERS_ENV = "HOTSPOTS_INGEST_WORKERS"


class _Sized(Protocol):
    size: int


def worker_count(asked: int | None, files: list[_Sized]) -> int:
    """Processes to ingest ``files`` with: ``asked``, or $HOTSPOTS_INGEST_WORKERS, or every
    core this process may use; 1 (this process) for a small archive unless asked."""
    if asked is None:
        from_env = os.environ.get(WORKERS_ENV)
        asked = int(from_env) if from_env else len(os.sched_getaffinity(0))
        if sum(file.size for file in files) < _PROCESSES_FROM_BYTES:
            asked = 1
    return max(1, min(asked, len(files)))


def start_workers(count: int) -> Executor:
    """An executor for ``count`` workers, every process already starting (one worker: a
    thread of this process). The caller shuts it down (``with``)."""
    if count == 1:
        return ThreadPoolExecutor(1)
    # spawn, not fork: the caller may run threads (a progress bar, a web server) that a forked
    # child would inherit half-way through.
    pool = ProcessPoolExecutor(
        count, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_started
    )
    # The pool starts a process only when a task finds no idle one: a task each starts them
    # all now, so they import while the caller does.
    for _ in range(count):
        pool.submit(os.getpid)
    return pool


def _worker_started() -> None:
    # Ctrl-C reaches every process of the terminal's process group: the ingest (the parent)
    # says what the store holds and ends; a worker would only print a KeyboardInterrupt
    # traceback of its own. The parent cancels the files not started; the workers finish theirs.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import pyarrow as pa

    # The ingest's modules, imported now, stay for the worker's life: kept out of the garbage
    # collector's full passes, which otherwise walk them again and again.
    import pipelines.ingest.archive  # noqa: F401

    gc.freeze()
    # Arrow's jemalloc pool rather than its default (mimalloc) in a worker: a file's buffers,
    # tens of MB each time, came back as fresh pages the kernel had to zero; with jemalloc the
    # workers used about 5 % less CPU and 40 MB less memory each. The bytes are the same.
    with contextlib.suppress(NotImplementedError):  # a pyarrow built without jemalloc
        pa.set_memory_pool(pa.jemalloc_memory_pool())
