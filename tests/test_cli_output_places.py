"""Where an -o file goes, said the same way by every command that writes one: a folder that does
not exist is named (by its absolute path, `..` taken out as written) before anything else is
checked or done; a name of no known format is refused naming --format by every command; and a
standard output shut at start (`>&-`) does not fail a command whose answer went to its file.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from pipelines.planning.backtest_record import record_fingerprint, records_path
from tests.fresh_process import HOTSPOTS
from tests.service_town import FORCE, SECOND_SCHEME, WARDS, build_town_with_second_scheme
from tests.store_copy import copy_store
from tests.test_store_faults import read_only_view

runner = CliRunner()
SECOND = SECOND_SCHEME

# Every command with an -o FILE, with what it needs to run (the format given where the name
# does not say it, so the file name alone can vary).
COMMANDS = {
    "export": ["export", "--force", FORCE, "--format", "csv"],
    "analyse": ["analyse", "--boundaries", WARDS, "--permutations", "99", "--format", "json"],
    "allocate": ["allocate", "--boundaries", WARDS, "--units", "5", "--format", "json"],
    "compare": ["compare", "--boundaries", f"{WARDS},{SECOND}", "--format", "json"],
    "backtest": [
        "backtest",
        "--boundaries",
        WARDS,
        "--to",
        "2019-09",
        "--train-months",
        "9",
        "--res",
        "9",
        "--permutations",
        "99",
        "--quiet",
        "--format",
        "json",
    ],
}


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_town_with_second_scheme(tmp_path_factory.mktemp("town"))


def _without_format(args: list[str]) -> list[str]:
    at = args.index("--format")
    return args[:at] + args[at + 2 :]


def _refusal(args: list[str]) -> str:
    """The command's one-line refusal, exit 2."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    said = result.stderr.strip()
    assert said.startswith("error:") and "\n" not in said, said
    return said


