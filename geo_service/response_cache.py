"""Finished responses per (validated request, data version), in the on-disk cache.

The study cache saves the statistics; this saves the work after them (ranking, serialising,
rendering a page), which on a 2-core server is most of a cached request's time. Each route
passes the request as it validated it (a parsed query object, the parameters it resolved),
never the raw query string, so misspelt, repeated or reordered parameters cannot add entries.
The data version in the key changes with every new store version or boundary set, so nothing
stale is served. A response not in the cache is built under admission control.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from geo_service.admission import Admission
from pipelines.cache import DiskCache, caching_in

# Headers that belong to one transmission, not to the content.
_TRANSIENT = {"content-length", "date", "server"}


class ResponseCache:
    def __init__(self, disk: DiskCache, admission: Admission | None = None) -> None:
        self.disk = disk
        self.admission = admission
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def respond(
        self, request: Request, version: str, build: Callable[[], Response], key: object
    ) -> Response:
        """The cached response to the validated request ``key`` on data ``version``, else
        ``build()`` (kept when it succeeds; errors raise through and are never cached)."""
        parts = (request.scope.get("route").path, key, version)  # the route, not the raw URL
        item = self.disk.get("response", parts)
        if item is not None:
            with self._lock:
                self.hits += 1
            body, status, media_type, headers = item
            return Response(body, status_code=status, media_type=media_type, headers=headers)

        def built() -> Response:
            with caching_in(self.disk):  # covers of comparisons and pages go here too
                return build()

        response = self.admission.run(built) if self.admission else built()
        if isinstance(response, StreamingResponse):
            return response  # streamed because it is large: never held whole, so not kept
        headers = {k: v for k, v in response.headers.items() if k.lower() not in _TRANSIENT}
        self.disk.set(
            "response", parts, (response.body, response.status_code, response.media_type, headers)
        )
        with self._lock:
            self.misses += 1
        return response
