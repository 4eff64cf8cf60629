"""Did last period's hotspots hold the crime that followed? Hit rate and PAI.

Chainey, S., Tompson, L. and Uhlig, S. (2008) "The utility of hotspot mapping for predicting
spatial patterns of crime", Security Journal 21, 4-28. Hotspots are chosen on a training window;
crimes of the following test window are then counted in them:

    hit rate = n / N          (share of the test window's crimes inside the chosen hotspots)
    PAI      = (n / N) / (a / A)  (hit rate over the share of the region's area they cover)

A is the areas' own land area and a the chosen cells' area inside the areas (boundaries/h3_cover:
cells at sea or next door neither enter the region nor inflate A).

A PAI of 1 is no better than chance; higher is better. Both are reported per resolution and per
selection value (crime count or harm), so a partnership can see which settings predict best.

Like with like. The significant hot spots of a fine grid cover less area than a coarse grid's,
and PAI rewards a small area, so comparing PAIs of different areas favours the finest grid. So
each row is also scored at **fixed shares of the land area** (the top 1 % and 5 %): cells are
taken in the order of the training study's Gi* z (ties: the higher training value) until their
land area reaches the share, the last cell counted in part (its test crimes in proportion to the
part taken, as if spread evenly in it), so every resolution is scored on exactly the same area.

PEI* (Hunt, J. M. (2016) "Do crime hot spots move? Exploring the effects of the modifiable areal
unit problem and modifiable temporal unit problem on crime hot spot stability", Journal of
Quantitative Criminology 32, 103-128; after Chainey's PEI):

    PEI* = n / n*   n* = the most test crimes any cells of the same area could have held

(the cells taken in the order of their test-period crime density, the last in part). 1 is the
best any selection of that area could do; it does not grow as the area shrinks.

The "best" setting is the one with the highest hit rate at 5 % of the land area (equivalently the
highest PAI at that equal area), ties to the coarser resolution: a finer grid wins only when it
puts more of the following crime into the same area.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from boundaries.sets import BoundarySet
from pipelines.analysis.grid import build_grid, locate_crimes, sum_by_cell
from pipelines.analysis.scope import judged_against_set, studied_request
from pipelines.analysis.study import (
    METHODS,
    STUDY_RESOLUTIONS,
    StudyError,
    StudyRequest,
    StudyResult,
    neighbours_provenance,
    run_study,
)
from pipelines.categories import canonical_category
from pipelines.errors import InputError
from pipelines.harm import POLICE_GENERATED
from pipelines.months import Month, MonthError, is_month, months_between, shift_month
from pipelines.progress import StepReport, no_progress
from pipelines.quoting import quoted
from pipelines.store import CrimeStore
from pipelines.wording import counted

# Resolutions the data supports: on Torbay an occupied resolution-10 cell holds a median of one
# police.uk map point (pipelines/analysis/map_points.py), so 10 is refused there; 8 and 9 hold
# 11-14.5 and 3-4. A finer resolution can still be asked for where the data resolves it.
BACKTEST_RESOLUTIONS = (8, 9)
AREA_SHARES = (0.01, 0.05)  # the fixed shares of the land area every row is also scored at
BEST_RULE = (
    "the highest hit rate at 5 % of the land area (equivalently PAI at that equal area); ties to "
    "the coarser resolution, then the selection named first"
)
PEI_FORMULA = (
    "PEI* = n / n*: the test crimes in the selection over the most any cells of the same area "
    "could hold (Hunt 2016); 1 is the best possible"
)
FIXED_AREA_RULE = (
    "cells in the order of the training study's Gi* z (ties: the higher training value) until "
    "their land area reaches the share of the areas' land area, the last cell counted in part"
)
BACKTEST_SELECTIONS = ("count", "home-office-2018")
CITATION = (
    "Chainey, S., Tompson, L. and Uhlig, S. (2008) 'The utility of hotspot mapping for "
    "predicting spatial patterns of crime', Security Journal 21, 4-28"
)
HIT_RATE_FORMULA = (
    "hit rate = n / N: the share of the test period's N crimes that were in the hotspots"
)
PAI_FORMULA = (
    "PAI = (n / N) / (a / A): the hit rate over the share of the region's area A that the "
    "hotspots cover (a); 1 is no better than chance"
)
# Resolution-specific entries of a study's statistics settings: not settings of the backtest.
_PER_STUDY = ("cells", "neighbourhood_sizes", "cells_refined", "cold_spots_suppressed")

StudyRunner = Callable[[StudyRequest], StudyResult]


class BacktestError(InputError):
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
    pei: float  # PEI* of the significant hot spots: n / n* at their area
    hit_rate_top1: float  # n / N in the top 1 % of the land area by training z
    pai_top1: float
    pei_top1: float
    hit_rate_top5: float  # the same at 5 %
    pai_top5: float
    pei_top5: float


@dataclass(frozen=True)
class BacktestRun:
    """A backtest's rows and what they rest on: windows, the hotspot rule, the test crimes."""

    request: StudyRequest  # the training question (resolution and weights vary per row)
    rows: list[BacktestRow]
    train_window: dict  # StudyWindow.provenance() of the training window
    test_window: dict  # first, last, months (all stored: the test period must be complete)
    hotspot_selection: dict  # the statistics settings that chose the hotspots, and the rule
    test_crimes_rule: str
    study_region: dict = field(default_factory=dict)  # backtest_region(request)
    formulas: dict = field(
        default_factory=lambda: {
            "hit_rate": HIT_RATE_FORMULA,
            "pai": PAI_FORMULA,
            "citation": CITATION,
            "pei": PEI_FORMULA,
            "fixed_area": FIXED_AREA_RULE,
            "best": BEST_RULE,
        }
    )


