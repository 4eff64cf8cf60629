"""``hotspots coverage``: what the store holds per force and month, and what it does not."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.common import DataDirOption, ForceOption, FromOption, ToOption, console, fail, open_store
from cli.tables import print_table
from pipelines.months import MonthError, check_range
from pipelines.quoting import quoted
from pipelines.store.coverage import coverage_rows
from pipelines.store.crime_store import StoreError
from pipelines.store.errors import said_in_full


def coverage(
    force: ForceOption = None,
    first: FromOption = None,
    last: ToOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of objects instead of a table.")
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Rows stored, rows with no location, rows rejected by reason, missing months and sources.

    Months missing inside a force's stored range are listed with status "missing".
    """
    try:
        first, last = check_range(first, last)
    except MonthError as error:
        fail(str(error))
    store = open_store(data_dir)
    if force and force not in store.forces():
        known = ", ".join(store.forces()) or "none yet"
        fail(f"the store at {store.root} holds no force {quoted(force)}; it holds: {known}")
    try:
        rows = coverage_rows(store.coverage(force, first, last))
    except StoreError as error:  # the store's fault, not the input's: exit 1 (cli/main.py)
        fail(said_in_full(error), code=1)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        console.print(
            f"The store at {store.root} is empty: load data with `hotspots ingest archive`."
        )
        return
    table = Table(title=f"Coverage of {store.root}")
    for column in ("force", "month", "source", "read", "stored", "no loc", "rejected", "revised"):
        table.add_column(
            column,
            justify="left" if column in ("force", "month", "source") else "right",
            no_wrap=column in ("force", "month", "source"),
        )
    for row in rows:
        if row["status"] == "missing":
            missing_cell = Text("missing", style="red")
            table.add_row(row["force"], row["month"], missing_cell, "", "", "", "", "")
            continue
        rejected = ", ".join(f"{reason} {n:,}" for reason, n in row["rejected"].items()) or "0"
        table.add_row(
            row["force"],
            row["month"],
            row["source"],
            f"{row['source_rows']:,}",
            f"{row['stored']:,}",
            f"{row['no_location']:,}",
            rejected,
            _revisions(row.get("revisions") or []),
        )
    print_table(table)
    if any(row.get("revisions") for row in rows):
        console.print(
            "revised: republications loaded by `hotspots update`, latest last: rows added (+), "
            "removed (-) and changed (~, same crime ID); --json has the dates and fields.",
            highlight=False,
        )
    missing = [row for row in rows if row["status"] == "missing"]
    if missing:
        console.print(
            Text.assemble(
                (f"{len(missing)} month(s) missing", "red"),
                " inside the stored range: "
                + ", ".join(f"{row['force']} {row['month']}" for row in missing),
            ),
            highlight=False,
        )


def _revisions(revisions: list[dict]) -> str:
    return "; ".join(f"+{r['added']:,} -{r['removed']:,} ~{r['changed']:,}" for r in revisions)
