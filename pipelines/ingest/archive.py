"""Archive ingest: find files, parse them, index points to H3, swap each force-month in.

Files are parsed two at a time (Arrow releases the GIL), points of a whole batch are indexed in
one pass (snap points repeat across months), and each force-month is written atomically, so an
interrupted run leaves every partition either as it was or fully replaced.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipelines.index.h3_cells import cells_for_points
from pipelines.ingest.archive_csv import CsvFileError, ParsedFile, parse_street_csv
from pipelines.ingest.archive_layout import StreetFile, is_other_archive_file, list_archive
from pipelines.ingest.sources import record_archive
from pipelines.schema import CRIME_SCHEMA, SOURCE_ARCHIVE
from pipelines.store import CrimeStore, PartitionCoverage

# Files parsed and indexed together; bounds memory to a few months of a large force at once.
_BATCH_FILES = 24
_WORKERS = 2


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


def ingest_archive(
    store: CrimeStore,
    path: Path,
    force: str | None = None,
    first: str | None = None,
    last: str | None = None,
    progress: Progress | None = None,
) -> ArchiveIngestReport:
    """Load every street-level file of ``path`` (folder or zip) in the force and months asked.

    Raises ArchiveError when the path holds nothing to ingest; a bad file is reported in the
    result and the rest are still stored.
    """
    listing = list_archive(path, force, first, last)
    ignored = [name for name in listing.ignored if not is_other_archive_file(name)]
    outcomes: list[FileOutcome] = []
    with ThreadPoolExecutor(_WORKERS) as pool:
        for start in range(0, len(listing.street_files), _BATCH_FILES):
            batch = listing.street_files[start : start + _BATCH_FILES]
            outcomes.extend(_ingest_batch(store, batch, pool, progress))
    stored_forces = sorted({o.force for o in outcomes if o.coverage is not None})
    if stored_forces:  # so `hotspots update` can read the same archive again
        record_archive(store.root, stored_forces, path)
    return ArchiveIngestReport(files=outcomes, ignored=ignored)


@dataclass
class BuiltFile:
    """One street file as the partition it becomes, or the reason it cannot be read."""

    file: StreetFile
    table: pa.Table | None = None
    coverage: PartitionCoverage | None = None
    samples: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


def build_partitions(files: list[StreetFile], pool: ThreadPoolExecutor) -> list[BuiltFile]:
    """Parse and index ``files`` (one batch) into partitions without writing them."""
    parsed = list(pool.map(_parse, files))
    good = [(file, result) for file, result in parsed if isinstance(result, ParsedFile)]
    tables = iter(_with_h3_cells([result.rows for _, result in good]))
    built = []
    for file, result in parsed:
        if not isinstance(result, ParsedFile):
            built.append(BuiltFile(file, error=result))
            continue
        table = next(tables)
        coverage = PartitionCoverage(
            force=file.force,
            month=file.month,
            source=SOURCE_ARCHIVE,
            source_rows=result.source_rows,
            stored=table.num_rows,
            no_location=result.no_location,
            rejected=result.rejected,
            warnings=result.warnings,
            provenance=[{"kind": SOURCE_ARCHIVE, "file": file.name, "sha256": result.sha256}],
        )
        built.append(BuiltFile(file, table, coverage, result.samples))
    return built


def _ingest_batch(
    store: CrimeStore,
    batch: list[StreetFile],
    pool: ThreadPoolExecutor,
    progress: Progress | None,
) -> list[FileOutcome]:
    built = build_partitions(batch, pool)

    def write(item: BuiltFile) -> None:
        if item.table is not None and item.coverage is not None:
            store.write_partition(item.table, item.coverage)

    list(pool.map(write, built))
    outcomes = []
    for item in built:
        file = item.file
        outcome = FileOutcome(
            file.force, file.month, file.name, item.coverage, item.samples, item.error
        )
        if progress:
            progress(outcome)
        outcomes.append(outcome)
    return outcomes


def _parse(file: StreetFile) -> tuple[StreetFile, ParsedFile | str]:
    try:
        return file, parse_street_csv(file.read(), file.force, file.month)
    except CsvFileError as error:
        return file, str(error)
    except (OSError, zipfile.BadZipFile) as error:  # a damaged zip member fails its CRC check
        return file, f"cannot read the file: {error}"


def _with_h3_cells(tables: list[pa.Table]) -> list[pa.Table]:
    """Add h3_cell to each table, indexing the distinct points of all tables in one pass."""
    if not tables:
        return []
    latitude = np.concatenate([_floats(t["latitude"]) for t in tables])
    longitude = np.concatenate([_floats(t["longitude"]) for t in tables])
    cells = cells_for_points(latitude, longitude)
    result = []
    offset = 0
    for table in tables:
        result.append(
            table.append_column("h3_cell", cells.slice(offset, table.num_rows)).cast(CRIME_SCHEMA)
        )
        offset += table.num_rows
    return result


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    return column.to_numpy().astype(np.float64, copy=False)
