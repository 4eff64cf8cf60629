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

from pipelines import arrow_numpy
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
    """Kept rows (canonical columns except h3_cell; the repeating text columns
    dictionary-encoded) and what happened to the others."""

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

    def reset(self) -> None:
        """Forget what a failed read counted: the file is read again from its start."""
        self.count = 0
        self.samples.clear()


def parse_street_csv(data: bytes, force: str, month: str) -> ParsedFile:
    """Read a street-level CSV's bytes for the force and month its file name gives."""
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    _check_header(data)
    malformed = _Malformed()
    table = _read_columns(data, malformed)

    rejected: Counter[str] = Counter()
    samples: dict[str, list[str]] = {}
    if malformed.count:
        rejected[MALFORMED_ROW] = malformed.count
        samples[MALFORMED_ROW] = malformed.samples

    month_ok = _equals(_one_chunk(table["Month"]), month)
    category, category_ok = _categories(_one_chunk(table["Crime type"]))
    longitude, latitude, no_location, coords_ok = _coordinates(
        table["Longitude"], table["Latitude"]
    )

    keep = np.ones(table.num_rows, dtype=bool)
    for reason, ok, columns in (
        (MONTH_MISMATCH, month_ok, ["Month"]),
        (UNKNOWN_CRIME_TYPE, category_ok, ["Crime type"]),
        (BAD_COORDINATES, coords_ok, ["Longitude", "Latitude"]),
    ):
        failing = keep & ~ok
        if failing.any():
            rejected[reason] = int(failing.sum())
            samples[reason] = _sample(table, failing, columns)
            keep &= ~failing

    # Empty fields are already null (the reader's null_values), as the store keeps them. The
    # columns whose values repeat stay dictionary-encoded as read: sorting them moves 4-byte
    # indices, and the Parquet writer stores their dictionary as it is instead of hashing every
    # value again (pipelines.store.crime_store). The month is the file's on every kept row.
    n = table.num_rows
    rows = pa.table(
        {
            "crime_id": table["Crime ID"],
            "api_id": pa.nulls(n, pa.int64()),
            "month": _repeated(month, n),
            "force": _repeated(force, n),
            "reported_by": _one_chunk(table["Reported by"]),
            "falls_within": _one_chunk(table["Falls within"]),
            "longitude": longitude,
            "latitude": latitude,
            "location": table["Location"],
            "lsoa_code": table["LSOA code"],
            "lsoa_name": table["LSOA name"],
            "category": category,
            "last_outcome": _one_chunk(table["Last outcome category"]),
            "context": _one_chunk(table["Context"]),
            "source": _repeated(SOURCE_ARCHIVE, n),
        }
    )
    if not keep.all():
        rows = rows.filter(arrow_numpy.from_numpy(keep))

    warnings: dict[str, int] = {}
    duplicates = _duplicate_ids(rows["crime_id"])
    if duplicates:
        warnings[DUPLICATE_CRIME_ID] = duplicates
    return ParsedFile(
        rows=rows,
        source_rows=table.num_rows + malformed.count,
        no_location=int(no_location[keep].sum()),
        rejected=dict(sorted(rejected.items())),
        warnings=warnings,
        samples=samples,
        sha256=digest,
    )


def _check_header(data: bytes) -> None:
    # isspace and find stop at the first fitting byte; strip and split would copy the file.
    if not data or data.isspace():
        raise CsvFileError("the file is empty; a police.uk street-level CSV starts with a header")
    end = data.find(b"\n")
    first_line = (data if end < 0 else data[:end]).rstrip(b"\r")
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


