"""Helpers for the API ingest tests: where the real data is, small generated crime sets, and an
independent ground truth (which crimes of a real month lie inside an area)."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
import shapely

from tests.fake_police_api import crime_object

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MET_API = SHARED_DATA / "police_uk" / "api" / "metropolitan"
WARDS_2019 = SHARED_DATA / "boundaries" / "wards_2019"
BARNET, HOUNSLOW = "E09000003", "E09000018"
MONTHS_2017 = [f"2017-{m:02d}" for m in range(1, 13)]


def need_shared_data() -> Path:
    """The real data folder, or skip the test that needs it."""
    if not MET_API.is_dir() or not WARDS_2019.is_dir():
        pytest.skip(f"needs ../shared/data (real police.uk data) at {SHARED_DATA}; absent here")
    return SHARED_DATA


def ids_inside(month_file: str, area_wkb: bytes) -> set[int]:
    """API ids of a real month's crimes covered by the area, read straight from the json.gz.

    Deliberately shares no code with the ingest or the fake: its own parse, its own test
    (``shapely.covers`` on point objects). Top-level so a worker process can run it.
    """
    area = shapely.from_wkb(area_wkb)
    with gzip.open(month_file, "rb") as handle:
        crimes = orjson.loads(handle.read())
    lngs = [float(c["location"]["longitude"]) for c in crimes]
    lats = [float(c["location"]["latitude"]) for c in crimes]
    covered = shapely.covers(area, shapely.points(lngs, lats))
    return {crimes[i]["id"] for i in covered.nonzero()[0]}


# A small made-up neighbourhood: 4 x 4 grid of snap points around (51.50, -0.10), ~100 m apart.
TINY_MONTHS = ["2024-01", "2024-02", "2024-03"]
TINY_POLY = "51.4990,-0.1010:51.4990,-0.0950:51.5050,-0.0950:51.5050,-0.1010"
CATEGORIES = ["burglary", "violent-crime", "anti-social-behaviour", "shoplifting", "drugs"]


def tiny_crimes(per_month: int = 10, outside: int = 2) -> dict[str, list[dict]]:
    """``per_month`` crimes inside TINY_POLY plus ``outside`` just outside it, for each month."""
    data: dict[str, list[dict]] = {}
    for m_index, month in enumerate(TINY_MONTHS):
        crimes = []
        for i in range(per_month):
            api_id = 1000 * (m_index + 1) + i
            lat = 51.4995 + 0.001 * (i % 4)
            lng = -0.1005 + 0.0012 * (i // 4 % 4)
            category = CATEGORIES[i % len(CATEGORIES)]
            persistent = "" if category == "anti-social-behaviour" else None
            crimes.append(crime_object(api_id, lat, lng, month, category, persistent_id=persistent))
        for j in range(outside):
            far_id = 1000 * (m_index + 1) + 900 + j
            crimes.append(crime_object(far_id, 51.52, -0.08 - j / 100, month))
        data[month] = crimes
    return data
