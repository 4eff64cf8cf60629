"""HEAD wherever GET is answered: link checkers, uptime monitors and ``curl -I`` ask with HEAD.

Starlette's own ``Route`` answers HEAD for every GET route; FastAPI's routes do not (a HEAD on
``/`` or ``/health`` is a 405). Rather than add HEAD to every route (which would put a second
operation per path into the OpenAPI schema), this middleware routes a HEAD request as the GET it
stands for and sends the GET's status and headers (Content-Length included) without the body,
as RFC 9110 section 9.3.2 asks. A path with no GET still answers 405, naming its methods.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # the body of a GET; a HEAD answer ends with one empty message
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
