"""A data folder that does not exist (a mistyped --data-dir or $HOTSPOTS_DATA_DIR) is named as
such, in one line, by every command that reads the store, and no folder is made; the commands
that load data (ingest, boundaries load) still make it; `hotspots serve` warns and serves an
empty store there, as before."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from pipelines.store import CrimeStore
from tests.archive_fixtures import ArchiveBuilder, crime_line
from tests.fresh_process import HOTSPOTS
from tests.test_boundaries_core import grid, write

runner = CliRunner()

HOW_TO_FIX = (
    "; give your store's folder with --data-dir or $HOTSPOTS_DATA_DIR, or make one by loading "
    "data (`hotspots boundaries load`, `hotspots ingest archive`)"
)

_WINDOWS = ["--buffer-m", "200", "--before", "2019-01:2019-06", "--after", "2019-07:2019-12"]
# Every command that takes --data-dir and reads what is stored there, with what it needs to
# get that far (the names of sets and forces do not matter: the folder is checked first).
READERS = {
    "coverage": ["coverage"],
    "export": ["export", "--force", "kent", "-o", "{out}/crimes.csv"],
    "analyse": ["analyse", "--boundaries", "x", "-o", "{out}/study.json"],
    "precompute": ["precompute"],
    "update": ["update"],
    "allocate": ["allocate", "--boundaries", "x", "--units", "5"],
    "compare": ["compare", "--boundaries", "x,y"],
    "displacement": ["displacement", "--target", "x:A", "--control", "x:B", *_WINDOWS],
    "backtest": ["backtest", "--boundaries", "x", "--to", "2020-01"],
    "boundaries list": ["boundaries", "list"],
    "boundaries areas": ["boundaries", "areas", "x"],
    "boundaries counts": ["boundaries", "counts", "x"],
    "boundaries cluster": ["boundaries", "cluster", "{out}/map.csv", "--wards", "x", "--name", "y"],
    "boundaries cover": ["boundaries", "cover", "x"],
    "boundaries population": ["boundaries", "population", "x", "--population", "{out}/p.csv"],
    "boundaries routes": ["boundaries", "routes", "x", "--lookup", "{out}/lookup.csv"],
}


def _args(command: str, out: Path) -> list[str]:
    return [arg.replace("{out}", str(out)) for arg in READERS[command]]


def _one_line(result) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    said = result.stderr.strip()
    assert "\n" not in said and "Traceback" not in said, said
    return said


@pytest.mark.parametrize("command", sorted(READERS))
def test_a_missing_data_folder_is_named_and_not_made(tmp_path: Path, command: str) -> None:
    """`analyse --data-dir /nope --boundaries x` said "no boundary set named 'x' (sets: none
    yet)", coverage "the store at /nope is empty", update, precompute and coverage made the
    folder (a cache, a record of the update) as they said so."""
    missing = tmp_path / "nope"
    said = _one_line(runner.invoke(app, [*_args(command, tmp_path), "--data-dir", str(missing)]))
    assert said == (
        f"error: the data folder {missing} (from --data-dir) does not exist{HOW_TO_FIX}"
    )
    assert not missing.exists()


def test_the_folder_is_named_as_the_user_spelled_it_absolute_and_by_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative path is named absolute; $HOTSPOTS_DATA_DIR and the default ./data are named
    as the source, so the person knows what to change."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "here").mkdir()
    relative = runner.invoke(app, ["coverage", "--data-dir", "here/../gone"])
    assert _one_line(relative).startswith(
        f"error: the data folder {tmp_path}/gone (from --data-dir) does not exist; "
    )
    monkeypatch.setenv("HOTSPOTS_DATA_DIR", str(tmp_path / "typo"))
    from_env = runner.invoke(app, ["boundaries", "list"])
    assert _one_line(from_env).startswith(
        f"error: the data folder {tmp_path}/typo (from $HOTSPOTS_DATA_DIR) does not exist; "
    )
    monkeypatch.delenv("HOTSPOTS_DATA_DIR")
    default = runner.invoke(app, ["coverage"])
    assert _one_line(default).startswith(
        f"error: the data folder {tmp_path}/data (the default: no --data-dir, no "
        "$HOTSPOTS_DATA_DIR) does not exist; "
    )
    assert sorted(os.listdir(tmp_path)) == ["here"]


def test_a_file_given_as_the_data_folder_is_named_as_no_folder(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a store\n")
    said = _one_line(runner.invoke(app, ["coverage", "--data-dir", str(notes)]))
    assert said == f"error: the data folder {notes} (from --data-dir) is not a folder{HOW_TO_FIX}"
    assert notes.read_text() == "not a store\n"


def test_a_real_process_says_it_in_one_line(tmp_path: Path) -> None:
    """The console script, as a user runs it: the line, exit 2, nothing made."""
    missing = tmp_path / "nope"
    args = ["analyse", "--boundaries", "x", "-o", str(tmp_path / "s.json")]
    done = subprocess.run(
        [HOTSPOTS, *args, "--data-dir", str(missing)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: the data folder {missing} (from --data-dir) does not exist{HOW_TO_FIX}"
    )
    assert done.stdout == "" and not missing.exists()


def test_the_commands_that_load_data_still_make_the_folder(
    tmp_path: Path, archive: ArchiveBuilder
) -> None:
    """ingest archive and boundaries load (and custom, fetch) start a store where none is."""
    archive.write("devon-and-cornwall", "2019-01", [crime_line("2019-01", crime_id="a")])
    crimes = tmp_path / "crimes-first"
    ingested = runner.invoke(
        app, ["ingest", "archive", str(archive.root), "--data-dir", str(crimes), "-q"]
    )
    assert ingested.exit_code == 0, ingested.output
    assert CrimeStore(crimes).partitions() == [("devon-and-cornwall", "2019-01")]

    wards = write(grid(), tmp_path / "wards.geojson")
    sets_first = tmp_path / "sets-first"
    load = ["boundaries", "load", str(wards), "--name", "grid", "--scheme", "ward"]
    loaded = runner.invoke(app, [*load, "--data-dir", str(sets_first)])
    assert loaded.exit_code == 0, loaded.output
    listed = runner.invoke(app, ["boundaries", "list", "--data-dir", str(sets_first)])
    assert listed.exit_code == 0 and "grid" in listed.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_warns_of_a_missing_folder_and_serves_an_empty_store(tmp_path: Path) -> None:
    """The service makes the folder and serves an empty store (boundary sets can be added
    through its API), as before; it now says so on stderr, naming the folder, instead of
    serving a mistyped path's empty store without a word."""
    missing = tmp_path / "nope"
    server = subprocess.Popen(
        [HOTSPOTS, "serve", "--port", str(_free_port()), "--data-dir", str(missing)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not missing.is_dir() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.05)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert missing.is_dir()
    assert stderr.splitlines()[0] == (
        f"warning: the data folder {missing} (from --data-dir) does not exist: serving an "
        "empty store, made there now; give your store's folder with --data-dir or "
        "$HOTSPOTS_DATA_DIR"
    )
