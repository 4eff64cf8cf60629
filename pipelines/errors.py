"""The four kinds of fault a user can be told about. Every layer raises a subclass of one of
them, so a front end chooses its answer from the type, never from the words of the message:
the service maps them to 422, 404, 409 and 503 (``geo_service/errors.py``), and anything else
is a bug (a logged 500), not the user's mistake.
"""

from __future__ import annotations


class InputError(ValueError):
    """Input that cannot be answered as asked (a bad month, an unknown category, a resolution
    out of range); the message says what to change. HTTP 422."""


class NotFoundError(LookupError):
    """A named thing (boundary set, area, force, recorded run) that does not exist. HTTP 404."""


class ConflictError(Exception):
    """A write that clashes with what is stored (a name already taken). HTTP 409."""


class UnavailableError(Exception):
    """The store cannot answer now (unreadable, read-only or full); not the request's fault and
    worth retrying once an operator has looked. HTTP 503."""
