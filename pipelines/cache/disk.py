"""One on-disk cache for every expensive answer: covers, studies, finished responses.

Built on ``diskcache`` (SQLite index + files): values survive a restart, every process that
opens the same folder shares them (the CLI, each server worker, batch runs), writes are atomic
under concurrent writers, and the folder is bounded in bytes with least-recently-used eviction.

Keys are built by the caller from *validated* requests (a ``StudyRequest``, a parsed query),
never from raw query strings, plus the data version the answer was computed on; a kind and
:data:`CACHE_FORMAT` go in front, so a new shape of cached value never meets an old one. The key
text is hashed (SHA-256), so any repr length is fine.

A cache must never break an answer: when the folder cannot be opened or written (a read-only
data folder, a full disk) the cache says so once in the log and behaves as empty; a damaged
database is moved aside and replaced by an empty one (pipelines.cache.folder says how, safely
with several processes).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import diskcache

from pipelines.cache.folder import (
    DAMAGED_DIR,
    DB_FILE,
    damaged_copies,
    first_generation,
    folder_lock,
    is_damage,
    live_generation,
    new_generation,
    previous_generation,
    put_aside,
    remove_retired,
    sqlite_error,
)

CACHE_FORMAT = 1  # bump when the shape of any cached value changes
CACHE_DIR_ENV = "HOTSPOTS_CACHE_DIR"
CACHE_BYTES_ENV = "HOTSPOTS_CACHE_BYTES"
DEFAULT_CACHE_BYTES = 2 * 1024**3  # 2 GiB: a whole force's studies and pages at res 9 and 10
# How long a cache call waits for another process's lock on the database. Calls never pass
# diskcache's retry=True: it begins a write again for ever after any OperationalError, and a
# damaged write-ahead log gives one on every attempt (a server's requests hung for good).
LOCK_WAIT_SECONDS = 5.0
# After one call waited that long in vain, this process leaves the cache alone for this long:
# a request makes about ten cache calls, and each would wait again.
BUSY_SECONDS = 30.0

log = logging.getLogger("hotspots.cache")

_MISSING = object()
T = TypeVar("T")
_Opened = tuple[diskcache.Cache, Path, str, tuple[int, int]]


def cache_bytes_from_env() -> int:
    text = os.environ.get(CACHE_BYTES_ENV)
    if not text:
        return DEFAULT_CACHE_BYTES
    try:
        value = int(float(text))
    except ValueError:
        raise ValueError(f"{CACHE_BYTES_ENV} must be a number of bytes, got {text!r}") from None
    if value < 1024 * 1024:
        raise ValueError(f"{CACHE_BYTES_ENV} must be at least 1 MiB (1048576), got {text!r}")
    return value


def cache_key(kind: str, parts: tuple) -> str:
    """``kind:<sha256>`` of the kind, the format and the parts' repr (dataclasses, tuples,
    strings and numbers have a repr that is the same in every process)."""
    text = f"{kind}|{CACHE_FORMAT}|{parts!r}"
    return f"{kind}:{hashlib.sha256(text.encode()).hexdigest()}"


class DiskCache:
    """The cache in ``directory``, at most ``size_limit`` bytes (oldest-used entries go first).

    Every method answers: a fault is logged and taken as a miss (or as nothing kept). A damaged
    database is put aside and replaced by an empty one, once, whichever process finds it
    (pipelines.cache.folder); every other process using the old one moves to the new one at
    its next call."""

    def __init__(self, directory: str | os.PathLike, size_limit: int = DEFAULT_CACHE_BYTES) -> None:
        self.directory = Path(directory)
        self.size_limit = size_limit
        # The open diskcache, its db-<n> subfolder, its cache.db's path and (device, inode):
        # one tuple, replaced whole, so a thread never sees a cache with another's folder.
        self._opened: _Opened | None = None
        self._unusable: str | None = None  # why the folder cannot be used, once that is known
        self._busy_until = 0.0  # time.monotonic() until which calls skip a locked cache
        self._lock = threading.RLock()

    def _open(self) -> diskcache.Cache | None:
        opened = self._opened
        if opened is not None and _still_live(opened):
            return opened[0]
        if self._unusable is not None:
            return None
        with self._lock:
            if self._opened is not None and _still_live(self._opened):
                return self._opened[0]
            if self._unusable is None:
                try:
                    self._connect()
                except Exception as error:  # read-only or full data folder: work uncached
                    self._give_up(error)
            return self._opened[0] if self._opened is not None else None

    def _connect(self, damaged: BaseException | None = None) -> None:
        """Open the live database, first putting aside the one this process found ``damaged``
        (unless another process did meanwhile), or one that is damaged when opened."""
        opened = self._opened
        with folder_lock(self.directory):
            live = live_generation(self.directory)
            if damaged is not None and opened is not None and live == opened[1]:
                if _still_live(opened):  # else replaced by hand: open what is there now
                    live = self._replace(live, damaged)
            elif live is None:
                live = first_generation(self.directory)
            try:
                cache = self._diskcache(live)
            except Exception as error:
                if not is_damage(error):
                    raise
                live = self._replace(live, error)
                cache = self._diskcache(live)
            remove_retired(self.directory, live)
            db = str(live / DB_FILE)
            found = os.stat(db)
        self._opened = (cache, live, db, (found.st_dev, found.st_ino))
        if opened is not None:
            opened[0].close()  # this thread's connection; the others close with the object

    def _replace(self, live: Path, error: BaseException) -> Path:
        kept = put_aside(live, error)
        fresh = new_generation(live.parent)
        log.warning(
            "the cache database %s was damaged (%s): moved it to %s for inspection and started "
            "an empty cache in %s",
            live / DB_FILE,
            error,
            kept,
            fresh,
        )
        return fresh

    def _diskcache(self, folder: Path) -> diskcache.Cache:
        _wait_for_writer(folder / DB_FILE)
        return diskcache.Cache(
            str(folder),
            size_limit=self.size_limit,
            eviction_policy="least-recently-used",
            # Evict one entry per write in diskcache; `set` below culls the rest
            # when one large value pushed the cache over its bytes.
            cull_limit=1,
            statistics=False,
            # SQLite's wait for a lock another process holds: a cache call that cannot get
            # it in this time is a miss (or nothing kept), never a request held for minutes.
            timeout=LOCK_WAIT_SECONDS,
        )

    def _give_up(self, error: BaseException) -> None:
        from pipelines.store.locks import LockTimeout

        if isinstance(error, LockTimeout):  # busy, not broken: the next call tries again
            log.warning("cache folder %s busy, working uncached for now: %r", self.directory, error)
            return
        if _lock_waited(error):  # another process writing at length: busy, not broken
            self._note_busy(error)
            return
        self._unusable = _in_words(error)
        self._opened = None
        log.warning(
            "cache folder %s cannot be opened or written (%s): working uncached",
            self.directory,
            _reason(error),
        )

    def _recover(self, cache: diskcache.Cache, error: BaseException) -> diskcache.Cache | None:
        """After ``error`` from ``cache``: the cache to try once more, or None."""
        if not is_damage(error):
            return None
        with self._lock:
            opened = self._opened
            if opened is not None and opened[0] is cache:  # else another thread reopened
                try:
                    self._connect(damaged=sqlite_error(error) or error)
                except Exception as failure:
                    self._give_up(failure)
        return self._open()

    def _attempt(self, action: Callable[[diskcache.Cache], T], default: T, failed: str) -> T:
        """``action`` on the live cache; after damage once more on the rebuilt one; ``default``
        when the cache cannot answer (logged as ``failed``). A lock waited for in vain, by
        either attempt, leaves the cache alone for a while (:meth:`_note_busy`)."""
        if time.monotonic() < self._busy_until:
            return default
        cache = self._open()
        if cache is None:
            return default
        try:
            return action(cache)
        except Exception as error:
            cache = self._recover(cache, error)
            if cache is None:
                return self._failed(error, default, failed)
        try:
            return action(cache)
        except Exception as error:
            return self._failed(error, default, failed)

    def _failed(self, error: BaseException, default: T, failed: str) -> T:
        self._note_busy(error)
        log.warning("%s: %r", failed, error)
        return default

    def _note_busy(self, error: BaseException) -> None:
        if _lock_waited(error):
            self._busy_until = time.monotonic() + BUSY_SECONDS
            log.warning(
                "cache %s locked by another process for over %.0f s: working uncached for %.0f s",
                self.directory,
                LOCK_WAIT_SECONDS,
                BUSY_SECONDS,
            )

    def usable(self) -> bool:
        """Whether the cache folder could be opened (else every answer works uncached)."""
        return self._open() is not None

    def state(self) -> tuple[str, str | None]:
        """``("ok", None)``; ``("rebuilt", what)`` when the live database was started empty
        because the one before was damaged; ``("unusable", why)`` when every answer works
        uncached; ``("busy", why)`` while another process's lock keeps it out of use."""
        if time.monotonic() < self._busy_until:
            return "busy", (
                f"another process held the cache's lock for over {LOCK_WAIT_SECONDS:.0f} s; "
                f"answers are computed uncached for up to {BUSY_SECONDS:.0f} s"
            )
        if self._open() is None:
            return "unusable", self._unusable or "the cache folder is busy (locked) just now"
        opened = self._opened
        for copy in damaged_copies(self.directory)[:1]:
            if opened is not None and copy.name.endswith(f"-{previous_generation(opened[1])}"):
                # Named within the cache folder: /health never shows the server's paths.
                kept = f"{DAMAGED_DIR}/{copy.name}/{DB_FILE}"
                return "rebuilt", f"the previous database was damaged; kept as {kept}"
        return "ok", None

    def get(self, kind: str, parts: tuple) -> Any:
        """The cached value, or None (a damaged entry is a miss, never a failed answer)."""
        key = cache_key(kind, parts)
        value = self._attempt(
            lambda cache: cache.get(key, default=_MISSING),
            _MISSING,
            "cache read failed, treated as a miss",
        )
        return None if value is _MISSING else value

    def contains(self, kind: str, parts: tuple) -> bool:
        """Whether a value is cached (without reading it, nor counting it as a use)."""
        key = cache_key(kind, parts)
        return self._attempt(
            lambda cache: key in cache, False, "cache read failed, treated as a miss"
        )

    def set(self, kind: str, parts: tuple, value: Any) -> bool:
        """Keep ``value``; False when the cache cannot take it (the answer still stands)."""
        key = cache_key(kind, parts)

        def keep(cache: diskcache.Cache) -> bool:
            kept = bool(cache.set(key, value))
            if cache.volume() > self.size_limit:
                cache.cull()  # least recently used first, until within the limit
            return kept

        return self._attempt(keep, False, "cache write failed, answer kept uncached")

    def delete(self, kind: str, parts: tuple) -> None:
        key = cache_key(kind, parts)
        self._attempt(lambda cache: cache.delete(key), False, "cache delete failed")

    def count(self, kind: str) -> int:
        """Entries of one kind (walks every key: for tests and reports, not per request)."""
        prefix = f"{kind}:"

        def counted(cache: diskcache.Cache) -> int:
            keys = cache.iterkeys()
            return sum(1 for key in keys if isinstance(key, str) and key.startswith(prefix))

        return self._attempt(counted, 0, "cache count failed")

    def __bool__(self) -> bool:
        return True  # a cache is a cache even when empty: `cache or ...` must not open it

    def __len__(self) -> int:
        return self._attempt(len, 0, "cache count failed")

    def volume(self) -> int:
        """Bytes the cache uses on disk (values and index)."""
        return self._attempt(lambda cache: cache.volume(), 0, "cache size failed")

    def clear(self) -> None:
        self._attempt(lambda cache: cache.clear(), 0, "cache clear failed")

    def close(self) -> None:
        opened = self._opened
        if opened is not None:
            try:
                opened[0].close()
            except Exception as error:
                log.warning("cache close failed: %r", error)


