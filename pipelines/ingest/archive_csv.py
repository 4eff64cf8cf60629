"""Parse one police.uk street-level CSV into canonical rows and counted rejections.

Every data row ends up either kept or counted under one rejection reason, so a file's rows always
add up: ``source_rows == kept + sum(rejected)``. Parsing is vectorised with Arrow; only the few
distinct category names go through Python.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from pipelines.categories import canonical_categories
from pipelines.schema import SOURCE_ARCHIVE

HEADER = [
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
]

# Rejection reasons, in the order they are tested: a row is counted once, under the first.
MALFORMED_ROW = "malformed_row"  # wrong number of fields
MONTH_MISMATCH = "month_mismatch"  # Month column disagrees with the file's month
UNKNOWN_CRIME_TYPE = "unknown_crime_type"
BAD_COORDINATES = "bad_coordinates"  # unparseable, half missing, or outside the globe

DUPLICATE_CRIME_ID = "duplicate_crime_id"  # warning only: police.uk does repeat a few IDs

_NUMBER = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"
_MAX_SAMPLES = 5
_UTF8_BOM = b"\xef\xbb\xbf"


class CsvFileError(Exception):
    """The whole file cannot be read as a street-level CSV (wrong header, broken quoting)."""


@dataclass
class ParsedFile:
    """Kept rows (canonical columns except h3_cell) and what happened to the others."""

    rows: pa.Table
    source_rows: int
    no_location: int
    rejected: dict[str, int]
    warnings: dict[str, int]
    samples: dict[str, list[str]]  # reason -> a few offending lines or values, for the report
    sha256: str


@dataclass
class _Malformed:
    count: int = 0
    samples: list[str] = field(default_factory=list)

    def handle(self, row: pa_csv.InvalidRow) -> str:
        self.count += 1
        if len(self.samples) < _MAX_SAMPLES:
            where = f"line {row.number}: " if row.number is not None else ""
            self.samples.append(
                f"{where}{row.actual_columns} fields, expected {row.expected_columns}: "
                f"{row.text[:120]!r}"
            )
        return "skip"


def parse_street_csv(data: bytes, force: str, month: str) -> ParsedFile:
    """Read a street-level CSV's bytes for the force and month its file name gives."""
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    _check_header(data)
    malformed = _Malformed()
    table = _read_strings(data, malformed)

    rejected: Counter[str] = Counter()
    samples: dict[str, list[str]] = {}
    if malformed.count:
        rejected[MALFORMED_ROW] = malformed.count
        samples[MALFORMED_ROW] = malformed.samples

    month_ok = pc.equal(table["Month"], month)
    category, category_ok = _categories(table["Crime type"])
    longitude, latitude, no_location, coords_ok = _coordinates(
        table["Longitude"], table["Latitude"]
    )

    keep = np.ones(table.num_rows, dtype=bool)
    for reason, ok, columns in (
        (MONTH_MISMATCH, month_ok, ["Month"]),
        (UNKNOWN_CRIME_TYPE, category_ok, ["Crime type"]),
        (BAD_COORDINATES, coords_ok, ["Longitude", "Latitude"]),
    ):
        failing = keep & ~np.asarray(ok, dtype=bool)
        if failing.any():
            rejected[reason] = int(failing.sum())
            samples[reason] = _sample(table, failing, columns)
            keep &= ~failing

    mask = pa.array(keep)
    crime_id = _empty_to_null(table["Crime ID"])
    rows = pa.table(
        {
            "crime_id": crime_id,
            "api_id": pa.nulls(table.num_rows, pa.int64()),
            "month": table["Month"],
            "force": pa.repeat(pa.scalar(force, pa.string()), table.num_rows),
            "reported_by": _empty_to_null(table["Reported by"]),
            "falls_within": _empty_to_null(table["Falls within"]),
            "longitude": longitude,
            "latitude": latitude,
            "location": _empty_to_null(table["Location"]),
            "lsoa_code": _empty_to_null(table["LSOA code"]),
            "lsoa_name": _empty_to_null(table["LSOA name"]),
            "category": category,
            "last_outcome": _empty_to_null(table["Last outcome category"]),
            "context": _empty_to_null(table["Context"]),
            "source": pa.repeat(pa.scalar(SOURCE_ARCHIVE, pa.string()), table.num_rows),
        }
    ).filter(mask)

    warnings: dict[str, int] = {}
    duplicates = _duplicate_ids(rows["crime_id"])
    if duplicates:
        warnings[DUPLICATE_CRIME_ID] = duplicates
    return ParsedFile(
        rows=rows,
        source_rows=table.num_rows + malformed.count,
        no_location=int(np.asarray(no_location, dtype=bool)[keep].sum()),
        rejected=dict(sorted(rejected.items())),
        warnings=warnings,
        samples=samples,
        sha256=digest,
    )


