"""One allocation question, answered the same way for the command line and the web API.

``allocate_by_need`` chooses the window, measures every area (crimes, harm, rate), takes the
asked-for measure as the need, shares the units (``allocation.allocate``) and returns one row per
area beside the equal share, with the provenance of every choice made on the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from boundaries.sets import BoundarySet
from pipelines.analysis.window import StudyWindow, choose_window
from pipelines.harm import load_table
from pipelines.harm.table import summed_unit
from pipelines.planning.allocation import CLI_NAMES, AllocationError, OptionNames, allocate
from pipelines.planning.measures import MEASURES, area_measures
from pipelines.progress import StepReport, no_progress
from pipelines.quoting import quoted
from pipelines.store import CrimeStore

MEASURE_COLUMNS = {"harm": "harm", "count": "crimes", "rate": "rate"}
FLOOR_RULE_TEXT = {
    "minimum": (
        "min is a minimum: an area whose proportional share is below it is held at it and the "
        "others share the rest in proportion"
    ),
    "added": "min is a base added on top: every area gets it first, the rest shared in proportion",
}
ROUNDING_TEXT = {
    "webster": (
        "whole units by the Webster / Sainte-Laguë divisor method (each unit to the highest "
        "need / (units + 0.5), ties to fewer units then the smaller code): one more unit never "
        "takes a unit from an area (no Alabama paradox)"
    ),
    "largest-remainder": (
        "whole units by the largest remainder (Hamilton) method, ties to the smaller area code: "
        "within one unit of each exact share, but one more unit can take a unit from an area "
        "(the Alabama paradox)"
    ),
}


def method_text(floor_rule: str, rounding: str) -> str:
    return (
        f"{FLOOR_RULE_TEXT[floor_rule]}; a share above max is held at max and its excess "
        f"re-shared; {ROUNDING_TEXT[rounding]}"
    )


PLACEMENT = (
    "crimes placed in areas by exact point in polygon; a point on an edge shared by two areas "
    "goes to the area on its north-east side"
)
SHOWN_DECIMALS = 3  # exact and equal shares, as printed and served


@dataclass(frozen=True)
class AllocationRequest:
    boundaries: str
    units: int
    minimum: int = 0
    maximum: int | None = None
    measure: str = "harm"
    weights: str = "home-office-2018"  # a built-in table name, or (command line only) a file
    first: str | None = None
    last: str | None = None
    force: str | None = None
    rounding: str = "webster"  # or "largest-remainder"
    floor_rule: str = "minimum"  # or "added" (min as a base on top)


@dataclass
class NeedAllocation:
    # code, name, crimes, harm[, population, rate], measure, exact_share, units, equal_share,
    # difference (units - equal_share), one row per area in the set's order
    frame: pd.DataFrame
    provenance: dict[str, Any]

    def rows(self) -> list[dict[str, Any]]:
        """The rows as plain Python values (NaN as None), ready for JSON."""
        records = self.frame.astype(object).where(self.frame.notna(), None)
        return [
            {key: _plain(value) for key, value in row.items()}
            for row in records.to_dict(orient="records")
        ]

    def totals(self) -> dict[str, Any]:
        frame = self.frame
        population = frame.get("population")
        return {
            "areas": len(frame),
            "crimes": int(frame["crimes"].sum()),
            "harm": float(frame["harm"].sum()),
            "population": (
                float(population.sum())
                if population is not None and population.notna().all()
                else None
            ),
            "measure": float(frame["measure"].sum()),
            "units": int(frame["units"].sum()),
            "equal_share": round(float(self.provenance["units"]), SHOWN_DECIMALS),
        }


def allocate_by_need(
    store: CrimeStore,
    boundary_set: BoundarySet,
    request: AllocationRequest,
    names: OptionNames = CLI_NAMES,
    progress: StepReport = no_progress,
) -> NeedAllocation:
    """The allocation ``request`` asks for; AllocationError (a ValueError) names what to change,
    in the asker's own spelling of the options (``names``). ``progress`` hears of each step."""
    store = store.snapshot()  # one store version for every read of this answer
    if request.measure not in MEASURES:
        raise AllocationError(
            f"{names.measure} must be one of {', '.join(MEASURES)}, got {quoted(request.measure)}"
        )
    table = load_table(request.weights)
    window = choose_window(store, request.force, request.first, request.last)
    progress(f"Counting crimes {window.first}..{window.last} into areas", 0, 2)
    frame = area_measures(store, boundary_set, table, window.first, window.last, request.force)
    if request.measure == "rate" and "rate" not in frame:
        raise AllocationError(
            f"boundary set {quoted(boundary_set.name)} has no population, so no rate per 1,000 "
            f"residents; attach it with `hotspots boundaries population {boundary_set.name} "
            f"--population FILE`, or use {names.setting(names.measure, 'harm')} or "
            f"{names.setting(names.measure, 'count')}"
        )
    column = MEASURE_COLUMNS[request.measure]
    raw = frame[column].to_numpy(dtype=np.float64)
    # An area with no rate (no residents recorded) has no measured need: it gets its floor.
    values = np.where(np.isfinite(raw), raw, 0.0)
    if not values.any():
        # No need anywhere: the units would go to the first areas by code (the tie rule), or
        # evenly, as if that were need. Refused, saying why and what to change.
        raise AllocationError(
            _no_need(request, frame, raw, table.name, window, boundary_set, names)
        )
    progress("Sharing the units", 1, 2)
    result = allocate(
        frame["code"].tolist(),
        values,
        request.units,
        request.minimum,
        request.maximum,
        names,
        rounding=request.rounding,
        floor_rule=request.floor_rule,
    )
    frame["measure"] = values
    frame["exact_share"] = result.exact_share.round(SHOWN_DECIMALS)
    frame["units"] = result.units
    frame["equal_share"] = result.equal_share.round(SHOWN_DECIMALS)
    frame["difference"] = (result.units - result.equal_share).round(SHOWN_DECIMALS)
    codes = frame["code"].astype(str)
    provenance = {
        "boundaries": boundary_set.name,
        "areas": len(frame),
        # No hot spot study: the units follow every area's own measure, so there is no scope.
        "study_region": {
            "boundary_set": boundary_set.name,
            "areas": "all areas of the set",
            "meaning": (
                f"units shared across all {len(frame)} areas of {boundary_set.name}; shares "
                "are worked out from each area's own crime and harm counts, with no hot spot "
                "study"
            ),
        },
        "units": request.units,
        "min": request.minimum,
        "min_rule": request.floor_rule,
        "max": request.maximum,
        "rounding": request.rounding,
        "measure": request.measure,
        "measure_definition": _definition(request.measure, table.name, table.unit),
        "weights": table.provenance(),
        "window": window.provenance(),
        "force": request.force,
        "method": method_text(request.floor_rule, request.rounding),
        "placement": PLACEMENT,
        "equal_share": "units / areas, not rounded: the same for every area",
        "areas_without_need": codes[values == 0].tolist(),
        "areas_without_rate": codes[~np.isfinite(raw)].tolist() if column == "rate" else [],
    }
    progress("Done", 2, 2)
    return NeedAllocation(frame, provenance)


