"""A cache subfolder's name (``<cache>/db-<n>``) is never used twice (pipelines/cache/folder.py):
after the live folder is deleted by hand the next one is numbered above every folder started
before, above every damaged copy kept, and a process still holding the deleted database moves to
the new one. Real folders, a real second process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from pipelines.cache import DiskCache
from pipelines.cache.folder import DAMAGED_DIR, DB_FILE, live_generation

ROOT = Path(__file__).parents[1]

# Opens the cache and reads an entry (its connection stays open), then waits for a line: the
# live folder is deleted and a new one started meanwhile. Prints what it then finds.
_HOLDER = textwrap.dedent(
    """
    import sys
    from pipelines.cache import DiskCache
    cache = DiskCache(sys.argv[1])
    assert cache.get("k", ("before",)) == b"before", "the entry written before was not read"
    print("ready", flush=True)
    sys.stdin.readline()
    print(cache.get("k", ("after",)), flush=True)
    assert cache.set("k", ("holder",), b"holder"), "not kept"
    print(cache.state()[0], flush=True)
    """
)


def _db_folders(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir() if entry.name.startswith("db-"))


def test_a_deleted_live_folder_is_not_reused_and_its_holder_moves_on(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    cache = DiskCache(folder)
    assert cache.set("k", ("before",), b"before")
    cache.close()
    assert live_generation(folder) == folder / "db-1"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
        shutil.rmtree(folder / "db-1")  # "delete the cache" by hand, under a running worker
        after = DiskCache(folder)
        assert after.set("k", ("after",), b"after")
        assert live_generation(folder) == folder / "db-2"
        out, err = holder.communicate("go\n", timeout=60)
    finally:
        holder.kill()
    assert holder.returncode == 0, err
    assert out.split() == ["b'after'", "ok"]  # the holder reads and writes the new database
    assert after.get("k", ("holder",)) == b"holder"
    assert _db_folders(folder) == ["db-2"]
    # Deleted again, with no other folder left to count from: still a new number.
    after.close()
    shutil.rmtree(folder / "db-2")
    assert DiskCache(folder).set("k", ("third",), b"third")
    assert _db_folders(folder) == ["db-3"]


def test_a_new_folder_is_numbered_above_the_damaged_copies_kept(tmp_path: Path) -> None:
    """db-1 damaged and put aside, db-2 started; db-2 deleted by hand: the next is db-3, and
    /health does not call the damaged db-1 the new database's predecessor."""
    folder = tmp_path / "cache"
    cache = DiskCache(folder)
    assert cache.set("k", (1,), b"one")
    cache.close()
    (folder / "db-1" / DB_FILE).write_bytes(os.urandom(8192))
    repaired = DiskCache(folder)
    assert repaired.get("k", (1,)) is None and repaired.state()[0] == "rebuilt"
    [copy] = (folder / DAMAGED_DIR).iterdir()
    assert copy.name.endswith("-db-1") and live_generation(folder) == folder / "db-2"
    repaired.close()
    shutil.rmtree(folder / "db-2")
    again = DiskCache(folder)
    assert again.set("k", (3,), b"three")
    assert live_generation(folder) == folder / "db-3"
    assert again.state() == ("ok", None)


def test_a_folder_a_deleted_database_left_behind_is_not_taken_for_the_live_one(
    tmp_path: Path,
) -> None:
    """A process writing a value into the live folder just as it was deleted recreates the
    folder without a database: opening a new database there would reuse the name."""
    folder = tmp_path / "cache"
    cache = DiskCache(folder)
    assert cache.set("k", (1,), b"one")
    cache.close()
    shutil.rmtree(folder / "db-1")
    stray = folder / "db-1" / "ab" / "cd"
    stray.mkdir(parents=True)
    (stray / "late.val").write_bytes(b"written after the folder was deleted")
    again = DiskCache(folder)
    assert again.set("k", (2,), b"two") and again.get("k", (2,)) == b"two"
    assert live_generation(folder) == folder / "db-2"
    assert _db_folders(folder) == ["db-2"]  # the stray folder is removed as retired
