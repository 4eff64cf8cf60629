"""New processes for what the test process cannot show: which modules a piece of code loads
(what a user's command or a server start pays in imports), and how the ``hotspots`` commands
end when their standard output is a closed pipe or a full device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO

HOTSPOTS = str(Path(sys.executable).with_name("hotspots"))


def printing_commands(data_dir: Path, out: Path) -> dict[str, list[str]]:
    """``hotspots`` commands, one per way they print to standard output (Rich tables, click's
    echo, JSON, the export's binary copy, help printed before any command runs), on a store as
    the quickstart builds it (``data_dir``); ``out``: analyse's -o file."""
    store = ["--data-dir", str(data_dir)]
    wards = ["--boundaries", "e06000027-wards-2019"]
    export = ["export", "-o", "-", "--force", "devon-and-cornwall", "--from", "2020-12", *store]
    return {
        "help": ["--help"],
        "command-help": ["analyse", "--help"],
        "coverage": ["coverage", *store],
        "coverage-json": ["coverage", "--json", *store],
        "boundaries-list": ["boundaries", "list", *store],
        "allocate": ["allocate", *wards, "--units", "5", "-o", "-", *store],
        "analyse": ["analyse", *wards, "--weights", "count", "-o", str(out), *store],
        "export-csv": [*export, "--format", "csv"],
        "export-geojson": [*export, "--format", "geojson"],
    }


PRINTING = list(printing_commands(Path(), Path()))


def modules_loaded(code: str, watched: Iterable[str]) -> tuple[list[str], str]:
    """Run ``code`` in a new interpreter; return the ``watched`` modules loaded when it ends
    (sorted) and what ``code`` printed. Raises CalledProcessError if ``code`` fails."""
    report = (
        "\nimport sys as _sys, json as _json\n"
        f"print(_json.dumps(sorted(m for m in {sorted(set(watched))!r} if m in _sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code + report], capture_output=True, text=True, check=True
    )
    printed, _, last = done.stdout.rstrip("\n").rpartition("\n")
    return json.loads(last), printed


def hotspots_writing_to(
    stdout: int | IO, *args: str, buffered: bool = True
) -> subprocess.CompletedProcess:
    """Run ``hotspots *args`` in a new process with its standard output on ``stdout`` (a
    descriptor or an open file: a pipe whose reader has gone, /dev/full) and its standard error
    captured as text; the exit status is the caller's to check.

    ``buffered``: standard output as a user's shell gives it (Python keeps what is printed
    until a flush or the end), whatever PYTHONUNBUFFERED the tests run with; else unbuffered
    (every write reaches the device at once), so a fault shows at the write, not at the end."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    return subprocess.run(
        [HOTSPOTS, *args], stdout=stdout, stderr=subprocess.PIPE, text=True, check=False, env=env
    )
