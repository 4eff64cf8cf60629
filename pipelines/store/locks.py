"""File locks between processes: one writer per force-month, one swapper of the manifest.

Locks are ``flock`` locks on files under ``<data dir>/.locks/``; the operating system drops
them when a process dies, so a killed ingest never leaves the store locked. A writer waits for a
busy partition up to its timeout, then refuses with a line that says who holds it and what to do.

Taken with ``fcntl.flock`` directly rather than through ``filelock``: a national ingest takes a
lock per force-month (1,440 for three years), and filelock's bookkeeping cost twenty times the
system calls (0.17 to 0.4 CPU s of the publishing process, which shares the cores with the
workers). Where there is no ``fcntl`` (Windows) filelock's locks are used instead.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pipelines.store.atomic import disk_faults_in_words
from pipelines.store.errors import PartitionLocked

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

LOCK_TIMEOUT_ENV = "HOTSPOTS_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 600.0  # seconds: longer than one force-month ingest takes on 2 cores
_LOCK_DIR = ".locks"


def lock_timeout_from_env() -> float:
    """Seconds a writer waits for a partition another ingest holds ($HOTSPOTS_LOCK_TIMEOUT)."""
    text = os.environ.get(LOCK_TIMEOUT_ENV)
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"{LOCK_TIMEOUT_ENV} must be a number of seconds, got {text!r}") from None
    if seconds < 0:
        raise ValueError(f"{LOCK_TIMEOUT_ENV} must be 0 or more seconds, got {text!r}")
    return seconds


class LockTimeout(Exception):
    """The lock was still held by another process (or writer) when the timeout ran out."""


# How often a waiting writer tries again (filelock's default too).
_POLL_SECONDS = 0.05


class _Flock:
    """An exclusive ``flock`` on one lock file, held by an open descriptor. Not re-entrant: a
    second acquire of the same file, by any object, waits like another process would. Any
    thread may release it (an archive ingest locks and publishes from different threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, timeout: float = -1) -> _Flock:
        """Wait up to ``timeout`` seconds (negative: without limit), then raise LockTimeout."""
        fd = self._open()
        try:
            if timeout < 0:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                deadline = time.monotonic() + timeout
                while not _try_flock(fd):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise LockTimeout(str(self.path))
                    time.sleep(min(_POLL_SECONDS, left))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT
        # A read-only data folder whose lock folder exists fails here, not where it is made:
        # said in words too (a traceback once ended `hotspots update` on a read-only store).
        with disk_faults_in_words(f"{_LOCK_DIR}/{self.path.name}", path=self.path):
            try:
                return os.open(self.path, flags, 0o666)
            except FileNotFoundError:  # the first lock of a new data folder
                self.path.parent.mkdir(parents=True, exist_ok=True)
                return os.open(self.path, flags, 0o666)

    def release(self) -> None:
        # The file stays: a waiter may hold it open, and must lock the same file.
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> _Flock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class _FileLock:
    """filelock's lock where there is no flock, with the same acquire and timeout."""

    def __init__(self, path: Path) -> None:
        from filelock import FileLock

        # thread_local=False: an archive ingest locks and publishes from different threads.
        self._lock = FileLock(path, thread_local=False)

    def acquire(self, timeout: float = -1) -> _FileLock:
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=timeout)
        except Timeout:
            raise LockTimeout(str(self._lock.lock_file)) from None
        return self

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> _FileLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# A held lock: released by ``release()`` or by leaving its ``with`` block.
StoreLock = _Flock | _FileLock


def file_lock(path: Path) -> StoreLock:
    """An exclusive lock between processes on the file ``path`` (made when first locked); not
    re-entrant. Take it with ``acquire(timeout)``, give it back with ``release()``."""
    return _Flock(path) if fcntl is not None else _FileLock(path)


def _lock(root: Path, name: str) -> StoreLock:
    return file_lock(root / _LOCK_DIR / f"{name}.lock")


def acquire_partition(root: Path, force: str, month: str, timeout: float) -> StoreLock:
    """The held lock of one force-month; raises :class:`PartitionLocked` after ``timeout``."""
    lock = _lock(root, f"{force}.{month}")
    with disk_faults_in_words(
        f"{_LOCK_DIR}/{force}.{month}.lock", path=root / _LOCK_DIR / f"{force}.{month}.lock"
    ):
        try:
            lock.acquire(timeout=timeout)
        except LockTimeout:
            raise PartitionLocked(
                f"another ingest is writing {force} {month} and did not finish within "
                f"{timeout:g} s; run this again when it has finished (or raise "
                f"{LOCK_TIMEOUT_ENV})"
            ) from None
    return lock


def manifest_lock(root: Path) -> StoreLock:
    """The lock every manifest swap holds (``with manifest_lock(root):``): swaps are short, so
    waiting is unbounded."""
    with disk_faults_in_words(
        f"{_LOCK_DIR}/manifest.lock", path=root / _LOCK_DIR / "manifest.lock"
    ):
        (root / _LOCK_DIR).mkdir(parents=True, exist_ok=True)
    return _lock(root, "manifest")
