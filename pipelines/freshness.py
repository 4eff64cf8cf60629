"""How fresh the store is: "data to 2020-12, checked 2026-12-01, updated 2026-11-28".

* **data to**: the newest month stored (any force);
* **checked**: when ``hotspots update`` last asked the sources what they publish;
* **updated**: when stored data last changed (an update or an ingest);
* **newer months**: months a source offered at that check that the store does not hold yet.

Read from the store and the update record only (``pipelines.update_record``): nothing here asks
police.uk, so the service can show it on every page and /health can afford it.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.months import next_month
from pipelines.store import CrimeStore, Snapshot
from pipelines.store.atomic import file_version
from pipelines.update_record import read_record, record_path


@dataclass(frozen=True)
class Freshness:
    data_to: str | None  # newest stored month, YYYY-MM
    checked: str | None  # YYYY-MM-DD of the last update check (None: never checked)
    updated: str | None  # YYYY-MM-DD the stored data last changed
    newer: dict[str, str] = field(default_factory=dict)  # force -> newest month offered, unloaded
    last_error: str | None = None  # the last failed update ("at: message"), until one works
    data_age_days: int | None = None  # days from the end of the newest month to today

    def line(self) -> str:
        """The one line pages and answers carry."""
        return (
            f"data to {self.data_to or 'none'}, checked {self.checked or 'never'}, "
            f"updated {self.updated or 'never'}"
        )

    def warnings(self) -> list[str]:
        notes = [
            f"police.uk offers {force} up to {month}, which is not loaded: run `hotspots update`"
            for force, month in sorted(self.newer.items())
        ]
        if self.last_error:
            notes.append(f"the last update failed ({self.last_error})")
        return notes

    def as_dict(self) -> dict:
        return {
            "line": self.line(),
            "data_to": self.data_to,
            "data_age_days": self.data_age_days,
            "checked": self.checked,
            "updated": self.updated,
            "newer_months_available": dict(sorted(self.newer.items())),
            "warnings": self.warnings(),
        }


# (data dir) -> ((store version, record file version, today), Freshness): every response asks,
# and a national store has ~1,500 partitions to stat, so it is worked out once per version.
_MEMO: dict[Path, tuple[tuple[str, str, dt.date], Freshness]] = {}
_MEMO_LOCK = threading.Lock()


def store_freshness(store: CrimeStore | Snapshot, today: dt.date | None = None) -> Freshness:
    """Freshness of ``store`` from file names, file times and the update record (no data read)."""
    snapshot = store.snapshot()  # one store version for the whole answer
    day = today or dt.datetime.now(dt.UTC).date()
    key = (snapshot.version, file_version(record_path(snapshot.root)), day)
    with _MEMO_LOCK:
        known = _MEMO.get(snapshot.root)
    if known is not None and known[0] == key:
        return known[1]
    freshness = _work_out(snapshot, day)
    with _MEMO_LOCK:
        _MEMO[snapshot.root] = (key, freshness)
    return freshness


def _work_out(store: Snapshot, day: dt.date) -> Freshness:
    held: dict[str, str] = {}
    changed_at: float | None = None
    for force, month in store.partitions():
        held[force] = max(held.get(force, month), month)
        path = store.partition_path(force, month)
        try:
            stamp = path.stat().st_mtime if path is not None else None
        except OSError:
            stamp = None
        if stamp is not None and (changed_at is None or stamp > changed_at):
            changed_at = stamp
    record = read_record(store.root)
    newer = {
        force: offer.offered_last
        for force, offer in record.forces.items()
        if offer.offered_last and force in held and offer.offered_last > held[force]
    }
    data_to = max(held.values()) if held else None
    error = record.last_error
    return Freshness(
        data_to=data_to,
        checked=_date(record.checked_at),
        updated=(
            dt.datetime.fromtimestamp(changed_at, dt.UTC).date().isoformat()
            if changed_at is not None
            else None
        ),
        newer=newer,
        last_error=f"{_date(error.get('at'))}: {error.get('message')}" if error else None,
        data_age_days=(day - _month_end(data_to)).days if data_to else None,
    )


def _date(stamp: str | None) -> str | None:
    if not stamp:
        return None
    try:
        return dt.datetime.fromisoformat(stamp).date().isoformat()
    except ValueError:
        return None


def _month_end(month: str) -> dt.date:
    following = next_month(month)
    return dt.date(int(following[:4]), int(following[5:]), 1) - dt.timedelta(days=1)
