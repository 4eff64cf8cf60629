"""Pages of a hotspot answer: ``limit`` cells from an opaque ``cursor``, so a whole-region answer
(180,000 cells for London at resolution 10) is never built or sent in one piece.

A cursor is ``<payload>.<signature>``: the payload names the position, the data version it was
issued for and a digest of the query it belongs to; the signature is an HMAC-SHA256 over the
payload with a secret kept in the data folder (:class:`CursorSigner`), shared by every worker of
one store. Where the data folder is read-only the secret cannot be kept there, so ``hotspots serve
--workers N`` makes it once in the parent and hands it to every worker in its environment
(:data:`CURSOR_SECRET_ENV`): a cursor one worker issued is then good at every other.

So a client cannot make up a position (``offset=1.5``, ``"5"``, or one past the end),
and a cursor only works for the query that issued it. Cells keep one order for a given study, so
following ``next`` pages through every cell exactly once; a cursor from before the data changed
is refused (409) rather than silently mixing two versions of the answer.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson

from pipelines.errors import ConflictError, InputError

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 5_000  # about 1.5 MB of JSON
MAX_LIMIT = 50_000
SECRET_FILE = "cursor_secret"
# The secret as hex, set by `hotspots serve` for its workers (cli/serve_cmd.py); it wins over
# the data folder's file, which the parent read (or made) to set it.
CURSOR_SECRET_ENV = "HOTSPOTS_CURSOR_SECRET"

_START_AGAIN = "leave cursor out to start again from the first page"
_NOT_OURS = (
    "cursor is not one this service issued (changed or made up); use the page.next_cursor of a "
    f"previous answer as it is, or {_START_AGAIN}"
)


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


class CursorSigner:
    """Issues and checks cursors with the store's secret (``<data dir>/cursor_secret``, made on
    first use, readable by its owner only)."""

    def __init__(self, data_dir: Path) -> None:
        self._secret = cursor_secret(Path(data_dir))

    def issue(self, offset: int, version: str, query: str) -> str:
        payload = orjson.dumps({"o": offset, "v": version, "q": query_digest(query)})
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def page_of(self, limit: int, cursor: str | None, version: str, query: str) -> Page:
        """The page a (limit, cursor) pair asks for. InputError (422) for a cursor that is not
        ours or belongs to another query; ConflictError (409) for one issued on older data."""
        if cursor is None:
            return Page(0, limit)
        fields = self._verified(cursor)
        if fields.get("q") != query_digest(query):
            raise InputError(
                "cursor belongs to another query: page through one query with the same "
                f"parameters (only limit may change), or {_START_AGAIN}"
            )
        if fields.get("v") != version:
            raise ConflictError(
                "the data changed since this cursor was issued (it was for data version "
                f"{fields.get('v')}, now {version}); {_START_AGAIN}"
            )
        return Page(fields["o"], limit)

    def info(self, page: Page, total: int, version: str, query: str) -> dict:
        """What the answer says about its page: the position, the total and the next cursor."""
        if page.offset > total:  # only if the study changed under one version: still refuse
            raise ConflictError(f"cursor points past the end of this answer; {_START_AGAIN}")
        end = min(page.offset + page.limit, total)
        following = self.issue(end, version, query) if end < total else None
        return {
            "offset": page.offset,
            "limit": page.limit,
            "returned": end - page.offset,
            "total": total,
            "next_cursor": following,
        }

    def _verified(self, cursor: str) -> dict:
        try:
            payload_text, signature_text = cursor.split(".")
            payload, signature = _unb64(payload_text), _unb64(signature_text)
        except (ValueError, binascii.Error):
            raise InputError(_NOT_OURS) from None
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise InputError(_NOT_OURS)
        fields = orjson.loads(payload)  # signed by us, so well formed
        if not isinstance(fields.get("o"), int) or fields["o"] < 0:
            raise InputError(_NOT_OURS)
        return fields

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()


def query_digest(query: str) -> str:
    """A short digest of the canonical query text (every parameter except cursor and limit)."""
    return hashlib.sha256(query.encode("utf-8")).hexdigest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cursor_secret(data_dir: Path) -> bytes:
    """The secret cursors are signed with: the one handed down by ``hotspots serve``
    (:data:`CURSOR_SECRET_ENV`), else the data folder's (made on first use; a read-only folder
    gives a secret of this process only)."""
    handed_down = os.environ.get(CURSOR_SECRET_ENV, "")
    try:
        secret = bytes.fromhex(handed_down)
    except ValueError:
        secret = b""
    if len(secret) >= 32:
        return secret
    if handed_down:
        logger.warning("%s is not 64 hex digits; using the data folder's secret", CURSOR_SECRET_ENV)
    return _store_secret(Path(data_dir) / SECRET_FILE)


def _store_secret(path: Path) -> bytes:
    """The secret in ``path``, made once: written to a temporary file and hard-linked into
    place, so two workers starting together agree on one secret and never read half of it."""
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    except (OSError, ValueError):
        logger.warning("cannot read %s; cursors will work in this process only", path.name)
        return secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.write(fd, secrets.token_hex(32).encode("ascii"))
            os.fsync(fd)
            os.close(fd)
            with contextlib.suppress(FileExistsError):  # another worker made it first
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except OSError:  # a read-only data folder still serves; its cursors stay in this process
        logger.warning("cannot write %s; cursors will work in this process only", path.name)
        return secrets.token_bytes(32)
