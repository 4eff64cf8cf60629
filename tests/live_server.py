"""A real HTTP server on 127.0.0.1 running the service, for tests that talk to it over the wire:
the server, a client of it, and the message of a JSON error."""

from __future__ import annotations

import html
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from geo_service.app import create_app
from geo_service.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def live_server(settings: Settings) -> Iterator[str]:
    """Serve ``create_app(settings)`` on a free loopback port; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code < 500:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        server.should_exit = True
        raise RuntimeError("the service did not start within 20 s")
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def live_client(settings: Settings, timeout: float = 60) -> Iterator[httpx.Client]:
    """An httpx client whose relative URLs go to a live server of ``settings``."""
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=timeout) as client:
        yield client


def error_message(response: httpx.Response, status: int) -> str:
    """The message of a JSON error answer with ``status``; never a traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    assert "Traceback" not in message
    return message


def page_or_api_error_message(response: httpx.Response, status: int) -> str:
    """The message of an error answer: the JSON ``error`` of an API route, or the message on the
    HTML error page a page route (a map, ``profile.html``) answers with."""
    if not response.headers.get("content-type", "").startswith("text/html"):
        return error_message(response, status)
    assert response.status_code == status, response.text
    found = re.search(r'<p class="error-message" role="alert">(.*?)</p>', response.text, re.S)
    assert found, response.text
    return html.unescape(found.group(1))
