"""``--area`` on the command line: a code or an exact name (any case), as on every web page.

Names resolve through ``boundaries.area_names``, the one place the service resolves them too;
an unknown or shared name ends the command with one line that lists the closest names.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from boundaries.errors import BoundaryError
from cli.common import fail

AreaOption = Annotated[
    list[str] | None,
    typer.Option(
        "--area",
        help="Only this area of the set, by code or exact name (repeatable).",
        show_default=False,
    ),
]


def area_codes(
    root: Path, set_name: str, values: Sequence[str] | None, option: str = "--area"
) -> tuple[str, ...]:
    """The codes of the areas ``values`` name (codes or names) in ``set_name``; none given,
    none returned. Exits with one line (status 2) for an unknown set, name or code."""
    # Imported here: the boundaries load geopandas, and `hotspots analyse` answered from the
    # study cache must not (cli/analyse_cmd.py).
    from boundaries.area_names import UnknownAreaError, resolve_areas
    from boundaries.store import BoundaryStore

    listing = f"`hotspots boundaries areas {set_name}`"
    try:
        return resolve_areas(BoundaryStore(root), set_name, values or (), listed_by=listing)
    except UnknownAreaError as error:
        fail(f"{option}: {error}")
    except BoundaryError as error:  # the set itself is unknown: its own message says so
        fail(str(error))