_FOLDER_FAULTS = {
    errno.EROFS: "it is on a read-only file system",
    errno.EACCES: "this account may not write in it",
    errno.EPERM: "this account may not write in it",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EEXIST: "a file stands where the folder should be",
    errno.ENOTDIR: "a file stands where the folder should be",
}


def _in_words(error: BaseException) -> str:
    """Why the cache folder cannot be used, without its path (/health shows it to anyone)."""
    return f"the cache folder cannot be opened or written: {_reason(error, in_full=False)}"


def _reason(error: BaseException, in_full: bool = True) -> str:
    """The fault in words: the system's reason for a file error, else the error's own text
    (``in_full``; it may name a path) or just its kind."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__
    if isinstance(cause, OSError) and cause.errno is not None:
        return _FOLDER_FAULTS.get(cause.errno) or (cause.strerror or "").lower()
    return (str(error) if in_full else "") or type(error).__name__


def _lock_waited(error: BaseException) -> bool:
    """Whether ``error`` says another process's lock on the database was waited for in vain:
    diskcache's ``Timeout`` for a write it could not begin, or SQLite's "database is locked"."""
    import sqlite3

    if is_damage(error):
        return False
    found = sqlite_error(error)
    code = (getattr(found, "sqlite_errorcode", None) or 0) & 0xFF
    return isinstance(error, diskcache.Timeout) or code in (
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    )


def _wait_for_writer(db: Path) -> None:
    """Wait at most :data:`LOCK_WAIT_SECONDS` for another process's write lock on ``db``, then
    raise SQLite's "database is locked". diskcache's open writes its settings, and waits up to
    60 s for a lock to do so (then fails, and the process would work uncached for good). Any
    other fault is left for diskcache's open to meet, and report as before."""
    import sqlite3

    if not db.exists():
        return  # a new database: nobody else can hold it
    try:
        connection = sqlite3.connect(db, timeout=LOCK_WAIT_SECONDS, isolation_level=None)
    except sqlite3.Error:
        return
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
    except sqlite3.Error as error:
        if _lock_waited(error):
            raise
    finally:
        connection.close()


