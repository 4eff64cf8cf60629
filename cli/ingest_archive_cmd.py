"""``hotspots ingest archive``: load the data.police.uk bulk archive (folder or zip)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.common import (
    DataDirOption,
    FromOption,
    QuietOption,
    ToOption,
    console,
    fail,
    open_store,
    progress_bar,
)
from cli.tables import print_table
from pipelines.ingest.archive_layout import ArchiveError, list_archive
from pipelines.ingest.archive_workers import start_workers, worker_count
from pipelines.months import MonthError, check_range
from pipelines.wording import counted

if TYPE_CHECKING:
    from pipelines.ingest.archive import ArchiveIngestReport, FileOutcome


def ingest_archive_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="A folder or .zip laid out like the data.police.uk archive: "
            "YYYY-MM/YYYY-MM-<force>-street.csv",
            show_default=False,
        ),
    ],
    force: Annotated[
        str | None,
        typer.Option(
            "--force", help="Only this force (slug, e.g. devon-and-cornwall).", show_default=False
        ),
    ] = None,
    first: FromOption = None,
    last: ToOption = None,
    quiet: QuietOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Load street-level crime from the bulk archive into the store.

    Each force-month replaces what the store held for it, atomically; running the same ingest
    twice leaves the store unchanged. Every data row is either stored or counted as a rejection
    with its reason (see `hotspots coverage`).
    """
    try:
        first, last = check_range(first, last)
        listing = list_archive(path, force, first, last)
    except (MonthError, ArchiveError) as error:
        fail(str(error))
    except KeyboardInterrupt:
        fail(_NOTHING_STORED, code=INTERRUPTED)
    workers = worker_count(None, listing.street_files)
    # The workers start now and import Arrow and h3 while this process does (below).
    with _interrupt_said(), start_workers(workers) as pool:
        from pipelines.ingest.archive import ingest_archive

        store = open_store(data_dir, create=True)
        with progress_bar(quiet=quiet) as bar:
            task = bar.add_task("Ingesting files", total=len(listing.street_files))

            def advance(outcome: FileOutcome) -> None:
                bar.update(task, advance=1, description=f"{outcome.force} {outcome.month}")

            try:
                report = ingest_archive(
                    store,
                    path,
                    force,
                    first,
                    last,
                    progress=advance,
                    workers=workers,
                    listing=listing,
                    pool=pool,
                )
            except ArchiveError as error:
                fail(str(error))
    _print_report(report, store.root, listing.folders)
    if report.failed:
        fail(
            f"{len(report.failed)} file(s) could not be read (listed above); the store keeps its "
            "previous contents for those months",
            code=1,
        )


# The exit status of a command ended by Ctrl-C (SIGINT), as shells give it: 128 + 2.
INTERRUPTED = 130
_NOTHING_STORED = (
    "interrupted before any file was stored: the store is as it was; run the same command "
    "again to load the archive"
)


@contextmanager
def _interrupt_said() -> Iterator[None]:
    """Ctrl-C during the ingest ends it with one line saying what the store holds, exit 130
    (it ended with exit 130 and no word). Files are published in the listing's order, in
    batches (pipelines/ingest/archive.py), so what is stored is the listing's first files:
    named by the first and the last."""
    try:
        yield
    except KeyboardInterrupt as interrupt:
        from pipelines.ingest.archive import IngestInterrupted  # here: the workers start first

        if not isinstance(interrupt, IngestInterrupted):
            fail(_NOTHING_STORED, code=INTERRUPTED)
        stored = interrupt.stored
        if not stored:
            fail(_NOTHING_STORED, code=INTERRUPTED)
        first, last = stored[0], stored[-1]
        fail(
            f"interrupted: the {counted(len(stored), 'force-month')} stored before the "
            f"interrupt are kept ({first.force} {first.month} to {last.force} {last.month}); "
            f"the other {counted(interrupt.not_stored, 'file')} were not stored (for those "
            "the store holds what it held before); run the same command again to finish",
            code=INTERRUPTED,
        )


# Above this many files the report has one row per force instead of one per file: a national
# download of three years is some 1,500 force-months, a table nobody reads whose rendering took
# longer (about 3 s) than the tenth of the ingest it was printed after.
PER_FILE_ROWS_UP_TO = 100
# Files whose rejected rows are shown by example; `hotspots coverage` lists every month.
_SAMPLED_FILES = 20
# Folders named like CSV files (2023-01/2023-01-kent-street.csv/), each named on a line.
_FOLDERS_NAMED = 10


