"""``hotspots ingest api``: fetch an area's street crime from data.police.uk into the store.

An API ingest covers an AREA, not a whole force, so each force-month partition is updated in place:
rows inside the area (any source) are replaced by the fresh API rows, rows elsewhere are kept, and
the force-wide ``crimes-no-location`` answer replaces the partition's no-location rows. Re-ingesting
the same area therefore rewrites the same bytes, and a second area adds to the first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from aiolimiter import AsyncLimiter
from shapely.geometry.base import BaseGeometry

from pipelines.ingest.api_area import RequestPart, area_summary, request_parts, split_part
from pipelines.ingest.api_client import (
    ApiError,
    OverCapError,
    PoliceApiClient,
    RetryPolicy,
)
from pipelines.ingest.api_rows import parse_crimes
from pipelines.ingest.sources import record_api_area
from pipelines.months import in_range
from pipelines.schema import SOURCE_API, SOURCE_ARCHIVE
from pipelines.store import CrimeStore, PartitionCoverage

OUTSIDE_AREA = "outside_area"
KIND_AREA = "api"
KIND_NO_LOCATION = "api-no-location"
# Months fetched at once: enough to keep the request pipeline full while one month is written,
# few enough that a whole force's worth of crime objects is never held in memory at once.
MONTH_CONCURRENCY = 3
_SORT_KEYS = ["api_id", "crime_id", "longitude", "latitude", "category", "location", "month"]


class ApiIngestError(Exception):
    """The ingest stopped; ``report`` holds the months stored before it did."""

    def __init__(self, message: str, report: ApiIngestReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class NoMonthsError(ApiError):
    """The requested range holds no month police.uk publishes (a user error, not an outage)."""


@dataclass
class MonthResult:
    month: str
    requests: int  # logical requests for this month (street parts, 503s included, + no-location)
    splits: int  # parts answered 503 (over the cap) and split in two
    depth: int  # deepest split level reached
    returned: int  # distinct crimes the street requests returned
    no_location: int  # crimes-no-location answers stored
    stored_fresh: int  # rows written from this run
    kept: int  # rows of the existing partition left as they were
    stored: int  # rows in the partition now
    rejected: dict[str, int]
    path: Path | None  # None until the month is written


@dataclass
class ApiIngestReport:
    force: str
    base_url: str
    area: dict
    months: list[MonthResult] = field(default_factory=list)
    requests: int = 0
    posts: int = 0
    retries: int = 0
    rate_limited: int = 0

    @property
    def max_depth(self) -> int:
        return max((m.depth for m in self.months), default=0)


@dataclass(frozen=True)
class ProgressUpdate:
    months_total: int
    months_done: int
    requests: int
    splits: int


ProgressHook = Callable[[ProgressUpdate], None]


def ingest_api(
    store: CrimeStore,
    force: str,
    area: BaseGeometry,
    first: str | None,
    last: str | None,
    base_url: str,
    progress: ProgressHook | None = None,
    *,
    retry: RetryPolicy | None = None,
    limiter: AsyncLimiter | None = None,
    in_flight: int = 8,
) -> ApiIngestReport:
    """Fetch every available month in [first, last] for the area and store it (blocking)."""
    return asyncio.run(
        ingest_api_async(
            store,
            force,
            area,
            first,
            last,
            base_url,
            progress,
            retry=retry,
            limiter=limiter,
            in_flight=in_flight,
        )
    )


async def ingest_api_async(
    store: CrimeStore,
    force: str,
    area: BaseGeometry,
    first: str | None,
    last: str | None,
    base_url: str,
    progress: ProgressHook | None = None,
    *,
    retry: RetryPolicy | None = None,
    limiter: AsyncLimiter | None = None,
    in_flight: int = 8,
) -> ApiIngestReport:
    """The async body of :func:`ingest_api`, for callers that already run an event loop."""
    shapely.prepare(area)
    report = ApiIngestReport(force=force, base_url=base_url, area=area_summary(area))
    client = PoliceApiClient(base_url, in_flight=in_flight, limiter=limiter, retry=retry)
    async with client:
        try:
            months = await _months_to_fetch(client, first, last)
            tracker = _Tracker(len(months), progress)
            tracker.notify()
            gate = asyncio.Semaphore(MONTH_CONCURRENCY)

            async def one_month(month: str) -> None:
                async with gate:
                    fetched = await fetch_month(client, force, area, month, tracker)
                    result = _store_month(store, force, area, month, fetched, report)
                    report.months.append(result)
                    tracker.month_done()

            async with asyncio.TaskGroup() as group:
                for month in months:
                    group.create_task(one_month(month))
        except (ApiError, ExceptionGroup) as exc:
            error = _first_error(exc)
            if not isinstance(error, ApiError):
                raise error from exc  # a bug, not an API answer: keep its traceback
            report.months.sort(key=lambda m: m.month)
            _copy_stats(report, client)
            if report.months:
                record_api_area(store.root, force, area, base_url)
            raise ApiIngestError(str(error), report) from error
    report.months.sort(key=lambda m: m.month)
    _copy_stats(report, client)
    record_api_area(store.root, force, area, base_url)  # so `hotspots update` can ask again
    _log_run(store, report)
    return report


# -- fetching -----------------------------------------------------------------------------------


async def _months_to_fetch(
    client: PoliceApiClient, first: str | None, last: str | None
) -> list[str]:
    available = await client.available_months()
    if not available:
        raise ApiError("crimes-street-dates lists no months at all")
    months = [m for m in available if in_range(m, first, last)]
    if not months:
        asked = f"{first or 'the start'} to {last or 'the end'}"
        raise NoMonthsError(
            f"no month from {asked} is available from police.uk "
            f"(it has {available[0]} to {available[-1]})"
        )
    return months


class _Tracker:
    """Counts for the progress hook, shared by every request task of the run."""

    def __init__(self, months_total: int, hook: ProgressHook | None) -> None:
        self.months_total = months_total
        self.months_done = 0
        self.requests = 0
        self.splits = 0
        self._hook = hook

    def request_done(self, split: bool = False) -> None:
        self.requests += 1
        self.splits += int(split)
        self.notify()

    def month_done(self) -> None:
        self.months_done += 1
        self.notify()

    def notify(self) -> None:
        if self._hook is not None:
            update = ProgressUpdate(self.months_total, self.months_done, self.requests, self.splits)
            self._hook(update)


@dataclass
class FetchedMonth:
    """What police.uk answered for one area and month, before it is parsed."""

    street: dict[int, dict] = field(default_factory=dict)  # API id -> crime, de-duplicated
    unidentified: list[dict] = field(default_factory=list)  # objects without an id (rejected later)
    no_location: list[dict] = field(default_factory=list)
    requests: int = 0
    splits: int = 0
    depth: int = 0


async def fetch_month(
    client: PoliceApiClient,
    force: str,
    area: BaseGeometry,
    month: str,
    tracker: _Tracker | None = None,
) -> FetchedMonth:
    """Every crime police.uk holds for the area in ``month`` (splitting parts over the cap), and
    the force's crimes with no location; ApiError when police.uk cannot answer."""
    tracker = tracker or _Tracker(1, None)
    fetched = FetchedMonth()

    async def fetch_part(part: RequestPart) -> None:
        fetched.depth = max(fetched.depth, part.depth)
        fetched.requests += 1
        try:
            crimes = await client.street_crimes(part.poly_param(), month)
        except OverCapError:
            if not part.splittable():
                raise ApiError(
                    f"police.uk keeps answering 503 for {month} even for an area of "
                    f"{_size(part)} (split {part.depth} times); it may be down, try again later"
                ) from None
            fetched.splits += 1
            tracker.request_done(split=True)
            async with asyncio.TaskGroup() as group:
                for child in split_part(part):
                    group.create_task(fetch_part(child))
            return
        tracker.request_done()
        for crime in crimes:
            api_id = crime.get("id")
            if isinstance(api_id, int):
                fetched.street.setdefault(api_id, crime)
            else:
                fetched.unidentified.append(crime)

    async def fetch_no_location() -> None:
        fetched.requests += 1
        crimes = await client.no_location_crimes(force, month)
        tracker.request_done()
        seen: set[int] = set()
        for crime in crimes:
            api_id = crime.get("id")
            if not isinstance(api_id, int) or api_id not in seen:
                fetched.no_location.append(crime)
                if isinstance(api_id, int):
                    seen.add(api_id)

    async with asyncio.TaskGroup() as group:
        for part in request_parts(area):
            group.create_task(fetch_part(part))
        group.create_task(fetch_no_location())
    return fetched


