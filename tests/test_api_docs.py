"""/docs (Swagger UI) and /redoc (ReDoc) work with no internet: served from vendored files,
drawn by headless Chromium that may not leave 127.0.0.1, under the pages' own CSP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from geo_service.api_docs import REDOC_VERSION, SWAGGER_UI_VERSION
from geo_service.maps.assets import STATIC_DIR, asset_path
from geo_service.precompute import PRECOMPUTE_ENV
from geo_service.settings import Settings
from tests.browser import offline_context, require_chromium
from tests.live_server import live_server


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PRECOMPUTE_ENV, "0")
        with live_server(Settings(data_dir=tmp_path_factory.mktemp("docs"))) as url:
            yield url


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_pages_load_only_vendored_files(base: str, path: str) -> None:
    page = httpx.get(base + path)
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert links and all(link.startswith("/static/") for link in links), links
    for link in links:
        assert asset_path(link).is_file(), link
        assert httpx.get(base + link).status_code == 200, link
    assert "<script>" not in page.text  # no inline script for the CSP to allow


def test_the_licences_travel_with_the_copies() -> None:
    swagger = STATIC_DIR / f"swagger-ui-{SWAGGER_UI_VERSION}"
    redoc = STATIC_DIR / f"redoc-{REDOC_VERSION}"
    assert "Apache License" in (swagger / "LICENSE").read_text()
    assert (swagger / "NOTICE").is_file()
    assert "The MIT License" in (redoc / "LICENSE").read_text()


def test_chromium_offline_draws_every_operation_in_swagger_ui_and_redoc(base: str) -> None:
    playwright = require_chromium()
    operations = [
        (method.upper(), path)
        for path, methods in httpx.get(f"{base}/openapi.json").json()["paths"].items()
        for method in methods
    ]
    errors: list[str] = []
    with offline_context(playwright) as (context, attempted):
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        page.goto(f"{base}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=60_000)
        drawn = page.eval_on_selector_all(
            ".opblock-summary",
            "els => els.map(e => [e.querySelector('.opblock-summary-method').textContent,"
            " e.querySelector('.opblock-summary-path').getAttribute('data-path')])",
        )
        assert set(map(tuple, drawn)) == set(operations)  # an operation with two tags shows twice
        assert "Crime hotspots" in page.inner_text(".info .title")

        page.goto(f"{base}/redoc")
        page.wait_for_selector("h1", timeout=60_000)
        assert "Crime hotspots" in page.inner_text("h1")
        text = page.inner_text("body")
        assert "Hot spots of crime or harm in a region" in text
        assert "/v1/hotspots" in text
    assert attempted == []
    # ReDoc always asks for its makers' logo from their CDN (an <img> that hides itself when it
    # fails); the CSP stops it before it leaves the machine. Nothing else may be refused.
    logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
    assert not [e for e in errors if logo not in e], errors


def test_static_readme_names_the_new_copies() -> None:
    readme = (Path(STATIC_DIR) / "README.md").read_text()
    for folder in (f"swagger-ui-{SWAGGER_UI_VERSION}/", f"redoc-{REDOC_VERSION}/"):
        assert folder in readme
