"""Options and error reporting shared by every ``hotspots`` command."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import secrets
import stat
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from cli.standard_output import confirmations_only
from pipelines.cache import cache_dir_for, open_cache, use_cache
from pipelines.progress import StepReport
from pipelines.quoting import quoted, shortened
from pipelines.store.atomic import atomic_write, keep_existing, name_outputs
from pipelines.store.paths import DATA_DIR_ENV, resolve_data_dir

if TYPE_CHECKING:
    from rich.progress import Progress

    from pipelines.store import CrimeStore


# Reports go to stdout; errors and progress to stderr (errors one line, no traceback), so
# stdout holds only the answer another program may read. markup=False: what the commands print
# quotes set titles, area names, paths and the user's input, which must print as typed ("Tor
# [/] quay" is a name, not a Rich tag); a styled piece is built as rich.text.Text instead.
class _Console(Console):
    def on_broken_pipe(self) -> None:
        if self.stderr:
            # Standard error's reader has gone (where the console script's guard is not in
            # place: cli/standard_output.QuietWhenGone): nothing more is said there, and the
            # command goes on to its own end, not standard output's quiet exit 0.
            self.quiet = True
            return
        # Rich's own ends with exit 1 and no word; the reader stopping early is no error.
        standard_output_closed()


console = _Console(markup=False)
error_console = _Console(stderr=True, markup=False)

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
ForceOption = Annotated[
    str | None, typer.Option("--force", help="Only this force (slug).", show_default=False)
]
# Optional types: a command that needs the file declares it with no default (Typer requires it).
PopulationOption = Annotated[
    Path | None,
    typer.Option(
        "--population",
        help="Census LSOA population table (or a code,population CSV), for rates per 1,000 "
        "residents.",
        show_default=False,
    ),
]
LookupOption = Annotated[
    Path | None,
    typer.Option(
        "--lookup",
        help="ONS LSOA -> ward best-fit lookup CSV: puts each LSOA, and its residents, in a ward.",
        show_default=False,
    ),
]
PrecomputeWeightsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--weights",
        help="Harm table to precompute hot spots for (repeatable). Default: count and "
        "home-office-2018.",
        show_default=False,
    ),
]
QuietOption = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="No progress bar (it is drawn on stderr, and only when stderr is a terminal).",
    ),
]


def finite(value: float | None) -> float | None:
    """The callback of every float option: "nan" and "inf" parse as floats but pass no range
    check (nan <= 0.5 is false), so they are refused first, in words."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"a finite number is required, got {value}")
    return value


def alpha_level(value: float) -> float:
    """The callback of ``--alpha``: the range the API takes (0.000001 to 0.5)."""
    from pipelines.analysis.alpha_range import ALPHA_MAX, ALPHA_MIN

    finite(value)
    if not ALPHA_MIN <= value <= ALPHA_MAX:
        raise typer.BadParameter(
            f"a significance level from {ALPHA_MIN:f} to {ALPHA_MAX} is required, got {value}"
        )
    return value


def finite_share(value: float) -> float:
    """The callback of a share option: a finite number from 0 to 1."""
    finite(value)
    if not 0.0 <= value <= 1.0:
        raise typer.BadParameter(f"a share from 0 to 1 is required, got {value}")
    return value


def open_store(data_dir: Path | None, create: bool = False) -> CrimeStore:
    """The store, and its on-disk cache made the one covers use (shared with the service).
    The data folder must exist (:func:`existing_data_dir`) unless ``create``: only the
    commands that load data make it."""
    from pipelines.store import CrimeStore  # pyarrow: only commands that read rows need it

    root = resolve_data_dir(data_dir) if create else existing_data_dir(data_dir)
    use_cache(open_cache(cache_dir_for(root)))
    return CrimeStore(root)


