"""Which modules a piece of code loads, asked of a new Python process: what a user's command or
a server start pays in imports, which the test process (with everything loaded) cannot show."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable


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
