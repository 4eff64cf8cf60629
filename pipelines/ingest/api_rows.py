"""police.uk API crime objects -> canonical rows (CRIME_SCHEMA), with a count of what was refused.

The API says less than the archive: no reporting force, no LSOA. Those columns stay null here
(LSOAs are derived from boundaries later) rather than being guessed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.categories import canonical_category
from pipelines.index.h3_cells import cells_for_points
from pipelines.schema import CRIME_SCHEMA, SOURCE_API

UNKNOWN_CRIME_TYPE = "unknown_crime_type"
BAD_COORDINATES = "bad_coordinates"
MISSING_ID = "missing_id"


@dataclass
class ParsedCrimes:
    table: pa.Table  # exactly CRIME_SCHEMA, sorted by api_id
    rejected: dict[str, int] = field(default_factory=dict)


def parse_crimes(
    crimes: Iterable[dict], force: str, month: str, *, no_location: bool = False
) -> ParsedCrimes:
    """Canonical rows for API crimes; ``no_location`` marks crimes-no-location answers."""
    columns: dict[str, list] = {name: [] for name in CRIME_SCHEMA.names if name != "h3_cell"}
    rejected: Counter[str] = Counter()
    for crime in crimes:
        api_id = crime.get("id")
        if not isinstance(api_id, int) or isinstance(api_id, bool):
            rejected[MISSING_ID] += 1
            continue
        category = canonical_category(str(crime.get("category") or ""))
        if category is None:
            rejected[UNKNOWN_CRIME_TYPE] += 1
            continue
        if no_location:
            lng = lat = None
            street = None
        else:
            point = _point(crime.get("location"))
            if point is None:
                rejected[BAD_COORDINATES] += 1
                continue
            lng, lat = point
            street = _street_name(crime.get("location"))
        outcome = crime.get("outcome_status")
        columns["crime_id"].append(crime.get("persistent_id") or None)
        columns["api_id"].append(api_id)
        columns["month"].append(crime.get("month") or month)
        columns["force"].append(force)
        columns["reported_by"].append(None)
        columns["falls_within"].append(None)
        columns["longitude"].append(lng)
        columns["latitude"].append(lat)
        columns["location"].append(street)
        columns["lsoa_code"].append(None)
        columns["lsoa_name"].append(None)
        columns["category"].append(category)
        columns["last_outcome"].append(
            (outcome.get("category") or None) if isinstance(outcome, dict) else None
        )
        columns["context"].append(crime.get("context") or None)
        columns["source"].append(SOURCE_API)
    return ParsedCrimes(_to_table(columns), dict(sorted(rejected.items())))


def _point(location: object) -> tuple[float, float] | None:
    """(longitude, latitude) from the API's string coordinates; None when absent or impossible."""
    if not isinstance(location, dict):
        return None
    try:
        lat = float(location["latitude"])
        lng = float(location["longitude"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lng)) or abs(lat) > 90 or abs(lng) > 180:
        return None
    return lng, lat


def _street_name(location: dict) -> str | None:
    street = location.get("street")
    return (street.get("name") or None) if isinstance(street, dict) else None


def _to_table(columns: dict[str, list]) -> pa.Table:
    arrays = {}
    for name, values in columns.items():
        arrays[name] = pa.array(values, type=CRIME_SCHEMA.field(name).type)
    lat = arrays["latitude"].to_numpy(zero_copy_only=False).astype(np.float64)
    lng = arrays["longitude"].to_numpy(zero_copy_only=False).astype(np.float64)
    arrays["h3_cell"] = cells_for_points(lat, lng)
    table = pa.table([arrays[name] for name in CRIME_SCHEMA.names], schema=CRIME_SCHEMA)
    return table.take(pc.sort_indices(table, [("api_id", "ascending")]))
