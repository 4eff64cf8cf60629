"""Store snapshots (issue 10, finding 5): a manifest per version, swapped atomically; readers
pin one; the data version is the manifest's version; replaced files outlive their readers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from geo_service.app import create_app
from geo_service.settings import Settings
from pipelines.ingest.archive import ingest_archive
from pipelines.store import CrimeStore, SnapshotExpired, pinned_reads
from tests.archive_fixtures import ArchiveBuilder, crime_line
from tests.live_server import live_server
from tests.service_town import FORCE, HOT, MONTHS, WARDS, build_town, write_archive

MONTH = "2019-01"


def _month(archive: ArchiveBuilder, month: str, crimes: int) -> None:
    archive.write(FORCE, month, [crime_line(month, crime_id=f"{month}-{i}") for i in range(crimes)])


def test_a_pinned_snapshot_keeps_reading_its_own_files_after_an_ingest(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    _month(archive, MONTH, 3)
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root)
    pinned = store.snapshot()
    _month(archive, MONTH, 5)
    ingest_archive(store, archive.root)

    assert pinned.read(FORCE).num_rows == 3  # the old file is still on disk, still named
    assert store.read(FORCE).num_rows == 5
    assert store.version() != pinned.version
    assert pinned.coverage_of(FORCE, MONTH).stored == 3
    # The manifest names exactly the files of its version, and nothing was overwritten.
    manifest = json.loads((data_dir / "crimes" / "manifest.json").read_text())
    assert manifest["version"] == store.version()
    assert [p["file"] for p in manifest["partitions"]] == [
        f.removeprefix("crimes/") for f in store.snapshot().files()
    ]
    assert len(list((data_dir / "crimes" / FORCE).glob("*.parquet"))) == 2


def test_inside_pinned_reads_every_read_sees_one_version(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    _month(archive, MONTH, 3)
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root)
    with pinned_reads():
        before = store.version(), store.snapshot().version
        _month(archive, MONTH, 4)
        ingest_archive(store, archive.root)  # writers build on the newest version, not the pin
        assert store.snapshot().version == before[1]
        assert store.read(FORCE).num_rows == 3
        assert store.latest().read(FORCE).num_rows == 4
    assert store.read(FORCE).num_rows == 4


def test_replaced_files_are_collected_only_after_the_grace_period(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    _month(archive, MONTH, 3)
    store = CrimeStore(data_dir, grace_seconds=600)
    ingest_archive(store, archive.root)
    old = store.snapshot()
    _month(archive, MONTH, 6)
    ingest_archive(store, archive.root)

    assert store.collect_garbage() == []  # within the grace period: a reader may still pin it
    assert old.read(FORCE).num_rows == 3
    deleted = store.collect_garbage(now=time.time() + 3600)
    assert deleted == old.files()
    assert store.read(FORCE).num_rows == 6  # the current version is never collected
    with pytest.raises(SnapshotExpired, match="changed while this was being answered"):
        old.read(FORCE)
    manifest = json.loads((data_dir / "crimes" / "manifest.json").read_text())
    assert manifest["retired"] == {}


def test_the_same_rows_written_again_are_the_same_file_and_version(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    _month(archive, MONTH, 3)
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root)
    first = store.version()
    _month(archive, MONTH, 4)
    ingest_archive(store, archive.root)
    four_rows = store.snapshot().files()
    _month(archive, MONTH, 3)  # back to the first rows: the retired file is in use again
    ingest_archive(store, archive.root)
    assert store.version() == first
    assert store.collect_garbage(now=time.time() + 3600) == four_rows
    assert store.read(FORCE).num_rows == 3


def test_a_store_written_before_manifests_is_read_and_upgraded_on_the_next_write(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    for month in ("2019-01", "2019-02"):
        _month(archive, month, 2)
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root)
    # Rebuild the old layout: crimes/<force>/<YYYY-MM>.parquet and no manifest.
    snapshot = store.snapshot()
    for force, month in snapshot.partitions():
        path = snapshot.partition_path(force, month)
        path.rename(path.with_name(f"{month}.parquet"))
    (data_dir / "crimes" / "manifest.json").unlink()

    legacy = CrimeStore(data_dir)
    assert legacy.partitions() == [(FORCE, "2019-01"), (FORCE, "2019-02")]
    assert legacy.read(FORCE).num_rows == 4
    assert legacy.coverage_of(FORCE, "2019-02").stored == 2

    _month(archive, "2019-02", 5)
    ingest_archive(legacy, archive.root, first="2019-02", last="2019-02")
    manifest = json.loads((data_dir / "crimes" / "manifest.json").read_text())
    files = {p["month"]: p["file"] for p in manifest["partitions"]}
    assert files["2019-01"] == f"{FORCE}/2019-01.parquet"  # kept, now named by the manifest
    assert files["2019-02"] != f"{FORCE}/2019-02.parquet"
    assert legacy.read(FORCE).num_rows == 7
    assert legacy.coverage_of(FORCE, "2019-01").stored == 2


# -- readers during alternating ingests, over HTTP --------------------------------------------


def _variant_b(root: Path) -> ArchiveBuilder:
    """The town with 5 more burglaries on the busy street in every month: 780 crimes, not 720."""
    archive = write_archive(root)
    for month in MONTHS:
        path = archive.root / month / f"{month}-{FORCE}-street.csv"
        extra = [
            crime_line(
                month,
                crime_id=f"{month}-more-{i}",
                longitude=f"{HOT[0]:.6f}",
                latitude=f"{HOT[1]:.6f}",
            )
            for i in range(5)
        ]
        path.write_text(path.read_text() + "\n".join(extra) + "\n")
    return archive


_ALTERNATE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pipelines.ingest.archive import ingest_archive
    from pipelines.store import CrimeStore
    store, stop = CrimeStore(sys.argv[1]), Path(sys.argv[4])
    round = 0
    while not stop.exists():
        ingest_archive(store, Path(sys.argv[2 + round % 2]))
        round += 1
        time.sleep(0.1)
    print(round)
    """
)