def _still_live(opened: _Opened) -> bool:
    """Whether the database opened is still its folder's live one: one stat (about a microsecond
    a call), as another process that found it damaged may have moved it aside since, and a
    process keeping it would write entries nobody reads."""
    try:
        found = os.stat(opened[2])
    except OSError:
        return False
    return (found.st_dev, found.st_ino) == opened[3]


# Covers are asked for deep inside a study, far from the service or CLI that knows the data
# folder: they use the cache of the work in progress (`caching_in`, set by the service's study
# and response caches around their work, and carried into worker threads with the context),
# else the process's (`use_cache`, set by the CLI when it opens a store). Their keys are the
# geometry's own fingerprint, so a cover is right in any cache folder.
_scoped: ContextVar[DiskCache | None] = ContextVar("hotspots_cache", default=None)
_active: DiskCache | None = None
_opened: dict[tuple[Path, int], DiskCache] = {}
_active_lock = threading.Lock()


def open_cache(directory: str | os.PathLike, size_limit: int | None = None) -> DiskCache:
    """The process's one DiskCache for ``directory`` (several opens share a connection)."""
    limit = cache_bytes_from_env() if size_limit is None else size_limit
    key = (Path(directory).resolve(), limit)
    with _active_lock:
        cache = _opened.get(key)
        if cache is None:
            cache = _opened[key] = DiskCache(key[0], limit)
        return cache


def use_cache(cache: DiskCache) -> DiskCache:
    """Make ``cache`` the one covers go to in this process."""
    global _active
    with _active_lock:
        _active = cache
    return cache


@contextmanager
def caching_in(cache: DiskCache) -> Iterator[None]:
    """Within the block (and threads started from its context), covers go to ``cache``."""
    token = _scoped.set(cache)
    try:
        yield
    finally:
        _scoped.reset(token)


def active_cache() -> DiskCache:
    """The cache of the work in progress (``caching_in``), else the one ``use_cache`` chose,
    else $HOTSPOTS_CACHE_DIR, else ``<data dir>/cache``."""
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    global _active
    with _active_lock:
        cache = _active
    if cache is not None:
        return cache
    from pipelines.store.paths import resolve_data_dir

    directory = os.environ.get(CACHE_DIR_ENV) or resolve_data_dir() / "cache"
    return use_cache(open_cache(directory))


def cache_dir_for(data_dir: str | os.PathLike) -> Path:
    """Where the cache of the store in ``data_dir`` lives ($HOTSPOTS_CACHE_DIR overrides)."""
    return Path(os.environ.get(CACHE_DIR_ENV) or Path(data_dir) / "cache")