def _print_report(report: ArchiveIngestReport, root: Path, folders: list[str]) -> None:
    if len(report.files) > PER_FILE_ROWS_UP_TO:
        _print_force_table(report, root)
    else:
        _print_file_table(report, root)
    for outcome in report.failed:
        console.print(Text.assemble((outcome.name, "red"), f": {outcome.error}"), highlight=False)
    sampled = [outcome for outcome in report.files if outcome.samples]
    for outcome in sampled[:_SAMPLED_FILES]:
        for reason, samples in outcome.samples.items():
            console.print(
                Text.assemble((outcome.name, "yellow"), f" {reason}: {'; '.join(samples[:3])}"),
                highlight=False,
            )
    if len(sampled) > _SAMPLED_FILES:
        console.print(
            f"... and {len(sampled) - _SAMPLED_FILES} more file(s) with rejected rows; "
            "`hotspots coverage` shows every month's counts."
        )
    _print_warnings(report)
    if report.ignored:
        console.print(f"Ignored {len(report.ignored)} CSV file(s) that are not street-level crime.")
    for name in folders[:_FOLDERS_NAMED]:
        console.print(
            f"Ignored {name}: it is a folder, not a CSV file.", highlight=False, soft_wrap=True
        )
    if len(folders) > _FOLDERS_NAMED:
        console.print(
            f"... and {len(folders) - _FOLDERS_NAMED} more folder(s) named like CSV files."
        )
    console.print(
        f"{report.source_rows:,} rows read, {report.stored:,} stored, "
        f"{report.source_rows - report.stored:,} rejected."
    )


_COLUMNS = ("rows read", "stored", "no location", "rejected")


def _new_table(root: Path, first: tuple[str, ...]) -> Table:
    table = Table(title=f"Ingested into {root}", show_lines=False)
    for column in (*first, *_COLUMNS):
        table.add_column(
            column, justify="left" if column in first else "right", no_wrap=column in first
        )
    return table


def _rejected_text(rejected: Counter[str] | dict[str, int]) -> str:
    return ", ".join(f"{reason} {n:,}" for reason, n in sorted(rejected.items())) or "0"


def _print_file_table(report: ArchiveIngestReport, root: Path) -> None:
    table = _new_table(root, ("force", "month"))
    for outcome in report.files:
        if outcome.coverage is None:
            refused = Text("file refused", style="red")
            table.add_row(outcome.force, outcome.month, "-", "-", "-", refused)
            continue
        cov = outcome.coverage
        table.add_row(
            cov.force,
            cov.month,
            f"{cov.source_rows:,}",
            f"{cov.stored:,}",
            f"{cov.no_location:,}",
            _rejected_text(cov.rejected),
        )
    print_table(table)


def _print_force_table(report: ArchiveIngestReport, root: Path) -> None:
    """One row per force: its months, files and summed counts (refused files named below)."""
    table = _new_table(root, ("force", "months", "files"))
    by_force: dict[str, list[FileOutcome]] = {}
    for outcome in report.files:
        by_force.setdefault(outcome.force, []).append(outcome)
    for force, outcomes in sorted(by_force.items()):
        months = sorted(outcome.month for outcome in outcomes)
        loaded = [outcome.coverage for outcome in outcomes if outcome.coverage is not None]
        rejected: Counter[str] = Counter()
        for cov in loaded:
            rejected.update(cov.rejected)
        refused = len(outcomes) - len(loaded)
        table.add_row(
            force,
            months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}",
            Text.assemble(
                f"{len(outcomes):,}",
                *((" (", (f"{refused} refused", "red"), ")") if refused else ()),
            ),
            f"{sum(cov.source_rows for cov in loaded):,}",
            f"{sum(cov.stored for cov in loaded):,}",
            f"{sum(cov.no_location for cov in loaded):,}",
            _rejected_text(rejected),
        )
    print_table(table)


def _print_warnings(report: ArchiveIngestReport) -> None:
    """Rows kept but worth knowing about: per file in a small report, per force in a big one."""
    lines: list[Text] = []
    if len(report.files) <= PER_FILE_ROWS_UP_TO:
        for outcome in report.files:
            for warning, count in (outcome.coverage.warnings if outcome.coverage else {}).items():
                lines.append(
                    Text.assemble((outcome.name, "yellow"), f" {warning}: {count} row(s) kept")
                )
    else:
        counts: dict[tuple[str, str], list[int]] = {}
        for outcome in report.files:
            for warning, count in (outcome.coverage.warnings if outcome.coverage else {}).items():
                counts.setdefault((outcome.force, warning), []).append(count)
        for (force, warning), found in sorted(counts.items()):
            lines.append(
                Text.assemble(
                    (force, "yellow"),
                    f" {warning}: {sum(found):,} row(s) kept, in {len(found)} file(s)",
                )
            )
    if lines:  # one print: a call each cost about a millisecond
        console.print(Text("\n").join(lines), highlight=False)
