"""Copying a store the test process may hold open.

A store's cache is an SQLite database (``cache/db-<n>/cache.db``) that the test process keeps
open once an in-process command or server has used it, and SQLite's locks on it are POSIX
locks: they belong to the process, and closing *any* descriptor of the file in that process
drops them all.
``shutil.copytree`` in the test process opens and closes cache.db, so its connection carries on
unlocked; the next command in another process then takes itself for the last user, checkpoints
and deletes the WAL and its index under the test process, whose next writes overwrite pages of
cache.db (page 1 among them: "file is not a database"). A copy made by a child process leaves
the test process's locks alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_COPY = "import shutil, sys; shutil.copytree(sys.argv[1], sys.argv[2])"


def copy_store(source: Path, target: Path) -> None:
    """Copy the store in ``source`` (its cache too) to ``target``, which must not exist."""
    subprocess.run([sys.executable, "-c", _COPY, str(source), str(target)], check=True)
