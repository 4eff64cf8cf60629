"""Write study results: JSON and GeoJSON carry the provenance in the body, CSV beside it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import h3
import pandas as pd

from pipelines.errors import InputError
from pipelines.spreadsheet import spreadsheet_safe_frame
from pipelines.store.atomic import atomic_write

FORMATS = ("csv", "geojson", "json")


class OutputError(InputError):
    """An output that cannot be written as asked."""


def output_format(path: Path, explicit: str | None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise OutputError(f"--format must be one of {', '.join(FORMATS)}, got {explicit!r}")
        return explicit
    suffix = path.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    raise OutputError(f"cannot tell the format from {path.name!r}; add --format csv|geojson|json")


def output_files(path: Path, file_format: str) -> list[Path]:
    """The files :func:`write_result` writes for ``path``: CSV has a provenance file beside it."""
    if file_format == "csv":
        return [path, path.with_name(path.name + ".provenance.json")]
    return [path]


def write_result(cells: pd.DataFrame, provenance: dict, path: Path, file_format: str) -> list[Path]:
    """Write the cells (and, for CSV, ``FILE.provenance.json``); returns the files written."""
    if not path.parent.is_dir():
        raise OutputError(f"folder {path.parent} does not exist; create it or choose another -o")
    records = _records(cells)
    if file_format == "json":
        _write_text(path, _dumps({"provenance": provenance, "cells": records}))
        return [path]
    if file_format == "geojson":
        features = [_feature(record) for record in records]
        body = {"type": "FeatureCollection", "provenance": provenance, "features": features}
        _write_text(path, _dumps(body))
        return [path]
    if file_format == "csv":
        flat = cells.copy()
        for column in flat.columns:
            if flat[column].map(lambda v: isinstance(v, list)).any():
                flat[column] = flat[column].map(
                    lambda v: "; ".join(v) if isinstance(v, list) else v
                )
        with atomic_write(path) as tmp:
            spreadsheet_safe_frame(flat).to_csv(tmp, index=False)
        sidecar = output_files(path, file_format)[1]
        _write_text(sidecar, _dumps(provenance))
        return [path, sidecar]
    raise OutputError(f"unknown format {file_format!r}")


def _records(cells: pd.DataFrame) -> list[dict]:
    return [
        {key: _plain(value) for key, value in row.items()}
        for row in cells.to_dict(orient="records")
    ]


def _plain(value: object) -> object:
    """JSON-safe scalars: numpy types to Python, NaN to null."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _feature(record: dict) -> dict:
    ring = [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(record["h3"])]
    ring.append(ring[0])
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": record,
    }


def _dumps(body: dict) -> str:
    return json.dumps(body, indent=1, ensure_ascii=False, default=_plain)


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
