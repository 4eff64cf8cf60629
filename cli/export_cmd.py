"""``hotspots export``: stored crimes as CSV, Parquet or GeoJSON."""

from __future__ import annotations

import errno
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO, NoReturn

import typer
from rich.text import Text

from cli.common import (
    DataDirOption,
    FromOption,
    OverwriteOption,
    ToOption,
    check_output_place,
    confirm_written,
    error_console,
    fail,
    is_standard_output,
    open_store,
    output_path,
    refuse_standard_output,
    refuse_to_overwrite,
    standard_output_failed,
)
from pipelines.export import FORMATS, ExportError, ExportWriteError, export_crimes, format_for
from pipelines.forces import ForceError, check_force
from pipelines.months import MonthError, check_range
from pipelines.quoting import quoted
from pipelines.store.atomic import OutputExistsError
from pipelines.store.errors import StoreWriteError
from pipelines.wording import counted

if TYPE_CHECKING:
    import pyarrow as pa


def export(
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="File to write; - for standard output (csv or geojson, with --format).",
            show_default=False,
            parser=output_path,
            metavar="FILE",
        ),
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
        check_output_place(output)
        if is_standard_output(output) and file_format is None:  # a name to tell it by
            fail("-o - (standard output) needs --format csv or geojson (Parquet is binary)")
        chosen = format_for(output, file_format)
    except (MonthError, ExportError, ForceError) as error:
        fail(str(error))
    if chosen == "parquet":
        refuse_standard_output(
            output, "Parquet is binary (--format csv or geojson can go to standard output)"
        )
    refuse_to_overwrite([output], overwrite, standard_output=True)
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
    if is_standard_output(output):
        rows = _export_to_standard_output(crimes, force, chosen)
        error_console.print(f"Wrote {counted(rows, 'crime')} to standard output ({chosen}).")
        return
    try:
        with error_console.status(Text(f"Writing {crimes.num_rows:,} crimes to {output}...")):
            rows = export_crimes(crimes, output, chosen)
    except ExportWriteError as error:
        fail(str(error), code=1)
    except (ExportError, OutputExistsError) as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot write {output}: {error.strerror or error}")
    confirm_written([output], f"{counted(rows, 'crime')}, {chosen}")


def _export_to_standard_output(crimes: pa.Table, force: str, chosen: str) -> int:
    """Export to a file in a temporary folder (the writers take a path), then copy it out."""
    try:
        with tempfile.TemporaryDirectory(prefix="hotspots-export-") as folder:
            written = Path(folder) / f"{force}.{chosen}"  # GeoJSON names its layer after it
            rows = export_crimes(crimes, written, chosen)
            with written.open("rb") as source:
                _copy_to_standard_output(source)
    except (StoreWriteError, ExportError, OSError) as error:
        _temporary_folder_fault(error)
    return rows


def _copy_to_standard_output(source: BinaryIO) -> None:
    """Copy the temporary file out: a fault reading it is the temporary folder's (the caller
    says so), a fault writing is standard output's (a reader that stopped early, a full disk
    or device), said as such, not blamed on TMPDIR."""
    out = sys.stdout.buffer
    while chunk := source.read(_COPY_CHUNK):
        try:
            out.write(chunk)
        except OSError as error:
            standard_output_failed(error)
    try:
        out.flush()
    except OSError as error:
        standard_output_failed(error)


_COPY_CHUNK = 1 << 20


def _temporary_folder_fault(error: Exception) -> NoReturn:
    """The export to standard output is first written in the temporary folder (TMPDIR): a
    fault there names that folder and what to do, not a hotspots-export-XXXX file."""
    folder = tempfile.gettempdir()
    cause = error if isinstance(error, OSError) else error.__cause__
    code = cause.errno if isinstance(cause, OSError) else None
    if code in (errno.ENOSPC, errno.EDQUOT):
        reason = "the disk is full" if code == errno.ENOSPC else "the disk quota is used up"
        advice = "free some space there, or set TMPDIR to a folder with space"
    else:
        reason = str(cause.strerror if isinstance(cause, OSError) and cause.strerror else error)
        advice = "set TMPDIR to a folder this account can write, with space"
    fail(
        f"cannot write the export's temporary copy in the temporary folder {folder} "
        f"(standard output is written from there): {reason}; {advice}",
        code=1,
    )
