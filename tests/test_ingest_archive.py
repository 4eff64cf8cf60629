"""Archive ingest on small CSVs written by the tests: every awkward thing the real archive does."""

from __future__ import annotations

import zipfile
from pathlib import Path

import h3
import pyarrow as pa
import pytest

from pipelines.index.h3_cells import parent_cells
from pipelines.ingest.archive import ingest_archive
from pipelines.ingest.archive_layout import ArchiveError
from pipelines.schema import BASE_H3_RESOLUTION
from pipelines.store import CrimeStore
from tests.archive_fixtures import HEADER, ArchiveBuilder, crime_line


def _rows(store: CrimeStore, force: str, month: str) -> list[dict]:
    table = store.read_partition(force, month)
    assert table is not None, f"{force} {month} was not stored"
    return table.to_pylist()


def test_crlf_lf_and_bom_files_read_the_same(archive: ArchiveBuilder, data_dir: Path) -> None:
    lines = [crime_line("2020-01", crime_id="a1"), crime_line("2020-01", crime_id="a2")]
    archive.write("devon-and-cornwall", "2020-01", lines, newline="\r\n", bom=True)
    archive.write(
        "devon-and-cornwall", "2020-02", [line.replace("2020-01", "2020-02") for line in lines]
    )
    store = CrimeStore(data_dir)
    report = ingest_archive(store, archive.root)

    assert not report.failed
    january = _rows(store, "devon-and-cornwall", "2020-01")
    february = _rows(store, "devon-and-cornwall", "2020-02")
    assert [r["crime_id"] for r in january] == ["a1", "a2"]
    assert [r["crime_id"] for r in february] == ["a1", "a2"]
    # No stray carriage return or BOM leaks into the values.
    assert january[0]["context"] is None and january[0]["reported_by"] == "Devon & Cornwall Police"
    assert january[0]["longitude"] == pytest.approx(-3.526912)


def test_every_row_is_stored_or_counted_by_reason(archive: ArchiveBuilder, data_dir: Path) -> None:
    month = "2019-06"
    asb = crime_line(month, category="Anti-social behaviour", outcome="")
    lines = [
        crime_line(month, crime_id="ok1", category="Violence and sexual offences"),
        asb,
        asb,  # identical ASB rows are separate incidents: both kept
        crime_line(month, crime_id="noloc", longitude="", latitude="", location="No location"),
        crime_line(month, crime_id="quoted", location='"On or near Smith Street, Lower"'),
        crime_line("2019-07", crime_id="wrongmonth"),
        crime_line(month, crime_id="odd", category="Alien abduction"),
        crime_line(month, crime_id="badlng", longitude="west-ish"),
        crime_line(month, crime_id="halfloc", latitude=""),
        crime_line(month, crime_id="offglobe", latitude="95.0"),
        "this line is garbage",
        "x,y,z,,,,,,,,,,,,,,,,,,,",
    ]
    archive.write("devon-and-cornwall", month, lines)
    store = CrimeStore(data_dir)
    report = ingest_archive(store, archive.root)
    coverage = report.files[0].coverage

    assert coverage.source_rows == len(lines)
    assert coverage.stored == 5
    assert coverage.no_location == 1
    assert coverage.rejected == {
        "bad_coordinates": 3,
        "malformed_row": 2,
        "month_mismatch": 1,
        "unknown_crime_type": 1,
    }
    assert coverage.stored + coverage.rejected_total == coverage.source_rows
    # Stored sorted by place (pipelines/store/region.py), rows without a point last.
    rows = _rows(store, "devon-and-cornwall", month)
    assert sorted(r["crime_id"] or "" for r in rows) == ["", "", "noloc", "ok1", "quoted"]
    by_id = {r["crime_id"]: r for r in rows}
    assert by_id["ok1"]["category"] == "violent-crime"
    unnamed = [r for r in rows if r["crime_id"] is None]
    assert unnamed[0] == unnamed[1]
    assert rows[-1]["crime_id"] == "noloc"
    assert by_id["noloc"]["longitude"] is None and by_id["noloc"]["h3_cell"] is None
    assert by_id["quoted"]["location"] == "On or near Smith Street, Lower"
    # The report shows the user what was wrong, not only how many.
    samples = report.files[0].samples
    assert "Alien abduction" in samples["unknown_crime_type"][0]
    assert "this line is garbage" in " ".join(samples["malformed_row"])


