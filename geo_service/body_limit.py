"""Write routes: API key first, then the body read with a size limit, before FastAPI parses it.

FastAPI reads the whole body before any dependency runs, so the limit cannot be a dependency: this
route class wraps the handler instead. The key is checked before the body is read, so a client
without a key cannot make the service buffer a large upload. The declared Content-Length is
checked first; the bytes actually received are counted too (a chunked upload declares none).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from geo_service.dependencies import check_key, get_settings


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        413,
        f"the request body is larger than the limit of {limit:,} bytes; simplify the areas "
        "(e.g. mapshaper -simplify) or upload fewer at a time",
    )


class KeyedLimitedBodyRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            settings = get_settings(request)
            check_key(settings, request.headers.get("x-api-key"))
            limit = settings.max_body_bytes
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(limit)
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise _too_large(limit)
            # Starlette serves a request's cached body to FastAPI's own reader.
            request._body = bytes(body)
            return await handler(request)

        return limited
