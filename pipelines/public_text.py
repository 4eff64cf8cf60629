"""Text from the store as an answer may show it: never the server's folders.

A boundary set, a population file or a harm table loaded from a file records where it came from
(the CLI shows the operator the whole path); answers and shared documents (the profile) name only
the file, so nothing a reader gets tells how the server's disk is laid out.
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath


def without_folders(source: str) -> str:
    """``source`` with any folders taken off when it is a file path (absolute, ``~/...`` or
    relative like ``../data/x.csv``; POSIX or Windows); other text (a URL, an ONS layer and
    query, "api", a sentence naming a module) is returned as it is."""
    text = source.strip()
    if text.startswith(("/", "~")):
        return PurePosixPath(text).name
    if PureWindowsPath(text).drive or text.startswith("\\\\"):
        return PureWindowsPath(text).name
    # A relative path is one word with a folder separator; a URL or a sentence is not.
    if text and "://" not in text and not any(c.isspace() for c in text):
        if "\\" in text:
            return PureWindowsPath(text).name
        if "/" in text:
            return PurePosixPath(text).name
    return source
