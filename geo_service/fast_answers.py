"""The short way for a repeated question: a cached answer without routing or parameter parsing.

A cached hotspot list is a few kB of bytes on disk, yet the full way to it (routing, 25 query
parameters validated, eight dependencies each run in a worker thread, the route, the cache)
cost about 1.8 ms of CPU per request on this 2-core server, which alone caps a worker near
500 answers a second. This middleware answers a GET whose URL the service has validated and
answered before (``ResponseCache.shortcut``) straight from the on-disk cache at the current
data version; anything else, and any URL whose answer is not in the cache for the data now,
goes the full way. It sits inside the store-pinning and freshness middlewares, so the answer
carries the same ``X-Data-Freshness`` header (and page line) as the full way's, and its other
headers are the ones stored with the answer. Reads that need a key (``--read-access keyed``)
are checked here too; a request without a valid one goes the full way and gets its 401/403.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from geo_service.dependencies import check_key


class FastAnswers:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            response = _cached_answer(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _cached_answer(scope: Scope) -> Response | None:
    state = scope["app"].state
    if state.settings.read_access != "open" and not _key_valid(state.settings, scope):
        return None
    try:
        found = state.responses.shortcut(scope["path"], scope["query_string"])
    except Exception:  # e.g. an unreadable store: the full way answers with the reason
        return None
    if found is None:
        return None
    return Response(
        found.body, status_code=found.status, media_type=found.media_type, headers=found.headers
    )


def _key_valid(settings: object, scope: Scope) -> bool:
    key = next((v for k, v in scope["headers"] if k == b"x-api-key"), None)
    try:
        check_key(settings, key.decode("latin-1") if key is not None else None)
    except HTTPException:
        return False
    return True
