"""Faults answered in words (issue 10, finding 7): a read-only store, a full disk and a damaged
partition give the CLI one line and HTTP a 503 with a message, never a traceback, a 500 or the
server's path; /health says "degraded" and names the damaged file.

The read-only and full-disk tests use real faults: a read-only bind mount and a tiny tmpfs
(they need the right to mount, which root has in the test sandbox; elsewhere they skip). One
test injects the disk-full error at the lowest write layer, so the path is covered everywhere.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from boundaries.store import BoundaryStore
from geo_service.settings import Settings
from pipelines.ingest.archive import ingest_archive
from pipelines.store import CrimeStore, StoreWriteError
from pipelines.store.locks import manifest_lock
from tests.archive_fixtures import ArchiveBuilder, crime_line
from tests.live_server import live_server
from tests.service_town import FORCE, KEY, WARDS, X0, Y0, build_town, square_feature
from tests.store_copy import copy_store

HOTSPOTS = str(Path(sys.executable).with_name("hotspots"))


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount here (needs root or CAP_SYS_ADMIN): {result.stderr.strip()}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False)


@contextmanager
def read_only_view(source: Path, where: Path) -> Iterator[Path]:
    """``source`` seen read-only at ``where`` (a read-only bind mount: root cannot write it)."""
    where.mkdir(parents=True)
    _mount("--bind", str(source), str(where))
    try:
        _mount("-o", "remount,ro,bind", str(where))
        yield where
    finally:
        _umount(where)


@contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    try:
        yield where
    finally:
        _umount(where)


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([HOTSPOTS, *args], capture_output=True, text=True, check=False, cwd=cwd)


def _one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _custom_set(name: str = "centre") -> dict:
    return {
        "name": name,
        "scheme": "custom",
        "vintage": "2024",
        "geojson": {
            "type": "FeatureCollection",
            "features": [square_feature("centre", "Town centre", X0 + 0.01, Y0 + 0.005)],
        },
    }


# -- read-only store ---------------------------------------------------------------------------


def test_a_read_only_store_serves_reads_and_refuses_writes_with_503(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path / "town")
    with read_only_view(data_dir, tmp_path / "ro") as ro:
        with (
            live_server(Settings(data_dir=ro)) as base,
            httpx.Client(base_url=base, timeout=120) as api,
        ):
            read = api.get("/v1/hotspots", params={"boundaries": WARDS, "permutations": 99})
            assert read.status_code == 200, read.text

            key = {"X-API-Key": KEY}
            created = api.post("/v1/boundaries", json=_custom_set(), headers=key)
            assert created.status_code == 503, created.text
            assert "read-only" in created.json()["error"]
            assert str(tmp_path) not in created.text
            assert created.headers["retry-after"]

            deleted = api.delete(f"/v1/boundaries/{WARDS}", headers=key)
            assert deleted.status_code == 503, deleted.text
            assert "read-only" in deleted.json()["error"] and str(tmp_path) not in deleted.text
        assert BoundaryStore(ro).names() == [WARDS]


def test_a_read_only_store_gives_the_cli_one_line(tmp_path: Path) -> None:
    data_dir, archive = build_town(tmp_path / "town")
    # A new month, so the ingest has something to write.
    ArchiveBuilder(archive).write(FORCE, "2020-01", [crime_line("2020-01", crime_id="new")])
    geojson = tmp_path / "centre.geojson"
    geojson.write_text(json.dumps(_custom_set()["geojson"]))
    with read_only_view(data_dir, tmp_path / "ro") as ro:
        # The data folder given relative to the working folder: the line names it absolutely
        # (it used to name the file relative to the data folder, "boundaries/centre.parquet"),
        # so the person at the terminal can find it; the service never shows the server's path.
        line = _one_line(_cli("ingest", "archive", str(archive), "--data-dir", "ro", cwd=tmp_path))
        assert "the data folder is read-only" in line and f"cannot write {ro}/" in line
        load = ["boundaries", "load", str(geojson), "--name", "centre", "--scheme", "custom"]
        load += ["--vintage", "2024"]
        line = _one_line(_cli(*load, "--data-dir", "ro", cwd=tmp_path))
        assert line == (
            f"error: cannot write {ro}/boundaries/centre.parquet: the data folder is read-only"
        )
        # An -o file in a read-only folder names that folder absolutely too.
        args = ["allocate", "--boundaries", WARDS, "--units", "3", "-o", "ro/shares.json"]
        result = _cli(*args, "--data-dir", str(data_dir), cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert f"cannot write ro/shares.json: its folder {ro} is read-only" in result.stderr
        # A store fault, exit 1 as for the other commands (update ended 2, as for bad input).
        update = ["update", "--archive", str(archive), "--data-dir", "ro"]
        line = _one_line(_cli(*update, cwd=tmp_path))
        assert f"cannot write {ro}/" in line and "the data folder is read-only" in line
        # The store's locks, whose folder exists already: in words too (it was a traceback).
        with pytest.raises(StoreWriteError) as raised, manifest_lock(ro):
            pass
        said = "cannot write .locks/manifest.lock: the data folder is read-only"
        assert str(raised.value) == said  # what the service shows: no server path
        assert raised.value.in_full == (
            f"cannot write {ro}/.locks/manifest.lock: the data folder is read-only"
        )
        assert CrimeStore(ro).partitions()[-1] == (FORCE, "2019-12")  # nothing half-written


# -- full disk ---------------------------------------------------------------------------------


def test_a_full_disk_gives_the_cli_one_line_and_keeps_the_store(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "400k") as disk:
        data_dir = disk / "store"
        archive = ArchiveBuilder(tmp_path / "archive")
        archive.write(FORCE, "2019-01", [crime_line("2019-01", crime_id="first")])
        ingest_archive(CrimeStore(data_dir), archive.root)
        before = CrimeStore(data_dir).version()
        # Fill the disk, then ask for a bigger month.
        filler = disk / "filler"
        with open(filler, "wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
            except OSError as error:
                assert error.errno == errno.ENOSPC
        lines = [
            crime_line("2019-01", crime_id=f"c{i}", longitude=f"-3.{i:06d}") for i in range(20000)
        ]
        archive.write(FORCE, "2019-01", lines)
        line = _one_line(_cli("ingest", "archive", str(archive.root), "--data-dir", str(data_dir)))
        # The file named by its absolute path, on the command line only (the 503 below does not).
        assert "the disk is full" in line and f"cannot write {data_dir}/crimes/{FORCE}/" in line
        store = CrimeStore(data_dir)
        assert store.version() == before
        assert store.read_partition(FORCE, "2019-01")["crime_id"].to_pylist() == ["first"]


def test_a_full_disk_on_a_boundary_post_is_a_503(tmp_path: Path) -> None:
    data_dir, _ = build_town(tmp_path / "town")
    with small_disk(tmp_path / "disk", "2m") as disk:
        copy_store(data_dir, disk / "store")
        (disk / "filler").write_bytes(b"")
        with open(disk / "filler", "wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
            except OSError:
                pass
        with (
            live_server(Settings(data_dir=disk / "store")) as base,
            httpx.Client(base_url=base, timeout=60) as api,
        ):
            created = api.post("/v1/boundaries", json=_custom_set(), headers={"X-API-Key": KEY})
            assert created.status_code == 503, created.text
            assert "the disk is full" in created.json()["error"]
            assert str(tmp_path) not in created.text


def test_disk_full_at_the_lowest_write_layer_is_a_store_write_error(
    archive: ArchiveBuilder, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same fault injected (runs everywhere, mount rights or not): os.replace is the last step
    # of every write, partitions and manifest alike.
    archive.write(FORCE, "2019-01", [crime_line("2019-01", crime_id="first")])
    store = CrimeStore(data_dir)
    ingest_archive(store, archive.root)
    before = store.version()

    def no_space(*_: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("pipelines.store.atomic.os.replace", no_space)
    archive.write(FORCE, "2019-01", [crime_line("2019-01", crime_id="second")])
    with pytest.raises(StoreWriteError, match="the disk is full"):
        ingest_archive(store, archive.root)
    monkeypatch.undo()
    assert store.version() == before
    assert store.read(FORCE)["crime_id"].to_pylist() == ["first"]


# -- damaged partitions ------------------------------------------------------------------------


def _damage(data_dir: Path, truncate: bool) -> str:
    store = CrimeStore(data_dir)
    force, month = store.partitions()[3]
    path = store.partition_path(force, month)
    content = path.read_bytes()
    if truncate:
        path.write_bytes(content[: len(content) // 2])
    else:  # same size, scrambled footer
        path.write_bytes(content[:-64] + b"\xff" * 56 + content[-8:])
    return str(path.relative_to(data_dir))


@pytest.mark.parametrize("truncate", [True, False], ids=["truncated", "scrambled"])
def test_a_damaged_partition_is_named_by_the_cli_http_and_health(
    tmp_path: Path, truncate: bool
) -> None:
    data_dir, _ = build_town(tmp_path)
    damaged = _damage(data_dir, truncate)

    out = tmp_path / "out.csv"
    analyse = ["analyse", "--boundaries", WARDS, "-o", str(out), "--permutations", "99"]
    line = _one_line(_cli(*analyse, "--data-dir", str(data_dir)))
    assert damaged in line and str(tmp_path) not in line
    assert "re-ingest" in line

    with live_server(Settings(data_dir=data_dir)) as base, httpx.Client(base_url=base) as api:
        if truncate:  # a size check finds it before any read
            health = api.get("/health").json()
            assert health["status"] == "degraded"
            assert [p["file"] for p in health["store"]["problems"]] == [damaged]
        answer = api.get(
            "/v1/hotspots", params={"boundaries": WARDS, "permutations": 99}, timeout=120
        )
        assert answer.status_code == 503, answer.text
        assert damaged in answer.json()["error"] and str(tmp_path) not in answer.text
        health = api.get("/health").json()  # a failed read is remembered too
        assert health["status"] == "degraded"
        assert [p["file"] for p in health["store"]["problems"]] == [damaged]


def test_a_damaged_manifest_ends_every_command_alike(tmp_path: Path) -> None:
    """A store fault ends each command with one line and exit 1: coverage ended with exit 2,
    as for bad input, where export, allocate and update said the same line with exit 1."""
    data_dir, archive = build_town(tmp_path / "town")
    (data_dir / "crimes" / "manifest.json").write_text("{bad", encoding="utf-8")
    store = ["--data-dir", str(data_dir)]
    commands = {
        "coverage": ["coverage"],
        "export": ["export", "--force", FORCE, "-o", str(tmp_path / "crimes.csv")],
        "allocate": ["allocate", "--boundaries", WARDS, "--units", "3"],
        "update": ["update", "--archive", str(archive)],
    }
    for name, args in commands.items():
        line = _one_line(_cli(*args, *store))
        assert "manifest crimes/manifest.json is unreadable" in line, name
