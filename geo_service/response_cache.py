"""Finished responses per (validated request, data version), in the on-disk cache.

The study cache saves the statistics; this saves the work after them (ranking, serialising,
rendering a page), which on a 2-core server is most of a cached request's time. Each route
passes the request as it validated it (a parsed query object, the parameters it resolved),
never the raw query string, so misspelt, repeated or reordered parameters cannot add entries.
The data version in the key changes with every new store version or boundary set, so nothing
stale is served. A response not in the cache is built under admission control.

A route that passes its version as a function (``version=lambda: ...``) also gets the short
way (:meth:`ResponseCache.shortcut`, used by ``geo_service.fast_answers``): once a URL has been
validated and answered, the same URL (path and query string, byte for byte) is remembered
with the key it validated to, so the next ask for it skips routing, parameter parsing and the
dependencies and is answered from the cache at the current data version. Only the mapping from
a URL that passed validation to its validated key is remembered (at most
``SHORTCUTS`` of them, least recently used dropped), never an answer: the answer still comes
from the on-disk cache under its validated key and the version of the data now.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from geo_service.admission import Admission
from pipelines.cache import DiskCache, caching_in

# Headers that belong to one transmission, not to the content.
_TRANSIENT = {"content-length", "date", "server"}
# URLs remembered for the short way (a few hundred bytes each).
SHORTCUTS = 10_000
# Answers also kept in this process's memory, most recently used first, up to this many bytes:
# a read of the on-disk cache is an SQLite transaction that also writes the entry's use time
# (for LRU), which several server workers would otherwise queue on for every repeat.
MEMORY_BYTES = 64 * 1024 * 1024

Version = str | Callable[[], str]


@dataclass(frozen=True)
class Shortcut:
    """What a validated URL resolved to: the route's path, its validated key, and how to work
    out the data version now."""

    route: str
    key: object
    version: Callable[[], str]


@dataclass(frozen=True)
class CachedResponse:
    body: bytes
    status: int
    media_type: str | None
    headers: dict[str, str]


class ResponseCache:
    def __init__(self, disk: DiskCache, admission: Admission | None = None) -> None:
        self.disk = disk
        self.admission = admission
        self._lock = threading.Lock()
        self._shortcuts: OrderedDict[tuple[str, bytes], Shortcut] = OrderedDict()
        self._memory: OrderedDict[tuple, CachedResponse] = OrderedDict()
        self._memory_bytes = 0
        self.hits = 0
        self.misses = 0

    def respond(
        self, request: Request, version: Version, build: Callable[[], Response], key: object
    ) -> Response:
        """The cached response to the validated request ``key`` on data ``version`` (a string,
        or a function that works it out), else ``build()`` (kept when it succeeds; errors raise
        through and are never cached)."""
        route = request.scope.get("route").path  # the route, not the raw URL
        now = version() if callable(version) else version
        parts = (route, key, now)
        found = self._get(parts)
        if found is not None:
            self._remember(request, route, key, version)
            return Response(
                found.body, found.status, media_type=found.media_type, headers=found.headers
            )

        def built() -> Response:
            with caching_in(self.disk):  # covers of comparisons and pages go here too
                return build()

        response = self.admission.run(built) if self.admission else built()
        if isinstance(response, StreamingResponse):
            return response  # streamed because it is large: never held whole, so not kept
        headers = {k: v for k, v in response.headers.items() if k.lower() not in _TRANSIENT}
        kept = self.disk.set(
            "response", parts, (response.body, response.status_code, response.media_type, headers)
        )
        with self._lock:
            self.misses += 1
        if kept:
            answer = CachedResponse(
                response.body, response.status_code, response.media_type, headers
            )
            self._hold(parts, answer)
            self._remember(request, route, key, version)
        return response

    def shortcut(self, path: str, query: bytes) -> CachedResponse | None:
        """The cached answer to a GET of ``path?query`` when that URL was validated before and
        its answer at the current data version is in the cache; else None (ask the app)."""
        with self._lock:
            known = self._shortcuts.get((path, query))
            if known is not None:
                self._shortcuts.move_to_end((path, query))
        if known is None:
            return None
        return self._get((known.route, known.key, known.version()))

    def _get(self, parts: tuple) -> CachedResponse | None:
        """From this process's memory, else from the on-disk cache (then held in memory)."""
        with self._lock:
            found = self._memory.get(parts)
            if found is not None:
                self._memory.move_to_end(parts)
                self.hits += 1
                return found
        item = self.disk.get("response", parts)
        if item is None:
            return None
        found = CachedResponse(*item)
        self._hold(parts, found)
        with self._lock:
            self.hits += 1
        return found

    def _hold(self, parts: tuple, answer: CachedResponse) -> None:
        size = len(answer.body)
        if size > MEMORY_BYTES // 8:
            return  # a large page would push out many lists: it stays on disk only
        with self._lock:
            old = self._memory.pop(parts, None)
            self._memory_bytes += size - (len(old.body) if old is not None else 0)
            self._memory[parts] = answer
            while self._memory_bytes > MEMORY_BYTES:
                _, dropped = self._memory.popitem(last=False)
                self._memory_bytes -= len(dropped.body)

    def _remember(self, request: Request, route: str, key: object, version: Version) -> None:
        if not callable(version) or request.method != "GET":
            return
        url = (request.scope["path"], request.scope["query_string"])
        with self._lock:
            self._shortcuts[url] = Shortcut(route, key, version)
            self._shortcuts.move_to_end(url)
            while len(self._shortcuts) > SHORTCUTS:
                self._shortcuts.popitem(last=False)