def _no_need(
    request: AllocationRequest,
    frame: pd.DataFrame,
    raw: np.ndarray,
    weights: str,
    window: StudyWindow,
    boundary_set: BoundarySet,
    names: OptionNames,
) -> str:
    """Why no area has any need by the measure asked for, and what to change."""
    first, last, name = window.first, window.last, boundary_set.name
    measures = f"{names.setting(names.measure, 'harm')} or {names.setting(names.measure, 'count')}"
    if int(frame["crimes"].sum()) == 0:
        force = f" of force {request.force}" if request.force else ""
        return (
            f"there are no crimes{force} in the areas of {name} in {first}..{last}, so no area "
            "has any need to share the units by; choose months the store holds crimes for in "
            "these areas (--from/--to, from=/to=; `hotspots coverage` or GET /v1/coverage lists "
            "them), or ingest the force that covers them"
        )
    if request.measure == "rate" and not np.isfinite(raw).any():
        return (
            f"no area of {name} has residents recorded, so there is no rate per 1,000 residents "
            f"to share the units by; attach them with `hotspots boundaries population {name} "
            f"--population FILE`, or use {measures}"
        )
    if request.measure == "rate":
        return (
            f"no area of {name} with residents recorded has a crime in {first}..{last} (the "
            "crimes fell in areas without residents), so the rate gives no area any need; use "
            f"{measures}"
        )
    return _no_harm(weights, first, last, name, names)


def _no_harm(weights: str, first: str, last: str, areas: str, names: OptionNames) -> str:
    """Why harm gives no need to share by (every area's harm is 0) and what to change: without
    it the units would go to the first areas by code (the tie rule), as if that were need."""
    return (
        f"the weights {weights} give every crime of {first}..{last} in {areas} zero harm, "
        "so no area has any need to share the units by; use a table with non-zero weights for "
        f"these crimes, the count weights ({names.setting(names.weights, 'count')}), or "
        f"{names.setting(names.measure, 'count')}"
    )


def _definition(measure: str, weights: str, unit: str) -> str:
    if measure == "count":
        return "crimes in the area over the window (anti-social behaviour included)"
    if measure == "rate":
        return "crimes per 1,000 residents over the window; an area without residents has no need"
    total_unit = summed_unit(unit)
    return f"the sum of the {weights} harm weights of the area's crimes, in {total_unit}"


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
