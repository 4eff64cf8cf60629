"""Atomic file writes: write beside the target, flush, rename into place.

Every file the project writes for keeps (crime partitions, the store manifest, boundary sets,
backtest records) goes through here, so a reader or a killed writer only ever sees the old file
or the new one. This is also the lowest write layer, so disk faults (read-only folder, disk full)
become :class:`StoreWriteError` with a plain message here, once, for every writer above.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from pipelines.store.errors import StoreError, StoreWriteError
from pipelines.store.page_cache import forget_cached_pages

# Files that must not be replaced: a command's -o files given without --overwrite (cli/common
# refuse_to_overwrite sets them for the command's run). Checking before the work is not enough:
# a file made while the command ran would still be replaced by the final rename, so the
# publish itself refuses (a hard link fails on an existing name, atomically).
_KEPT: ContextVar[frozenset[str]] = ContextVar("kept_existing_files", default=frozenset())


class OutputExistsError(StoreError, FileExistsError):
    """A file that was not to be replaced appeared while it was being written."""


# A command's -o files (cli/common refuse_to_overwrite names them): a disk fault while writing one
# names it as the user typed it, and its folder, not a file "of the data folder".
_OUTPUTS: ContextVar[frozenset[str]] = ContextVar("output_files", default=frozenset())


def name_outputs(paths: list[Path]) -> None:
    """From now on in this context, a disk fault writing one of ``paths`` names it in full."""
    _OUTPUTS.set(frozenset(os.path.abspath(path) for path in paths))


def keep_existing(paths: list[Path]) -> None:
    """From now on in this context, :func:`atomic_write` never replaces any of ``paths``."""
    _KEPT.set(frozenset(os.path.abspath(path) for path in paths))


def _replaceable(path: Path) -> bool:
    return os.path.abspath(path) not in _KEPT.get()


def _process_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; a store written by an analyst's account
# must stay readable by the service's account, so kept files get the usual umask-based mode.
_FILE_MODE = 0o666 & ~_process_umask()

_DISK_FAULTS = {
    errno.EROFS: "the data folder is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "this account may not write to the data folder",
    errno.EPERM: "this account may not write to the data folder",
}


# {folder}: the output's folder by its absolute path (only the command line writes -o files).
_OUTPUT_FAULTS = {
    errno.EROFS: "its folder {folder} is read-only; choose another -o",
    errno.ENOSPC: "the disk is full; free some space or choose another -o",
    errno.EDQUOT: "the disk quota is used up; free some space or choose another -o",
    errno.EACCES: "this account may not write in its folder {folder}; choose another -o",
    errno.EPERM: "this account may not write in its folder {folder}; choose another -o",
}


def disk_fault(
    error: OSError, what: str, output: bool = False, path: Path | None = None
) -> StoreWriteError | None:
    """``error`` in words when it is a fault of the disk rather than of the program, else None.
    ``what`` names the file without the server's path (e.g. ``boundaries/wards.parquet``), or
    a command's ``output`` file as given; ``path``, the file written, is named by its absolute
    path in the error's ``in_full`` (for the command line)."""
    reason = (_OUTPUT_FAULTS if output else _DISK_FAULTS).get(error.errno or 0)
    if reason is None:
        return None
    where = os.path.abspath(path) if path is not None else what
    reason = reason.format(folder=os.path.dirname(where))
    return StoreWriteError(f"cannot write {what}: {reason}", f"cannot write {where}: {reason}")


@contextmanager
def disk_faults_in_words(
    what: str, output: bool = False, path: Path | None = None
) -> Iterator[None]:
    """Re-raise disk faults inside the block as :class:`StoreWriteError` naming ``what`` (and
    ``path``, the file written, by its absolute path: :func:`disk_fault`)."""
    try:
        yield
    except OSError as error:
        fault = disk_fault(error, what, output, path)
        if fault is None:
            raise
        raise fault from error


