"""`make quickstart` chooses the local open data when ../shared/data exists and the live job
otherwise (a council analyst's fresh clone); checked by running the Makefile with a stand-in
`hotspots` that prints the arguments it was given."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _make_quickstart(tmp_path: Path, shared: Path) -> str:
    if shutil.which("make") is None:
        pytest.skip("needs make")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "hotspots"
    stand_in.write_text('#!/bin/sh\necho "hotspots $*"\n')
    stand_in.chmod(0o755)  # newer than pyproject.toml, so `setup` has nothing to do
    result = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "quickstart", f"BIN={bin_dir}", f"SHARED={shared}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_with_the_shared_data_it_reads_it_all_24_months_and_the_population(
    tmp_path: Path, shared_data: Path
) -> None:
    output = _make_quickstart(tmp_path, shared_data)
    assert f"Using the local open data in {shared_data}" in output
    command = output.splitlines()[-1]
    assert "--months 24" in command and "--archive" in command
    assert "--population" in command and "lsoa_2011_census_population.csv" in command
    assert "--lookup" in command and "ons_LSOA11_to_WD19_LAD19_EW.csv" in command


def test_without_it_the_live_job_runs(tmp_path: Path) -> None:
    output = _make_quickstart(tmp_path, tmp_path / "no-shared-data")
    assert "fetching live from police.uk and ONS" in output
    assert output.splitlines()[-1] == (
        "hotspots quickstart --force devon-and-cornwall --lad E06000027 --months 24"
    )
