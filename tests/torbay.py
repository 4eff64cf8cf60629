"""Torbay's real police.uk crimes and 2019 wards (from ../shared/data), stored for a test."""

from __future__ import annotations

from pathlib import Path

from boundaries.sets import BoundarySet, load_boundary_file
from boundaries.store import BoundaryStore
from pipelines.ingest.archive import ingest_archive
from pipelines.store import CrimeStore

TORBAY_WARDS = "torbay-wards-2019"


def torbay_store(
    shared_data: Path, data_dir: Path, first: str, last: str
) -> tuple[CrimeStore, BoundarySet]:
    """Devon and Cornwall's crimes of ``first``..``last`` and Torbay's wards, stored under
    ``data_dir``; returns the crime store and the ward set."""
    store = CrimeStore(data_dir)
    archive = shared_data / "police_uk" / "archive" / "devon-and-cornwall"
    ingest_archive(store, archive, first=first, last=last)
    wards = load_boundary_file(
        shared_data / "boundaries" / "wards_2019" / "E06000027.geojson",
        TORBAY_WARDS,
        "ward",
        vintage="2019",
    )
    BoundaryStore(store.root).save(wards)
    return store, wards