def existing_data_dir(data_dir: Path | None) -> Path:
    """The data folder (--data-dir, else $HOTSPOTS_DATA_DIR, else ./data) of a command that
    reads the store; one line, exit 2, when it does not exist or is no folder. A mistyped
    --data-dir read as an empty store said "no boundary set named ...", or "the store ...
    holds no crimes", and some commands made the folder (a cache, a record) as they did."""
    root = resolve_data_dir(data_dir)
    if not root.is_dir():
        fail(
            f"{missing_data_dir(root, data_dir)}; give your store's folder with --data-dir or "
            f"${DATA_DIR_ENV}, or make one by loading data (`hotspots boundaries load`, "
            "`hotspots ingest archive`)"
        )
    return root


def missing_data_dir(root: Path, data_dir: Path | None) -> str:
    """ "the data folder /abs/path (from --data-dir) does not exist" (or "is not a folder"):
    where the path came from says what to fix."""
    if data_dir:
        given = "from --data-dir"
    elif os.environ.get(DATA_DIR_ENV):
        given = f"from ${DATA_DIR_ENV}"
    else:
        given = f"the default: no --data-dir, no ${DATA_DIR_ENV}"
    what = "is not a folder" if os.path.lexists(root) else "does not exist"
    return f"the data folder {absolute(root)} ({given}) {what}"


def set_label(name: str, title: str = "") -> str:
    """A boundary set as the commands name it to people: its title with its code in brackets
    ("Torbay wards (2019) (e06000027-wards-2019)"; the code is what --boundaries takes), or its
    code when it has no title."""
    return f"{title} ({name})" if title and title != name else name


