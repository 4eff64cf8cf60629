"""The planning pages in plain words, read in Chromium as a person reads them.

On the compare, allocation, backtest and displacement pages, every measure is shown under a name
a non-analyst understands (geo_service/plain_words.py); the analyst's name (PAI, Gini, WDQ,
Gi*...) is only a tooltip (a ``title``) or in the page's technical notes. The test reads the
text a reader sees with the technical notes taken away, and finds no jargon in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import httpx
import pytest
from shapely.geometry import box

from boundaries.clusters import build_clusters
from boundaries.geometry import WGS84
from boundaries.sets import load_boundary_file
from boundaries.store import BoundaryStore
from geo_service.plain_words import (
    ALLOCATION_TERMS,
    BACKTEST_TERMS,
    COMPARE_TERMS,
    DISPLACEMENT_TERMS,
    HOT_SPOT_KEY,
    displacement_reading,
)
from geo_service.settings import Settings
from tests.browser import offline_context, require_chromium
from tests.live_server import live_client
from tests.service_town import EAST, HOT, KEY, WARDS, WEST, X0, Y0, build_town

pytestmark = pytest.mark.usefixtures("no_precompute")
CLUSTERS = "town-one-cluster"
PATCHES = "town-patches"

# Words an analyst uses and a locality manager should not have to: each page may carry them in a
# tooltip or its technical notes, never in the text a reader sees.
JARGON = (
    "PAI",
    "PEI",
    "Gini",
    "eta squared",
    "Gi*",
    "WDQ",
    "Weighted Displacement",
    "odds ratio",
    " CI ",
    "Webster",
    "Sainte-Laguë",
    "Hamilton",
    "Alabama",
    "H3",
    "hot cell",
    "straddl",
    "quantile",
    "resolution",
    "a/A",
    "n/N",
    "success measure",
    "net effect",
    "k-ring",
    "variance",
    "quota",
)

# The reader's view: the page without its technical notes, scripts and styles.
READER_TEXT = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('.footnotes, .footnote, script, style, noscript').forEach(e => e.remove());
  document.body.appendChild(copy);
  copy.style.display = 'block';
  const text = copy.innerText;
  copy.remove();
  return text;
}"""
NOTES_AND_TOOLTIPS = """() => [
  ...Array.from(document.querySelectorAll('[title]')).map(e => e.getAttribute('title')),
  ...Array.from(document.querySelectorAll('.footnotes, .footnote')).map(e => e.textContent),
].join('\\n')"""


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service town with a one-cluster scheme to compare and patches for displacement."""
    root = tmp_path_factory.mktemp("plain-words")
    data_dir, _ = build_town(root)
    boundaries = BoundaryStore(data_dir)
    wards = boundaries.read(WARDS)
    boundaries.save(
        build_clusters(wards, dict.fromkeys((WEST, EAST), "Whole town"), CLUSTERS).clusters
    )
    target = box(HOT[0] - 0.0005, HOT[1] - 0.0005, HOT[0] + 0.0005, HOT[1] + 0.0005)
    control = box(X0 + 0.03, Y0, X0 + 0.04, Y0 + 0.02)
    places = gpd.GeoDataFrame(
        {"code": ["TARGET", "CONTROL"], "name": ["High Street", "East End"]},
        geometry=[target, control],
        crs=WGS84,
    )
    path = root / "places.geojson"
    places.to_file(path, engine="pyogrio")
    boundaries.save(load_boundary_file(path, PATCHES, "custom", vintage="2019"))
    return data_dir


@pytest.fixture(scope="module")
def api(town: Path) -> Iterator[httpx.Client]:
    with live_client(Settings(data_dir=town), timeout=300) as client:
        backtest = {
            "boundaries": WARDS,
            "to": "2019-09",
            "train_months": 9,
            "res": 9,
            "weights": "count",
            "permutations": 99,
        }
        ran = client.post("/v1/backtest", params=backtest, headers={"X-API-Key": KEY})
        assert ran.status_code == 200, ran.text
        yield client


PAGES = {
    "compare": (
        "/v1/maps/compare",
        {"boundaries": f"{WARDS},{CLUSTERS}"},
        [*COMPARE_TERMS.values(), HOT_SPOT_KEY],
    ),
    "allocation": (
        "/v1/allocate",
        {"boundaries": WARDS, "units": 9, "min": 2, "format": "html"},
        list(ALLOCATION_TERMS.values())[1:],  # "Need" is shown as "Need: harm"
    ),
    "backtest": (
        "/v1/backtest/last",
        {"boundaries": WARDS, "format": "html"},
        list(BACKTEST_TERMS.values()),
    ),
    "displacement": (
        "/v1/displacement",
        {
            "target": f"{PATCHES}:TARGET",
            "control": f"{PATCHES}:CONTROL",
            "buffer_m": 150,
            "before": "2019-01:2019-06",
            "after": "2019-07:2019-12",
            "format": "html",
        },
        list(DISPLACEMENT_TERMS.values()),
    ),
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_measures_in_plain_words_jargon_only_in_tooltips_and_notes(
    api: httpx.Client, name: str
) -> None:
    path, params, terms = PAGES[name]
    served = api.get(path, params=params)
    assert served.status_code == 200, served.text
    playwright = require_chromium()
    with offline_context(playwright, bypass_csp=True) as (context, attempted):
        page = context.new_page()
        response = page.goto(str(served.url), wait_until="load")
        assert response is not None and response.status == 200
        if name == "displacement":
            page.wait_for_selector(".displacement-panel")
        seen = page.evaluate(READER_TEXT)
        hidden = page.evaluate(NOTES_AND_TOOLTIPS)
    assert attempted == []
    spoken = [word for word in JARGON if word in seen]
    assert spoken == [], f"{name}: jargon in the text a reader sees: {spoken}\n{seen}"
    for term in terms:
        assert term.plain in seen, f"{name}: {term.plain!r} not shown"
        assert term.explanation in seen + hidden, f"{name}: no explanation of {term.plain!r}"
        if term.technical != term.plain:
            assert term.technical in hidden, f"{name}: {term.technical!r} not in a tooltip or note"


def test_displacement_reads_the_class_in_plain_words(api: httpx.Client) -> None:
    path, params, _ = PAGES["displacement"]
    body = api.get(path, params={**params, "format": "json"}).json()
    page = api.get(path, params=params).text
    plain = displacement_reading(body["reading"])
    assert plain != body["reading"]  # every class the check can give has plain words
    assert plain in page and body["reading"] in page  # the class stays, in the notes
