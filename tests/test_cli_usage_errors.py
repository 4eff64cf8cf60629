"""A wrong option, value or command gets one line on stderr that says what is wrong and where
the help is, the same way for every command (not Click's usage lines and boxed message); help
itself, and a group called without a command, still print the help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

HOTSPOTS = str(Path(sys.executable).with_name("hotspots"))
runner = CliRunner()

# (arguments, what the line must say, the command whose help it points to)
MISTAKES = [
    (["analyse", "--bogus"], "No such option: --bogus", "hotspots analyse"),
    (["analyse"], "Missing option '--boundaries'", "hotspots analyse"),
    (["analyse", "--boundaries", "x", "-o", "y.json", "--res", "abc"],
     "Invalid value for '--res': 'abc' is not a valid int", "hotspots analyse"),
    (["analyze"], "No such command 'analyze'. Did you mean 'analyse'?", "hotspots"),
    (["--bogus"], "No such option: --bogus", "hotspots"),
    (["boundaries", "lod"], "Did you mean 'load'?", "hotspots boundaries"),
    (["boundaries", "load"], "Missing argument", "hotspots boundaries load"),
    (["ingest", "archive", "--bogus"], "No such option: --bogus", "hotspots ingest archive"),
    (["backtest", "--boundaries", "x", "--to", "2020-01", "--train-months", "many"],
     "Invalid value for '--train-months'", "hotspots backtest"),
    (["allocate", "--boundaries", "x"], "Missing option '--units'", "hotspots allocate"),
    (["serve", "--port", "0"], "Invalid value for '--port'", "hotspots serve"),
    (["keys", "add", "--bogus"], "No such option: --bogus", "hotspots keys add"),
    # An option given no value names its own command's help, not `hotspots --help`.
    (["analyse", "--boundaries"], "Option '--boundaries' requires an argument",
     "hotspots analyse"),
    (["boundaries", "load", "--name"], "Option '--name' requires an argument",
     "hotspots boundaries load"),
    (["keys", "add", "--label"], "Option '--label' requires an argument", "hotspots keys add"),
    (["--data-dir"], "No such option: --data-dir", "hotspots"),
    # A month count out of range is refused as such, not as "no month 6 of year -6313".
    (["backtest", "--boundaries", "x", "--to", "2020-01", "--train-months", "100000"],
     "'--train-months': 100000 is not in the range 1<=x<=36", "hotspots backtest"),
    (["backtest", "--boundaries", "x", "--to", "2020-01", "--test-months", "0"],
     "'--test-months': 0 is not in the range 1<=x<=12", "hotspots backtest"),
]  # fmt: skip


def test_the_backtest_month_limits_are_the_apis() -> None:
    """The CLI states the API's limits without importing it (FastAPI): they must stay equal."""
    from cli import planning_cmd
    from geo_service.routers import backtest

    assert planning_cmd.MAX_TRAIN_MONTHS == backtest.MAX_TRAIN_MONTHS
    assert planning_cmd.MAX_TEST_MONTHS == backtest.MAX_TEST_MONTHS


@pytest.mark.parametrize(("args", "said", "command"), MISTAKES)
def test_a_usage_error_is_one_line_that_says_what_to_fix(
    args: list[str], said: str, command: str, tmp_path: Path
) -> None:
    result = runner.invoke(app, [*args])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and said in lines[0]
    assert lines[0].endswith(f"See `{command} --help`.")
    assert "Usage:" not in result.output and "Traceback" not in result.output


def test_the_line_goes_to_stderr_of_the_real_command() -> None:
    done = subprocess.run(
        [HOTSPOTS, "analyse", "--bogus"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "error: No such option: --bogus (Possible options: --boundaries). "
        "See `hotspots analyse --help`."
    ]


@pytest.mark.parametrize("args", [["--help"], ["analyse", "--help"], ["boundaries", "--help"]])
def test_help_is_unchanged(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: hotspots")
    assert "error:" not in result.output


@pytest.mark.parametrize("group", ["boundaries", "keys", "ingest"])
def test_a_group_without_a_command_shows_its_help(group: str) -> None:
    result = runner.invoke(app, [group])
    assert result.output.startswith(f"Usage: hotspots {group}")
    assert "Commands" in result.output and "error:" not in result.output
