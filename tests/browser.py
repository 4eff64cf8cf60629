"""Headless Debian Chromium driven by Playwright, for tests that look at pages as a person would.

Playwright's own browser download is not used (it is blocked here): `make chromium` installs
Debian's, and the tests skip, saying so, without it. The flags keep Chromium off the network, and
``offline_context`` refuses (and records) any request a page makes off the loopback address.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> ModuleType:
    """playwright.sync_api, or skip the test with the reason."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Chromium at {CHROMIUM} (`make chromium` installs Debian's)")
    return pytest.importorskip("playwright.sync_api", reason="needs `pip install playwright`")


@contextmanager
def offline_context(sync_api: ModuleType, **options: object) -> Iterator[tuple[Any, list[str]]]:
    """A Chromium browser context (``options`` as playwright's ``new_context``) that refuses any
    request off the loopback address, and the list of the URLs so refused, for the test to
    assert empty. ``bypass_csp=True`` lets the guard see every request the HTML itself makes
    (the page's CSP would refuse outside loads before the route saw them)."""
    attempted: list[str] = []

    def guard(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**options)
            context.route("**/*", guard)
            yield context, attempted
        finally:
            browser.close()
