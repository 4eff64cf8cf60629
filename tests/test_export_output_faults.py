"""Faults writing a command's output, answered in one line (or, for a reader that stopped
early, not at all): a GeoJSON export onto a full disk, an export to standard output whose
temporary folder (TMPDIR) is full, and standard output closed before the command wrote it.

The full-disk tests use a real tiny tmpfs (root can mount one in the test sandbox; elsewhere
they skip). The GeoJSON fault is also injected at the write boundary (GDAL's error, which
carries no errno), so the message is covered where mounting is not allowed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pyogrio.errors import FeatureError
from typer.testing import CliRunner

import pipelines.export
from cli.main import app as cli
from tests.fresh_process import HOTSPOTS, PRINTING, hotspots_writing_to, printing_commands

FORCE = "devon-and-cornwall"


@contextmanager
def small_disk(where: Path, size: str = "200k") -> Iterator[Path]:
    where.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount here (needs root or CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _export(data_dir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [HOTSPOTS, "export", "--force", FORCE, "--from", "2020-12", *args]
    command += ["--data-dir", str(data_dir)]
    return subprocess.run(command, capture_output=True, text=True, check=False, env=env)


def _one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.stdout[:200], result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_geojson_export_onto_a_full_disk_is_one_line_and_no_file(
    quickstart_dir: Path, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        target = disk / "e.geojson"
        line = _one_line(_export(quickstart_dir, "--format", "geojson", "-o", str(target)))
        assert str(target) in line and "the disk is full" in line
        assert os.listdir(disk) == []  # neither the file nor its temporary


@pytest.mark.parametrize("file_format", ["csv", "geojson"])
def test_a_full_temporary_folder_is_named_with_what_to_do(
    quickstart_dir: Path, tmp_path: Path, file_format: str
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        env = {**os.environ, "TMPDIR": str(disk)}
        line = _one_line(_export(quickstart_dir, "--format", file_format, "-o", "-", env=env))
        assert "temporary folder" in line and str(disk) in line and "the disk is full" in line
        assert "TMPDIR" in line and "hotspots-export-" not in line
        assert os.listdir(disk) == []


def _failing_geojson(crimes: object, path: Path, layer: str) -> None:
    path.write_text('{"type": "FeatureCollection", "features": [')  # half a file
    raise FeatureError(f"Could not add feature to layer at index 7: {path}: Cannot write feature")


@pytest.mark.parametrize("free_bytes, expected", [(4096, "the disk is full"), (10**9, "")])
def test_a_gdal_write_fault_is_one_line_naming_the_file(
    quickstart_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    free_bytes: int,
    expected: str,
) -> None:
    """GDAL's FeatureError carries no errno: a nearly full disk under the file says so, any
    other cause is GDAL's reason, naming the -o file (not its temporary)."""
    monkeypatch.setattr(pipelines.export, "_write_geojson", _failing_geojson)
    real_statvfs = os.statvfs

    class Free:
        def __init__(self, path: str) -> None:
            self.f_frsize = real_statvfs(path).f_frsize
            self.f_bavail = free_bytes // self.f_frsize

    monkeypatch.setattr(os, "statvfs", Free)
    target = tmp_path / "out" / "e.geojson"
    target.parent.mkdir()
    args = ["export", "--force", FORCE, "--from", "2020-12", "-o", str(target)]
    result = CliRunner().invoke(cli, [*args, "--data-dir", str(quickstart_dir)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(target) in lines[0], result.output
    if expected:
        assert expected in lines[0]
    else:
        assert f"could not write {target}: Could not add feature" in lines[0]
        assert f"{target}: Cannot write feature" in lines[0]  # GDAL's temporary named as -o
    assert os.listdir(target.parent) == []


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("command", PRINTING)
def test_standard_output_closed_early_ends_quietly(
    quickstart_dir: Path, tmp_path: Path, command: str, buffered: bool
) -> None:
    """`hotspots ... | head -1`: the reader stopped early, which is no error: exit 0, nothing on
    stderr (no traceback, no "Wrote N crimes" claim)."""
    args = printing_commands(quickstart_dir, tmp_path / "hotspots.geojson")[command]
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the command writes a byte
    try:
        result = hotspots_writing_to(write, *args, buffered=buffered)
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("file_format", ["csv", "geojson"])
def test_an_export_whose_reader_takes_one_line_ends_quietly(
    quickstart_dir: Path, tmp_path: Path, file_format: str
) -> None:
    """`hotspots export -o - | head -1`: the reader goes in the middle of the copy (the export
    is megabytes, more than a pipe holds): exit 0, nothing on stderr."""
    command = [HOTSPOTS, "export", "-o", "-", "--format", file_format, "--force", FORCE]
    errors = tmp_path / "stderr"
    with errors.open("wb") as stderr:
        export = subprocess.Popen(
            [*command, "--data-dir", str(quickstart_dir)], stdout=subprocess.PIPE, stderr=stderr
        )
        assert export.stdout is not None
        first = export.stdout.readline()
        export.stdout.close()
        assert export.wait(timeout=120) == 0
    assert first.startswith(b'"crime_id",' if file_format == "csv" else b"{")
    assert errors.read_text() == ""
