"""A test copying a store it holds open (tests/store_copy.py) leaves that store's cache whole
for the commands that run on it afterwards in other processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from pipelines.cache.disk import DiskCache
from pipelines.cache.folder import DB_FILE, live_generation
from tests.store_copy import copy_store

# Another process (a command on the same store): writes its entries and closes the cache.
_OTHER_COMMAND = """
import sys
from pipelines.cache.disk import DiskCache
cache = DiskCache(sys.argv[1])
for n in range(300):
    assert cache.set("other", (n,), bytes(300))
cache.close()
"""


def test_a_copied_store_keeps_the_held_cache_whole(tmp_path: Path) -> None:
    store = tmp_path / "store"
    held = DiskCache(store / "cache")  # as an in-process command or server leaves it open
    for n in range(200):
        assert held.set("held", (n,), bytes(200))
    copy_store(store, tmp_path / "copy")
    subprocess.run(
        [sys.executable, "-c", _OTHER_COMMAND, str(store / "cache")],
        check=True,
        cwd=Path(__file__).parents[1],
    )
    for n in range(300):
        assert held.set("held-after", (n,), bytes(300))
    held.close()
    # A shutil.copytree here instead: "database disk image is malformed" (or "file is not a
    # database") for every later reader.
    with sqlite3.connect(live_generation(store / "cache") / DB_FILE) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    again = DiskCache(store / "cache")
    assert again.count("held") == 200 and again.count("other") == 300
    assert again.count("held-after") == 300
    again.close()
    assert DiskCache(tmp_path / "copy" / "cache").count("held") == 200
