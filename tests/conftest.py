"""Fixtures shared by the tests: the real open data beside the project, and small archives."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.archive_fixtures import ArchiveBuilder

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real police.uk/ONS data in ../shared/data; tests that need it skip without it."""
    if not (SHARED_DATA / "police_uk").is_dir():
        pytest.skip(f"needs the real open data in {SHARED_DATA} (absent in this checkout)")
    return SHARED_DATA


@pytest.fixture
def archive(tmp_path: Path) -> ArchiveBuilder:
    """An empty archive folder that a test fills with street-level CSVs it writes itself."""
    return ArchiveBuilder(tmp_path / "archive")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"