def test_h3_cell_is_fine_resolution_and_parents_are_study_cells(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    archive.write("devon-and-cornwall", "2019-01", [crime_line("2019-01", crime_id="c")])
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root)
    cell = _rows(store, "devon-and-cornwall", "2019-01")[0]["h3_cell"]

    assert h3.get_resolution(h3.int_to_str(cell)) >= 10
    assert h3.int_to_str(cell) == h3.latlng_to_cell(50.463581, -3.526912, BASE_H3_RESOLUTION)
    for resolution in (7, 8, 9, 10):
        parent = parent_cells(pa.array([cell, None], pa.uint64()), resolution).to_pylist()
        assert parent[0] == h3.str_to_int(h3.cell_to_parent(h3.int_to_str(cell), resolution))
        assert parent[1] is None
        # The parent is the point's own cell at that resolution or, for a point close to its
        # edge, the adjacent one (H3 children do not tile their parent exactly).
        direct = h3.latlng_to_cell(50.463581, -3.526912, resolution)
        assert h3.grid_distance(h3.int_to_str(parent[0]), direct) <= 1


def test_points_repeated_across_months_and_forces_get_their_own_cells(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    """A worker remembers the cells of a force's map points from month to month and forgets
    them at the next force; every stored cell is still the point's own H3 cell."""
    points = [("50.463581", "-3.526912"), ("50.471234", "-3.530001"), ("51.507400", "-0.127800")]
    for force, month, order in (
        ("devon-and-cornwall", "2019-01", [0, 1]),
        ("devon-and-cornwall", "2019-02", [1, 2, 0]),
        ("metropolitan", "2019-01", [2, 0]),
        ("metropolitan", "2019-02", [0, 2, 1]),
    ):
        lines = [
            crime_line(month, crime_id=f"{force}-{month}-{i}", latitude=lat, longitude=lng)
            for i, (lat, lng) in enumerate(points[j] for j in order)
        ]
        archive.write(force, month, lines)
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root, workers=1)

    rows = store.read().to_pylist()
    assert len(rows) == 10
    for row in rows:
        expected = h3.latlng_to_cell(row["latitude"], row["longitude"], BASE_H3_RESOLUTION)
        assert h3.int_to_str(row["h3_cell"]) == expected


