"""Concurrent ingests of one force-month (issue 10, finding 6): they wait for each other under a
file lock, or refuse with one clear line when they may not wait long enough."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipelines.store import CrimeStore
from pipelines.store.errors import PartitionLocked
from pipelines.store.locks import LOCK_TIMEOUT_ENV, acquire_partition
from tests.archive_fixtures import ArchiveBuilder, crime_line

FORCE = "devon-and-cornwall"
MONTH = "2019-01"
WRITERS = 8
HOTSPOTS = str(Path(sys.executable).with_name("hotspots"))

# Each process waits at a barrier file, then ingests its own archive of the same force-month.
_INGEST = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pipelines.ingest.archive import ingest_archive
    from pipelines.store import CrimeStore
    go = Path(sys.argv[3])
    while not go.exists():
        time.sleep(0.01)
    ingest_archive(CrimeStore(sys.argv[1]), Path(sys.argv[2]))
    """
)


def test_concurrent_ingests_of_one_month_all_finish_and_one_wins_whole(tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    go = tmp_path / "go"
    archives = []
    for writer in range(WRITERS):
        archive = ArchiveBuilder(tmp_path / f"archive-{writer}")
        # Writer n stores n + 1 crimes: the stored month says whose ingest it is.
        lines = [crime_line(MONTH, crime_id=f"w{writer}-{i}") for i in range(writer + 1)]
        archive.write(FORCE, MONTH, lines)
        archives.append(archive.root)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _INGEST, str(data_dir), str(root), str(go)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for root in archives
    ]
    go.touch()
    errors = [p.communicate(timeout=300)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * WRITERS, errors

    store = CrimeStore(data_dir)
    assert store.partitions() == [(FORCE, MONTH)]
    table = store.read_partition(FORCE, MONTH)
    winner = int(table["crime_id"][0].as_py().split("-")[0][1:])
    assert table.num_rows == winner + 1  # one writer's rows, whole, never a blend
    assert {c.split("-")[0] for c in table["crime_id"].to_pylist()} == {f"w{winner}"}
    assert store.coverage_of(FORCE, MONTH).stored == winner + 1
    assert not list((data_dir / "crimes").rglob(".*.tmp"))


def test_an_ingest_that_may_not_wait_refuses_in_one_line(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    archive.write(FORCE, MONTH, [crime_line(MONTH, crime_id="a")])
    held = acquire_partition(data_dir, FORCE, MONTH, timeout=5)  # another ingest, mid-write
    try:
        result = subprocess.run(
            [HOTSPOTS, "ingest", "archive", str(archive.root), "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, LOCK_TIMEOUT_ENV: "0.5"},
        )
    finally:
        held.release()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"another ingest is writing {FORCE} {MONTH}" in lines[0]
    assert LOCK_TIMEOUT_ENV in lines[0]
    assert CrimeStore(data_dir).partitions() == []  # nothing half-published

    # Once the other ingest has finished, the same command goes through.
    again = subprocess.run(
        [HOTSPOTS, "ingest", "archive", str(archive.root), "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert CrimeStore(data_dir).partitions() == [(FORCE, MONTH)]


@pytest.mark.parametrize("kind", ["flock", "filelock (no fcntl)"])
def test_a_held_partition_lock_keeps_other_writers_out_until_released(
    kind: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same behaviour whichever lock the platform has: a second writer of the same
    force-month (another object, as another process would be) waits its timeout then refuses;
    other months are free; once released, the month can be taken again."""
    from pipelines.store import locks

    if kind != "flock":
        monkeypatch.setattr(locks, "fcntl", None)
    held = acquire_partition(data_dir, FORCE, MONTH, timeout=1)
    with pytest.raises(PartitionLocked, match=f"another ingest is writing {FORCE} {MONTH}"):
        acquire_partition(data_dir, FORCE, MONTH, timeout=0.2)
    acquire_partition(data_dir, FORCE, "2019-02", timeout=0).release()
    held.release()
    acquire_partition(data_dir, FORCE, MONTH, timeout=0).release()
    # The manifest's lock, taken without limit as a block.
    with locks.manifest_lock(data_dir), pytest.raises(locks.LockTimeout):
        locks._lock(data_dir, "manifest").acquire(timeout=0)
    locks._lock(data_dir, "manifest").acquire(timeout=0).release()
