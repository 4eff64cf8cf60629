"""The store's promises: idempotent re-ingest, atomic replacement, survival of a killed writer."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.ingest.archive import ingest_archive
from pipelines.schema import CRIME_SCHEMA
from pipelines.store import CrimeStore, PartitionCoverage
from pipelines.store.crime_store import StoreError
from tests.archive_fixtures import ArchiveBuilder, crime_line

FORCE = "devon-and-cornwall"


def _file_hashes(store: CrimeStore) -> dict[str, str]:
    return {
        str(path.relative_to(store.root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(store.crimes_dir.rglob("*"))
        if path.is_file()
    }


def _three_months(archive: ArchiveBuilder) -> None:
    for month in ("2019-01", "2019-02", "2019-03"):
        archive.write(
            FORCE,
            month,
            [crime_line(month, crime_id=f"{month}-{i}", longitude=f"-3.5{i}") for i in range(5)]
            + [crime_line(month, category="Anti-social behaviour")] * 2,
        )


def test_same_ingest_twice_gives_identical_files(archive: ArchiveBuilder, data_dir: Path) -> None:
    _three_months(archive)
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root)
    first, version = _file_hashes(store), store.version()
    ingest_archive(store, archive.root)
    assert _file_hashes(store) == first
    assert store.version() == version  # same files, same data version: caches stay valid
    assert len(first) == 4  # three partitions and the manifest naming them


def test_manifest_read_back_writes_the_same_text(archive: ArchiveBuilder, data_dir: Path) -> None:
    """Entries read from a manifest write the dictionaries they were read from (a batched
    ingest reads the manifest before every swap): the text survives a round trip unchanged,
    and a coverage record changed after reading is written as changed."""
    from pipelines.store.manifest import MANIFEST_NAME, Manifest

    _three_months(archive)
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root)
    text = (store.crimes_dir / MANIFEST_NAME).read_text(encoding="utf-8")
    manifest = Manifest.from_json(text)
    assert manifest.to_json() == text
    entry = manifest.partitions[(FORCE, "2019-02")]
    assert entry.coverage is not None and entry.h3_parents
    entry.coverage.warnings["duplicate_crime_id"] = 3
    changed = Manifest.from_json(manifest.to_json())
    assert changed.partitions[(FORCE, "2019-02")].coverage.warnings == {"duplicate_crime_id": 3}


def test_partition_files_reach_the_disk_before_a_manifest_names_them(
    archive: ArchiveBuilder, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers leave flushing to the process that publishes (it waits for the disk, they go on
    parsing): every file and its folder are still flushed before the manifest swap."""
    from pipelines.store import atomic
    from pipelines.store.manifest import MANIFEST_NAME

    events: list[tuple[str, Path]] = []
    real_file, real_dir = atomic._fsync_file, atomic._fsync_dir

    def fsync_file(path: Path, **options: bool) -> None:
        events.append(("file", path))
        real_file(path, **options)

    def fsync_dir(path: Path) -> None:
        events.append(("dir", path))
        real_dir(path)

    monkeypatch.setattr(atomic, "_fsync_file", fsync_file)
    monkeypatch.setattr(atomic, "_fsync_dir", fsync_dir)
    _three_months(archive)
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root, workers=1)

    manifest_synced = [
        i for i, (kind, path) in enumerate(events) if kind == "dir" and path == store.crimes_dir
    ]
    assert manifest_synced, "the manifest's rename was not flushed"
    published = manifest_synced[-1]
    for force, month in store.partitions():
        path = store.crimes_dir / store.snapshot().manifest.partitions[(force, month)].file
        assert ("file", path) in events[:published], f"{path.name} not flushed before publishing"
        assert ("dir", path.parent) in events[:published]
    assert (store.crimes_dir / MANIFEST_NAME).exists()


def test_reingest_replaces_the_month_instead_of_adding(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    _three_months(archive)
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root)
    archive.write(FORCE, "2019-02", [crime_line("2019-02", crime_id="revised")])
    ingest_archive(store, archive.root, first="2019-02", last="2019-02")

    assert store.read_partition(FORCE, "2019-02")["crime_id"].to_pylist() == ["revised"]
    assert store.coverage_of(FORCE, "2019-02").stored == 1
    assert store.read_partition(FORCE, "2019-01").num_rows == 7  # other months untouched


