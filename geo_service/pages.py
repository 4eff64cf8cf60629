"""HTML pages: the one Jinja set-up every page template is rendered with, and the responses that
carry a page with its Content-Security-Policy and, for synthetic data, a banner.

Map pages load Leaflet from this service and run only their own inline scripts, named by hash
(``maps.styling.content_security_policy``, ``geo_service.csp``); printable
pages (profile, allocation, backtest) are self-contained and get ``PRINT_PAGE_POLICY``: no script
runs and nothing is fetched, so a page saved to a shared drive shows the same thing offline.
Printable pages extend ``templates/print_page.html``, which holds their shared A4 look.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import jinja2
from fastapi.responses import HTMLResponse

from boundaries.store import BoundaryStore
from geo_service.csp import script_hashes
from geo_service.maps.styling import content_security_policy
from geo_service.synthetic import add_banner, boundary_set_is_synthetic
from pipelines.wording import areas_in_set, counted, scheme_plural, vintage_words

TEMPLATES = Path(__file__).resolve().parent / "templates"
PRINT_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)


def number(value: float | None, digits: int = 0) -> str:
    """A number with thousands separators and ``digits`` decimals; "–" when there is none."""
    if value is None:
        return "–"
    return f"{float(value):,.{digits}f}"


def template_environment(**filters: Callable[..., str]) -> jinja2.Environment:
    """The Jinja environment of a page module: ``templates/``, every text escaped, the ``number``
    filter plus the module's own ``filters``."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,  # a misspelt field fails the render, not prints ""
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(number=number, counted=counted, **filters)
    # A set named in a sentence: "the 16 wards in Torbay wards (2019)", the year said once.
    environment.globals.update(
        areas_in_set=areas_in_set, scheme_plural=scheme_plural, vintage_words=vintage_words
    )
    return environment


def html_response(
    html: str,
    boundary_store: BoundaryStore,
    set_names: Iterable[str],
    policy: str | Callable[[str], str] = PRINT_PAGE_POLICY,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page, with the synthetic-data banner when any of ``set_names`` is synthetic, and its
    Content-Security-Policy (``policy``, or ``policy(page)`` for a policy made from the page)."""
    if any(boundary_set_is_synthetic(boundary_store, name) for name in set_names):
        html = add_banner(html)
    header = policy(html) if callable(policy) else policy
    return HTMLResponse(html, headers={**(headers or {}), "Content-Security-Policy": header})


def map_response(
    html: str,
    tiles: str,
    boundary_store: BoundaryStore,
    set_names: Iterable[str],
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A Leaflet page: the browser itself refuses anything not served here (and the tile host of
    the ``tiles`` setting, when one is configured), and runs no inline script but the page's own.
    """

    def policy(page: str) -> str:
        return content_security_policy(tiles, script_hashes(page))

    return html_response(html, boundary_store, set_names, policy, headers)
