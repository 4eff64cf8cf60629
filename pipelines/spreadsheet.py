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
    """``frame`` as CSV text (no index; ``to_csv`` as pandas' keywords), formulas quoted."""
    return spreadsheet_safe_frame(frame).to_csv(index=False, **to_csv)


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