def _read_columns(data: bytes, malformed: _Malformed) -> pa.Table:
    """The columns, empty fields as null. First with the coordinates parsed as numbers by the
    CSV reader itself (the fast path, every valid police.uk file); a file with a coordinate
    that is not a number, or with bytes that are not UTF-8, is read again as text, so that
    validation can reject those rows one by one instead of the whole file."""
    try:
        return _read(data, malformed, _NUMERIC_COORDINATES)
    except pa.ArrowInvalid:
        malformed.reset()
    try:
        return _read(data, malformed, _TEXT_COORDINATES)
    except pa.ArrowInvalid as error:
        if "UTF8" not in str(error):
            raise CsvFileError(f"cannot parse as CSV: {error}") from error
    # Invalid UTF-8 somewhere (a damaged download): replace the bad bytes, keep the rows.
    malformed.reset()
    repaired = data.decode("utf-8", errors="replace").encode("utf-8")
    try:
        return _read(repaired, malformed, _TEXT_COORDINATES)
    except pa.ArrowInvalid as error:
        raise CsvFileError(f"cannot parse as CSV: {error}") from error


# Columns of a few distinct values (the month, the forces, crime types, outcomes, context) are
# read dictionary-encoded: the reader hashes each value once, and every later step (the checks,
# the sort, the Parquet writer) works on 4-byte indices instead of the text.
_REPEATING = [
    "Month",
    "Reported by",
    "Falls within",
    "Crime type",
    "Last outcome category",
    "Context",
]
_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
_TEXT_COORDINATES = {name: _DICTIONARY if name in _REPEATING else pa.string() for name in HEADER}
_NUMERIC_COORDINATES = {**_TEXT_COORDINATES, "Longitude": pa.float64(), "Latitude": pa.float64()}


def _read(data: bytes, malformed: _Malformed, column_types: dict[str, pa.DataType]) -> pa.Table:
    convert = pa_csv.ConvertOptions(
        column_types=column_types,
        include_columns=HEADER,
        null_values=[""],
        strings_can_be_null=True,
    )
    parse = pa_csv.ParseOptions(invalid_row_handler=malformed.handle)
    # One thread per file: files are small, and callers parse several files at once instead.
    read = pa_csv.ReadOptions(use_threads=False)
    return pa_csv.read_csv(
        pa.BufferReader(data), read_options=read, parse_options=parse, convert_options=convert
    )


def _categories(names: pa.DictionaryArray) -> tuple[pa.DictionaryArray, np.ndarray]:
    """Each row's category slug (null for an empty or unknown crime type, dictionary-encoded
    over the distinct slugs) and whether it has one. The crime types come dictionary-encoded
    from the reader, so only their few distinct names go through Python."""
    mapping = canonical_categories(names.dictionary.to_pylist())
    slugs = sorted({slug for slug in mapping.values() if slug is not None})
    position = {slug: i for i, slug in enumerate(slugs)}
    codes = np.array([position.get(slug, -1) for slug in mapping.values()], dtype=np.int32)
    indices = pc.take(arrow_numpy.from_numpy(codes, mask=codes < 0), names.indices)
    category = pa.DictionaryArray.from_arrays(indices, arrow_numpy.from_strings(slugs))
    return category, arrow_numpy.to_numpy(pc.is_valid(indices))


def _one_chunk(column: pa.ChunkedArray) -> pa.Array:
    """A column read in several blocks as one array (dictionary columns: one dictionary)."""
    if column.num_chunks == 1:
        return column.chunk(0)
    if pa.types.is_dictionary(column.type):
        column = column.unify_dictionaries()
    return column.combine_chunks()


def _equals(column: pa.DictionaryArray, value: str) -> np.ndarray:
    """Whether each row holds ``value`` (False where empty): compared once per distinct value."""
    per_value = pc.equal(column.dictionary, arrow_numpy.from_strings([value])[0])
    return arrow_numpy.to_numpy(pc.take(per_value, column.indices), nulls_as=False)


def _repeated(value: str, count: int) -> pa.DictionaryArray:
    """``value`` on every row, as a one-value dictionary (no text copied per row)."""
    return pa.DictionaryArray.from_arrays(
        arrow_numpy.from_numpy(np.zeros(count, dtype=np.int32)), arrow_numpy.from_strings([value])
    )


