"""Archive names and API slugs must land on one canonical category, or long series break."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.categories import CATEGORY_NAMES, canonical_category


def test_csv_names_and_api_slugs_meet() -> None:
    assert canonical_category("Violence and sexual offences") == "violent-crime"
    assert canonical_category("violent-crime") == "violent-crime"
    assert canonical_category("  criminal damage AND arson ") == "criminal-damage-arson"
    assert canonical_category("Violent crime") == "violent-crime"  # retired in 2013
    assert canonical_category("Public disorder and weapons") == "public-disorder-weapons"
    assert canonical_category("Alien abduction") is None
    assert canonical_category("all-crime") is None  # a query category, never a crime's own


def test_every_category_the_api_lists_is_known(shared_data: Path) -> None:
    recorded = shared_data / "police_uk/api_fixtures/recorded_responses"
    listed = json.loads((recorded / "crime-categories.json").read_text())
    for entry in listed:
        if entry["url"] == "all-crime":
            continue
        assert canonical_category(entry["url"]) == entry["url"]
        assert canonical_category(entry["name"]) == entry["url"]


@pytest.mark.parametrize("slug", sorted(CATEGORY_NAMES))
def test_display_names_map_back_to_their_slug(slug: str) -> None:
    assert canonical_category(CATEGORY_NAMES[slug]) == slug
