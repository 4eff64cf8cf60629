"""New processes for what the test process cannot show: which modules a piece of code loads
(what a user's command or a server start pays in imports), and how the ``hotspots`` command
ends when its standard output is a closed pipe or a full device."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO

HOTSPOTS = str(Path(sys.executable).with_name("hotspots"))


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


def hotspots_writing_to(stdout: int | IO, *args: str) -> subprocess.CompletedProcess:
    """Run ``hotspots *args`` in a new process with its standard output on ``stdout`` (a
    descriptor or an open file: a pipe whose reader has gone, /dev/full) and its standard error
    captured as text; the exit status is the caller's to check."""
    return subprocess.run(
        [HOTSPOTS, *args], stdout=stdout, stderr=subprocess.PIPE, text=True, check=False
    )
