"""Every CLI command that writes an ``-o`` file refuses to replace one that exists unless told
``--overwrite`` (the file may be the only copy of a report already sent on), says so before any
work, and writes atomically: a failed run leaves the old file as it was and no temporary beside it.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from pipelines.store import atomic
from tests.service_town import FORCE, SECOND_SCHEME, WARDS, build_town_with_second_scheme

runner = CliRunner()
SECOND = SECOND_SCHEME
OLD = "the report someone already sent\n"
OTHER = "written by another program meanwhile\n"


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_town_with_second_scheme(tmp_path_factory.mktemp("town"))


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


# -- `-o -`: standard output, the usual Unix convention, never a file named "-" ------------------

# Each command that writes text with `-o -`, and how to read what it wrote.
TO_STANDARD_OUTPUT = {
    "export csv": ("export --force {force} --format csv -o -", "csv"),
    "export geojson": ("export --force {force} --format geojson -o -", "json"),
    "allocate": ("allocate --boundaries {wards} --units 5 -o -", "json"),
    "allocate csv": ("allocate --boundaries {wards} --units 5 --format csv -o -", "csv"),
    "compare": ("compare --boundaries {wards},{second} -o -", "json"),
    "backtest": (
        "backtest --boundaries {wards} --to 2019-09 --train-months 9 --res 9 --permutations 99 "
        "--quiet -o -",
        "json",
    ),
}


@pytest.mark.parametrize("command", sorted(TO_STANDARD_OUTPUT))
def test_dash_writes_standard_output(
    town: Path, tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    words, kind = TO_STANDARD_OUTPUT[command]
    args = words.format(force=FORCE, wards=WARDS, second=SECOND).split()
    result = runner.invoke(app, [*args, "--data-dir", str(town)])
    assert result.exit_code == 0, result.output
    assert not os.path.lexists(tmp_path / "-")  # no file named "-"
    if kind == "json":
        body = json.loads(result.stdout)  # stdout holds the answer alone
        assert body.get("rows") or body.get("schemes") or body.get("features")
    else:
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert rows and ("code" in rows[0] or "crime_id" in rows[0])


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["analyse", "--boundaries", WARDS, "-o", "-"], "analyse prints its summary there"),
        (["analyse", "--boundaries", WARDS, "-o", "-", "--format", "json"], "analyse prints"),
        (["export", "--force", FORCE, "--format", "parquet", "-o", "-"], "Parquet is binary"),
    ],
)
def test_dash_is_one_line_where_a_command_cannot_write_standard_output(
    town: Path, tmp_path: Path, args: list[str], why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    said = _one_line_refusal([*args, "--data-dir", str(town)])
    assert said.startswith("error: -o - (standard output) cannot be used here: ") and why in said
    assert not os.path.lexists(tmp_path / "-")


# A file named "-" is still a file when spelled as one: only a bare `-` is standard output.
TO_A_FILE_NAMED_DASH = {
    "export": "export --force {force} --format csv -o ./-",
    "analyse": "analyse --boundaries {wards} --permutations 99 --format json -o ./-",
    "allocate": "allocate --boundaries {wards} --units 5 --format json -o ./-",
    "compare": "compare --boundaries {wards},{second} --format json -o ./-",
    "backtest": "backtest --boundaries {wards} --to 2019-09 --train-months 9 --res 9 "
    "--permutations 99 --quiet --format json -o ./-",
}


@pytest.mark.parametrize("command", sorted(TO_A_FILE_NAMED_DASH))
def test_dot_slash_dash_is_a_file_not_standard_output(
    town: Path, tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-o ./-` used to be taken for standard output (pathlib spells it "-")."""
    monkeypatch.chdir(tmp_path)
    args = TO_A_FILE_NAMED_DASH[command].format(force=FORCE, wards=WARDS, second=SECOND)
    result = runner.invoke(app, [*args.split(), "--data-dir", str(town)])
    assert result.exit_code == 0, result.output
    written = tmp_path / "-"
    assert written.is_file() and written.stat().st_size > 0
    said = " ".join(result.stdout.split())
    assert f"Wrote {written}" in said or f"to {written} (" in said
    assert written.read_text()[:200] not in result.stdout  # the answer went to the file


# -- -o FILE without --format: the format its extension names, or a refusal saying which ---------


