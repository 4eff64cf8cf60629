"""An error quotes what the user sent, shortened: a 20,000-character area (or set name, category,
month, force, weights table, parameter name...) comes back as its first 80 characters and "…",
over HTTP and in the CLI, never the whole input (a reflected megabyte, or a page that scrolls
for ever). One helper does it: pipelines.quoting.quoted."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app
from pipelines.quoting import QUOTE_LIMIT, quoted
from tests.live_server import page_or_api_error_message
from tests.service_town import EAST, FORCE, WARDS, WEST

pytestmark = pytest.mark.usefixtures("no_precompute")

LONG = "Tormohun" * 2_500  # 20,000 characters
# The longest message a long input may make: the fixed words of the longest message (an
# unknown parameter lists every valid name) plus one shortened quote or two.
MOST = 1_200
AREA = f"/v1/boundaries/{WARDS}/areas"
PERIODS = "before=2019-01:2019-06&after=2019-07:2019-12&buffer_m=100"

# Each request puts LONG where a user's text goes.
REQUESTS = {
    "area in a profile": f"{AREA}/{LONG}/profile",
    "area in a profile page": f"{AREA}/{LONG}/profile.html",
    "area on the area page": f"/areas/{WARDS}/{LONG}",
    "area of a study": f"/v1/hotspots?boundaries={WARDS}&area={LONG}",
    "set of a study": f"/v1/hotspots?boundaries={LONG}",
    "set on a map": f"/v1/maps/hotspots?boundaries={LONG}",
    "set of areas": f"/v1/boundaries/{LONG}/areas",
    "category": f"/v1/hotspots?boundaries={WARDS}&categories={LONG}",
    "weights": f"/v1/hotspots?boundaries={WARDS}&weights={LONG}",
    "force": f"/v1/hotspots?boundaries={WARDS}&force={LONG}",
    "month": f"/v1/hotspots?boundaries={WARDS}&from={LONG[:30]}",
    "parameter name": f"/v1/hotspots?boundaries={WARDS}&{LONG}=1",
    "method": f"/v1/hotspots?boundaries={WARDS}&method={LONG}",
    "compare sets": f"/v1/compare?boundaries={WARDS},{LONG}",
    "allocation set": f"/v1/allocate?boundaries={LONG}&units=5",
    "displacement target": f"/v1/displacement?target={WARDS}:{LONG}&control={WARDS}:{EAST}"
    f"&{PERIODS}",
    "displacement control": f"/v1/displacement?target={WARDS}:{WEST}&control={LONG}&{PERIODS}",
    "area search": f"/area?boundaries={WARDS}&q={LONG}",
    "backtest set": f"/v1/backtest/last?boundaries={LONG}",
}


@pytest.mark.parametrize("path", REQUESTS.values(), ids=REQUESTS.keys())
def test_http_errors_quote_long_input_shortened(town_api: httpx.Client, path: str) -> None:
    response = town_api.get(path)
    assert 400 <= response.status_code < 500, response.text[:300]
    message = page_or_api_error_message(response, response.status_code)
    assert LONG[:200] not in message, message[:300]
    assert len(message) < MOST, message[:300]


def test_posted_names_are_quoted_shortened(town_api: httpx.Client) -> None:
    body = {"name": LONG, "scheme": "custom", "vintage": "2024", "geojson": {}}
    response = town_api.post("/v1/boundaries", json=body, headers={"X-API-Key": "wrong"})
    assert response.status_code in (403, 422)
    assert len(response.text) < MOST


OUT = ["-o", "{tmp}/out.json"]
CLI = {
    "analyse set": ["analyse", "--boundaries", LONG, *OUT],
    "analyse area": ["analyse", "--boundaries", WARDS, "--area", LONG, *OUT],
    "analyse category": ["analyse", "--boundaries", WARDS, "--category", LONG, *OUT],
    "analyse weights": ["analyse", "--boundaries", WARDS, "--weights", LONG, *OUT],
    "export force": ["export", "--force", LONG, "-o", "{tmp}/out.csv"],
    "export month": ["export", "--force", FORCE, "--from", LONG, "-o", "{tmp}/out.csv"],
    "counts": ["boundaries", "counts", LONG],
    "allocate": ["allocate", "--boundaries", LONG, "--units", "5"],
}


@pytest.mark.parametrize("args", CLI.values(), ids=CLI.keys())
def test_cli_errors_quote_long_input_shortened(town_dir: Path, tmp_path: Path, args: list) -> None:
    argv = [a.format(tmp=tmp_path) for a in args] + ["--data-dir", str(town_dir)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output[:300]
    assert "Traceback" not in result.output
    assert LONG[:200] not in result.output, result.output[:300]
    assert len(result.output) < MOST, result.output[:300]


def test_the_helper() -> None:
    assert quoted("Tormohun") == "'Tormohun'"
    long = quoted(LONG)
    assert long.startswith("'" + LONG[:QUOTE_LIMIT]) and long.endswith("…' (20,000 characters)")
    assert quoted(None) == "None" and quoted(7) == "7"