def _coordinates(
    longitude: pa.ChunkedArray, latitude: pa.ChunkedArray
) -> tuple[pa.ChunkedArray, pa.ChunkedArray, np.ndarray, np.ndarray]:
    """Parsed floats, the "No location" flag (both empty), and whether the pair is usable."""
    lng, lng_empty = _to_float(longitude)
    lat, lat_empty = _to_float(latitude)
    no_location = pc.and_(lng_empty, lat_empty)
    # Arrow scalars, not Python numbers: given those, pyarrow imports pandas (a second of a
    # worker's start).
    degrees = {value: arrow_numpy.scalar(value, pa.float64()) for value in (-180, 180, -90, 90)}
    in_range = pc.and_(
        pc.and_(pc.greater_equal(lng, degrees[-180]), pc.less_equal(lng, degrees[180])),
        pc.and_(pc.greater_equal(lat, degrees[-90]), pc.less_equal(lat, degrees[90])),
    )
    usable = pc.or_(no_location, pc.fill_null(in_range, arrow_numpy.scalar(False, pa.bool_())))
    return lng, lat, arrow_numpy.to_numpy(no_location), arrow_numpy.to_numpy(usable)


def _to_float(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """(floats, empty): null where empty or not a number, numbers padded with spaces taken as
    the CSV reader takes them. Text columns are cast at once and checked value by value (a
    regex) only when that fails, which valid police.uk files never need."""
    if pa.types.is_floating(column.type):
        return column, pc.is_null(column)
    text = pc.utf8_trim_whitespace(column)
    empty = pc.fill_null(pc.equal(text, ""), True)
    null = pa.scalar(None, pa.string())
    text = pc.if_else(empty, null, text)
    try:
        return pc.cast(text, pa.float64()), empty
    except pa.ArrowInvalid:
        is_number = pc.match_substring_regex(text, _NUMBER)
        return pc.cast(pc.if_else(is_number, text, null), pa.float64()), empty


def _duplicate_ids(crime_id: pa.ChunkedArray) -> int:
    """Rows whose non-empty Crime ID already appeared earlier in the file (kept, but reported)."""
    nulls = crime_id.null_count
    if _all_distinct(crime_id, len(crime_id) - nulls):
        return 0
    # Counted without dropping the nulls first (that copies every ID): unique() lists null
    # once when there is one.
    distinct = len(pc.unique(crime_id)) - (1 if nulls else 0)
    return len(crime_id) - nulls - distinct


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _all_distinct(crime_id: pa.ChunkedArray, present: int) -> bool:
    """True when the IDs are certainly all different, by a 64-bit number mixed from each ID's
    first 16 bytes (equal IDs give equal numbers): police.uk IDs are 64 random hex digits, so
    16 of them tell apart any two IDs of a file but by a chance of about one in 2^64, and
    sorting one number a row is a fraction of the time of hashing the text. False (count
    exactly) when some numbers repeat, which repeated IDs do, or when the IDs are not all 64
    digits."""
    words = []
    for chunk in crime_id.chunks:
        count = len(chunk) - chunk.null_count
        if not count:
            continue
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)[
            chunk.offset : chunk.offset + len(chunk) + 1
        ]
        # Every present ID 64 characters and every null none: as many 64s as IDs, and
        # characters for exactly those.
        if (
            offsets[-1] - offsets[0] != 64 * count
            or np.count_nonzero(np.diff(offsets) == 64) != count
        ):
            return False
        data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
        rows = data.view(np.uint64).reshape(count, 8)
        words.append(rows[:, 0] * _MIX ^ rows[:, 1])
    if not words:
        return True
    mixed = np.concatenate(words) if len(words) > 1 else words[0]
    mixed.sort()  # numpy's vectorised sort: faster than a hash table of the numbers
    return not (mixed[1:] == mixed[:-1]).any()


def _sample(table: pa.Table, failing: np.ndarray, columns: list[str]) -> list[str]:
    """The offending values of the first few failing rows, to show the user what was wrong
    (an empty field as '', as the file has it)."""
    rows = arrow_numpy.from_numpy(np.flatnonzero(failing)[:_MAX_SAMPLES])
    picked = table.select(columns).take(rows).to_pylist()
    return [
        ", ".join(f"{name}={'' if row[name] is None else row[name]!r}" for name in columns)
        for row in picked
    ]
