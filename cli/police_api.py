"""What the commands that call the police.uk API share: the ``--base-url`` option, its check,
and the retry policy read from the environment, each refused in one line when it is wrong."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import fail
from pipelines.ingest.api_client import BASE_URL_ENV, RetryPolicy, resolve_base_url
from pipelines.quoting import quoted

BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help=f"API root. Default: ${BASE_URL_ENV}, else https://data.police.uk/api",
        show_default=False,
    ),
]


def api_root(base_url: str | None) -> str:
    """The API root to use (option, then environment, then police.uk); an http(s) URL."""
    url = resolve_base_url(base_url)
    if not url.startswith(("http://", "https://")):
        fail(f"--base-url must start with http:// or https://, got {quoted(url)}")
    return url


def retry_policy() -> RetryPolicy:
    """Retries as $HOTSPOTS_API_ATTEMPTS and $HOTSPOTS_API_BACKOFF set them."""
    try:
        return RetryPolicy.from_env()
    except ValueError:
        fail("$HOTSPOTS_API_ATTEMPTS must be a whole number and $HOTSPOTS_API_BACKOFF a number")
