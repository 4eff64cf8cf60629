"""CSV answers: a download whose ``Link: <...>; rel="describedby"`` header points at the JSON that
holds what CSV has no place for (the provenance)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request, Response

# The one formula-quoting rule for every CSV, CLI included (pipelines/spreadsheet.py).
from pipelines.spreadsheet import spreadsheet_safe_csv

__all__ = ["csv_response", "same_query_url", "spreadsheet_safe_csv"]


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
