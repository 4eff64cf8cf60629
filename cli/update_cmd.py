"""``hotspots update``: load the months police.uk added or republished since the last load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.common import DataDirOption, console, fail, finite_share, open_store
from cli.police_api import BaseUrlOption, api_root, retry_policy
from cli.tables import print_table
from pipelines.attribution import ATTRIBUTION
from pipelines.ingest.update import (
    ADDED,
    DEFAULT_MAX_REMOVED_SHARE,
    REVISED,
    UNCHANGED,
    UpdateError,
    UpdateReport,
    update_store,
)
from pipelines.store.crime_store import StoreError
from pipelines.store.errors import said_in_full


def update(
    archive: Annotated[
        Path | None,
        typer.Option(
            "--archive",
            help="A newly downloaded data.police.uk archive (folder or .zip) for the forces it "
            "holds. Default: each force's recorded source (the API areas or archive it was "
            "loaded from).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        str | None,
        typer.Option("--force", help="Only this stored force (slug).", show_default=False),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="List what would change; write no data (the check is recorded)."
        ),
    ] = False,
    recheck_months: Annotated[
        int | None,
        typer.Option(
            "--recheck-months",
            min=0,
            help="Compare only the latest N stored months for revisions (default: every stored "
            "month the source still offers).",
            show_default=False,
        ),
    ] = None,
    max_removed_share: Annotated[
        float,
        typer.Option(
            "--max-removed-share",
            callback=finite_share,
            help="Refuse a republished month that drops more than this share of its rows "
            "(0 to 1; a cut-short download looks like that).",
        ),
    ] = DEFAULT_MAX_REMOVED_SHARE,
    base_url: BaseUrlOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Fetch the months police.uk added and re-load the months it republished.

    Every stored force is checked against the source it was loaded from (its API areas or archive).

    Changed months are swapped in atomically, each with a record of the rows added, removed and
    changed by crime ID (see `hotspots coverage`). Unchanged months are left alone: running it
    twice changes nothing.

    If any source cannot be read, nothing is written.

    Safe while `hotspots serve` runs: the service answers from the new data on its next request.
    """
    url = api_root(base_url)
    retry = retry_policy()
    store = open_store(data_dir)
    try:
        report = update_store(
            store,
            base_url=url,
            archive=archive,
            force=force,
            dry_run=dry_run,
            recheck_months=recheck_months,
            max_removed_share=max_removed_share,
            retry=retry,
            progress=None if as_json else _say,
        )
    except (UpdateError, StoreError, ValueError) as error:
        # Exit 2 for input to change (cli.common.fail), 1 for a source or store that failed,
        # as every command ends on a store fault (cli/main.py; docs/store.md).
        fail(" ".join(said_in_full(error).split()), code=2 if isinstance(error, ValueError) else 1)
    if as_json:
        typer.echo(json.dumps(report_json(report), indent=2))
    else:
        _print(report, store.root)


def _say(message: str) -> None:
    console.print(Text(message, style="dim"), highlight=False)


def report_json(report: UpdateReport) -> dict:
    """The report as plain data (also what the docs show)."""
    return {
        "checked_at": report.checked_at,
        "dry_run": report.dry_run,
        "forces": [vars(check) for check in report.forces],
        "skipped": report.skipped,
        "months": [
            {
                "force": m.force,
                "month": m.month,
                "status": m.status,
                "source": m.source,
                "rows_before": m.changes.rows_before,
                "rows_after": m.changes.rows_after,
                "added": m.changes.added,
                "removed": m.changes.removed,
                "changed": m.changes.changed,
                "changed_fields": m.changes.changed_fields,
            }
            for m in report.months
        ],
    }


def _print(report: UpdateReport, root: Path) -> None:
    verb = "would change" if report.dry_run else "changed"
    for check in report.forces:
        offered = f"{check.offered_first}..{check.offered_last}" if check.offered_last else "none"
        note = (
            f"; {check.older_not_loaded} older month(s) offered but outside the stored range"
            if check.older_not_loaded
            else ""
        )
        console.print(
            f"{check.force} ({check.source}): source offers {offered}, store held up to "
            f"{check.stored_last}{note}",
            highlight=False,
        )
    for note in report.skipped:
        console.print(Text.assemble(("skipped", "yellow"), f" {note}"), highlight=False)
    changed = report.changed
    if changed:
        table = Table(title=f"Months that {verb} in {root}")
        for column in ("force", "month", "status", "before", "after", "added", "removed"):
            table.add_column(column, justify="left" if column in ("force", "month") else "right")
        table.add_column("changed", justify="right")
        for m in changed:
            fields = ", ".join(f"{k} {v:,}" for k, v in m.changes.changed_fields.items())
            table.add_row(
                m.force,
                m.month,
                m.status,
                f"{m.changes.rows_before:,}",
                f"{m.changes.rows_after:,}",
                f"{m.changes.added:,}",
                f"{m.changes.removed:,}",
                f"{m.changes.changed:,}" + (f" ({fields})" if fields else ""),
            )
        print_table(table)
        console.print(
            "Rows before and after; changed = same crime ID, new content (category, outcome, "
            "location...).",
            highlight=False,
        )
    added = len(report.with_status(ADDED))
    revised = len(report.with_status(REVISED))
    unchanged = len(report.with_status(UNCHANGED))
    summary = f"{added} month(s) added, {revised} revised, {unchanged} unchanged"
    if report.dry_run:
        summary += " (dry run: nothing was written)"
    elif not changed:
        summary += " (the store is up to date)"
    console.print(f"{summary}. {ATTRIBUTION}", highlight=False)