def test_repeated_crime_ids_are_counted_and_kept_unnamed_rows_are_not(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    month = "2019-06"
    asb = crime_line(month, category="Anti-social behaviour", outcome="")  # no Crime ID
    lines = [
        crime_line(month, crime_id="a"),
        crime_line(month, crime_id="a"),
        crime_line(month, crime_id="a"),
        crime_line(month, crime_id="b"),
        asb,
        asb,
        asb,
    ]
    archive.write("devon-and-cornwall", month, lines)
    report = ingest_archive(CrimeStore(data_dir), archive.root)

    coverage = report.files[0].coverage
    assert coverage.stored == 7
    assert coverage.warnings == {"duplicate_crime_id": 2}


def test_wrong_header_refuses_that_file_only(archive: ArchiveBuilder, data_dir: Path) -> None:
    archive.write("devon-and-cornwall", "2019-01", [crime_line("2019-01", crime_id="good")])
    archive.write("devon-and-cornwall", "2019-02", ["1,2,3"], header="id,when,what")
    store = CrimeStore(data_dir)
    report = ingest_archive(store, archive.root)

    assert [f.month for f in report.failed] == ["2019-02"]
    assert "wrong header" in report.failed[0].error
    assert "Crime ID" in report.failed[0].error
    assert store.partitions() == [("devon-and-cornwall", "2019-01")]


def test_zip_archive_is_read_like_a_folder(
    archive: ArchiveBuilder, data_dir: Path, tmp_path: Path
) -> None:
    archive.write("city-of-london", "2023-03", [crime_line("2023-03", crime_id="z1")])
    archive.write("city-of-london", "2023-04", [crime_line("2023-04", crime_id="z2")])
    zip_path = tmp_path / "download.zip"
    with zipfile.ZipFile(zip_path, "w") as bundle:
        for csv_path in archive.root.rglob("*.csv"):
            bundle.write(csv_path, csv_path.relative_to(archive.root).as_posix())
        bundle.writestr("2023-03/2023-03-city-of-london-outcomes.csv", "Crime ID,Month\n")
    store = CrimeStore(data_dir)
    report = ingest_archive(store, zip_path, first="2023-04")

    assert store.partitions() == [("city-of-london", "2023-04")]
    assert _rows(store, "city-of-london", "2023-04")[0]["crime_id"] == "z2"
    assert report.ignored == []  # outcomes files are expected in an archive, not "ignored" noise


@pytest.mark.parametrize(
    ("make_path", "message"),
    [
        (lambda tmp: tmp / "absent", "does not exist"),
        (
            lambda tmp: _write(tmp / "not.zip", b"PK? not really a zip"),
            "neither a folder nor a zip",
        ),
        (lambda tmp: _mkdir(tmp / "empty"), "no street-level files"),
    ],
)
def test_unusable_paths_are_refused_with_a_reason(tmp_path: Path, make_path, message: str) -> None:
    with pytest.raises(ArchiveError, match=message):
        ingest_archive(CrimeStore(tmp_path / "store"), make_path(tmp_path))


def test_month_range_with_no_data_names_what_is_there(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    archive.write("devon-and-cornwall", "2019-01", [crime_line("2019-01")])
    with pytest.raises(ArchiveError, match=r"2021-01\.\.2021-03.*holds 2019-01\.\.2019-01"):
        ingest_archive(CrimeStore(data_dir), archive.root, first="2021-01", last="2021-03")


def test_force_filter_and_unknown_force(archive: ArchiveBuilder, data_dir: Path) -> None:
    archive.write("devon-and-cornwall", "2019-01", [crime_line("2019-01")])
    archive.write("city-of-london", "2019-01", [crime_line("2019-01")])
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root, force="city-of-london")
    assert store.partitions() == [("city-of-london", "2019-01")]
    with pytest.raises(ArchiveError, match="holds: city-of-london, devon-and-cornwall"):
        ingest_archive(store, archive.root, force="kent")


def test_invalid_utf8_is_repaired_not_fatal(archive: ArchiveBuilder, data_dir: Path) -> None:
    path = archive.write(
        "devon-and-cornwall", "2019-01", [crime_line("2019-01", location="On or near Caf\xe9 Row")]
    )
    path.write_bytes(
        path.read_bytes().replace("é".encode(), b"\xe9")
    )  # latin-1 byte in a UTF-8 file
    store = CrimeStore(data_dir)
    report = ingest_archive(store, archive.root)
    assert not report.failed
    assert _rows(store, "devon-and-cornwall", "2019-01")[0]["location"].startswith("On or near Caf")


def test_header_only_file_stores_an_empty_month(archive: ArchiveBuilder, data_dir: Path) -> None:
    archive.write("devon-and-cornwall", "2019-01", [])
    store = CrimeStore(data_dir)
    report = ingest_archive(store, archive.root)
    assert report.files[0].coverage.stored == 0
    assert store.partitions() == [("devon-and-cornwall", "2019-01")]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    (path / "notes.txt").write_text(HEADER)
    return path


def _stored_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted((root / "crimes").rglob("*.parquet"))
    }


