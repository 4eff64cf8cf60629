"""A command whose standard output is full (not closed: `> /dev/full`, a full disk) ends with
one line naming standard output and why, exit 1, no traceback; an export to standard output
does not blame the temporary folder (TMPDIR) for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fresh_process import hotspots_writing_to

FORCE = "devon-and-cornwall"
SET = "e06000027-wards-2019"


@pytest.mark.parametrize(
    "args",
    [
        ["coverage"],
        ["coverage", "--json"],
        ["allocate", "--boundaries", SET, "--units", "5", "-o", "-"],
        ["export", "-o", "-", "--format", "csv", "--force", FORCE, "--from", "2020-12"],
    ],
    ids=["coverage", "coverage-json", "allocate", "export"],
)
def test_a_full_standard_output_is_one_line_naming_it(
    quickstart_dir: Path, args: list[str]
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        result = hotspots_writing_to(full, *args, "--data-dir", str(quickstart_dir))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot write to standard output: the disk (or device) is full" in lines[0]
    assert "TMPDIR" not in lines[0] and "temporary" not in lines[0]
