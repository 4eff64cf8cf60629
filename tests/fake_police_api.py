"""A fake data.police.uk served over real HTTP on 127.0.0.1, answering from real API output.

It reproduces the behaviours the ingest has to survive, as police.uk documents them:

* ``crimes-street/all-crime`` by ``poly`` + ``date`` (GET or form POST), 503 with no body when the
  area holds more than ``cap`` crimes (police.uk's cap is 10,000; tests lower it to force splits);
* GET URLs longer than 4,094 characters refused with 414;
* the rate limit (15/s, bursts of 30) enforced with a server-side leaky bucket: 429 + Retry-After;
* ``crimes-street-dates`` and ``crimes-no-location``;
* on request, transient failures (500, or 503 *with* Retry-After, unlike the over-cap 503).

Every request is logged so tests can assert on splits, POSTs and rates.
"""

from __future__ import annotations

import gzip
import math
import sys
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import orjson
import shapely
from shapely.geometry import Polygon

from pipelines.categories import canonical_category

MAX_URL = 4094


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    endpoint: str
    status: int
    url_length: int
    date: str | None = None
    vertices: int = 0  # points in the poly parameter
    at: float = 0.0  # time.monotonic() when the request arrived


@dataclass
class _Month:
    crimes: list[dict]
    lat: np.ndarray
    lng: np.ndarray

    @classmethod
    def of(cls, crimes: list[dict]) -> _Month:
        lat = np.array([_coordinate(c, "latitude") for c in crimes], dtype=np.float64)
        lng = np.array([_coordinate(c, "longitude") for c in crimes], dtype=np.float64)
        return cls(crimes, lat, lng)


def _coordinate(crime: dict, key: str) -> float:
    """NaN for a crime without a usable point: no polygon ever returns it."""
    try:
        return float(crime["location"][key])
    except (KeyError, TypeError, ValueError):
        return math.nan


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    endpoint: str | None  # None: any endpoint


