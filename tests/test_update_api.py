"""``hotspots update`` against the fake police.uk on 127.0.0.1, with a service running throughout.

Torbay's real 2020 crimes (from the shared Devon and Cornwall archive, served as API objects)
are ingested for January to June through the API route; then the fake publishes July and
republishes April with crimes added, removed and re-categorised. The update must load exactly
those two months, say so, and the running service's default views must move to the new data
without a restart while a pinned window's answer stays as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import httpx
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from boundaries.sets import load_boundary_file
from boundaries.store import BoundaryStore
from cli.main import app
from geo_service.settings import Settings
from pipelines.store import CrimeStore
from tests.fake_police_api import FakePoliceApi, crime_object, crimes_from_archive
from tests.live_server import live_client
from tests.store_copy import copy_store

runner = CliRunner()
FORCE = "devon-and-cornwall"
WARDS = "torbay-wards-2019"
LOADED = ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05", "2020-06"]
NEW_MONTH, REVISED_MONTH = "2020-07", "2020-04"
REMOVED, RECATEGORISED, ADDED = 30, 20, 15
PINNED = {"boundaries": WARDS, "from": "2020-01", "to": "2020-03", "top": "10"}
DEFAULT = {"boundaries": WARDS, "top": "10"}
FAST_RETRIES = {"HOTSPOTS_API_ATTEMPTS": "2", "HOTSPOTS_API_BACKOFF": "0.01"}


@dataclass
class Scenario:
    data_dir: Path
    fake: FakePoliceApi
    client: httpx.Client
    before: dict
    update_output: str
    report: dict
    served: list[tuple[int, str | None]]  # answers given while the update ran
    published: dict[str, list[dict]]  # what the fake offers once the update ran, by month
    no_location: dict[str, list[dict]]


@contextmanager
def _requests_meanwhile(settings: Settings) -> Iterator[list[tuple[int, str | None]]]:
    """Ask a second live server for the default list, over and over, while the block runs."""
    served: list[tuple[int, str | None]] = []
    done = threading.Event()
    params = {**DEFAULT, "permutations": "0", "p_for_classes": "analytic"}

    def ask(client: httpx.Client) -> None:
        while not done.is_set():
            response = client.get("/v1/hotspots", params=params)
            last = response.json()["provenance"]["window"]["last"] if response.is_success else None
            served.append((response.status_code, last))

    with live_client(settings) as client:
        asking = threading.Thread(target=ask, args=(client,))
        asking.start()
        try:
            yield served
        finally:
            done.set()
            asking.join(60)


def _cli(*args: str) -> object:
    return runner.invoke(app, list(args), env=FAST_RETRIES)


def _revise(crimes: list[dict], stored_ids: list[int]) -> list[dict]:
    """April republished: REMOVED stored crimes gone, RECATEGORISED others moved to another
    category, ADDED new crimes at stored points."""
    removed = set(stored_ids[:REMOVED])
    recategorised = set(stored_ids[REMOVED : REMOVED + RECATEGORISED])
    revised = []
    for crime in crimes:
        if crime["id"] in removed:
            continue
        if crime["id"] in recategorised:
            arson = "criminal-damage-arson"
            crime = {**crime, "category": arson if crime["category"] != arson else "burglary"}
        revised.append(crime)
    by_id = {c["id"]: c for c in crimes}
    for n, source_id in enumerate(stored_ids[-ADDED:]):
        point = by_id[source_id]["location"]
        revised.append(
            crime_object(
                990_000_000 + n,
                float(point["latitude"]),
                float(point["longitude"]),
                REVISED_MONTH,
                "shoplifting",
                persistent_id=f"new-{n:04d}",
            )
        )
    return revised


@pytest.fixture(scope="module")
def scenario(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    wards_file = shared_data / "boundaries" / "wards_2019" / "E06000027.geojson"
    bbox = tuple(gpd.read_file(wards_file).total_bounds)
    street, no_location = crimes_from_archive(
        shared_data / "police_uk" / "archive" / FORCE, FORCE, [*LOADED, NEW_MONTH], bbox
    )
    data_dir = tmp_path_factory.mktemp("update-api") / "store"
    BoundaryStore(data_dir).save(load_boundary_file(wards_file, WARDS, "ward", vintage="2019"))
    first = {m: street[m] for m in LOADED}
    with FakePoliceApi(crimes=first, no_location=no_location, forces=(FORCE,)) as fake:
        ingest = _cli(
            "ingest", "api", "--force", FORCE, "--boundary", str(wards_file),
            "--base-url", fake.base_url, "--data-dir", str(data_dir),
        )  # fmt: skip
        assert ingest.exit_code == 0, ingest.output
        settings = Settings(data_dir=data_dir)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("HOTSPOTS_PRECOMPUTE", "0")
            with live_client(settings) as client:
                before = _observe(client)
                stored = CrimeStore(data_dir).read_partition(FORCE, REVISED_MONTH)
                located = stored.filter(pc.is_valid(stored["latitude"]))
                ids = sorted(located["api_id"].to_pylist())
                published = {
                    **first,
                    REVISED_MONTH: _revise(street[REVISED_MONTH], ids),
                    NEW_MONTH: street[NEW_MONTH],
                }
                fake.publish(REVISED_MONTH, published[REVISED_MONTH])
                fake.publish(NEW_MONTH, published[NEW_MONTH])
                with _requests_meanwhile(settings) as served:
                    result = _cli(
                        "update", "--base-url", fake.base_url, "--data-dir", str(data_dir)
                    )
                assert result.exit_code == 0, result.output
                again = _cli(
                    "update", "--json", "--base-url", fake.base_url, "--data-dir", str(data_dir)
                )
                assert again.exit_code == 0, again.output
                report = json.loads(again.stdout)
                yield Scenario(
                    data_dir, fake, client, before, result.output, report, served, published,
                    no_location,
                )  # fmt: skip


def _observe(client: httpx.Client) -> dict:
    default = client.get("/v1/hotspots", params=DEFAULT)
    pinned = client.get("/v1/hotspots", params=PINNED)
    areas = client.get(f"/v1/boundaries/{WARDS}/areas").json()
    code = areas["areas"][0]["code"] if isinstance(areas, dict) else areas[0]["code"]
    profile = client.get(f"/v1/boundaries/{WARDS}/areas/{code}/profile")
    coverage = client.get("/v1/coverage", params={"force": FORCE})
    for response in (default, pinned, profile, coverage):
        assert response.status_code == 200, response.text
    return {
        "default": default.json(),
        "pinned": pinned.json(),
        "profile": profile.json(),
        "coverage": coverage.json(),
    }


def test_update_loads_exactly_the_new_and_the_revised_month(scenario: Scenario) -> None:
    output = " ".join(scenario.update_output.split())
    assert "1 month(s) added, 1 revised, 5 unchanged" in output
    assert NEW_MONTH in output and REVISED_MONTH in output
    store = CrimeStore(scenario.data_dir)
    assert [m for _, m in store.partitions(FORCE)] == [*LOADED, NEW_MONTH]


def test_report_counts_rows_added_removed_and_recategorised(scenario: Scenario) -> None:
    revision = CrimeStore(scenario.data_dir).coverage_of(FORCE, REVISED_MONTH).revisions
    assert len(revision) == 1
    entry = revision[0]
    assert (entry["added"], entry["removed"], entry["changed"]) == (ADDED, REMOVED, RECATEGORISED)
    assert entry["changed_fields"] == {"category": RECATEGORISED}
    assert entry["rows_after"] == entry["rows_before"] + ADDED - REMOVED


def test_second_update_changes_nothing(scenario: Scenario) -> None:
    statuses = {m["month"]: m["status"] for m in scenario.report["months"]}
    assert set(statuses.values()) == {"unchanged"}
    assert sorted(statuses) == [*LOADED, NEW_MONTH]
    revisions = CrimeStore(scenario.data_dir).coverage_of(FORCE, REVISED_MONTH).revisions
    assert len(revisions) == 1  # an unchanged month gains no revision entry


def test_running_service_moves_its_default_views_without_a_restart(scenario: Scenario) -> None:
    after = _observe(scenario.client)
    before = scenario.before
    assert before["default"]["provenance"]["window"]["last"] == "2020-06"
    assert after["default"]["provenance"]["window"]["last"] == NEW_MONTH
    assert (
        after["default"]["provenance"]["data_version"]
        != before["default"]["provenance"]["data_version"]
    )
    assert before["profile"]["window"]["last"] == "2020-06"
    assert after["profile"]["window"]["last"] == NEW_MONTH


def test_service_answers_throughout_the_update(scenario: Scenario) -> None:
    assert scenario.served, "no request was answered while the update ran"
    assert {status for status, _ in scenario.served} == {200}
    assert {last for _, last in scenario.served} <= {"2020-06", NEW_MONTH}


def test_pinned_window_keeps_its_answer(scenario: Scenario) -> None:
    after = _observe(scenario.client)
    assert after["pinned"]["cells"] == scenario.before["pinned"]["cells"]
    # The same data version: only months up to the pinned "to" count, and none of them changed.
    pinned_version = scenario.before["pinned"]["provenance"]["data_version"]
    assert after["pinned"]["provenance"]["data_version"] == pinned_version
    assert (
        after["pinned"]["provenance"]["window"] == scenario.before["pinned"]["provenance"]["window"]
    )


def test_coverage_shows_the_new_month_and_the_revision(scenario: Scenario) -> None:
    after = _observe(scenario.client)
    (force,) = after["coverage"]["forces"]
    months = {m["month"]: m for m in force["months"]}
    assert force["last"] == NEW_MONTH and NEW_MONTH in months
    assert months[REVISED_MONTH]["revisions"][0]["removed"] == REMOVED
    assert months["2020-05"]["revisions"] == []
    (before_force,) = scenario.before["coverage"]["forces"]
    assert before_force["last"] == "2020-06"


def test_freshness_on_answers_pages_and_health(scenario: Scenario) -> None:
    client = scenario.client
    today = dt.datetime.now(dt.UTC).date().isoformat()
    line = f"data to {NEW_MONTH}, checked {today}, updated {today}"
    hotspots = client.get("/v1/hotspots", params=DEFAULT)
    assert hotspots.json()["provenance"]["freshness"]["line"] == line
    assert hotspots.headers["X-Data-Freshness"] == line
    code = client.get(f"/v1/boundaries/{WARDS}/areas").json()["areas"][0]["code"]
    page = client.get(f"/v1/boundaries/{WARDS}/areas/{code}/profile.html")
    assert page.status_code == 200
    assert f"Crime data: {line}" in page.text
    assert int(page.headers["content-length"]) == len(page.content)
    health = client.get("/health").json()["freshness"]
    assert health["line"] == line and health["warnings"] == []
    assert health["data_age_days"] == (dt.date.today() - dt.date(2020, 7, 31)).days


@dataclass
class AugustOffered:
    """A copy of the updated store, served live, after a dry run found police.uk offering
    2020-08: the dry run's record is the copy's, so the scenario's store keeps saying that no
    newer month is known (test_freshness_on_answers_pages_and_health), whatever runs first."""

    data_dir: Path
    fake: FakePoliceApi
    client: httpx.Client
    dry_run: object  # the CLI's result
    mtimes_before: dict[str, int]


def _partition_mtimes(data_dir: Path) -> dict[str, int]:
    store = CrimeStore(data_dir)
    return {m: store.partition_path(FORCE, m).stat().st_mtime_ns for _, m in store.partitions()}


@pytest.fixture(scope="module")
def august_offered(
    scenario: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AugustOffered]:
    data_dir = tmp_path_factory.mktemp("update-api-august") / "store"
    copy_store(scenario.data_dir, data_dir)
    months = {**scenario.published, "2020-08": []}
    fake = FakePoliceApi(crimes=months, no_location=scenario.no_location, forces=(FORCE,))
    with fake, pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOTSPOTS_PRECOMPUTE", "0")
        # The service runs before the dry run: it must learn of 2020-08 without a restart.
        with live_client(Settings(data_dir=data_dir)) as client:
            before = _partition_mtimes(data_dir)
            result = _cli(
                "update", "--dry-run", "--json", "--base-url", fake.base_url,
                "--data-dir", str(data_dir),
            )  # fmt: skip
            yield AugustOffered(data_dir, fake, client, result, before)


def test_dry_run_lists_changes_and_writes_nothing(august_offered: AugustOffered) -> None:
    result = august_offered.dry_run
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    report = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert report["dry_run"] is True
    assert [m["month"] for m in report["months"] if m["status"] == "added"] == ["2020-08"]
    assert _partition_mtimes(august_offered.data_dir) == august_offered.mtimes_before


def test_health_warns_of_a_month_police_uk_offers_without_asking_it(
    august_offered: AugustOffered,
) -> None:
    """After the dry run found 2020-08, /health warns from the record, never calling police.uk."""
    fake, client = august_offered.fake, august_offered.client
    assert august_offered.dry_run.exit_code == 0  # type: ignore[attr-defined]
    asked = len(fake.requests())
    health = client.get("/health").json()["freshness"]
    assert health["newer_months_available"] == {FORCE: "2020-08"}
    assert any("2020-08" in w and "hotspots update" in w for w in health["warnings"])
    assert len(fake.requests()) == asked
    page = client.get(f"/v1/boundaries/{WARDS}/areas")
    assert page.headers["X-Data-Freshness"].startswith(f"data to {NEW_MONTH}")


# -- bad input leaves the store as it was --------------------------------------------------------


@pytest.fixture
def store_copy(scenario: Scenario, tmp_path: Path) -> Path:
    """The updated store, copied: a failed update is recorded in its store (/health warns of
    it), which must not reach the scenario's store the freshness test reads."""
    copy_store(scenario.data_dir, tmp_path / "store")
    return tmp_path / "store"


