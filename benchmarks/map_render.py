"""Benchmark: drawing 50,000 H3 hexagons in headless Chromium, property-styled vs folium's
``style_function``.

Both pages hold the same hexagons (a resolution-10 disc around central London, Gi*-like classes
drawn at random with a fixed seed) and the same vendored Leaflet. One styles them with the
service's ``PropertyStyledGeoJson`` (one JavaScript function reading ``feature.properties``); the
other with ``folium.GeoJson(style_function=...)``, which writes one ``case`` per feature. Timed:
building the page in Python, and in the browser from navigation until every hexagon is an SVG
path in Leaflet's overlay pane. Pages and assets are served to the browser from memory (no
network, no server).

    python -m benchmarks.map_render [--cells 50000] [--timeout 300]

Needs the playwright package and Chromium at /usr/bin/chromium.
Baseline (issue 5): style_function 13-16 s for 50,000; property styling about 3 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import folium
import h3
import numpy as np

from geo_service.maps.assets import MAP_CSS, MAP_JS, STATIC_DIR, STATIC_URL
from geo_service.maps.hotspot_map import hexagon_geometry
from geo_service.maps.styling import GI_COLOURS, PropertyStyledGeoJson, feature_collection

CHROMIUM = Path("/usr/bin/chromium")
ORIGIN = "http://bench.invalid"  # answered by the route handler below, never resolved
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def hexagons(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` resolution-10 cells around Trafalgar Square and a random Gi* class for each."""
    centre = h3.latlng_to_cell(51.508, -0.128, 10)
    k = 0
    while 3 * k * (k + 1) + 1 < n:
        k += 1
    cells = sorted(h3.grid_disk(centre, k))[:n]
    classes = np.random.default_rng(seed).choice([-3, -2, -1, 0, 1, 2, 3], size=len(cells))
    return cells, classes


def _map(cells: list[str]) -> folium.Map:
    lats, lngs = zip(*(h3.cell_to_latlng(c) for c in cells), strict=True)
    fmap = folium.Map(tiles=None, prefer_canvas=False)
    fmap.default_js, fmap.default_css = list(MAP_JS), list(MAP_CSS)
    fmap.fit_bounds([[min(lats), min(lngs)], [max(lats), max(lngs)]])
    return fmap


def property_page(cells: list[str], classes: np.ndarray) -> str:
    fmap = _map(cells)
    data = feature_collection(
        [hexagon_geometry(c) for c in cells],
        [{"h3": c, "class": int(k)} for c, k in zip(cells, classes, strict=True)],
    )
    PropertyStyledGeoJson(
        data,
        name="cells",
        style={"color": "#636363", "weight": 0.5, "fillOpacity": 0.75},
        colour_by="class",
        palette={str(k): v for k, v in GI_COLOURS.items()},
    ).add_to(fmap)
    return fmap.get_root().render()


def style_function_page(cells: list[str], classes: np.ndarray) -> str:
    fmap = _map(cells)
    features = [
        {
            "type": "Feature",
            "properties": {"h3": c, "class": int(k)},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[round(lng, 5), round(lat, 5)] for lat, lng in h3.cell_to_boundary(c)]
                ],
            },
        }
        for c, k in zip(cells, classes, strict=True)
    ]
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        style_function=lambda f: {
            "color": "#636363",
            "weight": 0.5,
            "fillOpacity": 0.75,
            "fillColor": GI_COLOURS[f["properties"]["class"]],
        },
    ).add_to(fmap)
    return fmap.get_root().render()


def draw_seconds(page_html: str, expected: int, timeout_s: float) -> float | None:
    """Seconds from navigation until ``expected`` paths are drawn; None past the timeout."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    def serve(route: object) -> None:
        url = route.request.url
        if url == f"{ORIGIN}/page.html":
            route.fulfill(body=page_html, content_type="text/html")
        elif url.startswith(ORIGIN + STATIC_URL + "/"):
            path = STATIC_DIR / url.removeprefix(ORIGIN + STATIC_URL + "/")
            kind = "text/css" if path.suffix == ".css" else "application/javascript"
            route.fulfill(body=path.read_bytes(), content_type=kind)
        else:
            route.abort()

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", serve)
            page.set_default_timeout(timeout_s * 1000)
            start = time.perf_counter()
            page.goto(f"{ORIGIN}/page.html", wait_until="commit")
            try:
                page.wait_for_function(
                    f"document.querySelectorAll('.leaflet-overlay-pane path').length >= {expected}",
                    polling=100,
                )
            except PlaywrightTimeout:
                return None
            return time.perf_counter() - start
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=50_000)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per page")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"needs Chromium at {CHROMIUM} (make chromium)", file=sys.stderr)
        return 2
    cells, classes = hexagons(args.cells)
    print(f"{len(cells):,} resolution-10 hexagons, headless Chromium, SVG renderer")
    for name, build in (
        ("property-styled (service)", property_page),
        ("folium style_function", style_function_page),
    ):
        start = time.perf_counter()
        html = build(cells, classes)
        built = time.perf_counter() - start
        drawn = draw_seconds(html, len(cells), args.timeout)
        shown = f"{drawn:6.1f} s" if drawn is not None else f"not drawn in {args.timeout:.0f} s"
        print(
            f"{name:27s} page {len(html.encode()) / 1e6:5.1f} MB, built in {built:5.1f} s, "
            f"drawn in {shown}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
