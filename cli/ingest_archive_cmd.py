"""``hotspots ingest archive``: load the data.police.uk bulk archive (folder or zip)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

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
from pipelines.ingest.archive import ArchiveIngestReport, FileOutcome, ingest_archive
from pipelines.ingest.archive_layout import ArchiveError, list_archive
from pipelines.months import MonthError, check_range


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
        total = len(list_archive(path, force, first, last).street_files)
    except (MonthError, ArchiveError) as error:
        fail(str(error))
    store = open_store(data_dir)
    with progress_bar(quiet=quiet) as bar:
        task = bar.add_task("Ingesting files", total=total)

        def advance(outcome: FileOutcome) -> None:
            bar.update(task, advance=1, description=f"{outcome.force} {outcome.month}")

        try:
            report = ingest_archive(store, path, force, first, last, progress=advance)
        except ArchiveError as error:
            fail(str(error))
    _print_report(report, store.root)
    if report.failed:
        fail(
            f"{len(report.failed)} file(s) could not be read (listed above); the store keeps its "
            "previous contents for those months",
            code=1,
        )


def _print_report(report: ArchiveIngestReport, root: Path) -> None:
    table = Table(title=f"Ingested into {root}", show_lines=False)
    for column in ("force", "month", "rows read", "stored", "no location", "rejected"):
        table.add_column(
            column,
            justify="left" if column in ("force", "month") else "right",
            no_wrap=column in ("force", "month"),
        )
    for outcome in report.files:
        if outcome.coverage is None:
            table.add_row(outcome.force, outcome.month, "-", "-", "-", "[red]file refused[/]")
            continue
        cov = outcome.coverage
        rejected = ", ".join(f"{reason} {n:,}" for reason, n in cov.rejected.items()) or "0"
        table.add_row(
            cov.force,
            cov.month,
            f"{cov.source_rows:,}",
            f"{cov.stored:,}",
            f"{cov.no_location:,}",
            rejected,
        )
    print_table(table)
    for outcome in report.files:
        if outcome.error:
            console.print(f"[red]{outcome.name}[/]: {outcome.error}", highlight=False)
        for reason, samples in outcome.samples.items():
            console.print(
                f"[yellow]{outcome.name}[/] {reason}: {'; '.join(samples[:3])}", highlight=False
            )
        for warning, count in (outcome.coverage.warnings if outcome.coverage else {}).items():
            console.print(
                f"[yellow]{outcome.name}[/] {warning}: {count} row(s) kept", highlight=False
            )
    if report.ignored:
        console.print(f"Ignored {len(report.ignored)} CSV file(s) that are not street-level crime.")
    console.print(
        f"{report.source_rows:,} rows read, {report.stored:,} stored, "
        f"{report.source_rows - report.stored:,} rejected."
    )
