"""What every page of the service shares so a person can move between them: the links of an
area (start page, area page, map, profile, briefing, downloads) and the breadcrumbs above each
page. Links are built here once; pages only place them."""

from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import quote, urlencode

HOME = "/"
SITE_SCRIPT = "/static/site/start.js"
SITE_CSS = "/static/site/site.css"
# The start and area pages run one script file from this service, no inline script (inline
# style only for the freshness line every page carries).
SITE_PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'"
)


@dataclass(frozen=True)
class Crumb:
    label: str
    url: str | None = None  # None: the page itself


def area_page_url(set_name: str, code: str) -> str:
    return f"/areas/{quote(set_name, safe='')}/{quote(code, safe='')}"


def set_page_url(set_name: str) -> str:
    return f"{HOME}?{urlencode({'boundaries': set_name})}"


def hotspot_map_url(set_name: str, code: str | None = None, weights: str = "count") -> str:
    query = {"boundaries": set_name, **({"area": code} if code else {}), "weights": weights}
    return f"/v1/maps/hotspots?{urlencode(query)}"


def area_map_url(set_name: str) -> str:
    return f"/v1/maps/areas?{urlencode({'boundaries': set_name})}"


def profile_url(set_name: str, code: str, suffix: str = ".html") -> str:
    return f"/v1/boundaries/{quote(set_name, safe='')}/areas/{quote(code, safe='')}/profile{suffix}"


def briefing_url(set_name: str, code: str, format: str = "html") -> str:
    base = f"/v1/boundaries/{quote(set_name, safe='')}/areas/{quote(code, safe='')}/briefing"
    return base + ("" if format == "json" else "?format=html")


def hotspot_list_url(
    set_name: str, code: str, format: str = "json", weights: str = "count", scope: str = "set"
) -> str:
    query: dict[str, str | int] = {"boundaries": set_name, "area": code, "weights": weights}
    if scope != "set":  # the default needs no word; another scope is carried from the page
        query["scope"] = scope
    query["top"] = 10
    if format != "json":
        query["format"] = format
    return f"/v1/hotspots?{urlencode(query)}"


def area_crumbs(
    set_name: str, code: str | None = None, name: str | None = None, set_title: str | None = None
) -> list[Crumb]:
    """Start page > boundary set > area: the trail every page of an area starts with; the set
    is called by its title (``set_title``) when it has one."""
    crumbs = [Crumb("Start", HOME), Crumb(set_title or set_name, set_page_url(set_name))]
    if code:
        crumbs.append(Crumb(name or code, area_page_url(set_name, code)))
    return crumbs


def breadcrumbs_html(crumbs: list[Crumb], here: str) -> str:
    """<nav> of links, then the page's own name; every text escaped."""
    parts = [
        f'<a href="{html.escape(c.url)}">{html.escape(c.label)}</a>'
        if c.url
        else html.escape(c.label)
        for c in crumbs
    ]
    parts.append(f'<span aria-current="page">{html.escape(here)}</span>')
    return '<nav class="hotspots-crumbs" aria-label="Breadcrumbs">' + " › ".join(parts) + "</nav>"
