"""Crimes with no map point are counted per force, never per area (police.uk gives them no point
and no LSOA): every answer about an area that reports them says the count is force-wide, names
the force, and the profile's note says what it counts. The town has one such crime a month."""

from __future__ import annotations

import html

import httpx
import pytest

from tests.service_town import FORCE, MONTHS, WARDS, WEST

pytestmark = pytest.mark.usefixtures("no_precompute")
NO_LOCATION_A_MONTH = 1


def test_an_area_study_labels_the_count_force_wide(town_api: httpx.Client) -> None:
    params = {"boundaries": WARDS, "area": WEST, "permutations": 99}
    window = town_api.get("/v1/hotspots/provenance", params=params).json()["window"]
    assert window["no_location_crimes"] == NO_LOCATION_A_MONTH * len(MONTHS)
    scope = window["no_location_scope"]
    assert scope.startswith("force-wide") and FORCE in scope
    assert "whole force area" in scope and f"{MONTHS[0]}..{MONTHS[-1]}" in scope


def test_the_profile_note_says_what_it_counts(town_api: httpx.Client) -> None:
    profile = town_api.get(f"/v1/boundaries/{WARDS}/areas/{WEST}/profile").json()
    note = next(m for m in profile["notes"]["messages"] if m.startswith("No-location"))
    assert "force-wide count, not this area's" in note
    assert f"{FORCE} recorded {profile['notes']['no_location_current']:,} crimes" in note
    assert "across the whole force area" in note
    page = html.unescape(town_api.get(f"/v1/boundaries/{WARDS}/areas/{WEST}/profile.html").text)
    assert "force-wide count, not this area's" in page


def test_the_area_map_labels_it_too(town_api: httpx.Client) -> None:
    page = html.unescape(town_api.get("/v1/maps/areas", params={"boundaries": WARDS}).text)
    assert f"crimes {FORCE} recorded in the window (a force-wide count" in page