def _size(part: RequestPart) -> str:
    minx, miny, maxx, maxy = part.polygon.bounds
    return f"{maxx - minx:.4f} x {maxy - miny:.4f} degrees"


def _first_error(exc: BaseException) -> BaseException:
    """The first real error inside (possibly nested) task-group exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _copy_stats(report: ApiIngestReport, client: PoliceApiClient) -> None:
    report.requests = client.stats.requests
    report.posts = client.stats.posts
    report.retries = client.stats.retries
    report.rate_limited = client.stats.rate_limited


# -- storing ------------------------------------------------------------------------------------


def _store_month(
    store: CrimeStore,
    force: str,
    area: BaseGeometry,
    month: str,
    fetched: FetchedMonth,
    report: ApiIngestReport,
) -> MonthResult:
    # The month is rebuilt from its stored rows: its lock is held from that read to the
    # publish, so a concurrent ingest of the same month cannot slip rows in between and lose them.
    with store.writer() as writer:
        built = build_month(
            force,
            area,
            month,
            fetched,
            report.base_url,
            report.area,
            writer.current(force, month),
            writer.current_coverage(force, month),
        )
        path = writer.write(built.table, built.coverage)
    return replace(built.result, path=path)


@dataclass
class BuiltMonth:
    """A force-month partition as it will be stored, before it is written."""

    table: pa.Table
    coverage: PartitionCoverage
    result: MonthResult


def build_month(
    force: str,
    area: BaseGeometry,
    month: str,
    fetched: FetchedMonth,
    base_url: str,
    area_record: dict,
    existing: pa.Table | None,
    previous: PartitionCoverage | None,
) -> BuiltMonth:
    """The partition after the area's fresh rows replace ``existing`` rows inside it (rows outside
    are kept; the force-wide no-location answer replaces the no-location rows). Writes nothing:
    ``hotspots update`` builds every month first and swaps them in only when all succeeded."""
    crimes = [fetched.street[key] for key in sorted(fetched.street)] + fetched.unidentified
    street = parse_crimes(crimes, force, month)
    inside = _covered(area, street.table)
    fresh_street = street.table.filter(pa.array(inside))
    no_loc = parse_crimes(fetched.no_location, force, month, no_location=True)
    area_rejected = Counter(street.rejected)
    if (outside := int((~inside).sum())) > 0:
        area_rejected[OUTSIDE_AREA] += outside

    kept = _rows_outside(area, existing) if existing is not None else None
    parts = [t for t in (kept, fresh_street, no_loc.table) if t is not None]
    table = pa.concat_tables(parts)
    table = table.take(pc.sort_indices(table, [(k, "ascending") for k in _SORT_KEYS]))

    area_entry = {
        "kind": KIND_AREA,
        "base_url": base_url,
        "month": month,
        "area": area_record,
        "requests": fetched.requests - 1,  # the no-location request has its own entry
        "splits": fetched.splits,
        "max_depth": fetched.depth,
        "source_rows": len(crimes),
        "stored": fresh_street.num_rows,
        "rejected": dict(sorted(area_rejected.items())),
    }
    no_loc_entry = {
        "kind": KIND_NO_LOCATION,
        "base_url": base_url,
        "month": month,
        "requests": 1,
        "source_rows": len(fetched.no_location),
        "stored": no_loc.table.num_rows,
        "by_category": _category_counts(no_loc.table),
        "rejected": no_loc.rejected,
    }
    coverage = _coverage(force, month, table, previous, area_entry, no_loc_entry)
    rejected = Counter(area_rejected) + Counter(no_loc.rejected)
    result = MonthResult(
        month=month,
        requests=fetched.requests,
        splits=fetched.splits,
        depth=fetched.depth,
        returned=len(crimes),
        no_location=no_loc.table.num_rows,
        stored_fresh=fresh_street.num_rows + no_loc.table.num_rows,
        kept=kept.num_rows if kept is not None else 0,
        stored=table.num_rows,
        rejected=dict(sorted(rejected.items())),
        path=None,
    )
    return BuiltMonth(table, coverage, result)


def _category_counts(table: pa.Table) -> dict[str, int]:
    counts = Counter(table["category"].to_pylist())
    return {category: counts[category] for category in sorted(counts)}


def _covered(area: BaseGeometry, table: pa.Table) -> np.ndarray:
    """Which rows the true area covers (its edge included); False for rows without a point."""
    lng = table["longitude"].to_numpy(zero_copy_only=False).astype(np.float64)
    lat = table["latitude"].to_numpy(zero_copy_only=False).astype(np.float64)
    located = ~(np.isnan(lng) | np.isnan(lat))
    covered = np.zeros(len(lng), dtype=bool)
    if located.any():
        # intersects_xy is "covers" for points: the boundary counts as inside.
        covered[located] = shapely.intersects_xy(area, lng[located], lat[located])
    return covered


def _rows_outside(area: BaseGeometry, table: pa.Table) -> pa.Table:
    """Existing rows this run does not replace: located rows outside the area."""
    located = pc.and_(pc.is_valid(table["longitude"]), pc.is_valid(table["latitude"]))
    located = located.to_numpy(zero_copy_only=False)
    keep = located & ~_covered(area, table)
    return table.filter(pa.array(keep))


def _coverage(
    force: str,
    month: str,
    table: pa.Table,
    previous: PartitionCoverage | None,
    area_entry: dict,
    no_loc_entry: dict,
) -> PartitionCoverage:
    """Coverage of the new partition; counts of records this run supersedes are taken back out.

    Each API provenance entry carries its own rejection counts, so re-ingesting an area swaps its
    entry (in place, so the record reproduces byte for byte) and its counts; rejections of other
    sources are kept while rows of theirs remain in the partition.
    """
    sources = set(table["source"].unique().to_pylist()) or {SOURCE_API}
    fingerprint = area_entry["area"]["fingerprint"]
    provenance: list[dict] = []
    rejected: Counter[str] = Counter()
    warnings: dict[str, int] = {}
    if previous is not None:
        other_sources = Counter(previous.rejected)
        for entry in previous.provenance:
            kind = entry.get("kind")
            if kind in (KIND_AREA, KIND_NO_LOCATION):
                other_sources.subtract(entry.get("rejected", {}))
            if kind == KIND_NO_LOCATION:
                provenance.append(no_loc_entry)
            elif kind == KIND_AREA and entry.get("area", {}).get("fingerprint") == fingerprint:
                provenance.append(area_entry)
            elif kind == KIND_AREA:
                provenance.append(entry)
                rejected.update(entry.get("rejected", {}))
            elif SOURCE_ARCHIVE in sources:  # records of a source with rows left in the partition
                provenance.append(entry)
        if SOURCE_ARCHIVE in sources:
            rejected.update(+other_sources)
            warnings = dict(previous.warnings)
    provenance += [e for e in (area_entry, no_loc_entry) if e not in provenance]
    rejected.update(area_entry["rejected"])
    rejected.update(no_loc_entry["rejected"])
    rejected_clean = {k: v for k, v in sorted(rejected.items()) if v > 0}
    no_location = int(table["latitude"].null_count)
    return PartitionCoverage(
        force=force,
        month=month,
        source="+".join(_source_order(sources)),
        # Rows offered = rows kept + rows refused, the same identity an archive partition keeps.
        source_rows=table.num_rows + sum(rejected_clean.values()),
        stored=table.num_rows,
        no_location=no_location,
        rejected=rejected_clean,
        warnings=warnings,
        provenance=provenance,
    )


def _source_order(sources: set[str]) -> list[str]:
    """ "archive+api", the order the coverage record documents."""
    known = [s for s in (SOURCE_ARCHIVE, SOURCE_API) if s in sources]
    return known + sorted(sources - set(known))


def _log_run(store: CrimeStore, report: ApiIngestReport) -> None:
    """Run times go to a log beside the store, never into partitions (which must reproduce)."""
    line = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "ingest api",
        "force": report.force,
        "base_url": report.base_url,
        "area": report.area,
        "months": [m.month for m in report.months],
        "requests": report.requests,
        "posts": report.posts,
        "retries": report.retries,
        "rate_limited": report.rate_limited,
        "rows": {m.month: m.stored for m in report.months},
    }
    store.root.mkdir(parents=True, exist_ok=True)
    with open(store.root / "ingest_log.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps(line, sort_keys=True) + "\n")