class FakePoliceApi:
    """Start with ``with FakePoliceApi(...) as api:``; point the client at ``api.base_url``."""

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        crimes: dict[str, list[dict]] | None = None,
        no_location: dict[str, list[dict]] | None = None,
        forces: Iterable[str] = ("metropolitan",),
        cap: int = 10_000,
        rate: float = 15.0,
        burst: int = 30,
        tolerance: int = 8,
    ) -> None:
        if (data_dir is None) == (crimes is None):
            raise ValueError("give either data_dir (real json.gz months) or crimes (a dict)")
        self.data_dir = data_dir
        self.cap = cap
        self.rate = rate
        self.burst = burst
        # Slack for requests the client paced correctly but that reach the handler threads
        # bunched together (thread scheduling); without it the fake would punish honest clients.
        self.tolerance = tolerance
        self.no_location = dict(no_location or {})
        self.forces = set(forces)
        self.always_fail: int | None = None  # status answered to every request, when set
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._month_locks: dict[str, threading.Lock] = {}
        self._months: dict[str, _Month] = {}
        if crimes is not None:
            self._months = {month: _Month.of(items) for month, items in crimes.items()}
            self._available = sorted(crimes)
        else:
            self._available = sorted(p.name[:7] for p in data_dir.glob("????-??.json.gz"))
        self._failures: list[_Failure] = []
        self._level = 0.0
        self._last = time.monotonic()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakePoliceApi:
        server = _QuietServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.block_on_close = False  # keep-alive handler threads must not hold up stop()
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakePoliceApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/api"

    # -- test controls -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the log, queued failures and the rate bucket (a new client, a new second)."""
        with self._lock:
            self.log.clear()
            self._failures.clear()
            self.always_fail = None
            self._level = 0.0
            self._last = time.monotonic()

    def fail_next(
        self, count: int, status: int, retry_after: int | None = None, endpoint: str | None = None
    ) -> None:
        """Answer the next ``count`` requests (to ``endpoint``, or any) with a transient error."""
        with self._lock:
            self._failures.extend(_Failure(status, retry_after, endpoint) for _ in range(count))

    def publish(
        self, month: str, crimes: list[dict], no_location: list[dict] | None = None
    ) -> None:
        """Publish a new month, or republish a revised one, as police.uk does each month."""
        with self._lock:
            self._months[month] = _Month.of(crimes)
            self._available = sorted({*self._available, month})
            if no_location is not None:
                self.no_location[month] = no_location

    def preload(self, months: Iterable[str]) -> None:
        """Load months up front, so loading does not happen while a test measures the rate."""
        for month in months:
            self._month(month)

    def requests(
        self, endpoint: str | None = None, status: int | None = None, method: str | None = None
    ) -> list[LoggedRequest]:
        with self._lock:
            entries = list(self.log)
        return [
            e
            for e in entries
            if (endpoint is None or e.endpoint == endpoint)
            and (status is None or e.status == status)
            and (method is None or e.method == method)
        ]

    # -- answering ---------------------------------------------------------------------------------

    def _month(self, month: str) -> _Month | None:
        if month not in self._available:
            return None
        with self._lock:
            lock = self._month_locks.setdefault(month, threading.Lock())
        with lock:
            if month not in self._months:
                assert self.data_dir is not None
                with gzip.open(self.data_dir / f"{month}.json.gz", "rb") as handle:
                    self._months[month] = _Month.of(orjson.loads(handle.read()))
        return self._months[month]

    def _admit(self) -> tuple[int, int | None] | None:
        """Rate limit and injected failures: (status, retry_after) to answer instead, or None."""
        with self._lock:
            now = time.monotonic()
            self._level = max(0.0, self._level - (now - self._last) * self.rate)
            self._last = now
            if self._level + 1 > self.burst + self.tolerance:
                wait = max(1, math.ceil((self._level + 1 - self.burst) / self.rate))
                return 429, wait
            self._level += 1
            if self.always_fail is not None:
                return self.always_fail, None
        return None

    def _injected(self, endpoint: str) -> _Failure | None:
        with self._lock:
            for index, failure in enumerate(self._failures):
                if failure.endpoint in (None, endpoint):
                    return self._failures.pop(index)
        return None

    def answer(self, method: str, url: str, body: bytes) -> tuple[int, dict[str, str], bytes, dict]:
        """(status, headers, body, log fields) for one request."""
        parts = urlsplit(url)
        endpoint = parts.path.removeprefix("/api/").strip("/")
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if method == "POST":
            params.update({k: v[0] for k, v in parse_qs(body.decode()).items()})
        poly = params.get("poly", "")
        fields = {"date": params.get("date"), "vertices": len(poly.split(":")) if poly else 0}
        if (admitted := self._admit()) is not None:
            status, retry_after = admitted
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return status, headers, b"", fields
        if (failure := self._injected(endpoint)) is not None:
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            return failure.status, headers, b"", fields
        if method == "GET" and len(url) > MAX_URL:
            return 414, {}, b"", fields
        if endpoint == "crimes-street-dates":
            dates = [{"date": m, "stop-and-search": []} for m in reversed(self._available)]
            return 200, {}, orjson.dumps(dates), fields
        if endpoint == "crimes-street/all-crime":
            return (*self._street(params), fields)
        if endpoint == "crimes-no-location":
            if params.get("force") not in self.forces:
                return 404, {}, b"", fields
            if params.get("category", "all-crime") != "all-crime":
                return 400, {}, b"", fields
            return 200, {}, orjson.dumps(self.no_location.get(params.get("date", ""), [])), fields
        return 404, {}, b"", fields

    def _street(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        try:
            pairs = [pair.split(",") for pair in params["poly"].split(":")]
            polygon = Polygon([(float(lng), float(lat)) for lat, lng in pairs])
        except (KeyError, ValueError, TypeError):
            return 400, {}, b""
        month = self._month(params.get("date", ""))
        if month is None:
            return 404, {}, b""
        minx, miny, maxx, maxy = polygon.bounds
        near = np.flatnonzero(
            (month.lng >= minx) & (month.lng <= maxx) & (month.lat >= miny) & (month.lat <= maxy)
        )
        inside = near[shapely.intersects_xy(polygon, month.lng[near], month.lat[near])]
        if len(inside) > self.cap:
            return 503, {}, b""  # police.uk's over-the-cap answer: no body, no Retry-After
        return 200, {}, orjson.dumps([month.crimes[i] for i in inside])


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gives up (cancelled requests) resets its sockets: not the fake's error.

        The default prints a traceback to stderr, where it would land in CLI tests' output.
        """
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API and httpx's pool expect

    def do_GET(self) -> None:
        self._respond("GET", b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._respond("POST", self.rfile.read(length))

    def _respond(self, method: str, body: bytes) -> None:
        fake: FakePoliceApi = self.server.fake  # type: ignore[attr-defined]
        arrived = time.monotonic()
        url = f"http://{self.headers.get('Host', '')}{self.path}"
        status, headers, payload, fields = fake.answer(method, url, body)
        endpoint = urlsplit(self.path).path.removeprefix("/api/").strip("/")
        entry = LoggedRequest(method, endpoint, status, len(url), at=arrived, **fields)
        with fake._lock:
            fake.log.append(entry)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the request log is kept in ``fake.log`` instead of stderr."""


# -- small generated data sets --------------------------------------------------------------------


def crime_object(
    api_id: int,
    lat: float,
    lng: float,
    month: str,
    category: str = "burglary",
    *,
    persistent_id: str | None = None,
    outcome: str | None = "Under investigation",
    street: str = "On or near High Street",
) -> dict:
    """A crimes-street object shaped exactly like police.uk's (coordinates as strings)."""
    return {
        "category": category,
        "location_type": "Force",
        "location": {
            "latitude": f"{lat:.6f}",
            "street": {"id": 900000 + api_id, "name": street},
            "longitude": f"{lng:.6f}",
        },
        "context": "",
        "outcome_status": None if outcome is None else {"category": outcome, "date": month},
        "persistent_id": persistent_id if persistent_id is not None else f"p{api_id:063d}",
        "id": api_id,
        "location_subtype": "",
        "month": month,
    }


def no_location_object(api_id: int, month: str, category: str = "violent-crime") -> dict:
    """A crimes-no-location object: same shape, ``location`` null."""
    return {
        "category": category,
        "location_type": None,
        "location": None,
        "context": "",
        "outcome_status": {"category": "Under investigation", "date": month},
        "persistent_id": f"n{api_id:063d}",
        "id": api_id,
        "location_subtype": "",
        "month": month,
    }


# -- months converted from the police.uk bulk archive ---------------------------------------------


def crimes_from_archive(
    folder: Path,
    force: str,
    months: Iterable[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """(street crimes, no-location crimes) by month, as API objects, from archive street CSVs.

    ``folder`` is an archive force folder (``YYYY-MM/YYYY-MM-<force>-street.csv``), e.g.
    ../shared/data/police_uk/archive/devon-and-cornwall, so the fake can serve forces that only
    the archive holds. ``bbox`` (min lng, min lat, max lng, max lat) keeps only located crimes
    inside it: a test about one town need not hold a whole force in memory; a ``poly`` inside the
    box gets exactly the answer it would get from the whole force. Ids are stable across runs:
    ``YYYYMM`` followed by the row's 6-digit position in its file.
    """
    import csv  # only this loader reads CSV

    wanted = set(months) if months is not None else None
    street: dict[str, list[dict]] = {}
    no_location: dict[str, list[dict]] = {}
    for path in sorted(folder.glob(f"????-??/????-??-{force}-street.csv")):
        month = path.name[:7]
        if wanted is not None and month not in wanted:
            continue
        located: list[dict] = []
        unlocated: list[dict] = []
        with open(path, newline="", encoding="utf-8-sig") as handle:
            for row_number, row in enumerate(csv.DictReader(handle), start=1):
                crime = _archive_row_as_api(row, month, row_number)
                if crime is None:
                    continue
                if crime["location"] is None:
                    unlocated.append(crime)
                    continue
                lng = float(crime["location"]["longitude"])
                lat = float(crime["location"]["latitude"])
                if bbox is None or (bbox[0] <= lng <= bbox[2] and bbox[1] <= lat <= bbox[3]):
                    located.append(crime)
        street[month] = located
        no_location[month] = unlocated
    return street, no_location


def _archive_row_as_api(row: dict[str, str], month: str, row_number: int) -> dict | None:
    slug = canonical_category(row.get("Crime type") or "")
    if slug is None:
        return None  # the API has no objects for categories it does not know
    api_id = int(month.replace("-", "")) * 1_000_000 + row_number
    outcome = (row.get("Last outcome category") or "").strip()
    crime = {
        "category": slug,
        "location_type": "Force",
        "location": None,
        "context": row.get("Context") or "",
        "outcome_status": {"category": outcome, "date": month} if outcome else None,
        "persistent_id": row.get("Crime ID") or "",
        "id": api_id,
        "location_subtype": "",
        "month": row.get("Month") or month,
    }
    try:
        lng, lat = float(row["Longitude"]), float(row["Latitude"])
    except (KeyError, TypeError, ValueError):
        return crime  # "No location": served by crimes-no-location
    street_name = row.get("Location") or ""
    # police.uk street ids are per snap point: a stable number from the point and its name
    street_id = zlib.crc32(f"{lat:.6f},{lng:.6f},{street_name}".encode())
    crime["location"] = {
        "latitude": f"{lat:.6f}",
        "street": {"id": street_id, "name": street_name},
        "longitude": f"{lng:.6f}",
    }
    return crime
