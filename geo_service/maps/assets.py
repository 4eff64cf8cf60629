"""The JavaScript and CSS map pages load, served by the service itself (no CDN).

The files are vendored, unmodified, under ``geo_service/static/`` with their licences; the README
there records where each came from. Pages reference them by root-relative URL, so a page works
behind any host name or proxy that forwards ``/static``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
STATIC_URL = "/static"
LEAFLET_VERSION = "1.9.4"
LEAFLET_JS = f"{STATIC_URL}/leaflet-{LEAFLET_VERSION}/leaflet.js"
LEAFLET_CSS = f"{STATIC_URL}/leaflet-{LEAFLET_VERSION}/leaflet.css"

# What folium's Map links by default, replaced: Leaflet only. jQuery, Bootstrap, Font Awesome and
# awesome-markers are for markers and icons these pages do not draw.
MAP_JS: list[tuple[str, str]] = [("leaflet", LEAFLET_JS)]
MAP_CSS: list[tuple[str, str]] = [("leaflet_css", LEAFLET_CSS)]


def asset_path(url: str) -> Path:
    """The file behind a ``/static/...`` URL (for checks that every linked asset is shipped)."""
    if not url.startswith(STATIC_URL + "/"):
        raise ValueError(f"{url!r} is not under {STATIC_URL}/")
    return STATIC_DIR / url.removeprefix(STATIC_URL + "/")


def mount_static(app: FastAPI) -> None:
    """Serve ``geo_service/static`` at ``/static`` (Leaflet and its images)."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
