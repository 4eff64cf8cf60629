"""The freshness line on every answer: an ``X-Data-Freshness`` header on every response, and a
small line on every HTML page ("data to 2020-12, checked 2026-12-01, updated 2026-11-28").

It is added after the response is built (and after the response cache), so a cached page never
shows an old "checked" date. A template places the line where it wants by writing
``<!-- hotspots:freshness -->``; pages that do not get it just before ``</body>``.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pipelines.freshness import Freshness, store_freshness

HEADER = "X-Data-Freshness"
PLACEHOLDER = "<!-- hotspots:freshness -->"
CSS_CLASS = "hotspots-freshness"

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def freshness_html(freshness: Freshness) -> str:
    """The page's line: what the data covers and when it was checked, with any warning."""
    text = "Crime data: " + freshness.line()
    warnings = freshness.warnings()
    if warnings:
        text += ". " + "; ".join(warnings)
    return (
        f'<p class="{CSS_CLASS}" style="font:12px/1.4 system-ui,sans-serif;color:#444;'
        f'margin:.4em 1em">{html.escape(text)}</p>'
    )


def add_freshness(page: str, freshness: Freshness) -> str:
    """``page`` with the line at its placeholder, else before ``</body>``, else at the end."""
    if CSS_CLASS in page:
        return page
    line = freshness_html(freshness)
    if PLACEHOLDER in page:
        return page.replace(PLACEHOLDER, line, 1)
    at = page.lower().rfind("</body>")
    if at < 0:
        return page + line
    return page[:at] + line + page[at:]


class FreshnessMiddleware:
    """Pure ASGI middleware: the header on every HTTP response, the line in every HTML page."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = {"start": None, "body": []}

        async def send_with_freshness(message: Message) -> None:
            if message["type"] == "http.response.start":
                freshness = _freshness_of(scope)
                headers = list(message.get("headers", []))
                if freshness is not None:
                    headers.append((HEADER.lower().encode(), freshness.line().encode()))
                message = {**message, "headers": headers}
                if freshness is None or not _is_html(headers):
                    await send(message)
                    return
                state.update(start=message, freshness=freshness)
                return
            if message["type"] != "http.response.body" or state["start"] is None:
                await send(message)
                return
            state["body"].append(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = b"".join(state["body"]).decode("utf-8", errors="surrogateescape")
            body = add_freshness(page, state["freshness"]).encode("utf-8", "surrogateescape")
            start = state["start"]
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, send_with_freshness)


def _freshness_of(scope: Message) -> Freshness | None:
    app = scope.get("app")
    store = getattr(getattr(app, "state", None), "store", None)
    if store is None:
        return None
    try:
        return store_freshness(store)
    except Exception:  # an unreadable store is /health's news; it must not break every answer
        return None


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