def test_worker_processes_store_the_same_bytes_as_one_process(
    archive: ArchiveBuilder, tmp_path: Path
) -> None:
    """Files prepared in spawned worker processes (a zip too, whose readers must cross to them)
    are stored exactly as when prepared in this process, and reported in file order."""
    for month in ("2023-01", "2023-02", "2023-03"):
        archive.write(
            "city-of-london",
            month,
            [crime_line(month, crime_id=f"{month}-{i}", longitude=f"-0.09{i}") for i in range(9)],
        )
    archive.write("city-of-london", "2023-04", ["1,2,3"], header="id,when,what")
    zip_path = tmp_path / "download.zip"
    with zipfile.ZipFile(zip_path, "w") as bundle:
        for csv_path in archive.root.rglob("*.csv"):
            bundle.write(csv_path, csv_path.relative_to(archive.root).as_posix())

    stored = {}
    for name, source, workers in (
        ("one", archive.root, 1),
        ("folder", archive.root, 2),
        ("zip", zip_path, 2),
    ):
        store = CrimeStore(tmp_path / name)
        report = ingest_archive(store, source, workers=workers)
        assert [f.month for f in report.files] == ["2023-01", "2023-02", "2023-03", "2023-04"]
        assert [f.month for f in report.failed] == ["2023-04"]
        assert report.stored == 27
        stored[name] = _stored_bytes(store.root)
    assert len(stored["one"]) == 3
    assert stored["folder"] == stored["one"]
    assert stored["zip"] == stored["one"]


def test_one_bad_coordinate_changes_nothing_else_in_the_file(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    """A file whose coordinates all parse is read with them typed as numbers by the CSV reader;
    one unparseable coordinate makes the file be read as text and checked value by value. The
    two ways keep the same rows with the same values: only the bad row is rejected. A number
    padded with spaces is a number either way (it used to stop the whole ingest)."""
    good = [
        crime_line("2019-03", crime_id="plain"),
        crime_line("2019-03", crime_id="padded", longitude=" -3.526900", latitude="50.463500 "),
        crime_line("2019-03", crime_id="noloc", longitude="", latitude=""),
        crime_line("2019-03", crime_id="", category="Anti-social behaviour", outcome=""),
        crime_line("2019-03", crime_id="blank-lat", latitude="  "),
    ]
    bad = crime_line("2019-04", crime_id="bad", longitude="west-ish")
    archive.write("devon-and-cornwall", "2019-03", good)
    archive.write(
        "devon-and-cornwall",
        "2019-04",
        [line.replace("2019-03", "2019-04") for line in good] + [bad],
    )
    store = CrimeStore(data_dir)
    report = ingest_archive(store, archive.root)

    typed, text = (f.coverage for f in report.files)
    assert typed.rejected == {"bad_coordinates": 1}  # only the half-blank one
    assert text.rejected == {"bad_coordinates": 2}  # and the bad one
    assert (typed.stored, typed.no_location) == (text.stored, text.no_location) == (4, 1)
    march = _rows(store, "devon-and-cornwall", "2019-03")
    april = _rows(store, "devon-and-cornwall", "2019-04")
    for row in april:
        row["month"] = "2019-03"
    assert march == april
    padded = next(r for r in march if r["crime_id"] == "padded")
    assert (padded["longitude"], padded["latitude"]) == (-3.5269, 50.4635)
    assert any(r["crime_id"] is None for r in march)  # an empty Crime ID is stored as null


@pytest.mark.parametrize("repeats", [0, 1, 7])
def test_repeated_64_digit_crime_ids_are_counted_exactly(
    archive: ArchiveBuilder, data_dir: Path, repeats: int
) -> None:
    """Crime IDs as police.uk writes them (64 hex digits), in a file read in several blocks:
    the repeats are counted exactly, also when IDs differ only in their last digit."""
    import hashlib

    month = "2019-06"
    ids = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(6_000)]
    ids += [ids[0][:-1] + ("0" if ids[0][-1] != "0" else "1")]  # one digit off: not a repeat
    ids += [ids[i * 11] for i in range(repeats)]
    asb = crime_line(month, category="Anti-social behaviour", outcome="")  # no Crime ID
    lines = [crime_line(month, crime_id=crime_id) for crime_id in ids] + [asb] * 50
    archive.write("devon-and-cornwall", month, lines)
    report = ingest_archive(CrimeStore(data_dir), archive.root)

    coverage = report.files[0].coverage
    assert coverage.stored == len(lines)
    assert coverage.warnings == ({"duplicate_crime_id": repeats} if repeats else {})