# -- a missing folder ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x.json", "x.txt"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_missing_folder_is_named_first_and_in_full(
    town: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, name: str
) -> None:
    """`export -o nosuchdir/x.json` said "cannot tell the format from 'x.json'", and `analyse
    -o nosuchdir/x.txt` the same: the folder was the thing to fix. allocate, compare and
    backtest named it relative ("folder nosuchdir does not exist") and only after their work
    (backtest had recorded its run by then). Whatever the name, with or without --format."""
    monkeypatch.chdir(tmp_path)
    recorded = record_fingerprint(town, WARDS)
    expected = f"error: folder {tmp_path}/nosuchdir does not exist; create it or choose another -o"
    for args in (COMMANDS[command], _without_format(COMMANDS[command])):
        said = _refusal([*args, "-o", f"nosuchdir/{name}", "--data-dir", str(town)])
        assert said == expected
    assert not (tmp_path / "nosuchdir").exists()  # no folder is made either
    assert record_fingerprint(town, WARDS) == recorded  # nothing run, nothing recorded


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_dot_dot_is_taken_out_of_the_folder_named(
    town: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """The folder is named as os.path.abspath spells it ("folder /x/out/../nosuchdir" is
    /x/nosuchdir); where `..` climbs out of a folder that does not exist, that one is named."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    store = ["--data-dir", str(town)]
    said = _refusal([*COMMANDS[command], "-o", "out/../nosuchdir/x.json", *store])
    assert f"folder {tmp_path}/nosuchdir does not exist" in said and ".." not in said
    # No "gone": the system cannot climb out of it, so x.json's folder is not tmp_path.
    said = _refusal([*COMMANDS[command], "-o", "gone/../x.json", *store])
    assert said.startswith(f"error: folder {tmp_path}/gone does not exist")


def test_a_read_only_folder_is_named_without_dot_dot(town: Path, tmp_path: Path) -> None:
    """The folder said "its folder /x/out/../ro is read-only"; now "its folder /x/ro ..."."""
    (tmp_path / "source").mkdir()
    (tmp_path / "out").mkdir()
    with read_only_view(tmp_path / "source", tmp_path / "ro") as ro:
        for command in sorted(COMMANDS):
            args = [*COMMANDS[command], "-o", "out/../ro/x.json", "--data-dir", str(town)]
            result = subprocess.run(
                [HOTSPOTS, *args], capture_output=True, text=True, cwd=tmp_path, check=False
            )
            assert result.returncode == 2, (command, result.stderr)
            assert result.stderr.strip() == (
                f"error: cannot write out/../ro/x.json: its folder {ro} is read-only; choose "
                "another -o"
            ), command


# -- a name of no known format -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "formats"),
    [("allocate", "json|csv"), ("compare", "json"), ("backtest", "json|csv")],
)
def test_planning_commands_refuse_a_name_of_no_format_as_analyse_and_export_do(
    town: Path, tmp_path: Path, command: str, formats: str
) -> None:
    """allocate, compare and backtest wrote JSON into `-o report.txt`, while analyse and export
    refused it: all refuse it now, naming --format, and write it when told the format."""
    out = tmp_path / "report.txt"
    store = ["--data-dir", str(town)]
    said = _refusal([*_without_format(COMMANDS[command]), "-o", str(out), *store])
    assert said == f"error: cannot tell the format from 'report.txt'; add --format {formats}"
    assert not out.exists()
    for other in ("analyse", "export"):  # the same line, with their own formats
        line = _refusal([*_without_format(COMMANDS[other]), "-o", str(out), *store])
        assert line.startswith("error: cannot tell the format from 'report.txt'; add --format ")
    told = runner.invoke(app, [*COMMANDS[command], "-o", str(out), *store])
    assert told.exit_code == 0, told.output
    assert json.loads(out.read_text(encoding="utf-8"))


# -- standard output shut at start ---------------------------------------------------------------


def _shut_standard_output() -> None:
    os.close(1)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_standard_output_shut_at_start_drops_the_confirmation_of_a_file(
    town: Path, tmp_path: Path, command: str
) -> None:
    """`hotspots ... -o FILE >&-` wrote the file, then ended with exit 1 because its "Wrote"
    line could not be printed (and a retry was refused: the file "exists already"). The answer
    is in the file: the line is dropped, exit 0, and standard error says nothing of it."""
    out = tmp_path / "answer.json"
    args = [*COMMANDS[command], "-o", str(out), "--data-dir", str(town)]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    result = subprocess.run(
        [HOTSPOTS, *args],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_shut_standard_output,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "standard output" not in result.stderr and "Traceback" not in result.stderr
    assert out.stat().st_size > 0
    if command != "export":  # export's file is CSV here
        assert json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.parametrize("where", ["-o -", "no -o"])
def test_standard_output_shut_at_start_still_fails_when_the_answer_goes_there(
    town: Path, where: str
) -> None:
    """The answer itself cannot be written: one line, exit 1, as before."""
    args = [*_without_format(COMMANDS["allocate"]), "--data-dir", str(town)]
    if where == "-o -":
        args += ["-o", "-"]
    result = subprocess.run(
        [HOTSPOTS, *args],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_shut_standard_output,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: cannot write to standard output: it was shut when the command started"
    ]


# -- backtest's record, named in full ------------------------------------------------------------


def test_backtest_names_its_record_by_its_absolute_path(town: Path, tmp_path: Path) -> None:
    """Its closing note said "Recorded in backtests/NAME.json under the data folder", and a
    record that could not be written was named relative or not at all, where every other
    message of the command line names files by their absolute paths."""
    store = tmp_path / "store"
    copy_store(town, store)  # this test's own: it removes the record
    args = [*COMMANDS["backtest"], "-o", "-", "--data-dir", "store"]
    done = subprocess.run(
        [HOTSPOTS, *args], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
    record = records_path(store, WARDS)
    said = " ".join(done.stderr.split())
    assert f"Recorded in {record}; GET /v1/hotspots reports" in said
    record.unlink()  # a new run must write it again, and cannot
    with read_only_view(store, tmp_path / "ro") as ro:
        args = [*COMMANDS["backtest"], "-o", "-", "--data-dir", "ro"]
        warned = subprocess.run(
            [HOTSPOTS, *args], capture_output=True, text=True, cwd=tmp_path, check=False
        )
        assert warned.returncode == 0, warned.stderr  # the result stands
        said = " ".join(warned.stderr.split())
        assert "warning: the run could not be recorded" in said
        assert f"{records_path(ro, WARDS)} (" in said or f"{records_path(ro, WARDS)}:" in said


# -- names that are no file --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "reports/"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_name_that_is_no_file_is_said_so(
    town: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, name: str
) -> None:
    """`-o reports/` (a folder; pathlib drops the slash) said "cannot tell the format from
    'reports'" or, with --format, "folder ... does not exist" for reports' parent; `-o ''`
    was taken for the current folder."""
    monkeypatch.chdir(tmp_path)
    said = _refusal([*COMMANDS[command], "-o", name, "--data-dir", str(town)])
    assert said.startswith("error: Invalid value for '-o' / '--output': ")
    assert "give the path of a file to write" in said
    assert ("names a folder (it ends in /)" if name else "an empty name") in said


def test_export_to_standard_output_asks_for_a_format_by_name(town: Path) -> None:
    """`export -o -` said "cannot tell the format from '-'"."""
    said = _refusal(["export", "--force", FORCE, "-o", "-", "--data-dir", str(town)])
    assert said == "error: -o - (standard output) needs --format csv or geojson (Parquet is binary)"
