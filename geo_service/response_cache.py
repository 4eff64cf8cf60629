"""Finished responses per (path, query, data version): a repeated request is a dictionary look-up.

The study cache saves the statistics; this saves the work after them (ranking, serialising,
rendering a page), which on a 2-core server is most of a cached request's time. The data
version in the key changes with every ingest or boundary rewrite, so nothing stale is served.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

# Headers that belong to one transmission, not to the content.
_TRANSIENT = {"content-length", "date", "server"}


class ResponseCache:
    def __init__(self, entries: int = 512) -> None:
        self.entries = entries
        self._items: OrderedDict[tuple, tuple[bytes, int, str | None, dict]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def respond(self, request: Request, version: str, build: Callable[[], Response]) -> Response:
        """The cached response for this request on data ``version``, else ``build()`` (kept when
        it succeeds; errors raise through and are never cached)."""
        key = (request.url.path, tuple(sorted(request.query_params.multi_items())), version)
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                self.hits += 1
        if item is not None:
            body, status, media_type, headers = item
            return Response(body, status_code=status, media_type=media_type, headers=headers)
        response = build()
        if isinstance(response, StreamingResponse):
            return response  # streamed because it is large: never held whole, so not kept
        headers = {k: v for k, v in response.headers.items() if k.lower() not in _TRANSIENT}
        with self._lock:
            self.misses += 1
            self._items[key] = (response.body, response.status_code, response.media_type, headers)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
        return response