def test_ingest_workers_import_no_pandas(archive: ArchiveBuilder, tmp_path: Path) -> None:
    """Preparing and writing a file (what an ingest worker does) loads no pandas: importing it
    was about a second of each worker's start."""
    import subprocess
    import sys

    for month in ("2019-01", "2019-02"):
        archive.write(
            "devon-and-cornwall",
            month,
            [crime_line(month, crime_id=f"{month}-{i}") for i in range(5)]
            + [crime_line(month, crime_id="x", longitude="", latitude="")]
            + [crime_line(month, category="Not a crime type")],
        )
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from pipelines.ingest.archive import ingest_file\n"
        "from pipelines.ingest.archive_layout import list_archive\n"
        f"for file in list_archive(Path({str(archive.root)!r})).street_files:\n"
        f"    assert ingest_file(file, Path({str(tmp_path / 'crimes')!r})).entry is not None\n"
        "print('pandas' in sys.modules)\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == ["False"]


def test_a_listing_narrowed_to_months_equals_listing_those_months(
    archive: ArchiveBuilder,
) -> None:
    from pipelines.ingest.archive_layout import ArchiveListing, list_archive

    for month in ("2019-01", "2019-02", "2019-03", "2019-04"):
        archive.write("devon-and-cornwall", month, [crime_line(month)])
    archive.write("dorset", "2019-03", [crime_line("2019-03")])

    def shown(listing: ArchiveListing) -> tuple:
        files = [(f.force, f.month, f.name, f.size, f.read()) for f in listing.street_files]
        return files, listing.ignored, listing.forces, listing.months

    whole = list_archive(archive.root)
    for first, last in (("2019-02", "2019-03"), (None, "2019-01"), ("2019-03", None)):
        assert shown(whole.within(first, last)) == shown(
            list_archive(archive.root, None, first, last)
        )