def test_killed_writer_leaves_previous_contents(archive: ArchiveBuilder, data_dir: Path) -> None:
    _three_months(archive)
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root)
    before = _file_hashes(store)
    archive.write(FORCE, "2019-02", [crime_line("2019-02", crime_id="never-lands")] * 50)

    # A real process, killed with SIGKILL after half-writing its first new partition.
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from pipelines.store import atomic
        from pipelines.store import CrimeStore
        from pipelines.ingest.archive import ingest_archive

        def die_half_written(tmp_path, path, *_, **__):
            with open(tmp_path, "r+b") as half:
                half.truncate(tmp_path.stat().st_size // 2)
            os.kill(os.getpid(), signal.SIGKILL)
        atomic._publish = die_half_written
        ingest_archive(CrimeStore(sys.argv[1]), Path(sys.argv[2]))
        """
    )
    killed = subprocess.run(
        [sys.executable, "-c", script, str(data_dir), str(archive.root)], check=False
    )
    assert killed.returncode == -9

    leftovers = list(store.crimes_dir.rglob(".*.tmp"))
    assert leftovers, "the killed writer should have left its temporary file behind"
    assert {
        k: v for k, v in _file_hashes(store).items() if not Path(k).name.startswith(".")
    } == before
    assert store.read(FORCE).num_rows == 21
    assert [c.month for c in store.coverage(FORCE)] == ["2019-01", "2019-02", "2019-03"]

    # The next ingest completes and tidies up after the dead one.
    ingest_archive(store, archive.root)
    assert store.read_partition(FORCE, "2019-02").num_rows == 50
    assert not list(store.crimes_dir.rglob(".*.tmp"))


def test_write_refuses_rows_that_disagree_with_their_coverage(data_dir: Path) -> None:
    store = CrimeStore(data_dir)
    coverage = PartitionCoverage(FORCE, "2019-01", "archive", 1, 1, 0)
    with pytest.raises(StoreError, match="coverage says 1 rows"):
        store.write_partition(CRIME_SCHEMA.empty_table(), coverage)
    with pytest.raises(StoreError, match="canonical schema"):
        store.write_partition(pa.table({"crime_id": ["x"]}), coverage)
    assert store.partitions() == []


def test_read_selects_force_and_months(archive: ArchiveBuilder, data_dir: Path) -> None:
    _three_months(archive)
    archive.write("city-of-london", "2019-02", [crime_line("2019-02", crime_id="col")])
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root)

    assert store.forces() == ["city-of-london", FORCE]
    assert store.read(FORCE, "2019-02", "2019-03").num_rows == 14
    assert store.read(first="2019-02", last="2019-02").num_rows == 8
    assert store.read("kent").num_rows == 0
    assert store.read(FORCE, columns=["category"]).column_names == ["category"]


def test_stored_files_are_readable_by_other_accounts(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    # The service often runs as another user than the analyst who ingested; the temporary
    # file's owner-only mode must not survive the rename.
    _three_months(archive)
    ingest_archive(CrimeStore(data_dir), archive.root)
    umask = os.umask(0)
    os.umask(umask)
    stored = list((data_dir / "crimes").glob("*/*.parquet"))
    assert len(stored) == 3
    assert {path.stat().st_mode & 0o777 for path in stored} == {0o666 & ~umask}
    assert all(path.stat().st_mode & 0o044 for path in stored)  # group and others can read


def test_text_columns_written_dictionary_encoded_read_back_as_text(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    """An archive ingest hands the writer its repeating text columns dictionary-encoded; the
    file reads back with the canonical schema and the same rows, coverage record and H3 index
    as the same rows written as plain text (an API ingest's), and the footer keeps both
    metadata keys."""
    import pyarrow.parquet as pq

    from pipelines.store.crime_store import write_partition_file
    from pipelines.store.region import index_cells

    _three_months(archive)
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root)
    stored = store.read_partition(FORCE, "2019-02")
    coverage = store.coverage_of(FORCE, "2019-02")
    assert stored.schema.remove_metadata() == CRIME_SCHEMA
    encoded = pa.table(
        {
            name: column.dictionary_encode() if column.type == pa.string() else column
            for name, column in zip(stored.column_names, stored.columns, strict=True)
        }
    )
    entries = {}
    for form, table in (("text", stored), ("dictionary", encoded)):
        entries[form] = write_partition_file(data_dir / form, table, coverage)
        path = data_dir / form / entries[form].file
        read = pq.read_table(path)
        assert read.schema.remove_metadata() == CRIME_SCHEMA
        assert read.replace_schema_metadata(None).equals(stored.replace_schema_metadata(None))
        assert set(read.schema.metadata) == {b"hotspots.coverage", b"hotspots.h3_resolution"}
        assert PartitionCoverage.from_json(read.schema.metadata[b"hotspots.coverage"]) == coverage
        assert entries[form].h3_parents == index_cells(stored["h3_cell"])
    assert entries["text"].coverage == entries["dictionary"].coverage


def test_partition_index_cells_equal_the_region_index_with_and_without_locations(
    data_dir: Path,
) -> None:
    """The H3 index written with each partition (worked out from its sorted cells) equals
    pipelines.store.region.index_cells, rows without a location included."""
    import numpy as np
    import pyarrow.parquet as pq

    from pipelines.index.h3_cells import cells_for_points
    from pipelines.store.crime_store import write_partition_file
    from pipelines.store.region import index_cells

    rng = np.random.default_rng(7)
    for count, unlocated in ((0, 0), (3, 3), (500, 0), (500, 40)):
        latitude = rng.uniform(50.0, 51.5, count)
        longitude = rng.uniform(-5.5, -2.0, count)
        latitude[:unlocated] = np.nan
        longitude[:unlocated] = np.nan
        columns = {field.name: pa.nulls(count, field.type) for field in CRIME_SCHEMA}
        cells = cells_for_points(latitude, longitude)
        columns.update(
            latitude=pa.array(latitude, from_pandas=True),
            longitude=pa.array(longitude, from_pandas=True),
            h3_cell=cells,
        )
        rows = pa.table(columns, schema=CRIME_SCHEMA)
        coverage = PartitionCoverage(FORCE, "2019-01", "archive", count, count, unlocated)
        entry = write_partition_file(data_dir / "crimes", rows, coverage)
        assert entry.h3_parents == index_cells(cells)
        assert pq.read_table(data_dir / "crimes" / entry.file).num_rows == count
