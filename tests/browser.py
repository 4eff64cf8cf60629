"""Headless Debian Chromium driven by Playwright, for tests that look at pages as a person would.

Playwright's own browser download is not used (it is blocked here): `make chromium` installs
Debian's, and the tests skip, saying so, without it. The flags keep Chromium off the network.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

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
