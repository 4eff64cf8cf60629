"""``hotspots update`` by the archive route: two snapshots of the real Devon and Cornwall archive.

The first snapshot (a folder, January to March 2020) is ingested; the second (a zip, as
data.police.uk hands it out) adds April and republishes February with crimes added, removed
and re-categorised. The update must load exactly those two months, say so, and a running
service must move its default views while a pinned window keeps its answer. Damaged archives
(a zip cut short, a CSV cut short) are refused and leave the store as it was.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from boundaries.sets import load_boundary_file
from boundaries.store import BoundaryStore
from cli.main import app
from geo_service.settings import Settings
from pipelines.ingest.archive import ingest_archive
from pipelines.ingest.update import UpdateError, update_store
from pipelines.store import CrimeStore
from tests.archive_fixtures import ArchiveBuilder, crime_line
from tests.live_server import live_client

runner = CliRunner()
FORCE = "devon-and-cornwall"
WARDS = "torbay-wards-2019"
FIRST = ["2020-01", "2020-02", "2020-03"]
NEW_MONTH, REVISED_MONTH = "2020-04", "2020-02"
REMOVED, RECATEGORISED, ADDED = 50, 40, 25
PINNED = {"boundaries": WARDS, "from": "2020-01", "to": "2020-01", "top": "10"}
DEFAULT = {"boundaries": WARDS, "top": "10"}


def _name(month: str) -> str:
    return f"{month}/{month}-{FORCE}-street.csv"


def _revised_csv(original: Path) -> bytes:
    """February republished: Torbay crimes removed, re-categorised and added (unique IDs only,
    so every change is countable by crime ID)."""
    with open(original, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0])
    ids = Counter(row["Crime ID"] for row in rows)
    torbay = [
        i
        for i, row in enumerate(rows)
        if row["Crime ID"] and ids[row["Crime ID"]] == 1 and row["LSOA name"].startswith("Torbay")
    ]
    removed = set(torbay[:REMOVED])
    recategorised = set(torbay[REMOVED : REMOVED + RECATEGORISED])
    out = []
    for i, row in enumerate(rows):
        if i in removed:
            continue
        if i in recategorised:
            row = {**row, "Crime type": "Drugs" if row["Crime type"] != "Drugs" else "Burglary"}
        out.append(row)
    for n, i in enumerate(torbay[-ADDED:]):
        out.append({**rows[i], "Crime ID": f"new{n:060d}", "Crime type": "Shoplifting"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(out)
    return buffer.getvalue().encode()


@dataclass
class Snapshots:
    first: Path  # folder
    second: Path  # zip


@pytest.fixture(scope="module")
def snapshots(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Snapshots:
    source = shared_data / "police_uk" / "archive" / FORCE
    root = tmp_path_factory.mktemp("snapshots")
    first = root / "2020-03-archive"
    for month in FIRST:
        (first / month).mkdir(parents=True)
        shutil.copy(source / _name(month), first / _name(month))
    second = root / "2020-04-archive.zip"
    with zipfile.ZipFile(second, "w", zipfile.ZIP_DEFLATED) as archive:
        for month in [*FIRST, NEW_MONTH]:
            if month == REVISED_MONTH:
                archive.writestr(_name(month), _revised_csv(source / _name(month)))
            else:
                archive.write(source / _name(month), _name(month))
    return Snapshots(first, second)


@dataclass
class Scenario:
    data_dir: Path
    client: httpx.Client
    before: dict
    report: dict
    again: dict


def _cli(*args: str) -> object:
    return runner.invoke(app, list(args))


def _observe(client: httpx.Client) -> dict:
    observed = {}
    for name, path, params in (
        ("default", "/v1/hotspots", DEFAULT),
        ("pinned", "/v1/hotspots", PINNED),
        ("coverage", "/v1/coverage", {"force": FORCE}),
    ):
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        observed[name] = response.json()
    return observed


def _ingest_first(data_dir: Path, snapshots: Snapshots, shared_data: Path) -> None:
    wards_file = shared_data / "boundaries" / "wards_2019" / "E06000027.geojson"
    BoundaryStore(data_dir).save(load_boundary_file(wards_file, WARDS, "ward", vintage="2019"))
    result = _cli("ingest", "archive", str(snapshots.first), "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def scenario(
    snapshots: Snapshots, shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scenario]:
    data_dir = tmp_path_factory.mktemp("update-archive") / "store"
    _ingest_first(data_dir, snapshots, shared_data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOTSPOTS_PRECOMPUTE", "0")
        with live_client(Settings(data_dir=data_dir)) as client:
            before = _observe(client)
            args = ["update", "--json", "--archive", str(snapshots.second)]
            result = _cli(*args, "--data-dir", str(data_dir))
            assert result.exit_code == 0, result.output
            again = _cli(*args, "--data-dir", str(data_dir))
            assert again.exit_code == 0, again.output
            yield Scenario(
                data_dir, client, before, json.loads(result.stdout), json.loads(again.stdout)
            )


def test_archive_update_loads_exactly_the_new_and_the_revised_month(scenario: Scenario) -> None:
    statuses = {m["month"]: m["status"] for m in scenario.report["months"]}
    assert statuses == {
        "2020-01": "unchanged",
        REVISED_MONTH: "revised",
        "2020-03": "unchanged",
        NEW_MONTH: "added",
    }
    revised = next(m for m in scenario.report["months"] if m["month"] == REVISED_MONTH)
    assert (revised["added"], revised["removed"], revised["changed"]) == (
        ADDED,
        REMOVED,
        RECATEGORISED,
    )
    assert revised["changed_fields"] == {"category": RECATEGORISED}
    store = CrimeStore(scenario.data_dir)
    assert [m for _, m in store.partitions(FORCE)] == [*FIRST, NEW_MONTH]


def test_archive_update_is_idempotent(scenario: Scenario) -> None:
    assert {m["status"] for m in scenario.again["months"]} == {"unchanged"}
    store = CrimeStore(scenario.data_dir)
    assert len(store.coverage_of(FORCE, REVISED_MONTH).revisions) == 1


def test_service_follows_the_archive_update(scenario: Scenario) -> None:
    after = _observe(scenario.client)
    before = scenario.before
    assert before["default"]["provenance"]["window"]["last"] == "2020-03"
    assert after["default"]["provenance"]["window"]["last"] == NEW_MONTH
    assert after["pinned"]["cells"] == before["pinned"]["cells"]
    (force,) = after["coverage"]["forces"]
    months = {m["month"]: m for m in force["months"]}
    (revision,) = months[REVISED_MONTH]["revisions"]
    assert (revision["added"], revision["removed"], revision["changed"]) == (
        ADDED,
        REMOVED,
        RECATEGORISED,
    )


def test_coverage_command_shows_revisions(scenario: Scenario) -> None:
    result = _cli("coverage", "--json", "--data-dir", str(scenario.data_dir))
    assert result.exit_code == 0, result.output
    rows = {row["month"]: row for row in json.loads(result.stdout)}
    assert rows[REVISED_MONTH]["revisions"][0]["removed"] == REMOVED
    table = _cli("coverage", "--data-dir", str(scenario.data_dir))
    assert "revised" in table.output


# -- damaged archives ------------------------------------------------------------------------------


def _snapshot(data_dir: Path) -> dict[str, int]:
    crimes = data_dir / "crimes"
    return {str(p.relative_to(crimes)): p.stat().st_mtime_ns for p in crimes.rglob("*.parquet")}


def _error(result: object) -> str:
    assert result.exit_code != 0, result.output  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert stderr.startswith("error:") and "Traceback" not in stderr, stderr
    return " ".join(stderr.split())


@pytest.fixture
def first_store(snapshots: Snapshots, shared_data: Path, tmp_path: Path) -> Path:
    data_dir = tmp_path / "store"
    _ingest_first(data_dir, snapshots, shared_data)
    return data_dir


def test_truncated_zip_is_refused_and_changes_nothing(
    first_store: Path, snapshots: Snapshots, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.zip"
    data = snapshots.second.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    before = _snapshot(first_store)
    message = _error(_cli("update", "--archive", str(cut), "--data-dir", str(first_store)))
    assert "cut short" in message or "damaged" in message, message
    assert "nothing was changed" in message.lower()
    assert _snapshot(first_store) == before


def test_csv_cut_short_is_refused_and_changes_nothing(
    first_store: Path, snapshots: Snapshots, tmp_path: Path
) -> None:
    folder = tmp_path / "cut-archive"
    shutil.copytree(snapshots.first, folder)
    path = folder / _name("2020-03")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    before = _snapshot(first_store)
    message = _error(_cli("update", "--archive", str(folder), "--data-dir", str(first_store)))
    assert "2020-03 would lose" in message and "Nothing was changed" in message
    assert _snapshot(first_store) == before


def test_dry_run_on_the_recorded_archive_writes_nothing(
    first_store: Path, snapshots: Snapshots
) -> None:
    """With no --archive, the archive the force was loaded from is read again."""
    (snapshots.first / NEW_MONTH).mkdir(exist_ok=True)
    new_file = snapshots.first / _name(NEW_MONTH)
    with zipfile.ZipFile(snapshots.second) as archive:
        new_file.write_bytes(archive.read(_name(NEW_MONTH)))
    try:
        before = _snapshot(first_store)
        result = _cli("update", "--dry-run", "--json", "--data-dir", str(first_store))
        assert result.exit_code == 0, result.output
        months = {m["month"]: m["status"] for m in json.loads(result.stdout)["months"]}
        assert months == {m: "unchanged" for m in FIRST} | {NEW_MONTH: "added"}
        assert _snapshot(first_store) == before
    finally:
        shutil.rmtree(snapshots.first / NEW_MONTH)


def test_an_ingest_during_the_update_is_never_lost(archive: ArchiveBuilder, tmp_path: Path) -> None:
    """Another ingest replaces a month between the update's compare and its swap: the update
    publishes nothing (it would drop that ingest's rows) and says to run it again."""
    store = CrimeStore(tmp_path / "store")
    archive.write("kent", "2020-01", [crime_line("2020-01", "a"), crime_line("2020-01", "b")])
    ingest_archive(store, archive.root)
    archive.write("kent", "2020-01", [crime_line("2020-01", "a")])  # republished: b removed
    other = ArchiveBuilder(tmp_path / "other")
    other.write("kent", "2020-01", [crime_line("2020-01", "c", category="Drugs")])

    def meanwhile(message: str) -> None:
        if "reading" in message:
            ingest_archive(store, other.root)  # lands after the update read the month

    with pytest.raises(UpdateError, match="changed while the update ran"):
        update_store(
            store, base_url="http://127.0.0.1:9/api", progress=meanwhile, max_removed_share=1.0
        )
    table = store.read_partition("kent", "2020-01")
    assert table["crime_id"].to_pylist() == ["c"]  # the other ingest's month, untouched
