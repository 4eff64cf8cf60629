"""Study results as HTTP bodies: JSON records, a GeoJSON FeatureCollection, or CSV text.

The shapes match ``pipelines/analysis/output.py`` (what ``hotspots analyse`` writes), so a file
from the CLI and a response from the API read the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import orjson
import pandas as pd

from geo_service.downloads import spreadsheet_safe_csv
from pipelines.analysis.output import cell_feature

_FEATURES_PER_CHUNK = 500


def plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, str):
        return plain(value.tolist())  # numpy scalars and arrays
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def cell_records(cells: pd.DataFrame) -> list[dict]:
    return [plain(row) for row in cells.to_dict(orient="records")]


def stream_feature_collection(
    records: list[dict], provenance: dict, page: dict, note: str | None = None
) -> Iterator[bytes]:
    """Cells as hexagon polygons (GeoJSON, longitude first) with provenance, page (and the note
    saying why a ranked list is short) at the top, sent a few hundred features at a time so the
    whole document is never held as one string."""
    head = {"type": "FeatureCollection", "provenance": provenance, "page": page}
    if note:
        head["note"] = note
    yield orjson.dumps(head)[:-1] + b',"features":['
    for start in range(0, len(records), _FEATURES_PER_CHUNK):
        chunk = records[start : start + _FEATURES_PER_CHUNK]
        body = b",".join(orjson.dumps(cell_feature(record)) for record in chunk)
        yield (b"," if start else b"") + body
    yield b"]}"


def csv_text(cells: pd.DataFrame) -> str:
    """The cells as CSV; list columns (streets) joined with '; ' as the CLI writes them."""
    flat = cells.copy()
    for column in flat.columns:
        if flat[column].map(lambda v: isinstance(v, list)).any():
            flat[column] = flat[column].map(lambda v: "; ".join(v) if isinstance(v, list) else v)
    return spreadsheet_safe_csv(flat)
