"""An archive ingest leaves what it read and wrote once out of the page cache.

A national archive is 3.7 GB of CSV and 1.1 GB of partitions. Kept cached after the ingest, they
would push out what the service reads again and again; the ingest drops each file's pages as soon
as it is done with it (pipelines/store/page_cache.py). Checked with util-linux's ``fincore``,
which counts the pages of a file the kernel holds, on real files in the test's folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from pipelines.ingest.archive import ingest_archive
from pipelines.store import CrimeStore
from tests.archive_fixtures import ArchiveBuilder, crime_line

FINCORE = shutil.which("fincore")
MONTHS = ("2023-01", "2023-02", "2023-03")


def _cached_bytes(path: Path) -> int:
    """Bytes of ``path`` the kernel holds in its page cache now."""
    assert FINCORE is not None
    shown = subprocess.run(
        [FINCORE, "--bytes", "--noheadings", "--output", "RES", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(shown.stdout.split()[0])


def _written_and_cached(path: Path) -> None:
    """Flush ``path`` to the disk (only such pages can be dropped) and read it, so it is cached."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
        handle.read()


@pytest.fixture
def page_cache_seen(tmp_path: Path) -> None:
    """Skip where this folder's page cache cannot be seen or its pages cannot be dropped."""
    if FINCORE is None:
        pytest.skip("needs util-linux's fincore to see which pages of a file are cached")
    if not hasattr(os, "posix_fadvise"):
        pytest.skip("this system has no posix_fadvise, so nothing is dropped from its cache")
    probe = tmp_path / "probe"
    probe.write_bytes(b"x" * 262_144)
    _written_and_cached(probe)
    if _cached_bytes(probe) == 0:
        pytest.skip(f"{tmp_path} does not keep the files it reads cached")
    with open(probe, "rb") as handle:
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    if _cached_bytes(probe) != 0:
        pytest.skip(f"{tmp_path} keeps its files in memory (tmpfs): there is nothing to drop")


def _archive_of_three_months(archive: ArchiveBuilder) -> list[Path]:
    """Three months of a few thousand rows each: files of many pages."""
    return [
        archive.write(
            "city-of-london",
            month,
            [
                crime_line(month, crime_id=f"{month}-{i:05d}", longitude=f"-0.09{i:05d}")
                for i in range(3_000)
            ],
        )
        for month in MONTHS
    ]


def _partition_files(store: CrimeStore) -> list[Path]:
    return sorted(path for path in store.crimes_dir.rglob("*.parquet"))


@pytest.mark.parametrize("workers", [1, 2], ids=["this-process", "worker-processes"])
@pytest.mark.usefixtures("page_cache_seen")
def test_archive_csvs_and_new_partitions_are_not_left_cached(
    archive: ArchiveBuilder, data_dir: Path, workers: int
) -> None:
    csvs = _archive_of_three_months(archive)
    for path in csvs:
        _written_and_cached(path)
    assert all(_cached_bytes(path) > 0 for path in csvs)  # the check below can fail

    store = CrimeStore(data_dir)
    report = ingest_archive(store, archive.root, workers=workers)

    assert report.stored == 9_000
    partitions = _partition_files(store)
    assert len(partitions) == len(MONTHS)
    assert {path.name: _cached_bytes(path) for path in csvs} == {path.name: 0 for path in csvs}
    assert {path.name: _cached_bytes(path) for path in partitions} == {
        path.name: 0 for path in partitions
    }
    # Dropped from the cache, not lost: every row reads back.
    assert sum(store.read_partition("city-of-london", m).num_rows for m in MONTHS) == 9_000


@pytest.mark.usefixtures("page_cache_seen")
def test_a_zip_archive_keeps_at_most_its_directory_and_member_edges_cached(
    archive: ArchiveBuilder, data_dir: Path, tmp_path: Path
) -> None:
    csvs = _archive_of_three_months(archive)
    zip_path = tmp_path / "download.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in csvs:
            bundle.write(path, path.relative_to(archive.root).as_posix())
    _written_and_cached(zip_path)
    before = _cached_bytes(zip_path)
    page = os.sysconf("SC_PAGE_SIZE")
    assert before > 8 * page  # the check below can fail

    report = ingest_archive(CrimeStore(data_dir), zip_path, workers=1)

    assert report.stored == 9_000
    # Each member's pages are dropped once it is read; the kernel keeps a page that a member
    # shares with the next one's header, and the central directory at the end, read each time.
    assert _cached_bytes(zip_path) <= (len(csvs) + 2) * page
