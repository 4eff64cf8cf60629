"""What the ``hotspots`` commands print, run as a user runs them: a real process, a real
terminal where the test needs one (a pseudo-terminal), a real store.

- Long commands draw a progress bar on stderr when stderr is a terminal, never on stdout, so
  ``--format json`` output stays readable by another program; none off a terminal or with
  ``--quiet``.
- Tables never cut a code or a boundary set's name short at 60 or 80 columns.
- ``--area`` takes an exact name as well as a code; an unknown name is one line with close names.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from boundaries.clusters import build_clusters
from boundaries.store import BoundaryStore
from cli.tables import print_table
from tests.service_town import EAST, FORCE, MONTHS, WARDS, WEST, write_archive
from tests.test_analysis_study import town  # noqa: F401  (the generated town fixture)

ROOT = Path(__file__).resolve().parents[1]
LONG_SET = "torbay-and-south-devon-neighbourhood-wards-2019"  # 47 characters
CLUSTERS = "town-one-cluster"
# Rich reads these to decide what a terminal is and how wide; the tests set them themselves.
_TERMINAL_ENV = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES")


def run_cli(
    *args: str, columns: int | None = None, terminal_stderr: bool = False
) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``hotspots ARGS`` in a new process; with
    ``terminal_stderr`` stderr is a 120-column pseudo-terminal (stdout stays a pipe)."""
    env = {k: v for k, v in os.environ.items() if k not in _TERMINAL_ENV}
    env["TERM"] = "xterm"
    if columns is not None:
        env["COLUMNS"] = str(columns)
    command = [sys.executable, "-m", "cli.main", *args]
    if not terminal_stderr:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
        )
        return done.returncode, done.stdout, done.stderr
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=env,
        cwd=ROOT,
    )
    os.close(terminal)
    chunks: list[bytes] = []

    def drain() -> None:  # the terminal must be read as it fills, or the command blocks
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the command closed its end
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    assert process.stdout is not None
    stdout = process.stdout.read().decode()
    process.wait(timeout=600)
    reader.join(timeout=60)
    os.close(controller)
    return process.returncode, stdout, b"".join(chunks).decode(errors="replace")


@pytest.fixture
def planning_store(town, data_dir: Path) -> Path:  # noqa: F811
    """The generated town, with its wards also stored under a long name and as one cluster."""
    _, wards = town
    boundaries = BoundaryStore(data_dir)
    boundaries.save(
        build_clusters(wards, dict.fromkeys((WEST, EAST), "Whole town"), CLUSTERS).clusters
    )
    boundaries.save(replace(wards, name=LONG_SET))
    return data_dir


LONG_COMMANDS = {
    "allocate": (
        ["allocate", "--boundaries", WARDS, "--units", "9", "--format", "json"],
        "Allocating",
    ),
    "compare": (
        ["compare", "--boundaries", f"{WARDS},{CLUSTERS}", "--format", "json"],
        "Comparing",
    ),
    "backtest": (
        [
            "backtest",
            "--boundaries",
            WARDS,
            "--to",
            "2019-09",
            "--train-months",
            "9",
            "--res",
            "9",
            "--weights",
            "count",
            "--permutations",
            "99",
            "--format",
            "json",
        ],
        "Backtesting",
    ),
}


@pytest.mark.parametrize("command", sorted(LONG_COMMANDS))
def test_progress_goes_to_a_terminal_on_stderr_and_stdout_stays_json(
    planning_store: Path, command: str
) -> None:
    args, label = LONG_COMMANDS[command]
    status, stdout, stderr = run_cli(*args, "--data-dir", str(planning_store), terminal_stderr=True)
    assert status == 0, stderr
    assert label in stderr  # the bar was drawn, on the terminal
    assert label not in stdout and "\x1b" not in stdout  # no bar, no terminal codes
    json.loads(stdout)  # the answer another program reads is whole

    quiet_status, quiet_stdout, quiet_stderr = run_cli(
        *args, "--quiet", "--data-dir", str(planning_store), terminal_stderr=True
    )
    assert quiet_status == 0, quiet_stderr
    assert label not in quiet_stderr
    assert json.loads(quiet_stdout) == json.loads(stdout) or command == "backtest"


def test_no_progress_when_stderr_is_not_a_terminal(planning_store: Path) -> None:
    args, label = LONG_COMMANDS["allocate"]
    status, stdout, stderr = run_cli(*args, "--data-dir", str(planning_store))
    assert status == 0, stderr
    assert label not in stderr and label not in stdout
    assert sum(row["units"] for row in json.loads(stdout)["rows"]) == 9


def test_analyse_progress_on_stderr_and_area_by_name(planning_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "west.json"
    status, stdout, stderr = run_cli(
        "analyse",
        "--boundaries",
        WARDS,
        "--area",
        "west ward",  # the name, in any case
        "--permutations",
        "99",
        "-o",
        str(out),
        "--data-dir",
        str(planning_store),
        terminal_stderr=True,
    )
    assert status == 0, stderr
    assert "Computing hot spot statistics" in stderr
    assert "Computing hot spot statistics" not in stdout and "\x1b[" not in stdout
    assert f"Wrote {out}" in stdout
    provenance = json.loads(out.read_text())["provenance"]
    assert provenance["shown_areas"] == [WEST]  # the West ward's cells of the set's study


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["analyse", "--boundaries", WARDS, "-o", "{tmp}/x.csv", "--area", "West Wrd"],
            "West Ward",
        ),
        (["backtest", "--boundaries", WARDS, "--to", "2019-09", "--area", "Eastt"], "East Ward"),
        (["boundaries", "cover", WARDS, "--area", "nowhere ward"], "West Ward"),
    ],
)
def test_unknown_area_name_is_one_line_with_close_names(
    planning_store: Path, tmp_path: Path, args: list[str], expected: str
) -> None:
    filled = [arg.format(tmp=tmp_path) for arg in args]
    status, stdout, stderr = run_cli(*filled, "--data-dir", str(planning_store))
    assert status == 2
    assert stderr.startswith("error: --area: no area with code or name")
    assert stderr.count("\n") == 1 and expected in stderr
    assert "Traceback" not in stderr + stdout


