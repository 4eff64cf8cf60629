"""Every command with an -o FILE confirms it with one line worded the same way ("Wrote FILE",
export adding its count and format in brackets), and a full standard output (`> /dev/full`)
drops that line rather than failing a command whose answer is in its file, as a standard
output shut at start (`>&-`) does (tests/test_cli_output_places.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.fresh_process import hotspots_writing_to
from tests.service_town import build_town_with_second_scheme
from tests.test_cli_output_places import COMMANDS

runner = CliRunner()


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_town_with_second_scheme(tmp_path_factory.mktemp("town"))


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_full_standard_output_drops_the_confirmation_of_a_file(
    town: Path, tmp_path: Path, command: str, buffered: bool
) -> None:
    """`hotspots ... -o FILE >/dev/full` wrote the file, then ended with exit 1 ("cannot write
    to standard output: the disk (or device) is full") because its "Wrote" line could not be
    printed, and a retry was refused: the file "exists already". The answer is in the file:
    exit 0, and standard error says nothing of it. Buffered, the line fails at the flush at
    the end; unbuffered, at the write."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    out = tmp_path / "answer.json"
    with open("/dev/full", "w") as full:
        result = hotspots_writing_to(
            full, *COMMANDS[command], "-o", str(out), "--data-dir", str(town), buffered=buffered
        )
    assert result.returncode == 0, result.stderr
    assert "standard output" not in result.stderr and "Traceback" not in result.stderr
    assert out.stat().st_size > 0
    if command != "export":  # export's file is CSV here
        assert json.loads(out.read_text(encoding="utf-8"))


def test_the_answer_itself_on_a_full_standard_output_still_fails(town: Path) -> None:
    """With -o - the answer is standard output: one line, exit 1, as before."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        result = hotspots_writing_to(
            full, *COMMANDS["allocate"], "-o", "-", "--data-dir", str(town)
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: cannot write to standard output: the disk (or device) is full"
    ]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_confirms_its_file_in_the_same_words(
    town: Path, tmp_path: Path, command: str
) -> None:
    """export said "Wrote 1,234 crimes to FILE (csv)." where the others said "Wrote FILE": all
    say "Wrote FILE" now, export with "(1,234 crimes, csv)" after it."""
    out = tmp_path / "answer.json"
    result = runner.invoke(app, [*COMMANDS[command], "-o", str(out), "--data-dir", str(town)])
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    if command == "export":
        assert re.fullmatch(rf"Wrote {re.escape(str(out))} \(\d[\d,]* crimes, csv\)", last), last
    else:
        assert last == f"Wrote {out}"


def test_files_written_together_are_named_on_one_line(town: Path, tmp_path: Path) -> None:
    """analyse's CSV has its provenance file beside it: both named, in the same words."""
    out = tmp_path / "cells.csv"
    args = [*COMMANDS["analyse"][:-2], "--format", "csv", "-o", str(out), "--data-dir", str(town)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    written = sorted(path for path in tmp_path.iterdir())
    assert len(written) == 2
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith(f"Wrote {out}, ") and all(str(path) in last for path in written)
