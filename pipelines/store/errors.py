"""What can go wrong with the store, one type per kind of fault, so callers answer by type.

``StoreError`` is input the store refuses (rows that do not match the schema: a bug upstream).
Its subclass ``StoreUnavailable`` (also a ``pipelines.errors.UnavailableError``) is the store
itself failing (read-only or full disk, a corrupt or vanished partition): not the caller's
fault, so the service answers 503 with Retry-After and the CLI one line. Messages
name files relative to the data folder, never the server's absolute path.
"""

from __future__ import annotations

from typing import ClassVar

from pipelines.errors import UnavailableError

# Seconds a client is asked to wait when the store is busy or broken (an operator must act for
# a broken one; asking again in a minute is still the right advice to a program).
RETRY_AFTER_SECONDS = 60


class StoreError(Exception):
    """A store that cannot be used as asked (wrong schema, rows that disagree with coverage)."""


class StoreUnavailable(StoreError, UnavailableError):
    """The store cannot serve or take data right now; retrying later may work (HTTP 503)."""

    headers: ClassVar[dict[str, str]] = {"Retry-After": str(RETRY_AFTER_SECONDS)}  # with the 503


class StoreWriteError(StoreUnavailable):
    """A write failed because of the disk: read-only folder, no space left, no permission.

    Its message names the file relative to the data folder (the service shows it to clients);
    :attr:`in_full` names it by its absolute path, for the person at the command line, who
    must find the folder to fix it. Both travel in ``args``, so a worker process's error
    keeps them."""

    def __init__(self, message: str, in_full: str | None = None) -> None:
        super().__init__(message, in_full or message)

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def in_full(self) -> str:
        return str(self.args[-1])


def said_in_full(error: Exception) -> str:
    """``error`` in words for the command line: a disk fault names the file by its absolute
    path (``StoreWriteError.in_full``), any other error as it says itself."""
    return error.in_full if isinstance(error, StoreWriteError) else str(error)


class CorruptPartition(StoreUnavailable):
    """A partition file named by the manifest is missing, truncated or unreadable."""

    def __init__(self, file: str, reason: str) -> None:
        self.file = file  # relative to the data folder, e.g. crimes/kent/2020-01.<hash>.parquet
        self.reason = reason
        super().__init__(
            f"the crime store's partition {file} is {reason}; re-ingest that force and month "
            "(or restore the file) to repair the store"
        )


class SnapshotExpired(StoreUnavailable):
    """A reader held a snapshot for so long that its files were collected; ask again."""


class PartitionLocked(StoreError, UnavailableError):
    """Another ingest holds the force-month for longer than this one may wait."""

    headers: ClassVar[dict[str, str]] = {"Retry-After": str(RETRY_AFTER_SECONDS)}
