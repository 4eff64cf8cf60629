"""Share N whole units (officers, PCSOs, patrol hours) across areas in proportion to need.

Shares. Each area's exact share is its part of N in proportion to the measure, within its bounds:
- ``--min`` is a **minimum** by default (``floor_rule="minimum"``): an area whose proportional
  share is below it is held at it and the others share the rest in proportion; an area already
  above it gets nothing extra. With ``floor_rule="added"`` the minimum is a **base added on top**:
  every area first gets it, and the rest is shared in proportion on top of it (the older rule).
- ``--max`` is a cap: a share above it is held at it and its excess re-shared among the others.
Both repeat until no share passes a bound.

Whole units. By default the Webster / Sainte-Laguë divisor method (Balinski and Young 1982,
"Fair Representation"): starting from the minimums, each unit in turn goes to the area with the
highest need / (units + 0.5) that is below its cap (ties: fewer units, then the smaller code).
A divisor method is house monotone, so one more unit never takes a unit from any area: no
Alabama paradox. The largest remainder method (Hamilton; ``rounding="largest-remainder"``) stays
as an option: it keeps every area within one unit of its exact share (the quota), which a
divisor method can miss, but it shows the Alabama paradox (on Torbay's 2019 ward crime counts,
going from 30 to 31 units takes Collaton St Mary from 1 unit to 0; tests/test_planning.py).
Both results sum exactly to N and respect every minimum and cap.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from pipelines.errors import InputError
from pipelines.quoting import quoted

# A force's patrol hours for a year are well under this. The bound keeps every exact share exact
# in float64 and turns a mistyped number into a message rather than a meaningless table.
MAX_UNITS = 1_000_000
ROUNDINGS = ("webster", "largest-remainder")
FLOOR_RULES = ("minimum", "added")


class AllocationError(InputError):
    """An allocation that cannot be made as asked (the message says what to change)."""


@dataclass(frozen=True)
class OptionNames:
    """What the asker calls each input, so a refusal names the option they can change: the
    command line says ``--min``, a URL says ``min``."""

    units: str
    floor: str
    cap: str
    measure: str
    assign: str  # between an option and its value: " " on the command line, "=" in a URL
    rounding: str = "--rounding"
    floor_rule: str = "--floor-rule"
    weights: str = "--weights"

    def setting(self, option: str, value: object) -> str:
        return f"{option}{self.assign}{value}"


CLI_NAMES = OptionNames("--units", "--min", "--max", "--measure", " ")
HTTP_NAMES = OptionNames(
    "units",
    "min",
    "max",
    "measure",
    "=",
    rounding="rounding",
    floor_rule="floor_rule",
    weights="weights",
)


@dataclass
class Allocation:
    codes: list[str]
    measure: np.ndarray
    exact_share: np.ndarray  # the proportional share before rounding (floors and caps applied)
    units: np.ndarray  # whole units per area, summing to the total
    equal_share: np.ndarray  # total / areas, the "same for every ward" baseline (not rounded)
    total: int
    floor: int
    cap: int | None
    rounding: str = "webster"
    floor_rule: str = "minimum"


def allocate(
    codes: list[str],
    measure: np.ndarray,
    total: int,
    floor: int = 0,
    cap: int | None = None,
    names: OptionNames = CLI_NAMES,
    rounding: str = "webster",
    floor_rule: str = "minimum",
) -> Allocation:
    """Whole units per area in proportion to ``measure``, within ``floor`` and ``cap``.

    Parameters
    ----------
    codes, measure
        The areas and their need (finite, >= 0).
    total
        Whole units to share (N).
    floor
        The minimum per area (``floor_rule="minimum"``) or the base added first
        (``floor_rule="added"``).
    cap
        The maximum per area, or None.
    names
        How the asker spells the options, for refusals.
    rounding
        ``webster`` (Sainte-Laguë divisor method, the default) or ``largest-remainder``.
    """
    if rounding not in ROUNDINGS:
        raise AllocationError(
            f"{names.rounding} must be one of {', '.join(ROUNDINGS)}, got {quoted(rounding)}"
        )
    if floor_rule not in FLOOR_RULES:
        raise AllocationError(
            f"{names.floor_rule} must be one of {', '.join(FLOOR_RULES)}, got {quoted(floor_rule)}"
        )
    values = np.asarray(measure, dtype=np.float64)
    n = len(codes)
    if n == 0:
        raise AllocationError("there are no areas to share units between")
    if values.shape != (n,):
        raise AllocationError(f"{n} areas but {values.size} measure values")
    if not np.all(np.isfinite(values)) or (values < 0).any():
        raise AllocationError("the measure must be a finite number >= 0 for every area")
    if total < 0 or floor < 0 or (cap is not None and cap < 0):
        raise AllocationError(
            f"{names.units}, {names.floor} and {names.cap} must be whole numbers >= 0"
        )
    if total > MAX_UNITS:
        raise AllocationError(
            f"{names.units} must be at most {MAX_UNITS:,}, got {total:,}; share hours or officers, "
            "not minutes"
        )
    if cap is not None and cap < floor:
        raise AllocationError(
            f"the maximum per area ({names.setting(names.cap, cap)}) is below the minimum "
            f"({names.setting(names.floor, floor)}); raise {names.cap} or lower {names.floor}"
        )
    if floor * n > total:
        raise AllocationError(
            f"the minimum of {floor} per area ({names.floor}) for {n} areas needs {floor * n} "
            f"units, more than the {total} to share ({names.units}); lower {names.floor} or raise "
            f"{names.units}"
        )
    if cap is not None and cap * n < total:
        raise AllocationError(
            f"the maximum of {cap} per area ({names.cap}) for {n} areas holds only {cap * n} of "
            f"the {total} units; raise {names.cap} or lower {names.units}"
        )
    if floor_rule == "added":
        exact = _capped_shares(values, total, floor, cap)
    else:
        exact = _bounded_shares(values, total, floor, cap)
    if rounding == "webster":
        lowest = np.full(n, floor, dtype=np.int64)
        if floor_rule == "added":  # the base is given first, so the divisor shares the rest
            units = lowest + _webster(values, total - floor * n, codes, _less(cap, floor), n)
        else:
            units = _webster(values, total, codes, cap, n, start=lowest)
    else:
        units = _largest_remainder(exact, total, codes, cap)
    return Allocation(
        codes=list(codes),
        measure=values,
        exact_share=exact,
        units=units,
        equal_share=np.full(n, total / n),
        total=total,
        floor=floor,
        cap=cap,
        rounding=rounding,
        floor_rule=floor_rule,
    )


def _less(cap: int | None, base: int) -> int | None:
    return None if cap is None else cap - base


def _webster(
    values: np.ndarray,
    total: int,
    codes: list[str],
    cap: int | None,
    n: int,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Sainte-Laguë highest averages from ``start``: each unit to the largest need / (units +
    0.5) below the cap; ties to fewer units, then the smaller code. House monotone."""
    units = np.zeros(n, dtype=np.int64) if start is None else start.copy()
    order = {code: rank for rank, code in enumerate(sorted(codes))}
    heap = [
        (-values[i] / (units[i] + 0.5), units[i], order[codes[i]], i)
        for i in range(n)
        if cap is None or units[i] < cap
    ]
    heapq.heapify(heap)
    for _ in range(total - int(units.sum())):
        if not heap:  # cannot happen when total <= cap * n, checked above
            raise AllocationError("units could not be placed within the caps")
        _, _, rank, i = heapq.heappop(heap)
        units[i] += 1
        if cap is None or units[i] < cap:
            heapq.heappush(heap, (-values[i] / (units[i] + 0.5), units[i], rank, i))
    return units


