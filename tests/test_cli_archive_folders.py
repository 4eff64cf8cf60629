"""A folder named like a month's street CSV (`2023-01/2023-01-city-of-london-street.csv/`, an
unzip gone wrong) was skipped without a word, and the month was missing for no reason given:
`hotspots ingest archive` now names it as ignored, a folder and not a CSV file, like the other
files it ignores, from a folder or a zip."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

from pipelines.ingest.archive_layout import list_archive
from pipelines.store import CrimeStore
from tests.archive_fixtures import HEADER, ArchiveBuilder, crime_line
from tests.fresh_process import HOTSPOTS

FORCE = "city-of-london"


def _ingest(archive: Path, store: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [HOTSPOTS, "ingest", "archive", str(archive), "--data-dir", str(store), "-q"],
        capture_output=True,
        text=True,
        check=False,
    )


def _archive_with_a_folder(archive: ArchiveBuilder) -> None:
    archive.write(FORCE, "2023-02", [crime_line("2023-02", crime_id="a")])
    (archive.root / "2023-01" / f"2023-01-{FORCE}-street.csv").mkdir(parents=True)


def test_a_folder_named_like_a_street_csv_is_reported(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    _archive_with_a_folder(archive)
    done = _ingest(archive.root, data_dir)
    assert done.returncode == 0, done.stderr
    assert f"Ignored 2023-01/2023-01-{FORCE}-street.csv: it is a folder, not a CSV file." in (
        done.stdout.splitlines()
    )
    assert CrimeStore(data_dir).partitions() == [(FORCE, "2023-02")]


def test_a_folder_in_a_zip_is_reported_too(tmp_path: Path, data_dir: Path) -> None:
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(
            f"2023-02/2023-02-{FORCE}-street.csv",
            "\n".join([HEADER, crime_line("2023-02", crime_id="a")]) + "\n",
        )
        zipped.writestr(f"2023-01/2023-01-{FORCE}-street.csv/", "")
    done = _ingest(archive, data_dir)
    assert done.returncode == 0, done.stderr
    assert f"Ignored 2023-01/2023-01-{FORCE}-street.csv: it is a folder, not a CSV file." in (
        done.stdout.splitlines()
    )
    assert list_archive(archive).folders == [f"2023-01/2023-01-{FORCE}-street.csv"]


def test_an_archive_of_only_such_folders_says_so_in_its_error(
    tmp_path: Path, data_dir: Path
) -> None:
    archive = tmp_path / "archive"
    (archive / "2023-01" / f"2023-01-{FORCE}-street.csv").mkdir(parents=True)
    done = _ingest(archive, data_dir)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: no street-level files (YYYY-MM/YYYY-MM-<force>-street.csv) in {archive}; "
        f"2023-01/2023-01-{FORCE}-street.csv is a folder, not a CSV file"
    )


def test_outcomes_and_files_inside_such_a_folder_are_as_before(archive: ArchiveBuilder) -> None:
    """A folder named like an outcomes file is expected noise, as outcomes files are; a street
    file inside a folder named like one is still read (the archive is searched to any depth)."""
    _archive_with_a_folder(archive)
    (archive.root / "2023-01" / f"2023-01-{FORCE}-outcomes.csv").mkdir()
    inner = archive.root / "2023-01" / f"2023-01-{FORCE}-street.csv"
    ArchiveBuilder(inner).write(FORCE, "2023-01", [crime_line("2023-01", crime_id="b")])
    listing = list_archive(archive.root)
    assert listing.folders == [f"2023-01/2023-01-{FORCE}-street.csv"]
    assert [(f.force, f.month) for f in listing.street_files] == [
        (FORCE, "2023-01"),
        (FORCE, "2023-02"),
    ]