def backtest(
    store: CrimeStore,
    boundary_set: BoundarySet,
    base: StudyRequest,
    test_months: int = 3,
    resolutions: tuple[int, ...] = BACKTEST_RESOLUTIONS,
    selections: tuple[str, ...] = BACKTEST_SELECTIONS,
) -> list[BacktestRow]:
    """Choose Gi* hot spots on ``base``'s window, score them on the ``test_months`` after it."""
    return run_backtest(store, boundary_set, base, test_months, resolutions, selections).rows


def run_backtest(
    store: CrimeStore,
    boundary_set: BoundarySet,
    base: StudyRequest,
    test_months: int = 3,
    resolutions: tuple[int, ...] = BACKTEST_RESOLUTIONS,
    selections: tuple[str, ...] = BACKTEST_SELECTIONS,
    study: StudyRunner | None = None,
    progress: StepReport = no_progress,
) -> BacktestRun:
    """:func:`backtest` with its provenance. ``study`` runs each training study (default
    ``run_study``; the service passes its study cache so repeated backtests cost no new study);
    ``progress`` hears of each training study as it starts."""
    store = store.snapshot()  # one store version for every read of this answer
    if test_months < 1:
        raise BacktestError(f"the test period must be at least 1 month, got {test_months}")
    if base.last is None:
        raise BacktestError("give the training window's last month (--to) so a test period follows")
    if not resolutions or not selections:
        raise BacktestError("give at least one resolution and one selection (weights) to score")
    # Checked here, so that a study's refusal below is always about its data at one resolution.
    unknown = [r for r in resolutions if r not in STUDY_RESOLUTIONS]
    if unknown:
        raise BacktestError(
            f"resolutions must be among {', '.join(map(str, STUDY_RESOLUTIONS))}, got "
            f"{', '.join(map(str, unknown))}"
        )
    if base.method not in METHODS:
        raise BacktestError(
            f"method must be one of {', '.join(METHODS)}, got {quoted(base.method)}"
        )
    run = study or (lambda request: run_study(store, boundary_set, request))
    if base.first is not None:
        check_training_window_stored(store, base, test_months)
    test_first = shift_month(base.last, 1)
    test_last = shift_month(base.last, test_months)
    stored = {month for _, month in store.partitions(base.force, test_first, test_last)}
    missing = [m for m in months_between(test_first, test_last) if m not in stored]
    if missing:
        raise BacktestError(_missing_test_months(store, base, test_months, missing))
    progress(f"Reading test crimes {test_first}..{test_last}", 0, 1)
    test_crimes = _test_crimes(store, base, test_first, test_last)
    steps = len(resolutions) * len(selections)
    rows = []
    trained: StudyResult | None = None
    judged = judged_against_set(base)
    for resolution in resolutions:
        # Judged against the set (the default scope), the hot spots are the set's study's, so the
        # grid is the set's; the named areas' cells are then the ones scored.
        grid = build_grid(boundary_set, resolution, None if judged else list(base.areas) or None)
        located = locate_crimes(grid, boundary_set, test_crimes)
        test_counts = sum_by_cell(located, len(grid))
        areas = grid.cell_areas_km2()
        for selection in selections:
            # adjust=False: the data guard must not swap the resolution or window being scored.
            request = replace(base, resolution=resolution, weights=selection, adjust=False)
            progress(f"Resolution {resolution}, {selection}", len(rows), steps)
            try:
                trained = run(studied_request(request))
            except StudyError as error:  # the data guard's refusal, about this resolution
                raise BacktestError(
                    f"resolution {resolution} with {selection}: {error}; leave it out of the "
                    "resolutions (--res, res=)"
                ) from error
            cells = trained.cells
            if len(cells) != len(grid):
                raise BacktestError("the training and test grids differ; this is a bug")
            if judged:
                shown = cells["area_code"].isin(base.areas).to_numpy()
                scored = _Scored(
                    cells[shown], test_counts[shown], areas[shown], float(areas[shown].sum())
                )
                # Crimes of the set's coastal rim cells cannot be told apart by area: not counted.
                total = int(scored.test_counts.sum())
            else:
                scored = _Scored(cells, test_counts, areas, grid.land_km2)
                # N counts every test crime inside the areas, those in rim cells below the land
                # share included; A is the areas' land area, a the chosen cells' clipped area.
                total = int(test_counts.sum()) + located.below_land_share
            rows.append(
                _row(
                    scored,
                    total,
                    resolution,
                    selection,
                    f"{trained.window.first}..{trained.window.last}",
                    f"{test_first}..{test_last}",
                )
            )
    assert trained is not None  # at least one resolution and selection, checked above
    progress("Done", steps, steps)
    return BacktestRun(
        request=base,
        rows=rows,
        train_window=trained.window.provenance(),
        test_window={
            "first": test_first,
            "last": test_last,
            "months": test_months,
            "months_stored": test_months,
        },
        hotspot_selection=_selection_settings(base, trained.provenance["statistics"]),
        test_crimes_rule=_test_crimes_rule(base),
        study_region=backtest_region(base),
    )


