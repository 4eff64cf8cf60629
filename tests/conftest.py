"""Fixtures shared by the tests: the real open data beside the project, and small archives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.archive_fixtures import ArchiveBuilder

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real police.uk/ONS data in ../shared/data; tests that need it skip without it."""
    if not (SHARED_DATA / "police_uk").is_dir():
        pytest.skip(f"needs the real open data in {SHARED_DATA} (absent in this checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def covers_cached_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Code that covers areas outside a service or CLI (which choose their store's cache folder)
    caches covers in a temporary folder, never in ./data/cache of the checkout."""
    from pipelines.cache import open_cache, use_cache

    use_cache(open_cache(tmp_path_factory.mktemp("cover-cache")))


@pytest.fixture(scope="module")
def no_precompute() -> Iterator[None]:
    """Services started in the module do not warm the study cache in the background (it would
    compete for the CPU, and add to the cache counters some tests read)."""
    from geo_service.precompute import PRECOMPUTE_ENV  # here: most tests never start a service

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PRECOMPUTE_ENV, "0")
        yield


@pytest.fixture
def archive(tmp_path: Path) -> ArchiveBuilder:
    """An empty archive folder that a test fills with street-level CSVs it writes itself."""
    return ArchiveBuilder(tmp_path / "archive")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture(scope="session")
def quickstart_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store as `make quickstart` builds it on ../shared/data (24 months, Torbay's wards and
    their residents), built once for every test of the pages that reads it."""
    from tests.quickstart_store import run_quickstart

    data_dir = tmp_path_factory.mktemp("quickstart")
    run_quickstart(shared_data, data_dir)
    return data_dir


@pytest.fixture(scope="module")
def town_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service town (tests/service_town.py) in a fresh data folder, one per test module."""
    from tests.service_town import build_town

    data_dir, _ = build_town(tmp_path_factory.mktemp("town"))
    return Path(data_dir)


@pytest.fixture(scope="module")
def town_api(town_dir: Path, no_precompute: None) -> Iterator[httpx.Client]:
    """A client of a real server (127.0.0.1) serving the town, one per test module."""
    from geo_service.settings import Settings
    from tests.live_server import live_client

    with live_client(Settings(data_dir=town_dir)) as client:
        yield client
