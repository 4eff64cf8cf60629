"""``hotspots update``: bring every stored force up to what police.uk now publishes.

For each force in the store it asks the force's recorded source (``pipelines.ingest.sources``):

* **API** areas: ``crimes-street-dates`` gives the months police.uk offers. Months newer than
  the newest stored month are fetched for every recorded area; stored months police.uk still
  offers are fetched again and compared row by row with what is stored (the API says nothing
  about which months were republished, so asking is the only way to know).
* **Archive** (a folder or zip laid out like the data.police.uk download, the recorded one or a
  newly given one): months newer than the newest stored are loaded; a stored month is re-read
  only when its file's SHA-256 differs from the one its partition recorded.

Every month is built and compared first (``pipelines.ingest.revisions``); nothing is written
unless every fetch and parse succeeded, so an unreachable API, a truncated archive or a force
police.uk does not know leaves the store as it was. Then only the months that changed are
swapped in, each atomically, with the revision (rows added, removed, changed) appended to the
month's coverage record. Months before a force's first stored month are never added: the
stored range is the operator's choice (``hotspots ingest`` widens it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
from shapely.geometry.base import BaseGeometry

from pipelines.forces import check_force
from pipelines.ingest.api import MONTH_CONCURRENCY, FetchedMonth, build_month, fetch_month
from pipelines.ingest.api_area import area_summary
from pipelines.ingest.api_client import ApiError, PoliceApiClient, RetryPolicy
from pipelines.ingest.archive import build_partitions
from pipelines.ingest.archive_layout import ArchiveError, StreetFile, list_archive
from pipelines.ingest.revisions import RowChanges, compare_months
from pipelines.ingest.sources import ApiArea, Sources, SourcesError, read_sources
from pipelines.schema import SOURCE_API, SOURCE_ARCHIVE
from pipelines.store import CrimeStore, PartitionCoverage, Snapshot
from pipelines.update_record import ForceOffer, read_record, write_record

ADDED, REVISED, UNCHANGED = "added", "revised", "unchanged"
# A republication that drops more than this share of a month's rows is far outside what
# police.uk revisions do (a few per cent); it is much more likely a cut-short download.
DEFAULT_MAX_REMOVED_SHARE = 0.25
_ARCHIVE_BATCH = 12


class UpdateError(Exception):
    """The update stopped before writing anything; the message says what to fix."""


@dataclass
class MonthChange:
    force: str
    month: str
    status: str  # added, revised or unchanged
    source: str  # api or archive
    changes: RowChanges


@dataclass
class ForceCheck:
    force: str
    source: str
    offered_first: str | None
    offered_last: str | None
    stored_last: str | None  # before the update
    older_not_loaded: int = 0  # offered months before the stored range (left out on purpose)


@dataclass
class UpdateReport:
    checked_at: str
    dry_run: bool
    forces: list[ForceCheck] = field(default_factory=list)
    months: list[MonthChange] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # forces with no source to ask, and why

    def with_status(self, status: str) -> list[MonthChange]:
        return [m for m in self.months if m.status == status]

    @property
    def changed(self) -> list[MonthChange]:
        return [m for m in self.months if m.status != UNCHANGED]


@dataclass
class _Staged:
    """A month built and compared, waiting for the swap."""

    change: MonthChange
    table: pa.Table | None = None  # None: unchanged, nothing to write
    coverage: PartitionCoverage | None = None
    built_on: Path | None = None  # the stored file it was compared with (None: a new month)


Progress = Callable[[str], None]


def update_store(
    store: CrimeStore,
    *,
    base_url: str,
    archive: Path | None = None,
    force: str | None = None,
    dry_run: bool = False,
    recheck_months: int | None = None,
    max_removed_share: float = DEFAULT_MAX_REMOVED_SHARE,
    retry: RetryPolicy | None = None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> UpdateReport:
    """Check every stored force (or ``force``) against its source and swap in what changed.

    ``archive`` names a newly downloaded archive for the forces it holds (default: each force's
    recorded source). ``recheck_months`` limits the stored months compared again to the latest N
    (default: all that the source still offers). With ``dry_run`` nothing is written but the
    check's record (what police.uk offers, for /health). Raises UpdateError, leaving every
    partition as it was, when any source cannot be read.
    """
    moment = now or dt.datetime.now(dt.UTC)
    report = UpdateReport(checked_at=moment.isoformat(timespec="seconds"), dry_run=dry_run)
    notify = progress or (lambda _message: None)
    # Every month is built from one pinned version; the swap checks nothing moved since.
    base = store.latest()
    try:
        staged = _check_all(base, report, base_url, archive, force, recheck_months, retry, notify)
        _refuse_large_removals(staged, max_removed_share)
        report.months = sorted((s.change for s in staged), key=lambda m: (m.force, m.month))
        if not dry_run:
            _swap_in(store, staged, moment, notify)
    except UpdateError as error:
        _record_failure(store, moment, str(error))
        raise
    _record_check(store, report, moment)
    return report


# -- which source for which force -------------------------------------------------------------


def _check_all(
    store: Snapshot,
    report: UpdateReport,
    base_url: str,
    archive: Path | None,
    force: str | None,
    recheck_months: int | None,
    retry: RetryPolicy | None,
    notify: Progress,
) -> list[_Staged]:
    held = store.forces()
    if not held:
        raise UpdateError(
            f"the store at {store.root} holds no crimes yet; load some first with "
            "`hotspots ingest archive` or `hotspots ingest api`"
        )
    if force is not None:
        check_force(force, "--force")
        if force not in held:
            raise UpdateError(
                f"the store holds no force {force!r}, so there is nothing to update; it holds: "
                f"{', '.join(held)} (use `hotspots ingest` to add a force)"
            )
        held = [force]
    try:
        sources = read_sources(store.root)
    except SourcesError as error:
        raise UpdateError(str(error)) from None

    staged: list[_Staged] = []
    if archive is not None:
        staged += _from_archive(store, report, archive, held, recheck_months, notify)
        return staged
    api_forces = [name for name in held if sources.areas_of(name)]
    archive_forces = [name for name in held if name not in api_forces]
    if api_forces:
        staged += asyncio.run(
            _from_api(store, report, sources, api_forces, base_url, recheck_months, retry, notify)
        )
    by_path: dict[str, list[str]] = {}
    for name in archive_forces:
        recorded = sources.archive_of(name)
        if recorded is None:
            report.skipped.append(
                f"{name}: no recorded source (loaded before sources were recorded); ingest it "
                "once more, or give a new archive with --archive"
            )
            continue
        by_path.setdefault(recorded.path, []).append(name)
    for path, names in sorted(by_path.items()):
        staged += _from_archive(store, report, Path(path), names, recheck_months, notify)
    if not report.forces:
        raise UpdateError(
            "no stored force has a source to check: " + "; ".join(report.skipped)
            if report.skipped
            else "no stored force has a source to check"
        )
    return staged


def _stored_months(store: CrimeStore | Snapshot, force: str) -> list[str]:
    return [month for _, month in store.partitions(force)]


def _to_check(
    offered: list[str], stored: list[str], recheck_months: int | None
) -> tuple[list[str], list[str], int]:
    """(new months, stored months to compare again, offered months older than the store)."""
    newest, oldest = stored[-1], stored[0]
    new = [m for m in offered if m > newest]
    again = [m for m in offered if m in set(stored)]
    if recheck_months is not None:
        again = again[-recheck_months:] if recheck_months > 0 else []
    older = sum(1 for m in offered if m < oldest)
    return new, again, older


def _stage(
    store: Snapshot,
    force: str,
    month: str,
    source: str,
    table: pa.Table,
    coverage: PartitionCoverage,
    existing: pa.Table | None,
) -> _Staged:
    changes = compare_months(existing, table)
    if existing is None:
        status = ADDED
    elif changes.any:
        status = REVISED
    else:
        status = UNCHANGED
    change = MonthChange(force, month, status, source, changes)
    if status == UNCHANGED:
        return _Staged(change)
    return _Staged(change, table, coverage, store.partition_path(force, month))


# -- the API ------------------------------------------------------------------------------------


async def _from_api(
    store: Snapshot,
    report: UpdateReport,
    sources: Sources,
    forces: list[str],
    base_url: str,
    recheck_months: int | None,
    retry: RetryPolicy | None,
    notify: Progress,
) -> list[_Staged]:
    staged: list[_Staged] = []
    client = PoliceApiClient(base_url, retry=retry)
    async with client:
        try:
            notify(f"asking {base_url} which months it publishes")
            offered = await client.available_months()
            if not offered:
                raise ApiError("crimes-street-dates lists no months at all")
            for force in forces:
                stored = _stored_months(store, force)
                new, again, older = _to_check(offered, stored, recheck_months)
                report.forces.append(
                    ForceCheck(force, SOURCE_API, offered[0], offered[-1], stored[-1], older)
                )
                areas = sources.areas_of(force)
                notify(f"{force}: fetching {len(new)} new and {len(again)} stored month(s)")
                fetched = await _fetch_all(client, force, areas, sorted(again + new))
                for month in sorted(again + new):
                    staged.append(_build_api_month(store, force, month, areas, fetched, base_url))
        except* ApiError as group:
            raise UpdateError(_api_message(group, base_url)) from None
    return staged


async def _fetch_all(
    client: PoliceApiClient, force: str, areas: list[ApiArea], months: list[str]
) -> dict[tuple[str, str], FetchedMonth]:
    shapes = {area.fingerprint: area.shape() for area in areas}
    fetched: dict[tuple[str, str], FetchedMonth] = {}
    gate = asyncio.Semaphore(MONTH_CONCURRENCY)

    async def one(month: str, fingerprint: str) -> None:
        async with gate:
            fetched[(month, fingerprint)] = await fetch_month(
                client, force, shapes[fingerprint], month
            )

    async with asyncio.TaskGroup() as group:
        for month in months:
            for fingerprint in shapes:
                group.create_task(one(month, fingerprint))
    return fetched


def _build_api_month(
    store: Snapshot,
    force: str,
    month: str,
    areas: list[ApiArea],
    fetched: dict[tuple[str, str], FetchedMonth],
    base_url: str,
) -> _Staged:
    """The month with each recorded area's fresh rows laid over it in turn, as an ingest of
    each area would leave it."""
    existing = store.read_partition(force, month)
    table, coverage = existing, store.coverage_of(force, month)
    for area in areas:
        shape: BaseGeometry = area.shape()
        built = build_month(
            force,
            shape,
            month,
            fetched[(month, area.fingerprint)],
            base_url,
            area_summary(shape),
            table,
            coverage,
        )
        table, coverage = built.table, built.coverage
    assert table is not None and coverage is not None  # at least one area was laid over it
    return _stage(store, force, month, SOURCE_API, table, coverage, existing)


def _api_message(group: BaseExceptionGroup, base_url: str) -> str:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return f"police.uk at {base_url} could not answer: {' '.join(str(error).split())}; " + (
        "nothing was changed"
    )


# -- the archive --------------------------------------------------------------------------------


def _from_archive(
    store: Snapshot,
    report: UpdateReport,
    path: Path,
    forces: list[str],
    recheck_months: int | None,
    notify: Progress,
) -> list[_Staged]:
    try:
        listing = list_archive(path)
    except ArchiveError as error:
        raise UpdateError(f"{error}; nothing was changed") from None
    in_archive = sorted({f.force for f in listing.street_files})
    wanted = [name for name in forces if name in in_archive]
    if not wanted:
        raise UpdateError(
            f"{path} holds no force the store holds (it has {', '.join(in_archive)}; the store "
            f"has {', '.join(forces)}); nothing was changed"
        )
    staged: list[_Staged] = []
    for force in wanted:
        files = {f.month: f for f in listing.street_files if f.force == force}
        offered = sorted(files)
        stored = _stored_months(store, force)
        new, again, older = _to_check(offered, stored, recheck_months)
        report.forces.append(
            ForceCheck(force, SOURCE_ARCHIVE, offered[0], offered[-1], stored[-1], older)
        )
        notify(f"{force}: reading {len(new)} new and {len(again)} stored month(s) from {path}")
        to_parse: list[StreetFile] = []
        for month in sorted(again + new):
            data = _read_file(files[month], path)
            digest = hashlib.sha256(data).hexdigest()
            previous = store.coverage_of(force, month)
            if previous is not None and _archive_digest(previous) == digest:
                # The very file the month was loaded from: nothing to parse or compare.
                unchanged = RowChanges(previous.stored, previous.stored)
                staged.append(
                    _Staged(MonthChange(force, month, UNCHANGED, SOURCE_ARCHIVE, unchanged))
                )
                continue
            to_parse.append(replace(files[month], read=lambda data=data: data))
        staged += _parse_archive_months(store, to_parse)
    return staged


def _parse_archive_months(store: Snapshot, files: list[StreetFile]) -> list[_Staged]:
    staged = []
    with ThreadPoolExecutor(2) as pool:
        for start in range(0, len(files), _ARCHIVE_BATCH):
            for built in build_partitions(files[start : start + _ARCHIVE_BATCH], pool):
                file = built.file
                if built.error is not None or built.table is None or built.coverage is None:
                    raise UpdateError(
                        f"{file.name} cannot be read ({built.error}); nothing was changed"
                    )
                existing = store.read_partition(file.force, file.month)
                staged.append(
                    _stage(
                        store,
                        file.force,
                        file.month,
                        SOURCE_ARCHIVE,
                        built.table,
                        _carry_revisions(built.coverage, store.coverage_of(file.force, file.month)),
                        existing,
                    )
                )
    return staged


def _read_file(file: StreetFile, archive: Path) -> bytes:
    try:
        return file.read()
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise UpdateError(
            f"{file.name} in {archive} cannot be read ({error}); the archive looks damaged or "
            "cut short: download it again. Nothing was changed"
        ) from None


def _archive_digest(coverage: PartitionCoverage) -> str | None:
    digests = [e.get("sha256") for e in coverage.provenance if e.get("kind") == SOURCE_ARCHIVE]
    return digests[0] if len(digests) == 1 and coverage.source == SOURCE_ARCHIVE else None


def _carry_revisions(
    coverage: PartitionCoverage, previous: PartitionCoverage | None
) -> PartitionCoverage:
    """A fresh archive record keeps the month's earlier revisions."""
    if previous is None:
        return coverage
    return replace(coverage, revisions=list(previous.revisions))


