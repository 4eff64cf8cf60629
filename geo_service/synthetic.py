"""Telling synthetic (demo) data apart from real police.uk data, on every page that shows it.

A boundary set is synthetic when its stored description says ``extra["synthetic"] is True``
(``hotspots demo`` writes that, see pipelines/demo_city.py); a study result is synthetic when its
region is such a set or its crimes come from the demo force ``demo-city-synthetic``. Routes call:

* :func:`set_is_synthetic` / :func:`provenance_is_synthetic` to decide,
* :func:`mark_provenance` to add ``"synthetic": {...}`` to a JSON body's provenance,
* :func:`add_banner` to put the warning banner at the top of an HTML page.
"""

from __future__ import annotations

import html
import re

from boundaries.errors import BoundaryError
from boundaries.store import BoundaryStore
from pipelines.demo_city import DEMO_FORCE, SYNTHETIC_NOTE

NOTICE = (
    "Synthetic demo data: a generated city, not a real place, and not real crime. "
    "Nothing here describes police.uk data."
)
BANNER_CLASS = "hotspots-synthetic-banner"
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def set_is_synthetic(description: dict) -> bool:
    """True for a boundary set description (``BoundaryStore.describe``) marked synthetic."""
    extra = description.get("extra") or {}
    return extra.get("synthetic") is True


def boundary_set_is_synthetic(store: BoundaryStore, name: str) -> bool:
    """True when the stored set ``name`` is synthetic; False when it is real or does not exist."""
    try:
        return set_is_synthetic(store.describe(name))
    except BoundaryError:
        return False


def provenance_is_synthetic(provenance: dict, store: BoundaryStore | None = None) -> bool:
    """True when a study's provenance shows demo crimes, or (given the store) a synthetic set."""
    forces = (provenance.get("window") or {}).get("forces") or []
    if DEMO_FORCE in forces:
        return True
    region = provenance.get("region") or {}
    name = region.get("boundary_set")
    return bool(store is not None and name and boundary_set_is_synthetic(store, name))


def mark_provenance(provenance: dict) -> dict:
    """A copy of ``provenance`` stating that the data are synthetic (for JSON bodies)."""
    return {
        **provenance,
        "synthetic": {"synthetic": True, "notice": NOTICE, "note": SYNTHETIC_NOTE},
    }


def banner_html() -> str:
    """A self-styled banner (no stylesheet needed), first thing on the page and hard to miss."""
    return (
        f'<div class="{BANNER_CLASS}" role="alert" style="background:#b00020;color:#fff;'
        "padding:.6em 1em;font:bold 1rem/1.4 system-ui,sans-serif;text-align:center;"
        'position:relative;z-index:10000">'
        f"{html.escape(NOTICE)}</div>"
    )


def add_banner(page: str) -> str:
    """``page`` with the banner right after ``<body>`` (or first, for a fragment); idempotent."""
    if BANNER_CLASS in page:
        return page
    match = _BODY_OPEN.search(page)
    if match is None:
        return banner_html() + page
    return page[: match.end()] + banner_html() + page[match.end() :]
