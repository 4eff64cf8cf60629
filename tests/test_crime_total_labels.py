"""A ward's two crime totals on the quickstart's store (Torbay, 2020), each labelled with what it
counts wherever it is shown: the quickstart table and the analyse summary count the crimes in the
ward's map cells (H3 cells assigned by their centre), the profile, briefing and allocation the
crimes inside the ward boundary. A locality manager who sees 3,984 in one place and 3,927 in
another must be told why (docs/profile.md, "Two crime totals for one ward")."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from geo_service.settings import Settings
from tests.live_server import live_client
from tests.quickstart_store import SET, SET_TITLE, TORMOHUN, run_quickstart

pytestmark = pytest.mark.shared_data

IN_CELLS = "crimes in map cells"
IN_BOUNDARY = "inside the boundary"


@pytest.fixture(scope="module")
def quickstart(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data_dir = tmp_path_factory.mktemp("labels")
    return data_dir, run_quickstart(shared_data, data_dir)


@pytest.fixture(scope="module")
def api(quickstart: tuple[Path, str], no_precompute: None) -> Iterator[httpx.Client]:
    with live_client(Settings(data_dir=quickstart[0])) as client:
        yield client


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_quickstart_table_says_its_crimes_are_those_in_the_map_cells(
    quickstart: tuple[Path, str],
) -> None:
    output = " ".join(quickstart[1].split())
    assert IN_CELLS in output
    assert "H3 cells whose centre is in the area" in output
    assert "inside the boundary" in output  # and names the other count, so the two are not mixed
    # The set by its title, with the code --boundaries takes in brackets (as allocate, compare
    # and backtest name it).
    assert f"per area of {SET_TITLE} ({SET}), judged against the whole set" in output


def test_the_profile_briefing_and_allocation_say_inside_the_boundary(api: httpx.Client) -> None:
    profile = api.get(f"/v1/boundaries/{SET}/areas/{TORMOHUN}/profile")
    count = profile.json()["total"]["count"]
    page = _text(api.get(f"/v1/boundaries/{SET}/areas/{TORMOHUN}/profile.html").text)
    assert re.search(rf"{count:,} crimes and ASB {IN_BOUNDARY}, last 12 months", page)

    sentences = api.get(f"/v1/boundaries/{SET}/areas/{TORMOHUN}/briefing").json()["sentences"]
    volume = next(s["text"] for s in sentences if s["rule"] == "volume")
    assert f"had {count:,} crimes" in volume and "inside its boundary" in volume

    allocation = _text(api.get(f"/v1/allocate?boundaries={SET}&units=40&format=html").text)
    assert f"Crimes {IN_BOUNDARY}" in allocation
    assert "crimes inside the areas&#39; boundaries" in allocation or (
        "crimes inside the areas' boundaries" in allocation
    )
    assert f"Tormohun {TORMOHUN} {count:,}" in allocation


def test_the_docs_explain_the_two_totals() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "profile.md").read_text("utf-8")
    section = text[text.index("## Two crime totals for one ward") :]
    assert "crimes in the ward's map cells" in section and IN_BOUNDARY in section
