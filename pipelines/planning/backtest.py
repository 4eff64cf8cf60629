"""Did last period's hotspots hold the crime that followed? Hit rate and PAI.

Chainey, S., Tompson, L. and Uhlig, S. (2008) "The utility of hotspot mapping for predicting
spatial patterns of crime", Security Journal 21, 4-28. Hotspots are chosen on a training window;
crimes of the following test window are then counted in them:

    hit rate = n / N          (share of the test window's crimes inside the chosen hotspots)
    PAI      = (n / N) / (a / A)  (hit rate over the share of the region's area they cover)

A PAI of 1 is no better than chance; higher is better. Both are reported per resolution and per
selection value (crime count or harm), so a partnership can see which settings predict best.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from boundaries.sets import BoundarySet
from pipelines.analysis.grid import build_grid, locate_crimes, sum_by_cell
from pipelines.analysis.study import StudyRequest, run_study
from pipelines.months import months_between, shift_month
from pipelines.store import CrimeStore

BACKTEST_RESOLUTIONS = (8, 9, 10)


class BacktestError(ValueError):
    """A backtest that cannot be run as asked."""


def predictive_accuracy_index(
    hits: float, crimes: float, hotspot_area: float, region_area: float
) -> float:
    """PAI = (hits / crimes) / (hotspot_area / region_area); 0 when nothing was selected."""
    if crimes <= 0 or region_area <= 0:
        raise BacktestError("the test window has no crimes in the region, so nothing to score")
    if hotspot_area <= 0:
        return 0.0
    return (hits / crimes) / (hotspot_area / region_area)


@dataclass(frozen=True)
class BacktestRow:
    resolution: int
    selection: str  # the harm table whose hot spots were chosen ("count" = crime count)
    train: str  # "YYYY-MM..YYYY-MM"
    test: str
    hotspot_cells: int
    region_cells: int
    area_share: float  # a / A
    test_crimes: int  # N
    hits: int  # n
    hit_rate: float
    pai: float


def backtest(
    store: CrimeStore,
    boundary_set: BoundarySet,
    base: StudyRequest,
    test_months: int = 3,
    resolutions: tuple[int, ...] = BACKTEST_RESOLUTIONS,
    selections: tuple[str, ...] = ("count", "home-office-2018"),
) -> list[BacktestRow]:
    """Choose Gi* hot spots on ``base``'s window, score them on the ``test_months`` after it."""
    if test_months < 1:
        raise BacktestError(f"the test period must be at least 1 month, got {test_months}")
    if base.last is None:
        raise BacktestError("give the training window's last month (--to) so a test period follows")
    test_first = shift_month(base.last, 1)
    test_last = shift_month(base.last, test_months)
    stored = {month for _, month in store.partitions(base.force, test_first, test_last)}
    missing = [m for m in months_between(test_first, test_last) if m not in stored]
    if missing:
        raise BacktestError(
            f"the test period {test_first}..{test_last} is not fully stored (missing "
            f"{', '.join(missing)}); end the training window earlier"
        )
    test_crimes = store.read(
        base.force, test_first, test_last, columns=["longitude", "latitude", "h3_cell", "category"]
    )
    rows = []
    for resolution in resolutions:
        grid = build_grid(boundary_set, resolution, list(base.areas) or None)
        located = locate_crimes(grid, boundary_set, test_crimes)
        test_counts = sum_by_cell(located, len(grid))
        areas = grid.cell_areas_km2()
        for selection in selections:
            request = replace(base, resolution=resolution, weights=selection, adjust=False)
            trained = run_study(store, boundary_set, request)
            cells = trained.cells
            if len(cells) != len(grid):
                raise BacktestError("the training and test grids differ; this is a bug")
            chosen = cells["hotspot"].to_numpy()
            hits = int(test_counts[chosen].sum())
            total = int(test_counts.sum())
            rows.append(
                BacktestRow(
                    resolution=resolution,
                    selection=selection,
                    train=f"{trained.window.first}..{trained.window.last}",
                    test=f"{test_first}..{test_last}",
                    hotspot_cells=int(chosen.sum()),
                    region_cells=len(grid),
                    area_share=float(areas[chosen].sum() / areas.sum()),
                    test_crimes=total,
                    hits=hits,
                    hit_rate=hits / total if total else 0.0,
                    pai=predictive_accuracy_index(hits, total, areas[chosen].sum(), areas.sum()),
                )
            )
    return rows


def rows_as_dicts(rows: list[BacktestRow]) -> list[dict]:
    return [asdict(row) for row in rows]


def best(rows: list[BacktestRow]) -> BacktestRow:
    """The settings with the highest PAI (ties: the finer hit rate, then coarser resolution)."""
    return max(rows, key=lambda r: (r.pai, r.hit_rate, -r.resolution))