def _bounded_shares(values: np.ndarray, total: int, floor: int, cap: int | None) -> np.ndarray:
    """Shares clamp(t x need, floor, cap) with the one t that makes them sum to ``total``: a
    share below the minimum is held at it, one above the cap at the cap, and the others stay in
    proportion. The sum is piecewise linear in t, so t is found exactly between breakpoints.
    When the areas with need are all at the cap, the areas without share the rest equally."""
    top = float(cap) if cap is not None else float(total)
    need = values > 0
    if np.where(need, top, float(floor)).sum() < total:
        shares = np.full(len(values), top)
        rest = total - top * need.sum()
        shares[~need] = _solve_clamped(np.ones(int((~need).sum())), rest, floor, top)
        return shares
    return _solve_clamped(values, total, floor, top)


def _solve_clamped(values: np.ndarray, total: float, floor: float, top: float) -> np.ndarray:
    def filled(t: float) -> np.ndarray:
        return np.clip(t * values, floor, top)

    positive = values[values > 0]
    breaks = np.unique(np.concatenate([floor / positive, top / positive, [0.0]]))
    sums = np.array([filled(t).sum() for t in breaks])
    if sums[-1] <= total:  # every area with need at the cap (only when the sum is exactly total)
        return filled(breaks[-1])
    k = int(np.searchsorted(sums, total, side="right"))  # sums[k-1] <= total < sums[k]
    low, high = breaks[k - 1], breaks[k]
    t = low + (total - sums[k - 1]) * (high - low) / (sums[k] - sums[k - 1])
    return filled(t)


def _capped_shares(values: np.ndarray, total: int, floor: int, cap: int | None) -> np.ndarray:
    n = len(values)
    share = np.full(n, float(floor))
    free = np.ones(n, dtype=bool)  # areas whose share is still proportional
    remaining = float(total - floor * n)
    while True:
        weights = values * free
        if weights.sum() == 0:  # no need measured among the free areas: share them equally
            weights = free.astype(np.float64)
        proposal = share + remaining * weights / weights.sum()
        if cap is None or not (proposal[free] > cap + 1e-9).any():
            return proposal
        over = free & (proposal > cap)
        remaining -= float((cap - share[over]).sum())
        share[over] = cap
        free &= ~over


def _largest_remainder(
    exact: np.ndarray, total: int, codes: list[str], cap: int | None
) -> np.ndarray:
    units = np.floor(exact + 1e-9).astype(np.int64)
    left = total - int(units.sum())
    fraction = exact - units
    order = sorted(range(len(codes)), key=lambda i: (-round(fraction[i], 12), codes[i]))
    for i in order:
        if left == 0:
            break
        if cap is not None and units[i] >= cap:
            continue
        units[i] += 1
        left -= 1
    if left != 0:  # cannot happen when total <= cap * n, checked above
        raise AllocationError(f"{left} units could not be placed within the caps")
    return units
