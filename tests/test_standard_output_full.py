"""A command whose standard output is full (not closed: `> /dev/full`, a full disk) ends with
one line naming standard output and why, exit 1, no traceback; an export to standard output
does not blame the temporary folder (TMPDIR) for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fresh_process import HOTSPOTS, PRINTING, hotspots_writing_to, printing_commands
from tests.store_copy import copy_store

WARDS = "e06000027-wards-2019"  # the quickstart's set


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("command", PRINTING)
def test_a_full_standard_output_is_one_line_naming_it(
    quickstart_dir: Path, tmp_path: Path, command: str, buffered: bool
) -> None:
    """Buffered, the fault shows when standard output is flushed (at the end, for most);
    unbuffered, at the first write."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    args = printing_commands(quickstart_dir, tmp_path / "hotspots.geojson")[command]
    with open("/dev/full", "w") as full:
        result = hotspots_writing_to(full, *args, buffered=buffered)
    if command == "analyse":
        # Its answer is its -o file: what it printed only confirmed it, and is dropped, exit 0
        # (every command with -o FILE: tests/test_cli_output_full.py).
        assert (result.returncode, result.stderr) == (0, "")
        return
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot write to standard output: the disk (or device) is full" in lines[0]
    assert "TMPDIR" not in lines[0] and "temporary" not in lines[0]


# The console script, with one more command: it writes the descriptor it is given (an -o file,
# a socket) and lets a fault there go up unhandled, as a command's own bug would.
_WRITING_ELSEWHERE = """
import sys
import cli.main
from cli.lazy_group import LazyCommand

def write_elsewhere(descriptor: int) -> None:
    with open(descriptor, "w", closefd=False) as elsewhere:
        elsewhere.write("rows")
        elsewhere.flush()

cli.main.COMMANDS["write-elsewhere"] = LazyCommand("__main__:write_elsewhere", "Write elsewhere.")
sys.argv = ["hotspots", "write-elsewhere", sys.argv[1]]
cli.main.main()
"""


@pytest.mark.parametrize("device", ["full", "closed pipe"])
def test_a_fault_writing_another_file_is_not_blamed_on_standard_output(
    tmp_path: Path, device: str
) -> None:
    """Standard output is as faulty as the other file (both /dev/full, or both pipes whose
    reader has gone): the other file's fault is still not called standard output's (one line,
    exit 1), nor a reader of standard output stopping early (exit 0, quiet). It goes up as the
    command's own error (click ends a broken pipe of its own with exit 1 and no word)."""
    if device == "full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    ends = []
    for _ in range(2):
        if device == "full":
            ends.append(os.open("/dev/full", os.O_WRONLY))
        else:
            read, write = os.pipe()
            os.close(read)
            ends.append(write)
    stdout, other = ends
    try:
        result = subprocess.run(
            [sys.executable, "-c", _WRITING_ELSEWHERE, str(other)],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            pass_fds=[other],
            cwd=Path(__file__).parents[1],
            check=False,
        )
    finally:
        for end in ends:
            os.close(end)
    assert result.returncode == 1, result.stderr
    assert "standard output" not in result.stderr
    if device == "full":
        assert result.stderr.strip().splitlines()[-1].startswith("OSError: [Errno 28]")


def test_a_closed_standard_error_is_not_taken_for_standard_output(quickstart_dir: Path) -> None:
    """`hotspots ... 2> >(head -c 0)`: standard error's reader has gone. A refused command still
    ends refused (exit 2, not the quiet exit 0 of a reader of standard output stopping early),
    and an export still writes all of standard output."""
    store = ["--data-dir", str(quickstart_dir)]
    refused = ["allocate", "--boundaries", "no-such-set", "--units", "5", *store]
    export = ["export", "-o", "-", "--format", "csv", "--force", "devon-and-cornwall", *store]
    export += ["--from", "2020-12"]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    ended = []
    for args in (refused, export):
        read, write = os.pipe()
        os.close(read)
        try:
            ended.append(
                subprocess.run(
                    [HOTSPOTS, *args], stdout=subprocess.PIPE, stderr=write, env=env, check=False
                )
            )
        finally:
            os.close(write)
    assert ended[0].returncode == 2
    assert ended[1].returncode == 0
    whole = subprocess.run([HOTSPOTS, *export], capture_output=True, env=env, check=True)
    assert ended[1].stdout == whole.stdout
    assert whole.stdout.startswith(b'"crime_id",') and whole.stdout.count(b"\n") > 1000