@contextmanager
def atomic_write(path: Path, mode: int = _FILE_MODE) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; when the block succeeds, fsync it, give it
    ``mode`` and rename it over ``path`` (atomic on POSIX and Windows). When the block fails,
    remove it."""
    output = os.path.abspath(path) in _OUTPUTS.get()
    what = str(path) if output else f"{path.parent.name}/{path.name}"
    with disk_faults_in_words(what, output, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp_path = Path(tmp_name)
        try:
            yield tmp_path
            _publish(tmp_path, path, mode, replace=_replaceable(path))
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise


def write_content_addressed(
    directory: Path, stem: str, suffix: str, content: bytes | memoryview, durable: bool = True
) -> Path:
    """Write ``content`` as a new file ``<stem>.<hash><suffix>``, the hash being the first 16
    hex digits of its SHA-256. The same bytes always get the same name, and a different content
    never overwrites a file a reader may have open. The content is hashed from memory, not read
    back from the disk.

    ``durable=False`` leaves flushing to the disk to the caller (:func:`flush_files` and
    :func:`flush_folders`, before anything names the file): an archive ingest's workers then
    go on to their next file while the process that publishes waits for the disk."""
    with disk_faults_in_words(
        f"{directory.name}/{stem}{suffix}", path=directory / f"{stem}{suffix}"
    ):
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{stem}{suffix}.", suffix=".tmp", dir=directory)
        tmp_path = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            path = directory / f"{stem}.{hashlib.sha256(content).hexdigest()[:16]}{suffix}"
            _publish(tmp_path, path, _FILE_MODE, durable=durable)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
    return path


def _publish(
    tmp_path: Path, path: Path, mode: int, replace: bool = True, durable: bool = True
) -> None:
    if durable:
        _fsync_file(tmp_path)
    os.chmod(tmp_path, mode)
    if replace:
        os.replace(tmp_path, path)
    else:
        _publish_new(tmp_path, path)
    if durable:
        _fsync_dir(path.parent)


def flush_files(paths: list[Path], *, forget_cached: bool = False) -> None:
    """Flush the contents of files written with ``durable=False`` to the disk; their names are
    durable only once :func:`flush_folders` has flushed the folders holding them too.

    ``forget_cached``: then drop their pages from the page cache, for files written once and not
    read back soon (an ingest's partitions: see ``pipelines.store.page_cache``).
    """
    with disk_faults_in_words("the files written"):
        for path in paths:
            _fsync_file(path, forget_cached=forget_cached)


def flush_folders(directories: list[Path]) -> None:
    """Flush folders to the disk: the names (renames) of the files written into them."""
    with disk_faults_in_words("the files written"):
        for directory in directories:
            _fsync_dir(directory)


def _fsync_file(path: Path, *, forget_cached: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY)  # a bare descriptor: no buffered file object to build
    try:
        os.fsync(fd)
        if forget_cached:  # after the fsync: the kernel drops only pages already on the disk
            forget_cached_pages(fd)
    finally:
        os.close(fd)


def _publish_new(tmp_path: Path, path: Path) -> None:
    """Give ``tmp_path`` the name ``path`` only if no file has it: a hard link (atomic, and
    refused on an existing name), then the temporary name is dropped. Where links are not
    supported, the name is claimed with O_EXCL and the written file renamed over the claim."""
    try:
        try:
            os.link(tmp_path, path)
        except FileExistsError:
            raise
        except OSError:  # no hard links here (some network and FAT file systems)
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            os.replace(tmp_path, path)
            return
    except FileExistsError:
        raise OutputExistsError(
            f"{path} was created by something else while this command ran, so it was kept and "
            "this output was not written; add --overwrite to replace it, or choose another -o"
        ) from None
    tmp_path.unlink()


def file_version(path: Path) -> str:
    """Size and modification time of ``path`` ("absent" without it): cheap enough to check on
    every request, and changed by every :func:`atomic_write` (each rename is a new file)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return "absent"
    return f"{info.st_size}:{info.st_mtime_ns}"


def remove_stale_temporaries(path: Path) -> None:
    """Remove temporaries a killed writer of ``path`` left behind. Only call this while holding
    the lock that makes this process the one writer of ``path``."""
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
