"""The one exception boundaries raise for input a user can fix."""

from __future__ import annotations


class BoundaryError(ValueError):
    """Bad boundary input (file, codes, geometry, mapping); the message says what to do."""
