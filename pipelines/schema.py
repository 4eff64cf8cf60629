"""The canonical crime row: the one shape every source produces and the store keeps."""

from __future__ import annotations

import pyarrow as pa

# H3 cells are stored at this fine resolution; coarser study resolutions (7-10) are parents of it,
# found with h3.cell_to_parent instead of re-indexing points. Resolution 12 cells are ~9 m across,
# finer than police.uk's snap-point spacing, so no two snap points share a cell by accident of size.
BASE_H3_RESOLUTION = 12

CRIME_SCHEMA = pa.schema(
    [
        pa.field("crime_id", pa.string()),  # archive "Crime ID" / API persistent_id; null for ASB
        pa.field("api_id", pa.int64()),  # API "id"; null for archive rows
        pa.field("month", pa.string()),  # YYYY-MM: police.uk publishes no day or time
        pa.field("force", pa.string()),  # force slug, e.g. devon-and-cornwall
        pa.field("reported_by", pa.string()),
        pa.field("falls_within", pa.string()),
        pa.field("longitude", pa.float64()),  # snapped map point; null when "No location"
        pa.field("latitude", pa.float64()),
        pa.field("location", pa.string()),  # "On or near ..."
        pa.field("lsoa_code", pa.string()),
        pa.field("lsoa_name", pa.string()),
        pa.field("category", pa.string()),  # canonical slug, see pipelines.categories
        pa.field("last_outcome", pa.string()),
        pa.field("context", pa.string()),
        pa.field("source", pa.string()),  # "archive" or "api"
        pa.field("h3_cell", pa.uint64()),  # H3 cell at BASE_H3_RESOLUTION; null without location
    ]
)

COLUMNS: list[str] = CRIME_SCHEMA.names

SOURCE_ARCHIVE = "archive"
SOURCE_API = "api"


def empty_crimes() -> pa.Table:
    return CRIME_SCHEMA.empty_table()