def _check_header(data: bytes) -> None:
    if not data.strip():
        raise CsvFileError("the file is empty; a police.uk street-level CSV starts with a header")
    first_line = data.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        header = next(csv.reader(io.StringIO(first_line.decode("utf-8"))), [])
    except UnicodeDecodeError as error:
        raise CsvFileError("the header line is not UTF-8 text; is this a police.uk CSV?") from error
    missing = [name for name in HEADER if name not in header]
    if missing:
        shown = ",".join(header)[:120]
        raise CsvFileError(
            f"wrong header: missing column(s) {', '.join(missing)}; a police.uk street-level CSV "
            f"starts '{','.join(HEADER[:4])},...' but this one starts '{shown}'"
        )


def _read_strings(data: bytes, malformed: _Malformed) -> pa.Table:
    """All columns as strings (empty stays ""), so validation sees exactly what was written."""
    convert = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(HEADER, pa.string()),
        include_columns=HEADER,
        strings_can_be_null=False,
    )
    parse = pa_csv.ParseOptions(invalid_row_handler=malformed.handle)
    # One thread per file: files are small, and callers parse several files at once instead.
    read = pa_csv.ReadOptions(use_threads=False)
    try:
        return pa_csv.read_csv(
            pa.BufferReader(data), read_options=read, parse_options=parse, convert_options=convert
        )
    except pa.ArrowInvalid as error:
        if "UTF8" not in str(error):
            raise CsvFileError(f"cannot parse as CSV: {error}") from error
    # Invalid UTF-8 somewhere (a damaged download): replace the bad bytes, keep the rows.
    malformed.count = 0
    malformed.samples.clear()
    repaired = data.decode("utf-8", errors="replace").encode("utf-8")
    try:
        return pa_csv.read_csv(
            pa.BufferReader(repaired),
            read_options=read,
            parse_options=parse,
            convert_options=convert,
        )
    except pa.ArrowInvalid as error:
        raise CsvFileError(f"cannot parse as CSV: {error}") from error


def _empty_to_null(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)


def _categories(names: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    distinct = pc.unique(names).to_pylist()
    mapping = canonical_categories(distinct)
    known = [name for name, slug in mapping.items() if slug is not None]
    slugs = pa.array([mapping[name] for name in known], pa.string())
    index = pc.index_in(names, value_set=pa.array(known, pa.string()))
    return pc.take(slugs, index), pc.is_valid(index)


def _coordinates(
    longitude: pa.ChunkedArray, latitude: pa.ChunkedArray
) -> tuple[pa.ChunkedArray, pa.ChunkedArray, pa.ChunkedArray, pa.ChunkedArray]:
    """Parsed floats, the "No location" flag (both empty), and whether the pair is usable."""
    lng_empty = pc.equal(pc.utf8_trim_whitespace(longitude), "")
    lat_empty = pc.equal(pc.utf8_trim_whitespace(latitude), "")
    no_location = pc.and_(lng_empty, lat_empty)
    lng = _to_float(longitude, lng_empty)
    lat = _to_float(latitude, lat_empty)
    in_range = pc.and_(
        pc.and_(pc.greater_equal(lng, -180.0), pc.less_equal(lng, 180.0)),
        pc.and_(pc.greater_equal(lat, -90.0), pc.less_equal(lat, 90.0)),
    )
    usable = pc.or_(no_location, pc.fill_null(in_range, False))
    return lng, lat, no_location, usable


def _to_float(text: pa.ChunkedArray, empty: pa.ChunkedArray) -> pa.ChunkedArray:
    """Floats, null where empty or not a number. Casts the column at once; checks value by
    value (a regex) only when that fails, which valid police.uk files never need."""
    null = pa.scalar(None, pa.string())
    try:
        return pc.cast(pc.if_else(empty, null, text), pa.float64())
    except pa.ArrowInvalid:
        is_number = pc.match_substring_regex(text, _NUMBER)
        return pc.cast(pc.if_else(is_number, text, null), pa.float64())


def _duplicate_ids(crime_id: pa.ChunkedArray) -> int:
    """Rows whose non-empty Crime ID already appeared earlier in the file (kept, but reported)."""
    ids = crime_id.drop_null()
    return len(ids) - len(pc.unique(ids))


def _sample(table: pa.Table, failing: np.ndarray, columns: list[str]) -> list[str]:
    """The offending values of the first few failing rows, to show the user what was wrong."""
    rows = np.flatnonzero(failing)[:_MAX_SAMPLES].tolist()
    picked = table.select(columns).take(rows).to_pylist()
    return [", ".join(f"{name}={row[name]!r}" for name in columns) for row in picked]
