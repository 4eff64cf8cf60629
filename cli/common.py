"""Options and error reporting shared by every ``hotspots`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipelines.cache import cache_dir_for, open_cache, use_cache
from pipelines.store import CrimeStore, resolve_data_dir

# Reports go to stdout; errors to stderr, one line, no traceback.
console = Console()
error_console = Console(stderr=True)

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder of the crime store. Default: $HOTSPOTS_DATA_DIR, else ./data",
        show_default=False,
    ),
]
FromOption = Annotated[
    str | None, typer.Option("--from", help="First month, YYYY-MM (inclusive).", show_default=False)
]
ToOption = Annotated[
    str | None, typer.Option("--to", help="Last month, YYYY-MM (inclusive).", show_default=False)
]
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Replace the -o file(s) if they exist already.")
]


def open_store(data_dir: Path | None) -> CrimeStore:
    """The store, and its on-disk cache made the one covers use (shared with the service)."""
    root = resolve_data_dir(data_dir)
    use_cache(open_cache(cache_dir_for(root)))
    return CrimeStore(root)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error and exit non-zero (2 for bad input, 1 for partial failure)."""
    # escape: a message quotes the user's input, which must print as typed, not as rich markup.
    error_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def refuse_to_overwrite(paths: list[Path], overwrite: bool) -> None:
    """Fail before any work when an output file exists and --overwrite was not given (a
    command's output is often the only copy of a report someone already sent on)."""
    existing = [path for path in paths if path.exists()]
    if existing and not overwrite:
        names = " and ".join(str(path) for path in existing)
        fail(f"{names} exists already; add --overwrite to replace it, or choose another -o")


def progress_bar(
    description: str = "[progress.description]{task.description}", detail: bool = False
) -> Progress:
    """The commands' progress bar: description, bar, done of total, [a detail field], time."""
    columns = [TextColumn(description), BarColumn(), MofNCompleteColumn()]
    if detail:
        columns.append(TextColumn("{task.fields[detail]}"))
    return Progress(*columns, TimeElapsedColumn(), console=console, transient=True)
