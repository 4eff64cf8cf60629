"""Atomic file replacement: write beside the target, flush, rename over it.

Every file the project writes for keeps (crime partitions, boundary sets, exports) goes through
here, so a reader or a killed writer only ever sees the old file or the new one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _process_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; a store written by an analyst's account
# must stay readable by the service's account, so kept files get the usual umask-based mode.
_FILE_MODE = 0o666 & ~_process_umask()


@contextmanager
def atomic_write(path: Path, mode: int = _FILE_MODE) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; when the block succeeds, fsync it, give it
    ``mode`` and rename it over ``path`` (atomic on POSIX and Windows). When the block fails,
    remove it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp_name)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def file_version(path: Path) -> str:
    """Size and modification time of ``path`` ("absent" without it): cheap enough to check on
    every request, and changed by every :func:`atomic_write` (each rename is a new file)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return "absent"
    return f"{info.st_size}:{info.st_mtime_ns}"


def remove_stale_temporaries(path: Path) -> None:
    """Remove temporaries a killed writer of ``path`` left behind (one writer per file)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
