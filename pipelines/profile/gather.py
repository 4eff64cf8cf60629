"""Reading what a profile needs from the stores, then building it (``numbers``).

The hot spot list comes from a study runner the caller passes in (the service's study cache, or
``run_study`` itself in the CLI), so this module knows nothing of HTTP or caches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from boundaries.assign import AreaIndex, assign_table
from boundaries.sets import BoundarySet
from boundaries.store import BoundaryStore
from pipelines.analysis.study import StudyRequest, StudyResult
from pipelines.errors import NotFoundError
from pipelines.harm import load_table
from pipelines.months import parse_month
from pipelines.profile.model import AreaProfile, HotspotSection
from pipelines.profile.numbers import (
    DEFAULT_WEIGHTS,
    HOTSPOT_RESOLUTION,
    ProfileError,
    ProfileInputs,
    ProfileWindows,
    build_profile,
    profile_windows,
    top_hotspots,
)
from pipelines.quoting import quoted
from pipelines.store import CrimeStore

_SHOWN_CODES = 30  # areas named in a "no such area" message before "and N more"
_COLUMNS = ["month", "force", "category", "last_outcome", "longitude", "latitude"]

StudyRunner = Callable[[StudyRequest], StudyResult]


class ProfileNotFound(NotFoundError):
    """The area or force asked for does not exist; the message names what does (HTTP 404)."""


def find_area(boundary_set: BoundarySet, code: str) -> None:
    """ProfileNotFound naming the set's areas when ``code`` is not one of them."""
    if code in set(boundary_set.areas["code"]):
        return
    areas = boundary_set.areas
    named = [f"{c} ({n})" for c, n in zip(areas["code"], areas["name"], strict=True)]
    more = len(named) - _SHOWN_CODES
    listing = ", ".join(named[:_SHOWN_CODES]) + (f" and {more} more" if more > 0 else "")
    raise ProfileNotFound(
        f"no area {quoted(code)} in boundary set {quoted(boundary_set.name)}; "
        f"its {len(named)} areas are: "
        f"{listing}"
    )


def _in_box(table: pa.Table, bounds: tuple[float, float, float, float]) -> pa.Table:
    """Rows whose point lies in the set's bounding box: a cheap cut before the exact test."""
    minx, miny, maxx, maxy = bounds
    lon, lat = table["longitude"], table["latitude"]
    keep = pc.and_(
        pc.and_(pc.greater_equal(lon, minx), pc.less_equal(lon, maxx)),
        pc.and_(pc.greater_equal(lat, miny), pc.less_equal(lat, maxy)),
    )
    return table.filter(pc.fill_null(keep, False))


def forces_in_set(store: CrimeStore, boundary_set: BoundarySet, index: AreaIndex) -> list[str]:
    """Stored forces with crimes in the set, judged on each force's latest stored month.

    A store can hold forces far apart (Devon and Cornwall, City of London); the profile's
    default month and missing-month notes must come from the forces that police the area.
    """
    bounds = tuple(boundary_set.areas.total_bounds)
    found = []
    for force in store.forces():
        latest = store.partitions(force)[-1][1]
        rows = _in_box(store.read(force, latest, latest, ["longitude", "latitude"]), bounds)
        if rows.num_rows and (assign_table(index, rows).area >= 0).any():
            found.append(force)
    return found


