"""Archive ingest: find files, parse them, index points to H3, swap each force-month in.

Each file is ingested on its own (read, parsed, its points indexed to H3, written as its new
partition file) in worker processes when there is enough to do, a few consecutive files to a
worker task (:func:`file_batches`) but reported one by one, so an ingest uses every core:
parsing and writing hold the GIL for part of their time, so threads alone used one core of two,
and workers that only parsed left the parent writing every file on one core. The parent takes
each force-month's lock before handing the file to a worker and publishes the written files
in batches (one manifest swap each), so an interrupted run leaves every partition either as it
was or fully replaced, and a repeated ingest writes the same bytes.
"""

from __future__ import annotations

import threading
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipelines import arrow_numpy
from pipelines.index.h3_cells import KnownPoints, cells_for_points
from pipelines.ingest.archive_csv import CsvFileError, parse_street_csv
from pipelines.ingest.archive_layout import (
    ArchiveListing,
    StreetFile,
    is_other_archive_file,
    list_archive,
)
from pipelines.ingest.archive_workers import start_workers, worker_count
from pipelines.ingest.sources import record_archive
from pipelines.schema import CRIME_SCHEMA, SOURCE_ARCHIVE
from pipelines.store import CrimeStore, PartitionCoverage, StoreWriter
from pipelines.store.atomic import flush_files, flush_folders
from pipelines.store.crime_store import write_partition_file
from pipelines.store.manifest import PartitionEntry, load_manifest

# Files handed out and not yet collected, per worker: enough that none waits while the parent
# swaps a manifest or waits for the disk (an fsync, or creating a lock file, can wait tens of
# ms for the file system's journal while 1 GB of partitions is being written), few enough that
# the locks held stay few. Memory does not grow with it: a worker reads a file only when it
# starts on it.
_IN_FLIGHT_PER_WORKER = 8
# Files a worker gets in one task (consecutive ones, up to this many bytes of CSV): each task
# is a round trip through the process pool (pickled out, a result pickled back, the pool's
# threads woken), about 0.7 ms of the parent's CPU, which files of a national archive (20 ms
# of work each) paid 1,440 times. Small enough that the last tasks end close together.
_BATCH_FILES = 4
_BATCH_BYTES = 16_000_000
# Partitions published per new store version (one manifest swap): a small archive is one
# version; a national one publishes as it goes, holding at most this many partition locks.
_PUBLISH_EVERY = 128


@dataclass
class FileOutcome:
    force: str
    month: str
    name: str
    coverage: PartitionCoverage | None = None
    samples: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None  # the whole file was refused; the stored month is unchanged


@dataclass
class ArchiveIngestReport:
    files: list[FileOutcome]
    ignored: list[str]  # CSVs in the archive that are not street-level crime

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.error]

    @property
    def stored(self) -> int:
        return sum(f.coverage.stored for f in self.files if f.coverage)

    @property
    def source_rows(self) -> int:
        return sum(f.coverage.source_rows for f in self.files if f.coverage)


Progress = Callable[[FileOutcome], None]


class IngestInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during an archive ingest: the files of ``stored`` (their outcomes, in
    the listing's order) are in the store's manifest; the other ``not_stored`` files of the
    listing are not (each of those force-months is as it was before the ingest)."""

    def __init__(self, stored: list[FileOutcome], not_stored: int) -> None:
        super().__init__()
        self.stored = stored
        self.not_stored = not_stored


@dataclass
class BuiltFile:
    """One street file as the partition it becomes, or the reason it cannot be read."""

    file: StreetFile
    table: pa.Table | None = None
    coverage: PartitionCoverage | None = None
    samples: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


def ingest_archive(
    store: CrimeStore,
    path: Path,
    force: str | None = None,
    first: str | None = None,
    last: str | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    listing: ArchiveListing | None = None,
    pool: Executor | None = None,
) -> ArchiveIngestReport:
    """Load every street-level file of ``path`` (folder or zip) in the force and months asked.

    ``workers``: processes that ingest files (default: every core this process may use, or
    $HOTSPOTS_INGEST_WORKERS; small archives are ingested in this process). ``listing``: what
    :func:`list_archive` found for the same arguments, when the caller has listed it already.
    ``pool``: the ``workers`` workers the caller started already
    (:func:`~pipelines.ingest.archive_workers.start_workers`), shut down here once every
    file is handed out; the caller still closes it. Raises ArchiveError when the path holds
    nothing to ingest; a bad file is reported in the result and the rest are still stored.
    """
    if listing is None:
        listing = list_archive(path, force, first, last)
    ignored = [name for name in listing.ignored if not is_other_archive_file(name)]
    files = listing.street_files
    count = worker_count(workers, files)
    if pool is None:
        with start_workers(count) as own:
            outcomes = _ingest_files(store, files, own, count, progress)
    else:
        outcomes = _ingest_files(store, files, pool, count, progress)
    stored_forces = sorted({o.force for o in outcomes if o.coverage is not None})
    if stored_forces:  # so `hotspots update` can read the same archive again
        record_archive(store.root, stored_forces, path)
    return ArchiveIngestReport(files=outcomes, ignored=ignored)


def _ingest_files(
    store: CrimeStore,
    files: list[StreetFile],
    pool: Executor,
    count: int,
    progress: Progress | None,
) -> list[FileOutcome]:
    outcomes: list[FileOutcome] = []
    staged: list[tuple[FileOutcome, str]] = []  # each file staged, and its partition file
    try:
        with store.writer() as partitions:
            flushing = _Flushing(partitions, staged)
            pending: deque[tuple[list[StreetFile], Future[list[WrittenFile]]]] = deque()
            in_flight = 0
            for batch in file_batches(files):
                # Locked here, written by a worker on this process's behalf, published below.
                for file in batch:
                    partitions.lock(file.force, file.month)
                pending.append((batch, pool.submit(ingest_files, batch, store.crimes_dir)))
                in_flight += len(batch)
                while pending and (
                    in_flight > count * _IN_FLIGHT_PER_WORKER or pending[0][1].done()
                ):
                    done, future = pending.popleft()
                    in_flight -= len(done)
                    outcomes.extend(flushing.collect(done, future, progress))
                if partitions.staged >= _PUBLISH_EVERY:
                    flushing.commit()
            # Every file is handed out: the workers quit when their last is done, while this
            # process flushes and publishes, instead of after it.
            pool.shutdown(wait=False)
            while pending:
                outcomes.extend(flushing.collect(*pending.popleft(), progress))
            flushing.flush_folders()  # the writer publishes the rest as it closes
    except KeyboardInterrupt as interrupt:
        # The writer published nothing more as it closed; its locks are released. The files
        # handed out and not started are not written at all.
        pool.shutdown(wait=False, cancel_futures=True)
        stored = _in_manifest(store, staged)
        raise IngestInterrupted(stored, len(files) - len(stored)) from interrupt
    return outcomes


def _in_manifest(store: CrimeStore, staged: list[tuple[FileOutcome, str]]) -> list[FileOutcome]:
    """The staged files the store's manifest names now. Read from the manifest, not counted
    as batches are published: an interrupt can land after a batch's manifest swap and before
    anything after it has run."""
    named = {key: entry.file for key, entry in load_manifest(store.crimes_dir).partitions.items()}
    return [
        outcome for outcome, file in staged if named.get((outcome.force, outcome.month)) == file
    ]


@dataclass
class WrittenFile:
    """What a worker sends back for one street file: its new partition, or why there is none."""

    entry: PartitionEntry | None = None
    samples: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    # Not a bad file but a fault that ends the ingest (a full disk): raised by the parent
    # when it collects this file, after the files before it, as if the file were ingested alone.
    fault: BaseException | None = None


def file_batches(files: list[StreetFile]) -> Iterator[list[StreetFile]]:
    """``files`` in order, as runs of consecutive files for one worker task each: at most
    ``_BATCH_FILES`` files, and no more than ``_BATCH_BYTES`` of CSV unless one file is."""
    batch: list[StreetFile] = []
    size = 0
    for file in files:
        if batch and (len(batch) == _BATCH_FILES or size + file.size > _BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(file)
        size += file.size
    if batch:
        yield batch


def ingest_files(files: list[StreetFile], crimes_dir: Path) -> list[WrittenFile]:
    """:func:`ingest_file` of each file in turn (one worker task). A bad file is reported in
    its own result and the next ones are still ingested; a fault stops the batch there (the
    parent raises it when it reaches that file, so the files after it are never published)."""
    written: list[WrittenFile] = []
    for file in files:
        try:
            written.append(ingest_file(file, crimes_dir))
        except Exception as fault:
            written.append(WrittenFile(fault=fault))
            break
    return written


def ingest_file(file: StreetFile, crimes_dir: Path) -> WrittenFile:
    """Prepare one file and write its partition file, unpublished (in a worker process when
    there are several; the caller holds the force-month's lock)."""
    built = _build(file)
    if built.table is None or built.coverage is None:
        return WrittenFile(error=built.error)
    # Flushed to the disk by the parent (_collect), which waits for it instead of this worker.
    entry = write_partition_file(crimes_dir, built.table, built.coverage, durable=False)
    return WrittenFile(entry, built.samples)


class _Flushing:
    """Stages the files workers wrote, flushed to the disk before any manifest names them:
    each file when it is collected, and the folders naming them once per folder just before
    the manifest swap that publishes them (an fsync of a folder per file was as many journal
    commits again, each stalling the workers' writes)."""

    def __init__(self, partitions: StoreWriter, staged: list[tuple[FileOutcome, str]]) -> None:
        self.partitions = partitions
        self.staged = staged  # every file staged, and its partition file, in order
        self._folders: set[Path] = set()

    def collect(
        self,
        files: list[StreetFile],
        future: Future[list[WrittenFile]],
        progress: Progress | None,
    ) -> list[FileOutcome]:
        """The outcomes of one task's files, in order, each staged and reported in turn."""
        outcomes = []
        for file, written in zip(files, future.result(), strict=False):
            if written.fault is not None:
                raise written.fault
            outcomes.append(self._collect_one(file, written, progress))
        return outcomes

    def _collect_one(
        self, file: StreetFile, written: WrittenFile, progress: Progress | None
    ) -> FileOutcome:
        coverage = None
        if written.entry is not None:
            path = self.partitions.store.crimes_dir / written.entry.file
            flush_files([path], forget_cached=True)  # written once, not read back now
            self._folders.add(path.parent)
            self.partitions.add(written.entry)
            coverage = written.entry.coverage
        outcome = FileOutcome(
            file.force, file.month, file.name, coverage, written.samples, written.error
        )
        if written.entry is not None:
            self.staged.append((outcome, written.entry.file))
        if progress:
            progress(outcome)
        return outcome

    def flush_folders(self) -> None:
        flush_folders(sorted(self._folders))
        self._folders.clear()

    def commit(self) -> None:
        self.flush_folders()
        self.partitions.commit()


def build_partitions(files: list[StreetFile], pool: Executor) -> list[BuiltFile]:
    """Parse and index ``files`` into partitions, in ``pool``, without writing them."""
    return list(pool.map(prepare_file, files))


def prepare_file(file: StreetFile) -> BuiltFile:
    """Read, parse and index one file (in a worker process when there are several); the table
    has the canonical schema (CRIME_SCHEMA)."""
    built = _build(file)
    if built.table is not None:
        built.table = built.table.cast(CRIME_SCHEMA)  # the dictionary-encoded columns as text
    return built


def _build(file: StreetFile) -> BuiltFile:
    """:func:`prepare_file` with the repeating columns still dictionary-encoded, as
    ``write_partition_file`` takes them (and writes faster than text)."""
    try:
        parsed = parse_street_csv(file.read(), file.force, file.month)
    except CsvFileError as error:
        return BuiltFile(file, error=str(error))
    except (OSError, zipfile.BadZipFile) as error:  # a damaged zip member fails its CRC check
        return BuiltFile(file, error=f"cannot read the file: {error}")
    table = _with_h3_cells(parsed.rows, file.force)
    coverage = PartitionCoverage(
        force=file.force,
        month=file.month,
        source=SOURCE_ARCHIVE,
        source_rows=parsed.source_rows,
        stored=table.num_rows,
        no_location=parsed.no_location,
        rejected=parsed.rejected,
        warnings=parsed.warnings,
        provenance=[{"kind": SOURCE_ARCHIVE, "file": file.name, "sha256": parsed.sha256}],
    )
    return BuiltFile(file, table, coverage, parsed.samples)


def _with_h3_cells(rows: pa.Table, force: str) -> pa.Table:
    # NaN where a row has no location; through arrow_numpy (pyarrow's to_numpy imports pandas).
    latitude = arrow_numpy.to_numpy(rows["latitude"], nulls_as=np.nan)
    longitude = arrow_numpy.to_numpy(rows["longitude"], nulls_as=np.nan)
    known: KnownPoints | None = getattr(_thread, "known_points", None)
    if known is None or getattr(_thread, "known_force", None) != force:
        known = _thread.known_points = KnownPoints()
        _thread.known_force = force
    cells = cells_for_points(latitude, longitude, known=known)
    return rows.append_column("h3_cell", cells)


# Map points indexed by earlier files of the same force, per thread: police.uk reuses a force's
# map points month after month, and files come force by force. Forgotten when the force
# changes: a national ingest's points of every force in one sorted array cost more to keep
# up than to index again (0.38 against 0.21 us a row over 60 forces).
_thread = threading.local()
