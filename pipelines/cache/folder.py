"""The cache folder's layout: which database is live, and how a damaged one is put aside.

The diskcache (``cache.db``, its ``-wal`` and ``-shm`` files and the value files) lives in a
numbered subfolder, ``db-<n>``, the highest number being the live one. A damaged database is
never renamed or deleted inside a folder other processes may open: SQLite finds a database's
``-wal`` and ``-shm`` files by name, so a new ``cache.db`` beside an old process's ``-shm``
would share its index and be corrupted in turn. Instead the whole subfolder is renamed into
``damaged/`` (one rename moves the three files together) and a new number is started
empty. A name is never reused, so a process still holding the old files can only fail to open
the old name again, never open half of the new cache: a new subfolder is numbered above every
``db-<n>`` present, every damaged copy kept and the highest number ever started in the folder
(``last-db``, kept because a live subfolder deleted by hand leaves no other trace of its
number).

Opens and repairs take ``cache.lock`` (``flock``, as the store's locks), so two processes that
find the same damage rebuild once: the second finds a newer subfolder and opens it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

# datetime, shutil, sqlite3 and the lock are imported where used: a cache that opens sound
# (every call but the first and a repair) needs none of them, and commands start faster.

log = logging.getLogger("hotspots.cache")

LOCK_FILE = "cache.lock"
DAMAGED_DIR = "damaged"
KEEP_DAMAGED = 3  # damaged databases kept for inspection; older ones are deleted
LOCK_SECONDS = 120.0  # a repair takes a rename and a new SQLite file: far less than this
DB_FILE = "cache.db"  # diskcache's database file name (diskcache.core.DBNAME)
LAST_NUMBER_FILE = "last-db"  # the highest db-<n> ever started in the folder
_GENERATION = re.compile(r"^db-(\d+)$")
_DAMAGED_COPY = re.compile(r"-db-(\d+)$")  # <UTC time>-db-<n>
_LEGACY_DB = "cache.db"  # an earlier layout kept the diskcache at the folder's top


def is_damage(error: BaseException) -> bool:
    """Whether ``error`` says the database itself is broken, as opposed to a busy, read-only
    or full folder: "file is not a database", "database disk image is malformed", and the
    I/O and locking-protocol errors SQLite gives on every call once its write-ahead log was
    cut short under it."""
    import sqlite3

    found = sqlite_error(error)
    code = getattr(found, "sqlite_errorcode", None) or 0
    damage = (
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_NOTADB,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_PROTOCOL,
    )
    return found is not None and code & 0xFF in damage  # any extended code of these


def sqlite_error(error: BaseException) -> BaseException | None:
    """SQLite's own error behind ``error``: diskcache reports a failed start of a write as its
    ``Timeout``, with SQLite's error only as the context."""
    import sqlite3

    found: BaseException | None = error
    while found is not None and not isinstance(found, sqlite3.DatabaseError):
        found = found.__cause__ or found.__context__
    return found


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the lock every open and repair of ``folder``'s cache takes (across processes);
    raises ``LockTimeout`` when another process held it for :data:`LOCK_SECONDS`."""
    from pipelines.store.locks import file_lock

    folder.mkdir(parents=True, exist_ok=True)
    lock = file_lock(folder / LOCK_FILE).acquire(timeout=LOCK_SECONDS)
    try:
        yield
    finally:
        lock.release()


def live_generation(folder: Path) -> Path | None:
    """The live diskcache subfolder (the highest ``db-<n>``), or None before the first, or when
    the newest one started was deleted by hand: what is left below it is retired, and a
    ``db-<n>`` without its database is what a process still holding the deleted one wrote
    values into since (opening it would reuse its name)."""
    numbers = [
        int(match.group(1))
        for match in map(_GENERATION.match, os.listdir(folder))
        if match is not None
    ]
    if not numbers or max(numbers) < _last_number(folder):
        return None
    live = folder / f"db-{max(numbers)}"
    return live if (live / DB_FILE).exists() else None


def new_generation(folder: Path) -> Path:
    """A subfolder no process has used: numbered above every ``db-<n>`` in ``folder``, every
    damaged copy kept in ``damaged/`` and the number ``last-db`` records. A reused name could
    meet a process still holding the deleted folder's database (or a recycled inode number
    could make it take the new file for its own), and would make a damaged copy's name look
    like the new database's predecessor. Records the number before the folder is made. Call
    with :func:`folder_lock` held."""
    numbers = [_number(Path(name)) for name in os.listdir(folder) if _GENERATION.match(name)]
    numbers += [_copy_number(copy) for copy in damaged_copies(folder)]
    numbers.append(_last_number(folder))
    number = max(numbers) + 1
    _record_number(folder, number)
    return folder / f"db-{number}"


def _last_number(folder: Path) -> int:
    try:
        return int((folder / LAST_NUMBER_FILE).read_text().strip())
    except (OSError, ValueError):  # none yet (or unreadable): the names present still count
        return 0


def _record_number(folder: Path, number: int) -> None:
    """Write ``last-db`` atomically (a half-written number would read as none). A folder that
    cannot take it (read-only, full) could not take a new database either: the error says so."""
    partial = folder / f"{LAST_NUMBER_FILE}.partial"
    partial.write_text(f"{number}\n")
    os.replace(partial, folder / LAST_NUMBER_FILE)


def previous_generation(generation: Path) -> str:
    """The name of the subfolder before ``generation`` (``db-3`` for ``db-4``)."""
    return f"db-{_number(generation) - 1}"


def first_generation(folder: Path) -> Path:
    """A new subfolder (:func:`new_generation`) for a folder without a live one. An earlier
    version's cache at the folder's top (``cache.db``) is not read any more and not deleted
    either (the folder may be shared, and only its owner knows what is whose): one warning says
    it can go. Call with :func:`folder_lock` held."""
    if (folder / _LEGACY_DB).is_file():
        log.warning(
            "%s is a cache an earlier version kept (or another program's): it is no longer "
            "read; delete it, its -wal and -shm files and its value folders to free the space",
            folder / _LEGACY_DB,
        )
    return new_generation(folder)


def put_aside(generation: Path, reason: BaseException) -> Path:
    """Move the damaged ``generation`` into ``damaged/`` and keep only its database files
    (the values it pointed to are deleted: they are just cached answers), with a note of what
    was wrong. At most :data:`KEEP_DAMAGED` damaged copies are kept. Returns where it went.
    Call with :func:`folder_lock` held."""
    import datetime as dt
    import shutil

    damaged = generation.parent / DAMAGED_DIR
    damaged.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = damaged / f"{stamp}-{generation.name}"
    os.rename(generation, target)  # one step: the database and its -wal/-shm go together
    for entry in os.scandir(target):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
    with suppress(OSError):  # a note for whoever inspects it; a full disk must not stop this
        (target / "why.txt").write_text(
            f"{generation.name}/{DB_FILE} was found damaged at {stamp} and replaced by an "
            f"empty cache: {reason}\n"
        )
    for old in damaged_copies(generation.parent)[KEEP_DAMAGED:]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def damaged_copies(folder: Path) -> list[Path]:
    """Damaged databases kept in ``folder``, newest first."""
    try:
        copies = [Path(entry.path) for entry in os.scandir(folder / DAMAGED_DIR) if entry.is_dir()]
    except OSError:
        return []
    return sorted(copies, key=_stamp_and_number, reverse=True)


def _stamp_and_number(copy: Path) -> tuple[str, int]:
    return copy.name.partition("-")[0], _copy_number(copy)


def _copy_number(copy: Path) -> int:
    """The number of the subfolder a damaged copy was (``db-<n>`` of ``<UTC time>-db-<n>``)."""
    found = _DAMAGED_COPY.search(copy.name)
    return int(found.group(1)) if found else 0


def remove_retired(folder: Path, live: Path) -> None:
    """Delete subfolders older than the live one: what a process still using a retired
    database recreated by writing a value after the rename (nobody reads them)."""
    retired = [
        entry.path
        for entry in os.scandir(folder)
        if (match := _GENERATION.match(entry.name)) and int(match.group(1)) < _number(live)
    ]
    if retired:
        import shutil

        for path in retired:
            shutil.rmtree(path, ignore_errors=True)


def _number(generation: Path) -> int:
    return int(generation.name.removeprefix("db-"))
