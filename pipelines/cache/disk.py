"""One on-disk cache for every expensive answer: covers, studies, finished responses.

Built on ``diskcache`` (SQLite index + files): values survive a restart, every process that
opens the same folder shares them (the CLI, each server worker, batch runs), writes are atomic
under concurrent writers, and the folder is bounded in bytes with least-recently-used eviction.

Keys are built by the caller from *validated* requests (a ``StudyRequest``, a parsed query),
never from raw query strings, plus the data version the answer was computed on; a kind and
:data:`CACHE_FORMAT` go in front, so a new shape of cached value never meets an old one. The key
text is hashed (SHA-256), so any repr length is fine.

A cache must never break an answer: when the folder cannot be opened or written (a read-only
data folder, a full disk) the cache says so once in the log and behaves as empty.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import diskcache

CACHE_FORMAT = 1  # bump when the shape of any cached value changes
CACHE_DIR_ENV = "HOTSPOTS_CACHE_DIR"
CACHE_BYTES_ENV = "HOTSPOTS_CACHE_BYTES"
DEFAULT_CACHE_BYTES = 2 * 1024**3  # 2 GiB: a whole force's studies and pages at res 9 and 10

log = logging.getLogger("hotspots.cache")

_MISSING = object()


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
    """The cache in ``directory``, at most ``size_limit`` bytes (oldest-used entries go first)."""

    def __init__(self, directory: str | os.PathLike, size_limit: int = DEFAULT_CACHE_BYTES) -> None:
        self.directory = Path(directory)
        self.size_limit = size_limit
        self._cache: diskcache.Cache | None = None
        self._failed = False
        self._lock = threading.Lock()

    def _open(self) -> diskcache.Cache | None:
        if self._cache is not None or self._failed:
            return self._cache
        with self._lock:
            if self._cache is None and not self._failed:
                try:
                    self._cache = diskcache.Cache(
                        str(self.directory),
                        size_limit=self.size_limit,
                        eviction_policy="least-recently-used",
                        # Evict one entry per write in diskcache; `set` below culls the rest
                        # when one large value pushed the cache over its bytes.
                        cull_limit=1,
                        statistics=False,
                    )
                except Exception as error:  # read-only or full data folder: work uncached
                    self._failed = True
                    log.warning(
                        "cache folder %s unusable, working uncached: %r", self.directory, error
                    )
        return self._cache

    def usable(self) -> bool:
        """Whether the cache folder could be opened (else every answer works uncached)."""
        return self._open() is not None

    def get(self, kind: str, parts: tuple) -> Any:
        """The cached value, or None."""
        cache = self._open()
        if cache is None:
            return None
        try:
            value = cache.get(cache_key(kind, parts), default=_MISSING, retry=True)
        except Exception as error:  # a damaged entry is a miss, never a failed answer
            log.warning("cache read failed, treated as a miss: %r", error)
            return None
        return None if value is _MISSING else value

    def contains(self, kind: str, parts: tuple) -> bool:
        """Whether a value is cached (without reading it, nor counting it as a use)."""
        cache = self._open()
        if cache is None:
            return False
        try:
            return cache_key(kind, parts) in cache
        except Exception as error:
            log.warning("cache read failed, treated as a miss: %r", error)
            return False

    def set(self, kind: str, parts: tuple, value: Any) -> bool:
        """Keep ``value``; False when the cache cannot take it (the answer still stands)."""
        cache = self._open()
        if cache is None:
            return False
        try:
            kept = bool(cache.set(cache_key(kind, parts), value, retry=True))
            if cache.volume() > self.size_limit:
                cache.cull(retry=True)  # least recently used first, until within the limit
            return kept
        except Exception as error:
            log.warning("cache write failed, answer kept uncached: %r", error)
            return False

    def delete(self, kind: str, parts: tuple) -> None:
        cache = self._open()
        if cache is None:
            return
        try:
            cache.delete(cache_key(kind, parts), retry=True)
        except Exception as error:
            log.warning("cache delete failed: %r", error)

    def count(self, kind: str) -> int:
        """Entries of one kind (walks every key: for tests and reports, not per request)."""
        cache = self._open()
        if cache is None:
            return 0
        prefix = f"{kind}:"
        return sum(1 for key in cache.iterkeys() if isinstance(key, str) and key.startswith(prefix))

    def __bool__(self) -> bool:
        return True  # a cache is a cache even when empty: `cache or ...` must not open it

    def __len__(self) -> int:
        cache = self._open()
        return len(cache) if cache is not None else 0

    def volume(self) -> int:
        """Bytes the cache uses on disk (values and index)."""
        cache = self._open()
        return cache.volume() if cache is not None else 0

    def clear(self) -> None:
        cache = self._open()
        if cache is not None:
            cache.clear(retry=True)

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()


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
