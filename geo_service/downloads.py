"""CSV answers: a download whose ``Link: <...>; rel="describedby"`` header points at the JSON that
holds what CSV has no place for (the provenance)."""

from __future__ import annotations

from urllib.parse import urlencode

import pandas as pd
from fastapi import Request, Response

# OWASP CSV injection: a cell starting with = + - @ (or tab/CR) is run as a formula by Excel.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe_csv(frame: pd.DataFrame) -> str:
    """``frame`` as CSV, every text cell a spreadsheet would run as a formula quoted with a
    leading apostrophe (area and street names come from files and users; numbers are untouched)."""
    table = frame.copy()
    for column in table.select_dtypes(include=["object", "string"]).columns:
        table[column] = table[column].map(_no_formula)
    return table.to_csv(index=False)


def _no_formula(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(
    text: str, filename: str, described_by: str, headers: dict[str, str] | None = None
) -> Response:
    """``text`` as ``filename``, linked to its description at the URL ``described_by``."""
    headers = {
        **(headers or {}),
        "Link": f'<{described_by}>; rel="describedby"; type="application/json"',
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


def same_query_url(request: Request, route_name: str) -> str:
    """The route ``route_name`` asked the request's own question (its query without ``format``)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "format"]
    return str(request.url_for(route_name).replace(query=urlencode(query)))
