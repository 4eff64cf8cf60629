"""Ctrl-C during `hotspots ingest archive`: one line saying it was interrupted and what the store
holds (the force-months published before it, named; the rest not stored; run it again), exit
130, and a store whose manifest names only whole, readable partitions. It ended with exit 130
and no word."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.store import CrimeStore
from tests.archive_fixtures import ArchiveBuilder, crime_line
from tests.fresh_process import HOTSPOTS

FORCES = 6
MONTHS = [f"{2010 + m // 12}-{m % 12 + 1:02d}" for m in range(120)]
ROWS = 1000  # a file: 720 files, some seconds of work, published 128 at a time


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive big enough that an ingest publishes several batches (pipelines/ingest/archive
    publishes every 128 partitions): 6 forces, 120 months, 1,000 rows a file."""
    builder = ArchiveBuilder(tmp_path_factory.mktemp("big") / "archive")
    for force in range(FORCES):
        for month in MONTHS:
            lines = [
                crime_line(
                    month,
                    crime_id=f"{force}-{month}-{row}",
                    longitude=f"-3.{500000 + row % 997}",
                    latitude=f"50.{460000 + row % 991}",
                )
                for row in range(ROWS)
            ]
            builder.write(f"force-{force}", month, lines)
    return builder.root


def _ingest(archive: Path, store: Path) -> subprocess.Popen:
    # A session of its own: Ctrl-C signals the whole foreground process group, the workers too.
    return subprocess.Popen(
        [HOTSPOTS, "ingest", "archive", str(archive), "--data-dir", str(store), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_ctrl_c_says_what_the_store_holds_and_leaves_it_whole(
    big_archive: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    manifest = store / "crimes" / "manifest.json"
    ingest = _ingest(big_archive, store)
    deadline = time.monotonic() + 120
    while not manifest.exists():  # the first batch is published: interrupt now, mid-ingest
        assert ingest.poll() is None and time.monotonic() < deadline, ingest.communicate()
        time.sleep(0.005)
    os.killpg(ingest.pid, signal.SIGINT)
    _, stderr = ingest.communicate(timeout=120)

    assert ingest.returncode == 130, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    said = re.fullmatch(
        r"error: interrupted: the ([\d,]+) force-months? stored before the interrupt are kept "
        r"\((force-\d) (\d{4}-\d\d) to (force-\d) (\d{4}-\d\d)\); the other ([\d,]+) files? were "
        r"not stored \(for those the store holds what it held before\); run the same command "
        r"again to finish",
        lines[0],
    )
    assert said, lines[0]
    kept, first_force, first_month, last_force, last_month, rest = said.groups()
    kept, rest = int(kept.replace(",", "")), int(rest.replace(",", ""))
    assert kept + rest == FORCES * len(MONTHS) and rest > 0

    # The manifest names exactly the force-months said, the listing's first ones, each whole.
    listing = [(f"force-{force}", month) for force in range(FORCES) for month in MONTHS]
    crimes = CrimeStore(store)
    assert crimes.partitions() == listing[:kept]
    assert (first_force, first_month) == listing[0]
    assert (last_force, last_month) == listing[kept - 1]
    for entry in json.loads(manifest.read_text())["partitions"]:
        table = pq.read_table(store / "crimes" / entry["file"])
        assert table.num_rows == ROWS
    assert crimes.read("force-0", MONTHS[0], MONTHS[0]).num_rows == ROWS

    # Run again, as the line says: the ingest finishes, every force-month stored.
    again = _ingest(big_archive, store)
    _, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr
    assert CrimeStore(store).partitions() == listing