def gather_profile(
    store: CrimeStore,
    boundaries: BoundaryStore,
    run_study: StudyRunner,
    set_name: str,
    code: str,
    to: str | None = None,
    weights: str = DEFAULT_WEIGHTS,
    force: str | None = None,
    data_version: str | None = None,
    suppress_small: bool = False,
) -> AreaProfile:
    """Read the stores and build the profile of area ``code`` of boundary set ``set_name``.

    Parameters
    ----------
    store, boundaries
        The crime store and the boundary store to read.
    run_study
        Runs the area's hot spot study (the service passes its cache; the CLI ``run_study``).
    set_name, code
        The boundary set and the area's code in it.
    to
        Last month of the profile, ``YYYY-MM``; default the latest month stored for the forces
        with crimes in the set.
    weights
        The harm table's name (or path, for the CLI; the service accepts built-in names only).
    force
        Only this force's crimes; default every force with crimes in the set.
    data_version
        The fingerprint of the data the numbers are computed on, carried into the profile.
    suppress_small
        For published outputs: counts of 1-4 shown as "<5", with what would reveal them.
    """
    store = store.snapshot()  # one store version for every read of this answer
    last = parse_month(to, option="to") if to else None
    table = load_table(weights)
    boundary_set = boundaries.read(set_name)
    find_area(boundary_set, code)
    index = AreaIndex.of(boundary_set)
    stored_forces = store.forces()
    if force is not None and force not in stored_forces:
        raise ProfileNotFound(
            f"no crimes stored for force {quoted(force)}; forces stored: "
            f"{', '.join(stored_forces) or 'none (load some with `hotspots ingest archive`)'}"
        )
    forces = [force] if force else forces_in_set(store, boundary_set, index) or stored_forces
    stored = {f: {month for _, month in store.partitions(f)} for f in forces}
    held = sorted(set().union(*stored.values())) if stored else []
    if not held:
        raise ProfileError(
            "the crime store holds no crimes; load some with `hotspots ingest archive`"
        )
    if last is None:
        last = held[-1]
    elif last > held[-1]:
        raise ProfileError(
            f"to {last} is after the latest month stored for {', '.join(forces)} ({held[-1]})"
        )
    windows = profile_windows(last)
    if not any(m in held for m in windows.current):
        raise ProfileError(
            f"no crimes stored for {windows.current[0]}..{last}; the store holds "
            f"{held[0]}..{held[-1]} for {', '.join(forces)}"
        )
    stored = {f: {m for m in months if windows.first <= m <= last} for f, months in stored.items()}

    bounds = tuple(boundary_set.areas.total_bounds)
    parts = [_in_box(store.read(f, windows.first, last, _COLUMNS), bounds) for f in forces]
    rows = pa.concat_tables(parts)
    assignment = assign_table(index, rows)
    inside = assignment.area >= 0
    frame = rows.filter(pa.array(inside)).to_pandas()
    frame["area_code"] = np.asarray(assignment.codes, dtype=object)[assignment.area[inside]]
    frame["harm"] = table.weights_for(frame["category"].to_numpy(dtype=object))
    # Forces with no crime in the set still count for missing months only if asked for by name.
    located_forces = set(frame["force"]) if len(frame) else set()
    if not force and located_forces:
        stored = {f: months for f, months in stored.items() if f in located_forces}

    no_location = {
        name: sum(
            record.no_location
            for f in stored
            for record in store.coverage(f, months[0], months[-1])
        )
        for name, months in (("current", windows.current), ("previous", windows.previous))
    }
    hotspots = _hotspots(run_study, set_name, code, windows, weights, force)
    return build_profile(
        ProfileInputs(
            boundary_set=boundary_set,
            code=code,
            windows=windows,
            crimes=frame,
            table=table,
            stored=stored,
            no_location_current=no_location["current"],
            no_location_previous=no_location["previous"],
            shared_edge_points=assignment.shared_edge_points,
            hotspots=hotspots,
            data_version=data_version,
            suppress_small=suppress_small,
        )
    )


def _hotspots(
    run_study: StudyRunner,
    set_name: str,
    code: str,
    windows: ProfileWindows,
    weights: str,
    force: str | None,
) -> HotspotSection:
    # Hot spots are judged against the whole set (the area's town, not the area alone: one ward
    # of a town centre has no cluster against itself and too few cells to test), then the
    # area's own cells are listed. The same study as /v1/hotspots for the set, so it is shared.
    request = StudyRequest(
        boundaries=set_name,
        resolution=HOTSPOT_RESOLUTION,
        first=windows.current[0],
        last=windows.last,
        force=force,
        weights=weights,
    )
    try:
        result = run_study(request)
    except ValueError as error:  # the data guard refusing a thin area is an answer, not a fault
        return HotspotSection(available=False, reason=str(error), weights=weights)
    window = result.provenance["window"]
    return HotspotSection(
        available=True,
        resolution=int(result.provenance["resolution"]),
        first=window["first"],
        last=window["last"],
        weights=weights,
        adjustments=list(result.adjustments),
        items=top_hotspots(result.cells[result.cells["area_code"] == code]),
    )
