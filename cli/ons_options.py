"""What the commands that fetch wards from the ONS Open Geography Portal share (``boundaries
fetch`` and ``quickstart``): the local authority and the ward vintage, one definition each."""

from __future__ import annotations

from typing import Annotated

import typer

from boundaries.ons_fetch import WARD_SERVICES

LadOption = Annotated[
    str,
    typer.Option(
        "--lad", help="Local authority code, e.g. E06000027 (Torbay).", show_default=False
    ),
]
WardVintageOption = Annotated[
    str, typer.Option("--vintage", help=f"Ward boundaries of: {', '.join(WARD_SERVICES)}.")
]
