"""Publishing a batch while other files come and go in the store's folders: a file listed and
gone before it is looked at (a worker's temporary file renamed into its partition meanwhile)
is no fault. An archive ingest publishing every 128 files while its workers wrote the next
failed on it about one run in two ("No such file or directory: .../.2011-01.parquet.x.tmp")."""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.ingest.archive import ingest_archive
from pipelines.store import CrimeStore
from tests.archive_fixtures import ArchiveBuilder, crime_line

FORCE = "devon-and-cornwall"


def test_a_file_gone_between_listing_and_looking_is_skipped(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    archive.write(FORCE, "2019-01", [crime_line("2019-01", crime_id="a")])
    ingest_archive(CrimeStore(data_dir), archive.root)
    # Listed by the folder, gone when looked at: a link to nothing is what a file renamed away
    # between the two looks like, every time.
    os.symlink(
        data_dir / "nowhere", data_dir / "crimes" / FORCE / "2019-02.0000000000000000.parquet"
    )
    archive.write(FORCE, "2019-02", [crime_line("2019-02", crime_id="b")])
    ingest_archive(CrimeStore(data_dir), archive.root, first="2019-02")
    assert CrimeStore(data_dir).partitions() == [(FORCE, "2019-01"), (FORCE, "2019-02")]
