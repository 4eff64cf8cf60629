"""File locks between processes: one writer per force-month, one swapper of the manifest.

Locks are ``filelock`` locks on files under ``<data dir>/.locks/``; the operating system drops
them when a process dies, so a killed ingest never leaves the store locked. A writer waits for a
busy partition up to its timeout, then refuses with a line that says who holds it and what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock, Timeout

from pipelines.store.atomic import disk_faults_in_words
from pipelines.store.errors import PartitionLocked

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


def _lock(root: Path, name: str) -> FileLock:
    # thread_local=False: an archive ingest writes partitions from a pool of threads and commits
    # (releases) from the main thread.
    return FileLock(root / _LOCK_DIR / f"{name}.lock", thread_local=False)


def acquire_partition(root: Path, force: str, month: str, timeout: float) -> FileLock:
    """The held lock of one force-month; raises :class:`PartitionLocked` after ``timeout``."""
    lock = _lock(root, f"{force}.{month}")
    with disk_faults_in_words(f"{_LOCK_DIR}/{force}.{month}.lock"):
        (root / _LOCK_DIR).mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise PartitionLocked(
                f"another ingest is writing {force} {month} and did not finish within "
                f"{timeout:g} s; run this again when it has finished (or raise "
                f"{LOCK_TIMEOUT_ENV})"
            ) from None
    return lock


def manifest_lock(root: Path) -> FileLock:
    """The lock every manifest swap holds: swaps are short, so waiting is unbounded."""
    with disk_faults_in_words(f"{_LOCK_DIR}/manifest.lock"):
        (root / _LOCK_DIR).mkdir(parents=True, exist_ok=True)
    return _lock(root, "manifest")
