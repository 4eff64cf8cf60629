"""Entry point of the ``hotspots`` command.

Commands are listed here by name, module and one-line help, and imported only when they run
(cli/lazy_group.py says why): keep each help line the same as the first line of the command's
own docstring or Typer help; tests/test_cli_lazy.py checks them.
"""

from __future__ import annotations

import contextvars
import sys
from typing import Any, NoReturn

import typer
from typer._click import exceptions as click_errors  # Typer's own Click: its exceptions

from cli.lazy_group import LazyCommand, LazyGroup
from cli.standard_output import (
    guard_standard_error,
    standard_output_fault,
    watch_standard_output,
)
from pipelines.attribution import ATTRIBUTION

COMMANDS = {
    "update": LazyCommand(
        "cli.update_cmd:update",
        "Fetch the months police.uk added and re-load the months it republished.",
    ),
    "coverage": LazyCommand(
        "cli.coverage_cmd:coverage",
        "Rows stored, rows with no location, rows rejected by reason, missing months and sources.",
    ),
    "export": LazyCommand(
        "cli.export_cmd:export",
        "Write the stored canonical rows of a force and months to a file other tools can read.",
    ),
    "analyse": LazyCommand(
        "cli.analyse_cmd:analyse",
        "Find statistically significant hot spots of crime or harm in a region.",
    ),
    "precompute": LazyCommand(
        "cli.precompute_cmd:precompute_command",
        "Compute every area's default hot spot studies into the on-disk cache, on Dask.",
    ),
    "serve": LazyCommand(
        "cli.serve_cmd:serve",
        "Serve the API on http://HOST:PORT (documentation at /docs). Writes need a key made with "
        "`hotspots keys add`.",
    ),
    "quickstart": LazyCommand(
        "cli.quickstart_cmd:quickstart",
        "Load a local authority's wards, crimes and population, precompute its hot spots and "
        "serve.",
    ),
    "demo": LazyCommand(
        "cli.quickstart_cmd:demo",
        "Serve a generated demo city (synthetic wards, clusters and crimes) with no network.",
    ),
    "allocate": LazyCommand(
        "cli.planning_cmd:allocate_command",
        "Share N units across a scheme's areas by need (Webster rounding), beside the equal share.",
    ),
    "compare": LazyCommand(
        "cli.planning_cmd:compare_command",
        "Compare boundary schemes on the same crimes, cells, months and harm weights.",
    ),
    "displacement": LazyCommand(
        "cli.planning_cmd:displacement_command",
        "Weighted Displacement Quotient: did the crime move into the buffer around the target?",
    ),
    "backtest": LazyCommand(
        "cli.planning_cmd:backtest_command",
        "Score last period's hotspots on the following months: hit rate and PAI per setting.",
    ),
    "ingest": LazyCommand(
        "cli.ingest_cmd:ingest_app", "Load police.uk street-level crime into the store."
    ),
    "boundaries": LazyCommand(
        "cli.boundaries_cmd:boundaries_app",
        "Boundary sets (wards, ward clusters, custom areas, LSOAs) and crimes counted into them.",
    ),
    "keys": LazyCommand("cli.keys_cmd:keys_app", "API keys for the web service."),
}


class HotspotsGroup(LazyGroup):
    lazy_commands = COMMANDS

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: typer.Context | None = None,
        **extra: Any,
    ) -> typer.Context:
        """A bad option of ``hotspots`` itself is one line too (see :meth:`invoke`), and so is
        a fault writing standard output (``hotspots --help`` prints here)."""
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click_errors.UsageError as error:
            usage_error(error)
        except Exception as error:
            end_if_standard_output_failed(error)
            raise

    def invoke(self, ctx: typer.Context) -> object:
        """A store fault (read-only or full disk, a damaged partition, a partition another
        ingest holds) ends any command with one line on stderr, never a traceback; so does a
        usage error (:func:`usage_error`) and a fault writing standard output."""
        try:
            # In a context of its own: the files one command keeps (-o without --overwrite,
            # pipelines/store/atomic.keep_existing) are not kept by the next in this process.
            return contextvars.copy_context().run(super().invoke, ctx)
        except click_errors.UsageError as error:
            usage_error(error)
        except Exception as error:
            end_if_standard_output_failed(error)
            # Imported here: the store pulls in pyarrow, and `hotspots --help` must stay fast.
            from pipelines.errors import UnavailableError
            from pipelines.store.errors import StoreError

            if not isinstance(error, StoreError | UnavailableError):
                raise
            from cli.common import fail
            from pipelines.store.atomic import OutputExistsError

            # An -o file made while the command ran is the user's to resolve, like one that
            # existed before it (exit 2); a store fault is the store's (exit 1).
            from pipelines.store.errors import said_in_full

            fail(said_in_full(error), code=2 if isinstance(error, OutputExistsError) else 1)


def end_if_standard_output_failed(error: BaseException) -> None:
    """End the command if ``error`` is a fault writing standard output (as the console script
    watches it: cli/standard_output.py): quietly, exit 0, when its reader stopped early (`|
    head`); else one line naming standard output and why, exit 1. Any other error: return."""
    fault = standard_output_fault(error)
    if fault is not None:
        from cli.common import standard_output_failed  # here: `hotspots --help` loads no Rich

        standard_output_failed(fault)


def usage_error(error: click_errors.UsageError) -> NoReturn:
    """A bad option, value or command as one line on stderr, what is wrong (Click says which
    option and, where it can, what it expected or the closest name) and where the help is,
    instead of Click's usage lines and boxed message; exit 2 as Click does. A group called
    without a command still shows its help (Click signals that with a usage error too)."""
    if isinstance(error, click_errors.NoArgsIsHelpError):
        raise error
    from cli.common import fail  # here: `hotspots --help` must not load Rich's console

    where = error.ctx.command_path if error.ctx is not None else "hotspots"
    message = error.format_message().rstrip(".")
    stop = "" if message.endswith("?") else "."
    fail(f"{message}{stop} See `{where} --help`.", code=error.exit_code)


app = typer.Typer(
    name="hotspots",
    help="Load police.uk crime into a local store and turn it into hotspot evidence.\n\n"
    + ATTRIBUTION,
    cls=HotspotsGroup,
    # Plain help for the command list: Rich's help formatter costs ~0.1 s of imports, most of
    # what is left of the start-up; each command's own --help keeps Rich's panels.
    rich_markup_mode=None,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def hotspots() -> None:
    """Load police.uk crime into a local store and turn it into hotspot evidence."""


def main() -> None:
    """The ``hotspots`` console script: standard output watched for faults, the command,
    then, if it asked, an end without the interpreter's teardown (cli/process_exit.py says
    why)."""
    watch_standard_output()
    guard_standard_error()
    try:
        app()
    except SystemExit as done:
        from cli.process_exit import end_now, teardown_skipped

        if not _standard_output_flushed():
            done.code = 1
        if teardown_skipped():
            end_now(done.code)
        raise


def _standard_output_flushed() -> bool:
    """Flush what a command printed but did not flush: a full disk or device found only now
    is one line and exit 1 too, rather than a lost answer (or Python's "Exception ignored")."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early: no error (see standard_output_closed)
        from cli.common import silence_standard_output

        silence_standard_output()
    except OSError as error:
        from cli.common import report_standard_output_fault

        report_standard_output_fault(error)
        return False
    except (ValueError, AttributeError):  # stdout closed, or none
        pass
    return True


if __name__ == "__main__":
    main()