def _shut(descriptor: int) -> Callable[[], None]:
    """For preexec_fn: the new process starts with ``descriptor`` shut (`>&-`, `2>&-`)."""
    return lambda: os.close(descriptor)


def test_a_finished_command_ends_well_when_standard_error_is_gone_or_shut(
    quickstart_dir: Path, tmp_path: Path
) -> None:
    """Nobody reads standard error (its reader went away, or `2>&-`): a command that did its
    job still ends with exit 0. allocate's closing 'Region: ...' line on a gone reader ended it
    with exit 1 (click's own broken pipe handling); analyse with `2>&-` ended with exit 1 (its
    fast exit flushed a standard error that Python gives as None)."""
    # A copy of the store (made by a child process: tests/store_copy.py says why), so the study
    # run here writes its cache there, not in the shared store.
    store = tmp_path / "store"
    copy_store(quickstart_dir, store)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    shares = tmp_path / "shares.json"
    allocate = ["allocate", "--boundaries", WARDS, "--units", "3", "-o", str(shares)]
    read, write = os.pipe()
    os.close(read)
    try:
        gone = subprocess.run(
            [HOTSPOTS, *allocate, "--data-dir", str(store)],
            stdout=subprocess.PIPE,
            stderr=write,
            env=env,
            check=False,
        )
    finally:
        os.close(write)
    assert gone.returncode == 0
    assert json.loads(shares.read_text())["rows"]
    study = tmp_path / "study.json"
    analyse = ["analyse", "--boundaries", WARDS, "-q", "-o", str(study), "--data-dir", str(store)]
    shut = subprocess.run(
        [HOTSPOTS, *analyse], stdout=subprocess.PIPE, env=env, preexec_fn=_shut(2), check=False
    )
    assert shut.returncode == 0
    assert json.loads(study.read_text())["cells"]


def test_standard_output_shut_at_start_is_one_line(quickstart_dir: Path) -> None:
    """`hotspots ... >&-`: Python gives no standard output at all. A command with something to
    print there says so in one line, exit 1, instead of a traceback (export -o -) or a silent
    exit 0 with the answer lost (allocate -o -)."""
    store = ["--data-dir", str(quickstart_dir)]
    export = ["export", "-o", "-", "--format", "csv", "--force", "devon-and-cornwall", *store]
    allocate = ["allocate", "--boundaries", WARDS, "--units", "3", "-o", "-", *store]
    for args in (export, allocate):
        result = subprocess.run(
            [HOTSPOTS, *args],
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_shut(1),
            check=False,
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr.strip().splitlines() == [
            "error: cannot write to standard output: it was shut when the command started"
        ]


def test_a_full_standard_error_changes_neither_answer_nor_exit(quickstart_dir: Path) -> None:
    """`2>/dev/full` (a full disk under the command's log): export -o - lost its whole answer
    and ended with exit 1, and a refusal ended 1 instead of 2."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    store = ["--data-dir", str(quickstart_dir)]
    export = ["export", "-o", "-", "--format", "csv", "--force", "devon-and-cornwall", *store]
    export += ["--from", "2020-12"]
    refused = ["allocate", "--boundaries", "no-such-set", "--units", "5", *store]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    whole = subprocess.run([HOTSPOTS, *export], capture_output=True, env=env, check=True)
    with open("/dev/full", "w") as full:
        exported = subprocess.run(
            [HOTSPOTS, *export], stdout=subprocess.PIPE, stderr=full, env=env, check=False
        )
        refusal = subprocess.run([HOTSPOTS, *refused], stderr=full, env=env, check=False)
    assert exported.returncode == 0
    assert exported.stdout == whole.stdout and whole.stdout.count(b"\n") > 1000
    assert refusal.returncode == 2