def test_batches_are_runs_of_consecutive_files_in_order() -> None:
    """Files go to workers a few at a time, consecutive and in order; a batch stops before
    too many bytes, and a file larger than that is a batch of its own."""
    from pipelines.ingest import archive as archive_module
    from pipelines.ingest.archive import file_batches
    from pipelines.ingest.archive_layout import StreetFile

    cap = archive_module._BATCH_BYTES
    sizes = [10, 10, 10, 10, 10, cap, 10, cap // 2, cap // 2, 10]
    files = [
        StreetFile("dorset", f"2019-{i + 1:02d}", f"f{i}", bytes, size)
        for i, size in enumerate(sizes)
    ]
    batches = list(file_batches(files))
    assert [f for batch in batches for f in batch] == files
    assert [[f.name for f in batch] for batch in batches] == [
        ["f0", "f1", "f2", "f3"],  # at most _BATCH_FILES
        ["f4"],
        ["f5"],  # as large as the cap: alone
        ["f6", "f7"],
        ["f8", "f9"],  # f8 would take the one before it over the cap
    ]
    assert archive_module._BATCH_FILES == 4
    assert list(file_batches([])) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bad_file_inside_a_batch_is_reported_alone_and_the_others_stored(
    archive: ArchiveBuilder, data_dir: Path, workers: int
) -> None:
    """Files handed to a worker together are reported one by one, in order, with each file's
    own counts and samples: a refused file in the middle of a batch loses none of the others."""
    months = ["2022-01", "2022-02", "2022-03", "2022-04", "2022-05"]
    for i, month in enumerate(months):
        lines = [crime_line(month, crime_id=f"{month}-{n}") for n in range(i + 1)]
        if month == "2022-03":
            lines.append(crime_line(month, crime_id="odd", category="Alien abduction"))
        archive.write("dorset", month, lines)
    archive.write("dorset", "2022-02", ["1,2,3"], header="id,when,what")  # refused

    seen: list[str] = []
    store = CrimeStore(data_dir)
    report = ingest_archive(
        store, archive.root, workers=workers, progress=lambda o: seen.append(o.month)
    )
    assert seen == months
    assert [o.month for o in report.files] == months
    assert [o.month for o in report.failed] == ["2022-02"]
    assert "wrong header" in report.failed[0].error
    stored = {o.month: o.coverage.stored for o in report.files if o.coverage}
    assert stored == {"2022-01": 1, "2022-03": 3, "2022-04": 4, "2022-05": 5}
    by_month = {o.month: o for o in report.files}
    assert by_month["2022-03"].coverage.rejected == {"unknown_crime_type": 1}
    assert "Alien abduction" in by_month["2022-03"].samples["unknown_crime_type"][0]
    assert all(not by_month[m].samples for m in ("2022-01", "2022-04", "2022-05"))
    assert store.partitions() == [("dorset", m) for m in months if m != "2022-02"]


def test_a_fault_inside_a_batch_is_raised_at_its_file(
    archive: ArchiveBuilder, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault that ends the ingest (here a full disk while writing the third file) is raised
    when the ingest reaches that file: the two before it were reported, the one after it in the
    same batch was not even read, and nothing of the interrupted run is published."""
    from pipelines.ingest import archive as archive_module
    from pipelines.store.errors import StoreWriteError

    months = ["2022-01", "2022-02", "2022-03", "2022-04"]
    for month in months:
        archive.write("dorset", month, [crime_line(month, crime_id=f"{month}-1")])
    write = archive_module.write_partition_file
    written: list[str] = []

    def failing_write(crimes_dir, table, coverage, durable=True):
        written.append(coverage.month)
        if coverage.month == "2022-03":
            raise StoreWriteError("cannot write dorset/2022-03.parquet: the disk is full")
        return write(crimes_dir, table, coverage, durable)

    monkeypatch.setattr(archive_module, "write_partition_file", failing_write)
    seen: list[str] = []
    store = CrimeStore(data_dir)
    with pytest.raises(StoreWriteError, match="the disk is full"):
        ingest_archive(store, archive.root, workers=1, progress=lambda o: seen.append(o.month))
    assert seen == ["2022-01", "2022-02"]
    assert written == ["2022-01", "2022-02", "2022-03"]
    assert store.partitions() == []


def test_workers_start_at_once_without_the_caller_importing_arrow() -> None:
    """`hotspots ingest archive` starts its worker processes before it imports the ingest
    (Arrow, NumPy, h3), so they import those on the other core meanwhile: starting them
    imports none of it in the caller, and every worker process exists once it returns."""
    import subprocess
    import sys

    probe = (
        "import multiprocessing, sys\n"
        "from pipelines.ingest.archive_workers import start_workers\n"
        "with start_workers(2) as pool:\n"
        "    started = len(multiprocessing.active_children())\n"
        "    heavy = [m for m in ('pyarrow', 'numpy', 'h3ronpy') if m in sys.modules]\n"
        "    print(started, heavy, pool.submit(len, 'abc').result())\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert shown == "2 [] 3"


def test_worker_count_follows_the_archive_size_unless_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipelines.ingest import archive_workers
    from pipelines.ingest.archive_layout import StreetFile
    from pipelines.ingest.archive_workers import WORKERS_ENV, worker_count

    monkeypatch.delenv(WORKERS_ENV, raising=False)
    small = [StreetFile("dorset", "2019-01", "a", bytes, 1_000)] * 3
    big = [StreetFile("dorset", "2019-01", "a", bytes, archive_workers._PROCESSES_FROM_BYTES)] * 3
    assert worker_count(None, small) == 1  # in this process: workers would cost more
    assert worker_count(2, small) == 2
    assert worker_count(8, small) == 3  # never more than files
    monkeypatch.setenv(WORKERS_ENV, "2")
    assert worker_count(None, big) == 2
