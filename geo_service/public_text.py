"""Text from the store as an answer may show it: never the server's folders.

A boundary set or a harm table loaded from a file records where it came from (the CLI shows the
operator the whole path); the service names only the file, so no answer tells a client how the
server's disk is laid out.
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath


def without_folders(source: str) -> str:
    """``source`` with any folders taken off when it is a file path (POSIX, Windows or
    ``~/...``); other text (a URL, an ONS layer and query, "api") is returned as it is."""
    text = source.strip()
    if text.startswith(("/", "~")):
        return PurePosixPath(text).name
    if PureWindowsPath(text).drive or text.startswith("\\\\"):
        return PureWindowsPath(text).name
    return source