@pytest.mark.parametrize(
    ("command", "name", "kind"),
    [
        ("allocate --boundaries {wards} --units 5", "shares.csv", "csv"),
        ("allocate --boundaries {wards} --units 5", "shares.json", "json"),
        (
            "backtest --boundaries {wards} --to 2019-09 --train-months 9 --res 9 "
            "--permutations 99 --quiet",
            "backtest.csv",
            "csv",
        ),
        ("compare --boundaries {wards},{second}", "schemes.json", "json"),
        ("analyse --boundaries {wards} --permutations 99", "cells.csv", "csv"),
        ("export --force {force}", "crimes.csv", "csv"),
    ],
)
def test_output_without_format_follows_the_extension(
    town: Path, tmp_path: Path, command: str, name: str, kind: str
) -> None:
    """allocate -o x.csv used to write JSON into x.csv."""
    out = tmp_path / name
    args = command.format(force=FORCE, wards=WARDS, second=SECOND).split()
    result = runner.invoke(app, [*args, "-o", str(out), "--data-dir", str(town)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    if kind == "json":
        assert json.loads(text)
    else:
        header = next(csv.reader(io.StringIO(text)))
        assert len(header) > 3 and not text.lstrip().startswith("{")


@pytest.mark.parametrize(
    ("command", "name", "said"),
    [
        (
            "compare --boundaries {wards},{second}",
            "schemes.csv",
            "-o {out} names a CSV file, but compare writes JSON: give -o a .json file, or add "
            "--format json",
        ),
        (
            "allocate --boundaries {wards} --units 5",
            "shares.geojson",
            "-o {out} names a GeoJSON file, but allocate writes JSON or CSV: give -o a .json or "
            ".csv file, or add --format json|csv",
        ),
        (
            "backtest --boundaries {wards} --to 2019-09",
            "backtest.parquet",
            "-o {out} names a Parquet file, but backtest writes JSON or CSV",
        ),
        ("analyse --boundaries {wards}", "cells.parquet", "add --format csv|geojson|json"),
        ("export --force {force}", "crimes.json", "add --format csv|parquet|geojson"),
    ],
)
def test_an_extension_the_command_cannot_write_is_refused_before_any_work(
    town: Path, tmp_path: Path, command: str, name: str, said: str
) -> None:
    out = tmp_path / name
    args = command.format(force=FORCE, wards=WARDS, second=SECOND).split()
    line = _one_line_refusal([*args, "-o", str(out), "--data-dir", str(town)])
    assert said.format(out=out) in line
    assert not out.exists()


# -- a full disk names the -o file, not "the data folder" ---------------------------------------


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_full_disk_names_the_output_file_and_keeps_the_old_one(
    town: Path, tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC where the kernel reports it for a file written and then flushed (the fsync before
    the rename), simulated for files in the -o folder only (the data folder's own writes, such
    as the backtest record, succeed). A real full tmpfs gives the same words (see the report of
    the change that added this test)."""
    out = tmp_path / "out"
    out.mkdir()
    args = _args(command, out / "report", town)
    target = _written(args)
    target.write_text(OLD, encoding="utf-8")
    flush = atomic._fsync_file

    def full_disk(path: Path) -> None:
        if Path(path).parent == out:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        flush(path)

    monkeypatch.setattr(atomic, "_fsync_file", full_disk)
    result = runner.invoke(app, [*args, "--overwrite"])
    said = result.stderr.strip()
    assert result.exit_code == 1, result.output
    assert said == (
        f"error: cannot write {target}: the disk is full; free some space or choose another -o"
    ), said
    assert "data folder" not in said and "\n" not in said and "Traceback" not in result.output
    assert target.read_text(encoding="utf-8") == OLD  # the old report is whole
    assert [p.name for p in out.iterdir()] == [target.name]  # no temporary left behind


# -- an -o file that becomes a symbolic link during the run --------------------------------------


@pytest.mark.parametrize("overwrite", [["--overwrite"], []])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_target_that_becomes_a_link_is_replaced_never_written_through(
    town: Path, tmp_path: Path, command: str, overwrite: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check before the work passes (a regular file, or none); something then swaps it for
    a link to another file while the command runs. With --overwrite the publish (a rename)
    replaces the link itself; without, the link made meanwhile is kept. The link's target is
    never written."""
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text(OLD, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    args = _args(command, out / "report", town)
    target = _written(args)
    if overwrite:
        target.write_text(OTHER, encoding="utf-8")
    made_temporary = tempfile.mkstemp

    def then_a_link(*positional: object, **named: object) -> tuple[int, str]:
        made = made_temporary(*positional, **named)  # type: ignore[call-overload]
        if Path(made[1]).parent == out and not target.is_symlink():
            target.unlink(missing_ok=True)
            target.symlink_to(elsewhere)
        return made

    monkeypatch.setattr(tempfile, "mkstemp", then_a_link)
    result = runner.invoke(app, [*args, *overwrite])
    monkeypatch.undo()
    assert elsewhere.read_text(encoding="utf-8") == OLD  # never written through the link
    if overwrite:
        assert result.exit_code == 0, result.output
        assert not target.is_symlink()
        assert target.read_text(encoding="utf-8") not in (OLD, OTHER)
    else:
        assert result.exit_code == 2, result.output
        assert "was created by something else while this command ran" in result.stderr
        assert target.is_symlink()  # kept as the other program left it


@pytest.mark.parametrize("command", ["allocate", "backtest"])
def test_o_with_the_default_table_format_writes_the_json(
    town: Path, tmp_path: Path, command: str
) -> None:
    """A table is for the terminal: -o without --format writes the JSON (as compare does), where
    it used to print the table and write nothing."""
    args = _args(command, tmp_path / "report", town)
    at = args.index("--format")
    del args[at : at + 2]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(_written(args).read_text(encoding="utf-8"))["rows"]
