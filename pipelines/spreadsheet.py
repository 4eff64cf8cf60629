"""CSV that a spreadsheet opens as data, never as formulas: the one rule every CSV the project
writes (CLI files and prints, service downloads, crime exports) goes through.

OWASP "CSV injection": Excel, LibreOffice and Google Sheets run a cell that starts with ``=``,
``+``, ``-`` or ``@`` (or a tab or carriage return before one) as a formula, so an area called
``=HYPERLINK("http://evil.example","click")`` would become a live link in a council analyst's
sheet. Text cells that start so get a leading apostrophe, which spreadsheets show as text and do
not display; numbers are untouched (``-3.5`` stays a number). Area names, street names and codes
come from files and clients, so every text column is treated this way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = r"^[=+\-@\t\r]"


def spreadsheet_safe(value: Any) -> Any:
    """``value`` with a leading apostrophe when it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell made ``spreadsheet_safe``."""
    table = frame.copy()
    for column in table.select_dtypes(include=["object", "string"]).columns:
        table[column] = table[column].map(spreadsheet_safe)
    return table


def spreadsheet_safe_csv(frame: pd.DataFrame, **to_csv: Any) -> str:
    """``frame`` as CSV text (no index; ``to_csv`` as pandas' keywords), formulas quoted and
    numbers rounded (:func:`csv_frame`)."""
    return csv_frame(frame).to_csv(index=False, **to_csv)


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as every CSV of results is written: text made ``spreadsheet_safe``, decimals to
    :data:`SIGNIFICANT_DIGITS` significant figures (a z of -0.228147, not -0.22814684444867955)
    and coordinates to 6 decimals (0.1 m). JSON answers keep full precision."""
    return spreadsheet_safe_frame(rounded_decimals(frame))


SIGNIFICANT_DIGITS = 6
COORDINATE_COLUMNS = frozenset({"lat", "lng", "lon", "latitude", "longitude"})


def rounded_decimals(frame: pd.DataFrame, digits: int = SIGNIFICANT_DIGITS) -> pd.DataFrame:
    """A copy with float columns rounded to ``digits`` significant figures (coordinates to 6
    decimals); whole-number columns and text are untouched."""
    table = frame.copy()
    for column in table.select_dtypes(include=["floating"]).columns:
        values = table[column].to_numpy(dtype=np.float64)
        if str(column).lower() in COORDINATE_COLUMNS:
            table[column] = np.round(values, 6)
        else:
            table[column] = _significant(values, digits)
    return table


def _significant(values: np.ndarray, digits: int) -> np.ndarray:
    """``values`` rounded to ``digits`` significant figures. Scaling by an exact power of ten
    and dividing back gives the double nearest the rounded decimal, so it prints as written."""
    finite = np.isfinite(values) & (values != 0)
    out = values.copy()
    x = values[finite]
    decimals = digits - 1 - np.floor(np.log10(np.abs(x))).astype(int)
    up = decimals >= 0
    scale_up = 10.0 ** decimals[up]
    out_finite = np.empty_like(x)
    out_finite[up] = np.round(x[up] * scale_up) / scale_up
    scale_down = 10.0 ** -decimals[~up]
    out_finite[~up] = np.round(x[~up] / scale_down) * scale_down
    out[finite] = out_finite
    return out


def spreadsheet_safe_table(table: pa.Table) -> pa.Table:
    """``table`` with every string column made ``spreadsheet_safe`` (vectorised, for exports of
    millions of rows)."""
    for index, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            column = table.column(index)
            risky = pc.fill_null(pc.match_substring_regex(column, _FORMULA_PATTERN), False)
            quoted = pc.binary_join_element_wise("'", column, "")
            table = table.set_column(index, field, pc.if_else(risky, quoted, column))
    return table
