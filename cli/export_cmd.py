"""``hotspots export``: stored crimes as CSV, Parquet or GeoJSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from cli.common import (
    DataDirOption,
    FromOption,
    OverwriteOption,
    ToOption,
    console,
    error_console,
    fail,
    open_store,
    refuse_to_overwrite,
)
from pipelines.export import FORMATS, ExportError, export_crimes, format_for
from pipelines.forces import ForceError, check_force
from pipelines.months import MonthError, check_range
from pipelines.quoting import quoted
from pipelines.store.atomic import OutputExistsError
from pipelines.wording import counted


def export(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="File to write.", show_default=False)
    ],
    force: Annotated[
        str,
        typer.Option("--force", help="Force slug, e.g. devon-and-cornwall.", show_default=False),
    ],
    first: FromOption = None,
    last: ToOption = None,
    file_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help=f"One of {', '.join(FORMATS)}. Default: from the file name's extension.",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Write the stored canonical rows of a force and months to a file other tools can read."""
    try:
        check_force(force, "--force")
        first, last = check_range(first, last)
        chosen = format_for(output, file_format)
    except (MonthError, ExportError, ForceError) as error:
        fail(str(error))
    refuse_to_overwrite([output], overwrite)
    store = open_store(data_dir)
    stored_months = [month for _, month in store.partitions(force)]
    if not stored_months:
        known = ", ".join(store.forces()) or "none yet"
        fail(
            f"the store at {store.root} holds no crimes for force {quoted(force)}; "
            f"it holds: {known}"
        )
    with error_console.status(Text(f"Reading {force} from {store.root}...")):
        crimes = store.read(force, first, last)
    if crimes.num_rows == 0:
        fail(
            f"no stored crimes for {force} in {first or 'start'}..{last or 'end'}; "
            f"stored months run {stored_months[0]}..{stored_months[-1]}"
        )
    try:
        with error_console.status(Text(f"Writing {crimes.num_rows:,} crimes to {output}...")):
            rows = export_crimes(crimes, output, chosen)
    except (ExportError, OutputExistsError) as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot write {output}: {error.strerror or error}")
    console.print(f"Wrote {counted(rows, 'crime')} to {output} ({chosen}).")
