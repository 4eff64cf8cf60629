"""The command line as a user meets it: the real ``hotspots`` command and its error messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from pipelines.store import CrimeStore
from tests.archive_fixtures import ArchiveBuilder, crime_line

runner = CliRunner()


def _run(*args: str) -> subprocess.CompletedProcess:
    """The installed console script, as a user runs it."""
    command = [str(Path(sys.executable).with_name("hotspots")), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_console_script_ingests_and_reports(archive: ArchiveBuilder, data_dir: Path) -> None:
    archive.write("devon-and-cornwall", "2019-01", [crime_line("2019-01", crime_id="a")])
    archive.write("devon-and-cornwall", "2019-03", [crime_line("2019-03", crime_id="b")])
    env_store = {**os.environ, "HOTSPOTS_DATA_DIR": str(data_dir)}
    ingest = subprocess.run(
        [str(Path(sys.executable).with_name("hotspots")), "ingest", "archive", str(archive.root)],
        capture_output=True,
        text=True,
        check=False,
        env=env_store,
    )
    assert ingest.returncode == 0, ingest.stderr
    assert "2 rows read, 2 stored, 0 rejected" in ingest.stdout
    assert ("devon-and-cornwall", "2019-01") in CrimeStore(data_dir).partitions()

    coverage = _run("coverage", "--json", "--data-dir", str(data_dir))
    rows = json.loads(coverage.stdout)
    assert [(r["month"], r["status"], r["stored"]) for r in rows] == [
        ("2019-01", "stored", 1),
        ("2019-02", "missing", 0),
        ("2019-03", "stored", 1),
    ]
    assert {"force", "month", "stored", "no_location", "rejected", "source"} <= set(rows[0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "archive", "{tmp}/missing"], "does not exist"),
        (["ingest", "archive", "{tmp}/fake.zip"], "neither a folder nor a zip"),
        (
            ["ingest", "archive", "{archive}", "--from", "2019-13"],
            "--from must be a month written YYYY-MM",
        ),
        (
            ["ingest", "archive", "{archive}", "--from", "2019-05", "--to", "2019-01"],
            "is after --to",
        ),
        (
            ["ingest", "archive", "{archive}", "--from", "2024-01"],
            "no street-level files for months 2024-01",
        ),
        (["ingest", "archive", "{archive}", "--force", "kent"], "no files for force 'kent'"),
        (["export", "--force", "kent", "-o", "{tmp}/x.csv"], "holds no crimes for force 'kent'"),
        (
            ["export", "--force", "devon-and-cornwall", "-o", "{tmp}/x.xlsx"],
            "cannot tell the format",
        ),
        (["export", "--force", "devon-and-cornwall", "-o", "{tmp}/no/x.csv"], "does not exist"),
        (
            ["export", "--force", "devon-and-cornwall", "-o", "{tmp}/x.csv", "--from", "2025-01"],
            "stored months run 2019-01..2019-01",
        ),
        (["coverage", "--force", "kent"], "holds no force 'kent'"),
    ],
)
def test_bad_input_gets_one_line_error(
    args: list[str], message: str, archive: ArchiveBuilder, data_dir: Path, tmp_path: Path
) -> None:
    archive.write("devon-and-cornwall", "2019-01", [crime_line("2019-01", crime_id="a")])
    (tmp_path / "fake.zip").write_bytes(b"this is not a zip")
    seeded = runner.invoke(
        app, ["ingest", "archive", str(archive.root), "--data-dir", str(data_dir)]
    )
    assert seeded.exit_code == 0, seeded.output
    filled = [a.format(tmp=tmp_path, archive=archive.root) for a in args]

    result = runner.invoke(app, [*filled, "--data-dir", str(data_dir)])

    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error:")
    assert "Traceback" not in result.output


def test_bad_file_is_reported_and_exit_code_says_so(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    archive.write("devon-and-cornwall", "2019-01", [crime_line("2019-01", crime_id="a")])
    archive.write("devon-and-cornwall", "2019-02", ["garbage"], header="not,a,police,csv")
    result = runner.invoke(
        app, ["ingest", "archive", str(archive.root), "--data-dir", str(data_dir)]
    )

    assert result.exit_code == 1
    assert "wrong header" in result.stdout
    assert "1 file(s) could not be read" in result.stderr
    assert CrimeStore(data_dir).partitions() == [("devon-and-cornwall", "2019-01")]


def test_help_describes_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("ingest", "coverage", "export"):
        assert command in result.stdout
    ingest_help = runner.invoke(app, ["ingest", "archive", "--help"])
    # Plain click help may wrap the layout at a hyphen: compared without line breaks.
    assert "YYYY-MM/YYYY-MM-<force>-street.csv" in "".join(ingest_help.stdout.split())


def test_a_big_archive_is_reported_force_by_force(
    archive: ArchiveBuilder, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past PER_FILE_ROWS_UP_TO files the table has a row per force with its months and
    summed counts; refused files, rejected rows and warnings are still named."""
    import cli.ingest_archive_cmd as command

    monkeypatch.setattr(command, "PER_FILE_ROWS_UP_TO", 3)
    for month in ("2019-01", "2019-02", "2019-03"):
        archive.write(
            "devon-and-cornwall",
            month,
            [crime_line(month, crime_id="same"), crime_line(month, crime_id="same")],
        )
    archive.write("dorset", "2019-01", [crime_line("2019-01", crime_id="d"), crime_line("2019-02")])
    archive.write("dorset", "2019-02", ["garbage"], header="not,a,police,csv")
    result = runner.invoke(
        app,
        ["ingest", "archive", str(archive.root), "--data-dir", str(data_dir)],
        terminal_width=200,
    )

    assert result.exit_code == 1
    # Read across the layout print_table picks for the terminal (a table or column: value).
    text = " ".join(result.stdout.split())
    assert "2019-01..2019-03" in text and "2019-01..2019-02" in text
    assert "2 (1 refused)" in text and "month_mismatch 1" in text
    assert text.count("devon-and-cornwall") == 2  # its table row and its warnings line
    assert "devon-and-cornwall duplicate_crime_id: 3 row(s) kept, in 3 file(s)" in text
    assert "2019-02/2019-02-dorset-street.csv: wrong header" in text  # refused, by name
    assert "2019-01/2019-01-dorset-street.csv month_mismatch: Month='2019-02'" in text
    assert "8 rows read, 7 stored, 1 rejected." in text
