"""The progress bar of a computation's steps (cli.common.step_progress): drawn on a terminal,
on stderr; nothing at all with --quiet or when stderr is a pipe or a file."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from cli import common


def _steps(quiet: bool) -> None:
    with common.step_progress("Hot spots", quiet) as report:
        report("Reading crimes", 0, 2)
        report("Computing hot spot statistics", 1, 2)


@pytest.mark.parametrize("terminal", [True, False])
def test_the_steps_are_drawn_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch, terminal: bool
) -> None:
    stderr = io.StringIO()
    console = Console(file=stderr, force_terminal=terminal, width=100)
    monkeypatch.setattr(common, "error_console", console)
    _steps(quiet=False)
    drawn = stderr.getvalue()
    if terminal:
        assert "Hot spots" in drawn
        assert "Computing hot spot statistics" in drawn
    else:
        assert drawn == ""


def test_quiet_draws_nothing_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr(common, "error_console", Console(file=stderr, force_terminal=True))
    _steps(quiet=True)
    assert stderr.getvalue() == ""