def test_a_name_two_areas_share_is_refused_with_their_codes(planning_store: Path) -> None:
    boundaries = BoundaryStore(planning_store)
    wards = boundaries.read(WARDS)
    twins = wards.areas.assign(name="Twin Ward")
    boundaries.save(replace(wards, name="town-twins", areas=twins))
    args = ("boundaries", "cover", "town-twins", "--area", "twin ward")
    status, _, stderr = run_cli(*args, "--data-dir", str(planning_store))
    assert status == 2 and stderr.count("\n") == 1
    assert stderr.startswith("error: --area: 2 areas of 'town-twins' are named 'twin ward'")
    assert f"give the code instead ({WEST}, {EAST})" in stderr


def test_boundaries_areas_lists_what_area_accepts(planning_store: Path) -> None:
    status, stdout, stderr = run_cli(
        "boundaries", "areas", WARDS, "--format", "json", "--data-dir", str(planning_store)
    )
    assert status == 0, stderr
    assert json.loads(stdout) == [
        {"code": WEST, "name": "West Ward"},
        {"code": EAST, "name": "East Ward"},
    ]


def test_boundaries_areas_of_an_unknown_set_is_one_line_naming_the_sets(
    planning_store: Path,
) -> None:
    status, stdout, stderr = run_cli(
        "boundaries", "areas", "no-such-set", "--data-dir", str(planning_store)
    )
    assert status != 0 and stdout == ""
    assert "Traceback" not in stderr
    assert "no boundary set named 'no-such-set'" in stderr and WARDS in stderr


@pytest.mark.parametrize("columns", [60, 80])
@pytest.mark.parametrize(
    ("args", "whole"),
    [
        (["coverage"], [FORCE, *MONTHS]),
        (["boundaries", "list"], [WARDS, LONG_SET, CLUSTERS]),
        (["boundaries", "areas", LONG_SET], [WEST, EAST, "West Ward", "East Ward"]),
        (["boundaries", "counts", LONG_SET], [WEST, EAST, "West Ward", "East Ward"]),
        (
            ["compare", "--boundaries", f"{LONG_SET},{CLUSTERS}"],
            [LONG_SET, CLUSTERS],
        ),
        (["allocate", "--boundaries", LONG_SET, "--units", "9"], [WEST, EAST, "West Ward"]),
    ],
)
def test_tables_never_cut_codes_or_set_names(
    planning_store: Path, columns: int, args: list[str], whole: list[str]
) -> None:
    status, stdout, stderr = run_cli(*args, "--data-dir", str(planning_store), columns=columns)
    assert status == 0, stderr
    assert "…" not in stdout
    for text in whole:
        assert text in stdout, f"{text!r} cut short at {columns} columns:\n{stdout}"


def _coverage_table() -> Table:
    table = Table(title="Coverage of /a/data/folder/that/is/longer/than/sixty/columns/in/all/x")
    for column in ("force", "month", "source", "read", "stored", "no loc", "rejected", "revised"):
        table.add_column(column, no_wrap=column in ("force", "month", "source"))
    table.add_row(FORCE, "2019-01", "archive", "62,345", "62,000", "1", "0", "+1 -2 ~3")
    return table


@pytest.mark.parametrize(
    ("width", "layout"), [(120, "framed"), (80, "compact"), (50, "rows"), (20, "rows")]
)
def test_a_table_keeps_every_word_whole_at_any_width(width: int, layout: str) -> None:
    """Framed when it fits, without the frame when that is what fits, else one block a row."""
    out = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    print_table(_coverage_table(), out)
    text = out.export_text()
    assert "…" not in text
    for word in (FORCE, "2019-01", "archive", "62,345", "62,000", "+1", "-2", "~3", "rejected"):
        assert word in text
    assert "/a/data/folder/that/is/longer/than/sixty/columns/in/all/x" in text  # title whole
    framed, rows = "┃" in text, f"force: {FORCE}" in text
    expected = {"framed": (True, False), "compact": (False, False), "rows": (False, True)}
    assert (framed, rows) == expected[layout]


def test_ingest_progress_on_a_terminal_only(tmp_path: Path, data_dir: Path) -> None:
    archive = write_archive(tmp_path / "archive")
    args = ("ingest", "archive", str(archive.root), "--data-dir", str(data_dir))
    status, stdout, stderr = run_cli(*args, terminal_stderr=True)
    assert status == 0, stderr
    assert "Ingesting" in stderr or "devon-and-cornwall 2019" in stderr  # the bar's label
    assert "\x1b" not in stdout and f"{FORCE}" in stdout  # the report, on stdout
    status, stdout, stderr = run_cli(*args, "--quiet", terminal_stderr=True)
    assert status == 0 and "\x1b[" not in stderr and "Ingesting" not in stderr
