"""The API's documentation pages, /docs (Swagger UI) and /redoc (ReDoc), served from vendored
files under ``geo_service/static`` (FastAPI's defaults load both from a CDN, so /docs -- the
first link quickstart prints -- was blank on a council network or offline). No inline script:
Swagger UI starts from ``static/api-docs/swagger-init.js``; ReDoc from its ``<redoc>`` tag.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from geo_service.maps.assets import STATIC_URL

SWAGGER_UI_VERSION = "5.35.0"
REDOC_VERSION = "2.5.4"
SWAGGER_UI = f"{STATIC_URL}/swagger-ui-{SWAGGER_UI_VERSION}"
REDOC = f"{STATIC_URL}/redoc-{REDOC_VERSION}"
# Everything from this origin; no inline script. Both UIs set inline styles (ReDoc writes its
# <style> elements at run time) and ReDoc searches in a worker it starts from a blob: URL.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def install_api_docs(app: FastAPI) -> None:
    """Add /docs and /redoc (the app is made with ``docs_url=None, redoc_url=None``)."""
    title = escape(app.title)
    csp = {"Content-Security-Policy": DOCS_CSP}
    openapi_url = escape(app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger_ui_html(title, openapi_url), headers=csp)

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(redoc_html(title, openapi_url), headers=csp)


def swagger_ui_html(title: str, openapi_url: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API documentation</title>
<link rel="icon" type="image/png" href="{SWAGGER_UI}/favicon-32x32.png">
<link rel="stylesheet" href="{SWAGGER_UI}/swagger-ui.css">
</head>
<body data-openapi-url="{openapi_url}">
<div id="swagger-ui"></div>
<script src="{SWAGGER_UI}/swagger-ui-bundle.js"></script>
<script src="{STATIC_URL}/api-docs/swagger-init.js"></script>
</body>
</html>
"""


def redoc_html(title: str, openapi_url: str) -> str:
    # No Google Fonts (FastAPI's default page links them): ReDoc falls back to system fonts.
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API reference</title>
<link rel="icon" type="image/png" href="{SWAGGER_UI}/favicon-32x32.png">
</head>
<body>
<redoc spec-url="{openapi_url}"></redoc>
<script src="{REDOC}/redoc.standalone.js"></script>
</body>
</html>
"""
