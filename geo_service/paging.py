"""Pages of a hotspot answer: ``limit`` cells from an opaque ``cursor``, so a whole-region answer
(180,000 cells for London at resolution 10) is never built or sent in one piece.

A cursor names the position and the data version it was issued for. Cells keep one order for a
given study (the study's cell order, or the ranking), so following ``next`` pages through every
cell exactly once; a cursor from before the data changed is refused (422) rather than silently
mixing two versions of the answer.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import orjson

from pipelines.errors import InputError

DEFAULT_LIMIT = 5_000  # about 1.5 MB of JSON
MAX_LIMIT = 50_000


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int

    def info(self, total: int, version: str) -> dict:
        """What the answer says about its page: the position, the total and the next cursor."""
        end = min(self.offset + self.limit, total)
        following = encode_cursor(end, version) if end < total else None
        return {
            "offset": self.offset,
            "limit": self.limit,
            "returned": max(0, end - self.offset),
            "total": total,
            "next_cursor": following,
        }


def encode_cursor(offset: int, version: str) -> str:
    raw = orjson.dumps({"offset": offset, "version": version})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def page_of(limit: int, cursor: str | None, version: str) -> Page:
    """The page a (limit, cursor) pair asks for; InputError for a cursor that is not ours or is
    from an older data version."""
    if cursor is None:
        return Page(0, limit)
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset, issued_for = int(decoded["offset"]), str(decoded["version"])
    except (binascii.Error, ValueError, TypeError, KeyError, orjson.JSONDecodeError):
        raise InputError(
            "cursor is not one this service issued; use the page.next_cursor of a previous "
            "answer, or leave cursor out for the first page"
        ) from None
    if offset < 0:
        raise InputError("cursor is not one this service issued; leave it out for the first page")
    if issued_for != version:
        raise InputError(
            f"cursor was issued for data version {issued_for}, and the data are now version "
            f"{version}; ask for the first page again (leave cursor out)"
        )
    return Page(offset, limit)