@dataclass(frozen=True)
class _Scored:
    """What one row is scored on: the training study's cells, their test crimes and land areas
    (the named areas' cells of the set's study under the default scope), and A."""

    cells: pd.DataFrame
    test_counts: np.ndarray
    areas: np.ndarray
    land_km2: float


def _row(
    scored: _Scored, total: int, resolution: int, selection: str, train: str, test: str
) -> BacktestRow:
    cells, test_counts, areas, land = (
        scored.cells,
        scored.test_counts,
        scored.areas,
        scored.land_km2,
    )
    chosen = cells["hotspot"].to_numpy()
    fixed = {
        share: fixed_area_scores(
            cells["z"].to_numpy(dtype=np.float64),
            cells["value"].to_numpy(dtype=np.float64),
            test_counts,
            areas,
            land,
            share,
        )
        for share in AREA_SHARES
    }
    hits = int(test_counts[chosen].sum())
    return BacktestRow(
        resolution=resolution,
        selection=selection,
        train=train,
        test=test,
        hotspot_cells=int(chosen.sum()),
        region_cells=len(cells),
        area_share=float(areas[chosen].sum() / land),
        test_crimes=total,
        hits=hits,
        hit_rate=hits / total if total else 0.0,
        pai=predictive_accuracy_index(hits, total, areas[chosen].sum(), land),
        pei=_ratio(hits, most_in_area(test_counts, areas, float(areas[chosen].sum()))),
        hit_rate_top1=fixed[0.01].hits / total if total else 0.0,
        pai_top1=predictive_accuracy_index(fixed[0.01].hits, total, fixed[0.01].area, land),
        pei_top1=fixed[0.01].pei,
        hit_rate_top5=fixed[0.05].hits / total if total else 0.0,
        pai_top5=predictive_accuracy_index(fixed[0.05].hits, total, fixed[0.05].area, land),
        pei_top5=fixed[0.05].pei,
    )