def with_set_labels(text: str, labels: Mapping[str, str]) -> str:
    """``text`` (a provenance sentence, which names sets by code, for programs) with each set's
    code replaced by its :func:`set_label`, for the person reading the terminal."""
    for name, label in labels.items():
        text = label.join(re.split(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", text))
    return text


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error and exit non-zero (2 for bad input, 1 for partial failure)."""
    # input is quoted shortened (pipelines.quoting); the console prints it as typed (no markup).
    line = Text.assemble(("error:", "bold red"), " ", shortened(message))
    error_console.print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


# `-o -` means standard output, the usual Unix convention, never a file named "-".
STANDARD_OUTPUT = "-"


def is_standard_output(path: Path | None) -> bool:
    """Whether -o names standard output (``-o -``)."""
    return path is not None and str(path) == STANDARD_OUTPUT


def output_path(text: str) -> Path:
    """The parser of every -o option: a bare ``-`` is standard output; any other spelling is a
    file, so ``./-`` (which pathlib shortens to ``-``) is kept as the file named "-" in the
    current folder, by its absolute path. An empty name, or one ending in a slash (a folder,
    which pathlib would shorten to a file's name: `-o reports/` was "cannot tell the format
    from 'reports'"), is refused as no file."""
    if not text or text.endswith(("/", os.sep)):
        said = "an empty name" if not text else f"{quoted(text)} names a folder (it ends in /)"
        raise typer.BadParameter(
            f"{said}; give the path of a file to write, or - for standard output"
        )
    path = Path(text)
    if text != STANDARD_OUTPUT and str(path) == STANDARD_OUTPUT:
        return path.absolute()
    return path


def standard_output_closed() -> NoReturn:
    """End quietly, exit 0, when the reader of standard output stopped early (``| head``), as
    Unix tools do: what it read is what it asked for, so no error, no traceback and no "Wrote"
    claim. Later writes (and the flush at exit) go to /dev/null instead of failing again."""
    silence_standard_output()
    raise typer.Exit(0)


def silence_standard_output() -> None:
    """Point standard output at /dev/null, so later writes and the flush at exit do not fail
    again once its fault has been dealt with."""
    # stdout may be no file (an in-process run's capture): then there is nothing to point.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# Why a write to standard output failed, in words (the rest say the system's own reason).
_STANDARD_OUTPUT_FAULTS = {
    errno.ENOSPC: "the disk (or device) is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EIO: "an input/output error (the disk or device failed)",
}


def report_standard_output_fault(error: OSError) -> None:
    """Say in one line on stderr that standard output could not be written, and why (a full
    disk or device, an input/output error); later writes (and the flush at exit) go to
    /dev/null so they do not fail again with a traceback."""
    reason = _STANDARD_OUTPUT_FAULTS.get(error.errno or 0) or error.strerror or str(error)
    silence_standard_output()
    line = Text.assemble(("error:", "bold red"), f" cannot write to standard output: {reason}")
    error_console.print(line, highlight=False, soft_wrap=True)


def standard_output_failed(error: OSError) -> NoReturn:
    """End a command whose write to standard output failed: quietly, exit 0, when its reader
    stopped early (:func:`standard_output_closed`); else one line naming standard output and
    the reason, exit 1 (what was written is incomplete), no traceback."""
    if isinstance(error, BrokenPipeError):
        standard_output_closed()
    report_standard_output_fault(error)
    raise typer.Exit(1)


def refuse_standard_output(path: Path | None, why: str) -> None:
    """Fail when -o is ``-`` and the command cannot write there; ``why`` says why not."""
    if is_standard_output(path):
        fail(f"-o - (standard output) cannot be used here: {why}; give the path of a file to write")


def refuse_to_overwrite(paths: list[Path], overwrite: bool, standard_output: bool = False) -> None:
    """Fail before any work when an output file exists and --overwrite was not given (a
    command's output is often the only copy of a report someone already sent on), or when an
    output path cannot take a file at all (:func:`check_output_path`).

    ``-o -`` is standard output for a command that says it writes there (``standard_output``)
    and refused by any other, rather than written as a file named "-"."""
    if not standard_output:
        for path in paths:
            refuse_standard_output(path, "this command writes files only")
    paths = [path for path in paths if not is_standard_output(path)]
    for path in paths:
        check_output_path(path)
    existing = [path for path in paths if os.path.lexists(path)]
    if existing and not overwrite:
        names = " and ".join(str(path) for path in existing)
        fail(f"{names} exists already; add --overwrite to replace it, or choose another -o")
    # And at the end: a file made meanwhile is not replaced either (the write is refused).
    keep_existing([] if overwrite else paths)
    # A disk fault writing them names them as given, not as files of the data folder.
    name_outputs(paths)
    if paths:  # the answer goes to files: standard output only confirms (cli/standard_output.py)
        confirmations_only()


def check_output_place(output: Path | None) -> None:
    """Check where the -o file goes (:func:`check_output_path`) first, before the format its
    name implies or anything else: a missing or read-only folder is the thing to fix whatever
    the name (`export -o nosuchdir/x.json` said it could not tell the format from 'x.json')."""
    if output is not None and not is_standard_output(output):
        check_output_path(output)


def write_text_output(output: Path | None, text: str) -> None:
    """``text`` to the -o file (atomically, then "Wrote FILE"), or to standard output without
    -o or with ``-o -``."""
    if output is None or is_standard_output(output):
        typer.echo(text, nl=not text.endswith("\n"))
        return
    if not output.parent.is_dir():  # checked before the work; removed since
        fail(missing_folder(output.parent))
    with atomic_write(output) as tmp:
        tmp.write_text(text, encoding="utf-8")
    confirm_written([output])


def confirm_written(paths: list[Path], detail: str = "") -> None:
    """The one line every command prints on standard output once its -o file(s) are written:
    "Wrote FILE[, FILE...]", then `` (detail)`` where there is one (export: "1,234 crimes,
    csv"). Only a confirmation: standard output shut or full drops it (cli/standard_output.py)."""
    line = "Wrote " + ", ".join(str(path) for path in paths)
    console.print(f"{line} ({detail})" if detail else line, highlight=False, soft_wrap=True)


_FOLDER_FAULTS = {  # {folder}: the folder by its absolute path
    errno.EROFS: "its folder {folder} is read-only",
    errno.EACCES: "this account may not write in its folder {folder}",
    errno.EPERM: "this account may not write in its folder {folder}",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
}


def absolute(path: str | os.PathLike[str]) -> str:
    """``path`` as the command line names it in a message: absolute, with ``.`` and ``..``
    taken out as written (``os.path.abspath``), so the person at the terminal can find it
    whatever folder they ran the command in and however they spelled it."""
    return os.path.abspath(path)


def missing_folder(folder: Path) -> str:
    """The words for an -o file whose folder does not exist (the commands make no folders)."""
    return f"folder {absolute(folder)} does not exist; create it or choose another -o"


def check_output_path(path: Path) -> None:
    """Fail, before any work, when ``path`` cannot become a regular file: it is a folder, a
    device, a symbolic link (even a dangling one) or another special file, which -o never
    replaces, not even with --overwrite (as root, `-o /dev/null --overwrite` would otherwise
    swap /dev/null for a file); its folder does not exist or is no folder; or its folder takes
    no new file (read-only, /proc, /sys). Tried by making and removing a hidden file where the
    output will be written. Folders are named by their absolute paths (:func:`absolute`)."""
    try:
        info = path.lstat()
    except (FileNotFoundError, NotADirectoryError):  # a missing folder is looked at below
        info = None
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror}; choose another -o")
    if info is not None and not stat.S_ISREG(info.st_mode):
        fail(
            f"{path} is {_kind(info.st_mode)}, not a regular file, and -o only writes or "
            "replaces regular files; give the path of a file to write"
        )
    folder = path.parent  # as given: the system follows its "..", as the write will
    if not folder.is_dir():
        _refuse_folder(path, folder)
    probe = folder / f".{path.name}.{secrets.token_hex(6)}.probe"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as error:
        reason = _FOLDER_FAULTS.get(error.errno or 0, "its folder {folder} takes no new files")
        fail(f"cannot write {path}: {reason.format(folder=absolute(folder))}; choose another -o")
    probe.unlink()


def _refuse_folder(path: Path, folder: Path) -> NoReturn:
    """Say why ``folder`` (``path``'s) cannot take the file: something there is no folder, or
    it does not exist. Named as the system sees it: in ``a/b/../x.json`` with no ``a/b``, the
    missing folder is ``a/b`` (``a/x.json``'s folder, ``a``, may well exist)."""
    first_missing = folder
    for above in folder.parents:
        if os.path.lexists(above):
            if not above.is_dir():
                fail(f"cannot write {path}: {absolute(above)} is not a folder; choose another -o")
            break
        first_missing = above
    if os.path.lexists(folder):
        fail(f"cannot write {path}: {absolute(folder)} is not a folder; choose another -o")
    shown = folder if not os.path.isdir(absolute(folder)) else first_missing
    fail(missing_folder(shown))


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    return "a special file"


def progress_bar(
    description: str = "{task.description}",
    detail: bool = False,
    quiet: bool = False,
) -> Progress:
    """The commands' progress bar: description, bar, done of total, [a detail field], time.

    Drawn on stderr and only on a terminal (a pipe or a log file gets none), and not at all
    with --quiet; it disappears when done, leaving the command's own output."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    # markup=False: a description or step may name an area or a file, printed as it is.
    columns = [
        TextColumn(description, style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
    ]
    if detail:
        columns.append(TextColumn("{task.fields[detail]}", markup=False))
    return Progress(
        *columns,
        TimeElapsedColumn(),
        console=error_console,
        transient=True,
        disable=not _bar_shown(quiet),
    )


def _bar_shown(quiet: bool) -> bool:
    return not quiet and error_console.is_terminal


@contextmanager
def step_progress(label: str, quiet: bool = False) -> Iterator[StepReport]:
    """A progress bar for a computation that reports its steps (``pipelines.progress``)."""
    if not _bar_shown(quiet):  # no bar to draw: not even rich.progress is loaded (~5 ms)
        yield _no_report
        return
    with progress_bar(detail=True, quiet=quiet) as bar:
        task = bar.add_task(label, total=None, detail="")

        def report(step: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, detail=step)

        yield report


def _no_report(step: str, done: int, total: int) -> None:
    """The steps of a computation whose progress is not shown."""
