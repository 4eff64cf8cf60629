"""Crimes with no map point are counted per force, never per area (police.uk gives them no point
and no LSOA): every answer about an area that reports them says the count is force-wide, names
the force, and the profile's note says what it counts. The town has one such crime a month."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from geo_service.settings import Settings
from tests.live_server import live_client
from tests.service_town import FORCE, MONTHS, WARDS, WEST, build_town

pytestmark = pytest.mark.usefixtures("no_precompute")
NO_LOCATION_A_MONTH = 1


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data_dir, _ = build_town(tmp_path_factory.mktemp("town"))
    with live_client(Settings(data_dir=Path(data_dir))) as client:
        yield client


def test_an_area_study_labels_the_count_force_wide(api: httpx.Client) -> None:
    params = {"boundaries": WARDS, "area": WEST, "permutations": 99}
    window = api.get("/v1/hotspots/provenance", params=params).json()["window"]
    assert window["no_location_crimes"] == NO_LOCATION_A_MONTH * len(MONTHS)
    scope = window["no_location_scope"]
    assert scope.startswith("force-wide") and FORCE in scope
    assert "whole force area" in scope and f"{MONTHS[0]}..{MONTHS[-1]}" in scope


def test_the_profile_note_says_what_it_counts(api: httpx.Client) -> None:
    profile = api.get(f"/v1/boundaries/{WARDS}/areas/{WEST}/profile").json()
    note = next(m for m in profile["notes"]["messages"] if m.startswith("No-location"))
    assert "force-wide count, not this area's" in note
    assert f"{FORCE} recorded {profile['notes']['no_location_current']:,} crimes" in note
    assert "across the whole force area" in note
    page = html.unescape(api.get(f"/v1/boundaries/{WARDS}/areas/{WEST}/profile.html").text)
    assert "force-wide count, not this area's" in page


def test_the_area_map_labels_it_too(api: httpx.Client) -> None:
    page = html.unescape(api.get("/v1/maps/areas", params={"boundaries": WARDS}).text)
    assert f"crimes {FORCE} recorded in the window (a force-wide count" in page
