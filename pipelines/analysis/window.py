"""The months a study covers, and what the store holds for them (the data behind every number)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipelines.errors import InputError
from pipelines.months import months_between
from pipelines.quoting import quoted

if TYPE_CHECKING:  # the window needs only a store's manifest (pipelines.store.view)
    from pipelines.store import CrimeStore
    from pipelines.store.view import ManifestView

DEFAULT_WINDOW_MONTHS = 12


class WindowError(InputError):
    """No months to study (empty store, or a window outside what is stored)."""


@dataclass
class StudyWindow:
    first: str
    last: str
    months: list[str]  # every month of the window
    stored: list[str]  # months of the window the store holds for the force(s)
    missing: list[str]  # months of the window with no stored data: the counts are lower there
    no_location: int  # crimes in the window with no map point (cannot be in any cell)
    located: int = 0  # crimes in the window with a map point, in the region or not
    forces: list[str] = field(default_factory=list)

    def provenance(self) -> dict:
        return {
            "first": self.first,
            "last": self.last,
            "months": len(self.months),
            "months_stored": len(self.stored),
            "months_missing": self.missing,
            "no_location_crimes": self.no_location,
            "no_location_scope": no_location_scope(self.forces, self.first, self.last),
            "forces": self.forces,
        }


def no_location_scope(forces: list[str], first: str, last: str) -> str:
    """What a no-location count counts. police.uk gives such crimes no map point and no LSOA, so
    they cannot be placed in any area: the count is of the whole force area, never an area's."""
    who = ", ".join(forces) or "no force"
    return (
        f"force-wide: every crime {who} recorded in {first}..{last} with no map point, across "
        "the whole force area rather than this region; such crimes cannot be placed in any "
        "area or cell, so none of them is counted in it"
    )


def choose_window(
    store: CrimeStore | ManifestView,
    force: str | None = None,
    first: str | None = None,
    last: str | None = None,
    default_months: int = DEFAULT_WINDOW_MONTHS,
) -> StudyWindow:
    """The window asked for, or the latest ``default_months`` stored months; errors say why not."""
    store = store.snapshot()  # one store version for every read of this answer
    stored_all = store.partitions(force)
    if not stored_all:
        where = f"force {quoted(force)}" if force else "any force"
        raise WindowError(
            # No path in the message: the service shows it to API clients.
            f"the crime store holds no crimes for {where}; load some with "
            "`hotspots ingest archive` or `hotspots ingest api`"
        )
    months_held = sorted({month for _, month in stored_all})
    if last is None:
        last = months_held[-1]
    if first is None:
        span = [m for m in months_held if m <= last]
        if not span:
            raise WindowError(
                f"no stored month is on or before {last}; the store holds "
                f"{months_held[0]}..{months_held[-1]}"
            )
        first = months_between(span[0], last)[-default_months:][0]
    months = months_between(first, last)
    stored = [m for m in months if m in set(months_held)]
    if not stored:
        raise WindowError(
            f"no crimes stored for {first}..{last}; the store holds "
            f"{months_held[0]}..{months_held[-1]}"
        )
    records = store.coverage(force, first, last)
    return StudyWindow(
        first=first,
        last=last,
        months=months,
        stored=stored,
        missing=[m for m in months if m not in set(stored)],
        no_location=sum(record.no_location for record in records),
        located=sum(record.stored - record.no_location for record in records),
        forces=sorted({record.force for record in records}),
    )
