"""`hotspots --help` answers from a table of names and one-line helps, importing no command
module; each command is imported when it runs and behaves as before."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.core import TyperGroup
from typer.testing import CliRunner

from cli.main import COMMANDS, HotspotsGroup, app

HEAVY = ("pandas", "geopandas", "pyarrow", "fastapi", "numpy", "shapely", "scipy")


def _first_paragraph(text: str) -> str:
    return " ".join(text.split("\n\n")[0].split())


def test_help_imports_no_command_module_and_nothing_heavy() -> None:
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from cli.main import app\n"
        "result = CliRunner().invoke(app, ['--help'], terminal_width=200)\n"
        "assert result.exit_code == 0, result.output\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [name for name in loaded if name.split(".")[0] in HEAVY]
    assert not [name for name in loaded if name.endswith("_cmd")]


def test_help_lists_every_command_with_its_own_help_line() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    for name, lazy in COMMANDS.items():
        assert name in result.output
        assert lazy.help[:60] in " ".join(result.output.split())


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_help_line_is_the_commands_own(name: str) -> None:
    """The table's line and the command's docstring (or Typer help) say the same."""
    command = HotspotsGroup(name="hotspots").load(name)
    own = command.short_help or command.help or ""
    assert _first_paragraph(COMMANDS[name].help) == _first_paragraph(own)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_still_runs_its_own_help(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Usage: hotspots " + name in " ".join(result.output.split())


def test_a_misspelled_command_suggests_the_right_one() -> None:
    result = CliRunner().invoke(app, ["analyze"])
    assert result.exit_code == 2
    assert "No such command 'analyze'. Did you mean 'analyse'?" in result.output


def _every_command(group: TyperGroup, path: list[str]) -> list[list[str]]:
    found = []
    for name, command in group.commands.items():
        found.append([*path, name])
        if isinstance(command, TyperGroup):
            found += _every_command(command, [*path, name])
    return found


def test_every_command_has_the_same_plain_help_layout() -> None:
    """``ingest archive --help`` was drawn in Rich boxes with ``<bool>`` flags while
    ``analyse --help`` was plain: every command, in every group, now has the plain layout."""
    paths = []
    for name in COMMANDS:
        command = COMMANDS[name].load(name)
        paths.append([name])
        if isinstance(command, TyperGroup):
            paths += _every_command(command, [name])
    assert ["ingest", "archive"] in paths and ["boundaries", "load"] in paths
    for path in paths:
        result = CliRunner().invoke(app, [*path, "--help"], terminal_width=100)
        assert result.exit_code == 0, (path, result.output)
        assert not any(box in result.output for box in "╭│╰─"), (path, result.output)
        assert "<bool>" not in result.output, (path, result.output)
        assert "Options:" in result.output, (path, result.output)