# -- guarding, swapping and recording -----------------------------------------------------------


def _refuse_large_removals(staged: list[_Staged], max_share: float) -> None:
    for item in staged:
        changes = item.change.changes
        if item.change.status != REVISED or changes.rows_before == 0:
            continue
        share = changes.removed / changes.rows_before
        if share > max_share:
            raise UpdateError(
                f"{item.change.force} {item.change.month} would lose {changes.removed:,} of its "
                f"{changes.rows_before:,} rows ({share:.0%}); police.uk revisions are far "
                "smaller, so the source is probably incomplete (a cut-short download?). "
                "Nothing was changed; if the loss is real, pass --max-removed-share "
                f"{min(1.0, round(share + 0.05, 2))}"
            )


def _swap_in(
    store: CrimeStore, staged: list[_Staged], moment: dt.datetime, notify: Progress
) -> None:
    """Write the changed months and publish them as one new store version; a revised month's
    record gains its revision."""
    with store.writer() as writer:
        for item in staged:
            if item.table is None or item.coverage is None:
                continue
            change = item.change
            writer.lock(change.force, change.month)
            if store.latest().partition_path(change.force, change.month) != item.built_on:
                # Another ingest replaced the month while this update compared it: writing
                # now would lose that ingest's rows. Nothing is published; a re-run sees both.
                raise UpdateError(
                    f"{change.force} {change.month} changed while the update ran (another "
                    "ingest?); nothing was changed: run `hotspots update` again"
                )
            coverage = item.coverage
            if change.status == REVISED:
                revision = {
                    "at": moment.isoformat(timespec="seconds"),
                    "source": change.source,
                    "rows_before": change.changes.rows_before,
                    "rows_after": change.changes.rows_after,
                    "added": change.changes.added,
                    "removed": change.changes.removed,
                    "changed": change.changes.changed,
                    "changed_fields": change.changes.changed_fields,
                }
                coverage = replace(coverage, revisions=[*coverage.revisions, revision])
            notify(f"{change.force} {change.month}: {change.status}")
            writer.write(item.table, coverage)


def _record_check(store: CrimeStore, report: UpdateReport, moment: dt.datetime) -> None:
    record = read_record(store.root)
    record.checked_at = moment.isoformat(timespec="seconds")
    for check in report.forces:
        stored = _stored_months(store, check.force)
        record.forces[check.force] = ForceOffer(
            check.source, check.offered_last, stored[-1] if stored else None
        )
    if not report.dry_run:
        record.last_error = None
        if report.changed:
            record.updated_at = moment.isoformat(timespec="seconds")
            record.last_changes = {
                status: [f"{m.force} {m.month}" for m in report.with_status(status)]
                for status in (ADDED, REVISED)
            }
    store.root.mkdir(parents=True, exist_ok=True)
    write_record(store.root, record)


def _record_failure(store: CrimeStore, moment: dt.datetime, message: str) -> None:
    if not store.root.is_dir():
        return
    record = read_record(store.root)
    record.last_error = {"at": moment.isoformat(timespec="seconds"), "message": message}
    write_record(store.root, record)