def _snapshot(data_dir: Path) -> dict[str, int]:
    crimes = data_dir / "crimes"
    return {str(p.relative_to(crimes)): p.stat().st_mtime_ns for p in crimes.rglob("*.parquet")}


def _one_line_error(result: object) -> str:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.exit_code != 0, result.output  # type: ignore[attr-defined]
    assert stderr.startswith("error:"), stderr
    assert "Traceback" not in stderr + result.output  # type: ignore[attr-defined]
    return " ".join(stderr.split())


def test_unreachable_api_is_a_clear_error_and_changes_nothing(store_copy: Path) -> None:
    before = _snapshot(store_copy)
    with FakePoliceApi(crimes={}, forces=(FORCE,)) as gone:
        dead_url = gone.base_url  # a port nothing listens on once the fake stops
    result = _cli("update", "--base-url", dead_url, "--data-dir", str(store_copy))
    message = _one_line_error(result)
    assert "could not answer" in message and "nothing was changed" in message
    assert _snapshot(store_copy) == before


def test_force_unknown_to_the_api_is_a_clear_error_and_changes_nothing(store_copy: Path) -> None:
    before = _snapshot(store_copy)
    months = {m: [] for m in [*LOADED, NEW_MONTH]}
    with FakePoliceApi(crimes=months, forces=("metropolitan",)) as other:
        result = _cli("update", "--base-url", other.base_url, "--data-dir", str(store_copy))
    message = _one_line_error(result)
    assert f"does not know force '{FORCE}'" in message
    assert _snapshot(store_copy) == before


def test_force_not_in_the_store_is_refused(scenario: Scenario, store_copy: Path) -> None:
    result = _cli(
        "update", "--force", "kent", "--base-url", scenario.fake.base_url,
        "--data-dir", str(store_copy),
    )  # fmt: skip
    message = _one_line_error(result)
    assert "holds no force 'kent'" in message and FORCE in message
