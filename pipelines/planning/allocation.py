"""Share N whole units (officers, PCSOs, patrol hours) across areas in proportion to need.

Method: every area first gets its floor; the rest is shared in proportion to the measure, and an
area whose share would pass the cap is held at the cap and its excess re-shared among the others
(repeated until no share passes a cap). The exact shares are then made whole by the largest
remainder method (Hamilton): each area takes the whole part of its share, and the units left go
one each to the areas with the largest fractional parts (ties to the smaller code), never past a
cap. The result sums exactly to N and respects every floor and cap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.errors import InputError

# A force's patrol hours for a year are well under this. The bound keeps every exact share exact
# in float64 and turns a mistyped number into a message rather than a meaningless table.
MAX_UNITS = 1_000_000


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

    def setting(self, option: str, value: object) -> str:
        return f"{option}{self.assign}{value}"


CLI_NAMES = OptionNames("--units", "--min", "--max", "--measure", " ")
HTTP_NAMES = OptionNames("units", "min", "max", "measure", "=")


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


def allocate(
    codes: list[str],
    measure: np.ndarray,
    total: int,
    floor: int = 0,
    cap: int | None = None,
    names: OptionNames = CLI_NAMES,
) -> Allocation:
    """Whole units per area in proportion to ``measure``, within ``floor`` and ``cap``; refusals
    name the inputs as ``names`` spells them."""
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
    exact = _capped_shares(values, total, floor, cap)
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
    )


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
