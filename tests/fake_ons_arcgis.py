"""A local stand-in for the ONS Open Geography Portal's ArcGIS REST feature services.

It serves the ward files in ../shared/data/boundaries/wards_<yyyy>/ as one feature service per
vintage, on a real HTTP server on 127.0.0.1, answering the requests the real portal answers:
``<service>/FeatureServer/0?f=json`` (layer description with its fields) and
``<service>/FeatureServer/0/query?where=FIELD='VALUE'&outFields=*&outSR=4326&f=geojson
&resultOffset=&resultRecordCount=`` with paging (at most ``max_record_count`` features a page and
``exceededTransferLimit`` when more remain). Like ArcGIS, it reports a bad query as HTTP 200 with
an ``error`` object; ``fail_next(status)`` makes the next request fail with that HTTP status.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

_WHERE = re.compile(r"^\s*(\w+)\s*=\s*'([^']*)'\s*$")


class FakeOnsArcgis:
    def __init__(self, services: dict[str, Path], max_record_count: int = 5) -> None:
        """``services``: service name -> folder of GeoJSON files merged into its layer 0."""
        self.layers = {name: _merge(folder) for name, folder in services.items()}
        self.max_record_count = max_record_count
        self.requests: list[str] = []
        self._fail_status: int | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOnsArcgis:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/arcgis/rest/services"

    def fail_next(self, status: int) -> None:
        self._fail_status = status

    def answer(self, url: str) -> tuple[int, dict]:
        self.requests.append(url)
        if self._fail_status is not None:
            status, self._fail_status = self._fail_status, None
            return status, {"message": "injected failure"}
        parsed = urlparse(url)
        match = re.match(r"^/arcgis/rest/services/([^/]+)/FeatureServer/0(/query)?/?$", parsed.path)
        params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        if not match or match.group(1) not in self.layers:
            return 200, _error(400, "Invalid URL", "Invalid URL")
        features = self.layers[match.group(1)]
        fields = list(features[0]["properties"]) if features else []
        if not match.group(2):
            return 200, {
                "name": match.group(1),
                "type": "Feature Layer",
                "maxRecordCount": self.max_record_count,
                "fields": [{"name": f, "type": "esriFieldTypeString"} for f in fields],
            }
        if params.get("f") != "geojson":
            return 200, _error(400, "Unable to complete operation.", "this fake serves f=geojson")
        where = _WHERE.match(unquote(params.get("where", "")))
        if not where or where.group(1) not in fields:
            return 200, _error(400, "Unable to complete operation.", "'where' parameter is invalid")
        field, value = where.groups()
        selected = [f for f in features if f["properties"].get(field) == value]
        offset = int(params.get("resultOffset", 0))
        count = min(
            int(params.get("resultRecordCount", self.max_record_count)), self.max_record_count
        )
        page = selected[offset : offset + count]
        body: dict = {"type": "FeatureCollection", "features": page}
        if offset + count < len(selected):
            body["properties"] = {"exceededTransferLimit": True}
        return 200, body


def _merge(folder: Path) -> list[dict]:
    """All features of the folder's GeoJSON files, once per ward code."""
    seen: dict[str, dict] = {}
    for path in sorted(folder.glob("*.geojson")):
        for feature in json.loads(path.read_text())["features"]:
            code_field = next(k for k in feature["properties"] if re.match(r"^WD\d\dCD$", k))
            seen.setdefault(feature["properties"][code_field], feature)
    return list(seen.values())


def _error(code: int, message: str, detail: str) -> dict:
    return {"error": {"code": code, "message": message, "details": [detail]}}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = self.server.fake.answer(self.path)  # type: ignore[attr-defined]
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass
