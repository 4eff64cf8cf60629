"""One displacement check, answered the same way for the command line and the web API.

``displacement_check`` takes a target and a control (``displacement_areas.Place``), the buffer
width and two periods, counts the stored crimes in the target, the buffer ring and the control in
each period, and returns the WDQ with the provenance of every choice: how the buffer was cut, the
control rule, the months each period actually has stored, the categories and forces counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.categories import canonical_category
from pipelines.months import MonthError, months_between, parse_month
from pipelines.planning.displacement import (
    DisplacementError,
    DisplacementResult,
    explain,
    weighted_displacement_quotient,
)
from pipelines.planning.displacement_areas import (
    BUFFER_RULE,
    CONTROL_RULE,
    EDGE_RULE,
    DisplacementAreas,
    Place,
    displacement_areas,
    period_counts,
)
from pipelines.quoting import quoted
from pipelines.store import CrimeStore

METHOD = (
    "Weighted Displacement Quotient (Bowers and Johnson 2003): with crimes in the target A, "
    "buffer B and control C before (0) and after (1), success measure SM = A1/C1 - A0/C0, buffer "
    "displacement measure BDM = B1/C1 - B0/C0, WDQ = BDM / SM, total net effect = "
    "(A0 C1/C0 - A1) + (B0 C1/C0 - B1) crimes"
)
INFERENCE = (
    "odds ratios (before / after in the place over before / after in the control; above 1: "
    "fell relative to the control) with Woolf's 95 % interval, var(ln OR) = sum of 1/count, "
    "counts taken as Poisson, 0.5 added to every count when one is zero (Bowers et al. 2011)"
)
READING_RULE = (
    "Bowers and Johnson (2003) classes, read only where the odds ratios' 95 % intervals exclude "
    "1: target interval includes 1: no significant change (nothing read, no crimes saved "
    "claimed); target rose: no success; target fell and buffer interval includes 1: success "
    "with no significant displacement or diffusion; buffer fell (WDQ > 0): diffusion of "
    "benefit, greater than the direct effect when WDQ > 1; buffer rose (WDQ < 0): "
    "displacement, greater than the direct effect when WDQ < -1"
)
_COLUMNS = ["longitude", "latitude", "category"]


@dataclass(frozen=True)
class Period:
    first: str
    last: str

    @property
    def label(self) -> str:
        return f"{self.first}:{self.last}"

    def months(self) -> list[str]:
        return months_between(self.first, self.last)


def parse_period(text: str, option: str) -> Period:
    """``YYYY-MM:YYYY-MM`` (both inclusive); MonthError naming ``option`` otherwise."""
    parts = text.split(":")
    if len(parts) != 2:
        raise MonthError(
            f"{option} must be FIRST:LAST months, e.g. 2019-01:2019-06, got {quoted(text)}"
        )
    first, last = (parse_month(part, option=option) for part in parts)
    if first > last:
        raise MonthError(f"{option} runs backwards: {first} is after {last}; give FIRST:LAST")
    return Period(first, last)


def check_periods(before: Period, after: Period, before_option: str, after_option: str) -> None:
    """The before period must end before the after period starts: a month in both would be
    counted on both sides of the change."""
    if before.first <= after.last and after.first <= before.last:
        shared = [m for m in before.months() if after.first <= m <= after.last]
        both = shared[0] if len(shared) == 1 else f"{shared[0]}..{shared[-1]}"
        raise MonthError(
            f"the before period ({before_option} {before.label}) and the after period "
            f"({after_option} {after.label}) overlap: {both} is in both; the before period must "
            "end before the after period starts"
        )
    if after.last < before.first:
        raise MonthError(
            f"the after period ({after_option} {after.label}) ends before the before period "
            f"({before_option} {before.label}) starts; swap them"
        )


def category_slugs(values: list[str] | None) -> list[str]:
    """police.uk slugs of the categories asked for (names or slugs, comma-separated or repeated);
    an empty list means every category."""
    slugs = set()
    for value in values or []:
        for part in value.split(","):
            if not part.strip():
                continue
            slug = canonical_category(part.strip())
            if slug is None:
                raise DisplacementError(
                    f"unknown crime category {quoted(part.strip())}; use police.uk slugs such as "
                    "burglary, violent-crime, anti-social-behaviour"
                )
            slugs.add(slug)
    return sorted(slugs)


@dataclass(frozen=True)
class PeriodCoverage:
    name: str  # "before" or "after"
    period: Period
    stored: list[str]  # months of the period the store holds (for the force asked, or any)
    forces: list[str]

    @property
    def missing(self) -> list[str]:
        return [m for m in self.period.months() if m not in set(self.stored)]

    def provenance(self) -> dict[str, Any]:
        return {
            "first": self.period.first,
            "last": self.period.last,
            "months": len(self.period.months()),
            "months_stored": self.stored,
            "months_missing": self.missing,
        }


def period_coverage(
    store: CrimeStore, period: Period, name: str, force: str | None
) -> PeriodCoverage:
    """What the store holds for ``period``; DisplacementError when it holds none of its months."""
    partitions = store.partitions(force, period.first, period.last)
    if not partitions:
        held = sorted({month for _, month in store.partitions(force)})
        holds = f"the store holds {held[0]}..{held[-1]}" if held else "the store holds no crimes"
        whose = f" for force {quoted(force)}" if force else ""
        raise DisplacementError(
            f"no crimes are stored{whose} for the {name} period {period.first}..{period.last} "
            f"({', '.join(_shown(period.months()))}); {holds}, so choose months inside it"
        )
    return PeriodCoverage(
        name,
        period,
        sorted({month for _, month in partitions}),
        sorted({part_force for part_force, _ in partitions}),
    )


@dataclass
class DisplacementCheck:
    target: Place
    control: Place
    areas: DisplacementAreas
    before: PeriodCoverage
    after: PeriodCoverage
    categories: list[str]
    force: str | None
    result: DisplacementResult

    def to_dict(self) -> dict[str, Any]:
        """The WDQ, its components, the counts, the periods and the provenance, as plain JSON."""
        result = self.result
        return result.to_dict() | {
            "explanation": explain(result),
            "buffer_m": self.areas.buffer_m,
            "before_period": self.before.period.label,
            "after_period": self.after.period.label,
            "target": self.target.describe(),
            "control": self.control.describe(),
            "provenance": {
                "method": METHOD,
                "inference": INFERENCE,
                "reading_rule": READING_RULE,
                "buffer": BUFFER_RULE.format(width=self.areas.buffer_m),
                "control_rule": CONTROL_RULE,
                "placement": EDGE_RULE,
                "areas_km2": {k: round(v, 4) for k, v in self.areas.areas_km2().items()},
                "periods": {
                    "before": self.before.provenance(),
                    "after": self.after.provenance(),
                },
                "categories": self.categories or "all",
                "force": self.force,
                "forces": sorted(set(self.before.forces) | set(self.after.forces)),
            },
        }


def displacement_check(
    store: CrimeStore,
    target: Place,
    control: Place,
    buffer_m: float,
    before: Period,
    after: Period,
    categories: list[str] | None = None,
    force: str | None = None,
) -> DisplacementCheck:
    """Count the crimes of each period in the target, buffer and control, and weigh them."""
    store = store.snapshot()  # one store version for every read of this answer
    slugs = category_slugs(categories)
    areas = displacement_areas(target.geometry, control.geometry, buffer_m)
    coverages, counts = [], []
    for name, period in (("before", before), ("after", after)):
        coverage = period_coverage(store, period, name, force)
        crimes = store.read(force, period.first, period.last, columns=_COLUMNS)
        if crimes.num_rows == 0:
            raise DisplacementError(
                f"the store holds months {', '.join(_shown(coverage.stored))} of the {name} "
                "period but no crimes in them; choose other months"
            )
        coverages.append(coverage)
        counts.append(period_counts(areas, crimes, slugs))
    result = weighted_displacement_quotient(*counts)
    return DisplacementCheck(target, control, areas, *coverages, slugs, force, result)


def _shown(months: list[str], most: int = 24) -> list[str]:
    """The months, shortened in a message when there are many."""
    if len(months) <= most:
        return months
    return [*months[: most // 2], "...", *months[-most // 2 :]]