def test_readers_under_alternating_ingests_never_fail_or_mix_versions(tmp_path: Path) -> None:
    data_dir, archive_a = build_town(tmp_path)
    archive_b = _variant_b(tmp_path / "archive-b").root
    store = CrimeStore(data_dir)
    params = {"boundaries": WARDS, "permutations": 99}

    def quiet_total() -> int:
        # The answer's total with no ingest running: what every answer of this version must say.
        with TestClient(create_app(Settings(data_dir=data_dir))) as client:
            response = client.get("/v1/hotspots", params=params)
            assert response.status_code == 200, response.text
            return sum(cell["count"] for cell in response.json()["cells"])

    totals = {store.version(): quiet_total()}
    ingest_archive(store, archive_b)
    totals[store.version()] = quiet_total()
    ingest_archive(store, archive_a)
    assert store.version() in totals and len(totals) == 2
    assert len(set(totals.values())) == 2, "the two versions must be told apart by their totals"

    answers: list[tuple[int, str | None, int | None]] = []
    enough = threading.Event()

    def read(base: str, params: dict) -> None:
        with httpx.Client(base_url=base, timeout=120) as client:
            while not enough.is_set():
                # A new seed each time: every request is a new study, not a cached answer.
                response = client.get("/v1/hotspots", params={**params, "seed": len(answers)})
                body = response.json()
                ok = response.status_code == 200
                total = sum(cell["count"] for cell in body["cells"]) if ok else None
                version = body["provenance"]["data_version"] if ok else None
                answers.append((response.status_code, version, total))
                seen = {v for _, v, _ in answers}
                if (len(seen) >= 2 and len(answers) >= 8) or len(answers) >= 200 or not ok:
                    enough.set()

    stop_file = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", _ALTERNATE, *map(str, (data_dir, archive_b, archive_a, stop_file))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with live_server(Settings(data_dir=data_dir)) as base:
            readers = [threading.Thread(target=read, args=(base, params)) for _ in range(2)]
            for reader in readers:
                reader.start()
            for reader in readers:
                reader.join()
    finally:
        stop_file.touch()
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert int(out) >= 2, "the writer should have swapped versions during the reads"
    assert all(status == 200 for status, _, _ in answers), answers
    for _, version, total in answers:
        assert total == totals[version.split(".")[0]], (version, total)  # one version's rows
    assert len({v for _, v, _ in answers}) == 2, "both versions should have been answered"


def test_the_manifest_is_valid_json_at_every_moment_of_an_ingest(
    archive: ArchiveBuilder, data_dir: Path
) -> None:
    # A swap is a rename: a reader polling the manifest never sees half of one.
    for month in MONTHS[:4]:
        _month(archive, month, 50)
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root)
    manifest = data_dir / "crimes" / "manifest.json"
    seen, broken = set(), []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            try:
                seen.add(json.loads(manifest.read_text())["version"])
            except json.JSONDecodeError as error:
                broken.append(error)

    poller = threading.Thread(target=poll)
    poller.start()
    for crimes in (51, 52, 53):
        for month in MONTHS[:4]:
            _month(archive, month, crimes)
        ingest_archive(store, archive.root)
    done.set()
    poller.join()
    assert not broken
    assert len(seen) >= 2  # it saw swaps happen, and every one whole
    for force, month in store.partitions():
        assert pq.read_table(store.partition_path(force, month)).num_rows == 53
