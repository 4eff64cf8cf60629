"""Where the data folder is: --data-dir, else $HOTSPOTS_DATA_DIR, else ./data (no pyarrow)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "HOTSPOTS_DATA_DIR"


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """--data-dir if given, else $HOTSPOTS_DATA_DIR, else ./data."""
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(DATA_DIR_ENV) or "data")