def backtest_region(base: StudyRequest) -> dict:
    """What the backtest studied and what it scored, in the words of a hotspot answer's
    ``study_region`` / ``shown_areas``: the same scope meaning as the maps and lists."""
    if judged_against_set(base):
        return {
            "scope": "set",
            "study_region": f"all areas of {base.boundaries}",
            "scored_areas": list(base.areas),
            "meaning": (
                f"hot spots chosen as on the map of these areas: judged against all of "
                f"{base.boundaries}, then scored on the named areas' cells alone (N their test "
                "crimes, A their cells' land area)"
            ),
        }
    if base.areas:
        return {
            "scope": "areas",
            "study_region": list(base.areas),
            "scored_areas": list(base.areas),
            "meaning": "hot spots judged against the named areas alone and scored on them",
        }
    return {
        "scope": "set",
        "study_region": f"all areas of {base.boundaries}",
        "scored_areas": "all",
        "meaning": f"hot spots judged against all of {base.boundaries} and scored on all of it",
    }


def check_training_window_stored(store: CrimeStore, base: StudyRequest, test_months: int) -> None:
    """Refuse a training window that is not fully stored: its hot spots would be chosen on fewer
    months than the run (and any map legend quoting it) claims. The refusal names runs the
    stored months allow (:func:`_runs_that_work`), each of which works as given."""
    first, last = base.first or "", base.last or ""
    stored = {month for _, month in store.partitions(base.force, first, last)}
    missing = [m for m in months_between(first, last) if m not in stored]
    if not missing:
        return
    wanted = len(months_between(first, last))
    if len(missing) == wanted:
        message = f"no crimes stored for {first}..{last}, the training window"
    else:
        message = (
            f"the training window {first}..{last} is not fully stored ({len(missing)} of its "
            f"{wanted} months missing: {month_runs(missing)})"
        )
    held = sorted({month for _, month in store.partitions(base.force)})
    if not held:
        raise BacktestError(f"{message}; the store holds no crimes for this force: load some first")
    choices = _choices(set(held), last, wanted, test_months)
    if last > held[-1]:
        # The window runs past the store's end: the missing months are future ones, not ones
        # to load, so say where the store ends and which windows leave a stored test period.
        raise BacktestError(f"{message}; the store ends at {held[-1]}: {choices}")
    stored_to_last = _stored_run_ending_at(set(held), last)
    if stored_to_last:
        message += (
            f"; ending at {last}, at most {stored_to_last} training "
            f"{'month is' if stored_to_last == 1 else 'months are'} stored"
        )
    past = [m for m in missing if m < held[-1]]  # months police.uk may still have: load them
    load = _load(past)
    raise BacktestError(
        f"{message}; the store holds {month_runs(held)}: {choices}{', or ' + load if load else ''}"
    )


def _load(months: list[str]) -> str:
    """How to load ``months`` into the store ('' for none)."""
    if not months:
        return ""
    return (
        f"load the missing months (`hotspots ingest archive` or `hotspots ingest api` with "
        f"--from {months[0]} --to {months[-1]})"
    )


def _choices(held: set[str], last: str, train_months: int, test_months: int) -> str:
    """What to run instead, in words and as options: each choice is a run the stored months
    allow (training window and test period all stored), so following it works."""
    runs = _runs_that_work(held, last, train_months, test_months)
    if not runs:
        return (
            "the store holds too few months for a training window and a test period after it "
            "(at least 2 consecutive months); load more months"
        )
    return ", or ".join(_run_words(run, last, train_months, test_months) for run in runs)


def _runs_that_work(
    held: set[str], last: str, train_months: int, test_months: int
) -> list[tuple[str, int, int]]:
    """Up to two runs (last training month, training months, test months) the stored months
    allow, closest to the one asked for: the fewest settings changed, the test period kept
    rather than shortened, the most training months, the nearest last month. The best that
    keeps ``last`` and the best that moves it, when both exist and each gives something."""
    best: dict[bool, tuple[tuple, tuple[str, int, int]]] = {}
    for end in sorted(held):
        after = 0
        while after < test_months and shift_month(end, after + 1) in held:
            after += 1
        if after == 0:
            continue
        train = min(train_months, _stored_run_ending_at(held, end))
        changed = (end != last) + (train != train_months) + (after != test_months)
        distance = abs(Month(end).index - Month(last).index)
        rank = (changed, after < test_months, train_months - train, distance)
        keeps_last = end == last
        if keeps_last not in best or rank < best[keeps_last][0]:
            best[keeps_last] = (rank, (end, train, after))
    runs = [run for _, run in sorted(best.values())]
    # The second only when it gives something the first does not: more training months, or
    # the whole test period.
    if len(runs) == 2 and not (
        runs[1][1] > runs[0][1] or (runs[0][2] < test_months and runs[1][2] == test_months)
    ):
        runs.pop()
    return runs


