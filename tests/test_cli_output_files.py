"""Every CLI command that writes an ``-o`` file refuses to replace one that exists unless told
``--overwrite`` (the file may be the only copy of a report already sent on), says so before any
work, and writes atomically: a failed run leaves the old file as it was and no temporary beside it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from boundaries.sets import load_boundary_file
from boundaries.store import BoundaryStore
from cli.main import app
from tests.service_town import FORCE, WARDS, build_town

runner = CliRunner()
SECOND = "town-wards-again"
OLD = "the report someone already sent\n"
OTHER = "written by another program meanwhile\n"


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("town")
    data_dir, _ = build_town(root)
    # A second scheme for compare: the same wards under another name.
    again = load_boundary_file(root / "wards.geojson", SECOND, "ward", vintage="2019")
    BoundaryStore(data_dir).save(again)
    return Path(data_dir)


# Each command with its -o file (the file name picks the format where the command reads it).
COMMANDS = {
    "export": "export --force {force} -o {out}.csv",
    "analyse": "analyse --boundaries {wards} --permutations 99 -o {out}.json",
    "allocate": "allocate --boundaries {wards} --units 5 --format json -o {out}.json",
    "compare": "compare --boundaries {wards},{second} --format json -o {out}.json",
    "backtest": "backtest --boundaries {wards} --to 2019-09 --train-months 9 --res 9 "
    "--permutations 99 "
    "--format json -o {out}.json",
}


def _args(command: str, out: Path, data_dir: Path) -> list[str]:
    words = COMMANDS[command].format(out=out, force=FORCE, wards=WARDS, second=SECOND).split()
    return [*words, "--data-dir", str(data_dir)]


def _written(args: list[str]) -> Path:
    return Path(args[args.index("-o") + 1])


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_existing_output_is_kept_without_overwrite(
    town: Path, tmp_path: Path, command: str
) -> None:
    args = _args(command, tmp_path / "report", town)
    target = _written(args)
    target.write_text(OLD, encoding="utf-8")

    refused = runner.invoke(app, args)
    assert refused.exit_code == 2, refused.output
    assert "exists already" in refused.output and "--overwrite" in refused.output
    assert "Traceback" not in refused.output
    assert target.read_text(encoding="utf-8") == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no temporaries

    replaced = runner.invoke(app, [*args, "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert target.read_text(encoding="utf-8") != OLD
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_csv_and_its_provenance_file_are_both_protected(town: Path, tmp_path: Path) -> None:
    """analyse -o x.csv also writes x.csv.provenance.json: an existing one is not replaced."""
    out = tmp_path / "cells.csv"
    sidecar = tmp_path / "cells.csv.provenance.json"
    sidecar.write_text(OLD, encoding="utf-8")
    args = ["analyse", "--boundaries", WARDS, "--permutations", "99", "-o", str(out)]
    refused = runner.invoke(app, [*args, "--data-dir", str(town)])
    assert refused.exit_code == 2 and "cells.csv.provenance.json" in refused.output
    assert not out.exists() and sidecar.read_text(encoding="utf-8") == OLD


def test_a_new_file_needs_no_flag(town: Path, tmp_path: Path) -> None:
    args = _args("export", tmp_path / "fresh", town)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert _written(args).read_text(encoding="utf-8").startswith('"crime_id"')


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_file_made_while_the_command_ran_is_not_replaced(
    town: Path, tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check before the work passes (no file yet); another program then writes the file
    while the command runs (here: the moment the command's temporary file appears beside it).
    The command's publish must refuse, keep the other file whole, and say so in one line."""
    args = _args(command, tmp_path / "report", town)
    target = _written(args)
    made_temporary = tempfile.mkstemp

    def then_someone_else_writes(*positional: object, **named: object) -> tuple[int, str]:
        made = made_temporary(*positional, **named)  # type: ignore[call-overload]
        if Path(made[1]).parent == target.parent and not target.exists():
            target.write_text(OTHER, encoding="utf-8")
        return made

    monkeypatch.setattr(tempfile, "mkstemp", then_someone_else_writes)
    result = runner.invoke(app, args)
    monkeypatch.undo()
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output  # as for a file there before the run
    assert said.count(str(target)) == 1
    assert f"{target} was created by something else while this command ran" in said
    assert "--overwrite" in said and "Traceback" not in result.output
    assert target.read_text(encoding="utf-8") == OTHER
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary left behind

    target.unlink()  # with --overwrite the same race replaces it, as asked
    monkeypatch.setattr(tempfile, "mkstemp", then_someone_else_writes)
    replaced = runner.invoke(app, [*args, "--overwrite"])
    monkeypatch.undo()
    assert replaced.exit_code == 0, replaced.output
    assert target.read_text(encoding="utf-8") != OTHER


def _one_line_refusal(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an uncaught error
    said = result.stderr.strip()
    assert said.startswith("error:") and "\n" not in said, said  # one line
    return said


def _special(kind: str, root: Path) -> Path:
    """A path holding something that is not a regular file (a regular file beside it)."""
    target = root / "report.json"
    (root / "real.json").write_text(OLD, encoding="utf-8")
    if kind == "folder":
        target.mkdir()
    elif kind == "dangling symlink":
        target.symlink_to(root / "nowhere.json")
    elif kind == "symlink to a file":
        target.symlink_to(root / "real.json")
    else:
        os.mkfifo(target)
    return target


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
@pytest.mark.parametrize("kind", ["folder", "dangling symlink", "symlink to a file", "fifo"])
def test_only_a_regular_file_is_ever_replaced(
    town: Path, tmp_path: Path, kind: str, overwrite: list[str]
) -> None:
    """A folder, a link (dangling or not) or a special file at -o is refused before any work,
    with or without --overwrite (as root, `-o /dev/null --overwrite` would otherwise swap
    /dev/null for a file), and left as it was."""
    target = _special(kind, tmp_path)
    before = os.lstat(target)
    args = ["analyse", "--boundaries", WARDS, "--permutations", "99", "-o", str(target)]
    said = _one_line_refusal([*args, "--format", "json", *overwrite, "--data-dir", str(town)])
    assert f"{target} is a " in said and "not a regular file" in said
    assert "created by something else" not in said
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert (tmp_path / "real.json").read_text(encoding="utf-8") == OLD


@pytest.mark.parametrize("folder", ["/proc", "/sys"])
def test_a_folder_that_takes_no_files_is_one_line(town: Path, folder: str) -> None:
    if not Path(folder).is_dir():
        pytest.skip(f"no {folder} on this system")
    target = f"{folder}/x.json"
    args = ["analyse", "--boundaries", WARDS, "-o", target, "--overwrite"]
    said = _one_line_refusal([*args, "--data-dir", str(town)])
    assert said.startswith(f"error: cannot write {target}: ")
    assert "data folder" not in said


def test_a_file_where_a_folder_should_be_is_one_line(town: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text(OLD, encoding="utf-8")
    target = tmp_path / "notes.txt" / "x.json"
    said = _one_line_refusal(
        ["analyse", "--boundaries", WARDS, "-o", str(target), "--data-dir", str(town)]
    )
    assert f"cannot write {target}: {tmp_path / 'notes.txt'} is not a folder" in said
