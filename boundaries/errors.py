"""The exceptions boundaries raise for input a user can fix: one base class, and two kinds whose
answer differs (a set that does not exist, a name already taken)."""

from __future__ import annotations

from pipelines.errors import ConflictError, InputError, NotFoundError


class BoundaryError(InputError):
    """Bad boundary input (file, codes, geometry, mapping); the message says what to do."""


class UnknownBoundarySet(NotFoundError, BoundaryError):
    """No boundary set of that name is stored (HTTP 404; still a BoundaryError for the CLI)."""


class BoundarySetExists(ConflictError, BoundaryError):
    """A set of that name is stored and the request did not ask to replace it (HTTP 409)."""