def _run_words(run: tuple[str, int, int], last: str, train_months: int, test_months: int) -> str:
    """One run as words and as the options of the command line and the API."""
    end, train, test = run
    if train != train_months:
        words = f"train on {end} alone" if train == 1 else f"train on the {train} months to {end}"
    elif end != last:
        words = f"end the training window at {end}"
    else:
        words = ""
    if test != test_months:
        if words:
            words += f" with a {test}-month test period"
        else:
            words = f"shorten the test period to {counted(test, 'month')}"
    options = [("--to", "to", end)]
    if train != train_months:
        options.append(("--train-months", "train_months", str(train)))
    if test != test_months:
        options.append(("--test-months", "test_months", str(test)))
    command = " ".join(f"{flag} {value}" for flag, _, value in options)
    query = "&".join(f"{name}={value}" for _, name, value in options)
    return f"{words} ({command}; {query})"


def _stored_run_ending_at(held: set[str], last: str) -> int:
    """How many consecutive stored months end at ``last`` (0 when ``last`` is not stored)."""
    months = 0
    while shift_month(last, -months) in held:
        months += 1
    return months


def month_runs(months: list[str]) -> str:
    """Months in words, consecutive ones as a range: '2019-05, 2019-08..2019-09'."""
    runs: list[list[str]] = []
    for month in months:
        if runs and shift_month(runs[-1][-1], 1) == month:
            runs[-1].append(month)
        else:
            runs.append([month])
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]}..{run[-1]}" for run in runs)


def _missing_test_months(
    store: CrimeStore, base: StudyRequest, test_months: int, missing: list[str]
) -> str:
    last = base.last or ""
    first, final = shift_month(last, 1), shift_month(last, test_months)
    message = f"the test period {first}..{final} is not fully stored (missing {', '.join(missing)})"
    held = sorted({month for _, month in store.partitions(base.force)})
    if not held:
        return f"{message}; the store holds no crimes for this force: load some first"
    train_months = len(months_between(base.first or last, last))
    choices = _choices(set(held), last, train_months, test_months)
    if final > held[-1]:
        return f"{message}; the store ends at {held[-1]}: {choices}"
    load = _load([m for m in missing if m < held[-1]])
    return f"{message}; the store holds {month_runs(held)}: {choices}, or {load}"


def training_end(text: str, option: str | None = "--to") -> Month:
    """A backtest's --to (to=): a month, checked as every month is, except that one after this
    month is let through to the store's check, which says where the store ends and which --to
    works; refused here, the advice "give this month or earlier" led to a second refusal."""
    try:
        return Month.parse(text, option=option)
    except MonthError:
        value = text.strip() if isinstance(text, str) else text
        if is_month(value) and Month(value) > Month.current():
            return Month(value)
        raise


def _test_crimes(store: CrimeStore, base: StudyRequest, first: str, last: str) -> pa.Table:
    """The test period's crimes, limited like the training study's (categories, exclusions),
    so the hotspots are scored on the crimes they were chosen to predict."""
    crimes = store.read(
        base.force, first, last, columns=["longitude", "latitude", "h3_cell", "category"]
    )
    kept = _scored_categories(base)
    if kept is not None:
        crimes = crimes.filter(pc.is_in(crimes["category"], value_set=pa.array(kept)))
    elif base.exclude_police_generated:
        excluded = pa.array(list(POLICE_GENERATED))
        crimes = crimes.filter(pc.invert(pc.is_in(crimes["category"], value_set=excluded)))
    return crimes


