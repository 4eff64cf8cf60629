"""scope=areas asks for the named areas studied alone: with no area named it used to be accepted
and answered with the whole set's study, as if scope had been left out. It is refused (422, one
CLI line) saying to name an area or leave scope at set, on every route that takes scope, as
backtest does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app as cli
from geo_service.settings import Settings
from tests.live_server import live_client, page_or_api_error_message
from tests.service_town import WARDS, WEST

pytestmark = pytest.mark.usefixtures("no_precompute")

NEEDS_AREA = "scope areas studies the named areas alone, so it needs at least one area"
QUICK = {"boundaries": WARDS, "permutations": 0, "p_for_classes": "analytic"}


@pytest.fixture(scope="module")
def api(town_dir: Path) -> Iterator[httpx.Client]:
    with live_client(Settings(data_dir=town_dir), timeout=120) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/hotspots", QUICK),
        ("/v1/hotspots", {**QUICK, "format": "csv"}),
        ("/v1/maps/hotspots", {"boundaries": WARDS}),
    ],
)
def test_scope_areas_without_an_area_is_refused(api: httpx.Client, path: str, params: dict) -> None:
    message = page_or_api_error_message(api.get(path, params={**params, "scope": "areas"}), 422)
    assert NEEDS_AREA in message and "area=" in message and "scope at set" in message
    # With an area it is the area's own study; without scope, the whole set's.
    named = api.get(path, params={**params, "scope": "areas", "area": WEST})
    assert named.status_code == 200, named.text
    assert api.get(path, params=params).status_code == 200


def test_the_command_line_refuses_it_in_one_line(town_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cells.json"
    args = ["analyse", "--boundaries", WARDS, "--scope", "areas", "-o", str(out)]
    result = CliRunner().invoke(cli, [*args, "--data-dir", str(town_dir)])
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert said.startswith("error: ") and NEEDS_AREA in said and "--area" in said
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not out.exists()
