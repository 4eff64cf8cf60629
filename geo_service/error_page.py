"""Errors for people: a request for a page (a map, a profile, a planning page) that fails gets a
readable HTML page with the status kept, the message that says what to change and links back;
a request to the API keeps its JSON error (``geo_service/errors.py`` decides which).

A page request is one whose route answers HTML (maps, ``profile.html``, the start and area
pages), one that asks ``format=html``, or a browser's navigation (``Accept: text/html``) to a
path outside the API (``/v1/``, ``/health``): the start page's search form, a mistyped address.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

from fastapi import Request
from fastapi.responses import HTMLResponse

from geo_service.pages import PRINT_PAGE_POLICY, template_environment
from pipelines.attribution import ATTRIBUTION

HEADINGS = {
    404: "Not found",
    422: "This page cannot be made as asked",
    401: "This page needs an API key",
    403: "This page needs an API key",
    503: "The service cannot answer just now",
}
ADVICE = {
    404: "Check the name or code in the address, or choose it again from the start page.",
    422: "Change what the message names in the address, or start again from the start page.",
    503: "Try again in a minute; if it goes on, tell whoever runs the service.",
}
DEFAULT_ADVICE = "Start again from the start page; if it goes on, tell whoever runs the service."

_environment = template_environment()


@dataclass(frozen=True)
class Link:
    label: str
    url: str


def is_page_request(request: Request) -> bool:
    """Whether ``request`` asked for a page a person reads, not an API answer."""
    if request.query_params.get("format") == "html" or request.url.path.endswith(".html"):
        return True
    answers = getattr(request.scope.get("route"), "response_class", None)
    if isinstance(answers, type) and issubclass(answers, HTMLResponse):
        return True
    in_api = request.url.path.startswith(("/v1/", "/health"))
    return not in_api and "text/html" in request.headers.get("accept", "")


def error_page(
    request: Request,
    status: int,
    message: str,
    headers: dict | None = None,
    extra_links: list[Link] | None = None,
) -> HTMLResponse:
    """The HTML error page for a failed page request (status and headers kept); ``extra_links``
    (the areas a person probably meant) come first."""
    links = [*(extra_links or []), Link("Start page: choose a set and an area", "/")]
    if request.headers.get("referer", "").startswith(str(request.base_url)):
        links.insert(0, Link("Back to the page you came from", request.headers["referer"]))
    links.append(Link("API documentation", "/docs"))
    page = _environment.get_template("error.html").render(
        status=status,
        status_phrase=_phrase(status),
        heading=HEADINGS.get(status, "Something went wrong"),
        message=message,
        advice=ADVICE.get(status, DEFAULT_ADVICE),
        links=links,
        attribution=ATTRIBUTION,
    )
    page_headers = {**(headers or {}), "Content-Security-Policy": PRINT_PAGE_POLICY}
    return HTMLResponse(page, status_code=status, headers=page_headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"