def _scored_categories(base: StudyRequest) -> list[str] | None:
    if not base.categories:
        return None
    slugs = {canonical_category(name) for name in base.categories}
    if None in slugs:
        raise BacktestError(f"unknown crime category among {', '.join(base.categories)}")
    if base.exclude_police_generated:
        slugs -= set(POLICE_GENERATED)
    return sorted(s for s in slugs if s is not None)


def _test_crimes_rule(base: StudyRequest) -> str:
    rule = "every crime of the test period with a map point in the region"
    if judged_against_set(base):
        rule = (
            "every crime of the test period with a map point in the named areas' cells of the "
            "set's grid (a cell is an area's by its centre)"
        )
    if base.categories:
        rule += f", of the categories {', '.join(_scored_categories(base) or [])}"
    if base.exclude_police_generated:
        rule += f", leaving out police-generated {' and '.join(POLICE_GENERATED)}"
    return rule + " (counts, not harm, as Chainey et al. score PAI)"


def _selection_settings(base: StudyRequest, statistics: dict) -> dict:
    settings = {k: v for k, v in statistics.items() if k not in _PER_STUDY}
    if base.method == "gistar":
        rule = (
            f"Gi* classed hot with adjusted p <= alpha ({base.alpha}) after the correction, "
            f"p rule {base.p_for_classes}; the 90 % class is not a hot spot at alpha 0.05"
        )
    else:
        rule = f"local Moran's I high-high (HH) cluster, significant at alpha {base.alpha}"
    return {
        "method": base.method,
        "neighbours": neighbours_provenance(base.method, base.k),
        "hotspot_rule": rule,
        **settings,
    }


def rows_as_dicts(rows: list[BacktestRow]) -> list[dict]:
    return [asdict(row) for row in rows]


def best(rows: list[BacktestRow]) -> BacktestRow:
    """The setting with the highest hit rate at 5 % of the land area (``BEST_RULE``): every row is
    scored on the same area, so a finer grid wins only by putting more crime into it. Ties go to
    the coarser resolution, then to the selection listed first."""
    order = {row.selection: i for i, row in reversed(list(enumerate(rows)))}
    return max(rows, key=lambda r: (r.hit_rate_top5, -r.resolution, -order[r.selection]))


@dataclass(frozen=True)
class FixedAreaScore:
    hits: float  # test crimes in the selection (the last cell in part)
    area: float  # km², equal to the share of the land area
    pei: float  # hits / the most any cells of that area could hold


def fixed_area_scores(
    score: np.ndarray,
    tiebreak: np.ndarray,
    test_counts: np.ndarray,
    areas_km2: np.ndarray,
    land_km2: float,
    share: float,
) -> FixedAreaScore:
    """Cells by ``score`` (ties: ``tiebreak``), descending, until their area is ``share`` of the
    land; the last cell in part. Returns the test crimes held, the area and PEI*."""
    target = share * land_km2
    order = np.lexsort((-tiebreak, -np.nan_to_num(score, nan=-np.inf)))
    hits, area = _take_area(order, test_counts, areas_km2, target)
    return FixedAreaScore(hits, area, _ratio(hits, most_in_area(test_counts, areas_km2, area)))


def most_in_area(test_counts: np.ndarray, areas_km2: np.ndarray, area: float) -> float:
    """n*: the most test crimes cells of total area ``area`` could hold (densest first)."""
    density = np.divide(test_counts, areas_km2, out=np.zeros(len(areas_km2)), where=areas_km2 > 0)
    order = np.lexsort((-test_counts, -density))
    return _take_area(order, test_counts, areas_km2, area)[0]


def _take_area(
    order: np.ndarray, counts: np.ndarray, areas_km2: np.ndarray, target: float
) -> tuple[float, float]:
    """Counts of the cells in ``order`` up to ``target`` km², the last cell in proportion."""
    cumulative = np.cumsum(areas_km2[order])
    whole = int(np.searchsorted(cumulative, target, side="right"))
    hits = float(counts[order[:whole]].sum())
    taken = float(cumulative[whole - 1]) if whole else 0.0
    if whole < len(order) and taken < target:
        part = (target - taken) / float(areas_km2[order[whole]])
        hits += part * float(counts[order[whole]])
        taken = target
    return hits, taken


def _ratio(hits: float, most: float) -> float:
    return hits / most if most > 0 else 0.0
