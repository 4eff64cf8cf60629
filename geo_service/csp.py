"""Inline scripts named by hash, so a page's Content-Security-Policy needs no 'unsafe-inline'.

folium writes a map as inline ``<script>`` elements. Instead of letting every inline script run,
the policy lists the SHA-256 of each script the page was rendered with (CSP Level 2 hash
sources): the browser runs those and nothing else, and never an event-handler attribute. The
hashes are taken when the page is rendered, so they are cached with the page and a cached
response carries the same header as a fresh one (a per-response nonce would not survive the
response cache).

The scripts are found with the standard library's HTML tokenizer, which ends a script element at
``</script`` as browsers do; every user text reaches a script only through JSON escaped for
``<script>`` (``tojson``, ``maps.styling.script_safe``), so no user text can end one early or
start another (tests/test_xss.py counts each page's scripts with hostile names).
"""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser


class _InlineScripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self._open = []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._open is not None:
            self.scripts.append("".join(self._open))
            self._open = None


def inline_scripts(page: str) -> list[str]:
    """The text of each inline ``<script>`` element of ``page``, in order."""
    parser = _InlineScripts()
    parser.feed(page)
    parser.close()
    return parser.scripts


def script_hash(script: str) -> str:
    """The CSP hash source of one script's text: ``sha256-<base64 of the UTF-8 digest>``."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def script_hashes(page: str) -> list[str]:
    """The hash source of each distinct inline script of ``page``, in order."""
    return list(dict.fromkeys(script_hash(script) for script in inline_scripts(page)))
