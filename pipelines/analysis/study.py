"""A hotspot study: (region, resolution, window, categories, weights) -> cells + provenance.

This is the one place that joins the pieces: the store's crimes, the region's H3 cover, harm
weights and the statistics. Every choice it makes, asked for or automatic, is written into the
provenance that travels with the result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from boundaries.h3_cover import STUDY_RESOLUTIONS
from boundaries.land_share import cells_to_strings
from boundaries.sets import BoundarySet
from pipelines import arrow_numpy
from pipelines.analysis.gistar import gistar
from pipelines.analysis.grid import (
    LocatedCrimes,
    StudyGrid,
    build_grid,
    locate_crimes,
    series_by_cell,
    sum_by_cell,
)
from pipelines.analysis.high_count import high_count_places
from pipelines.analysis.map_points import MapPointSupport, map_point_support
from pipelines.analysis.multiple_testing import check_alpha, check_method
from pipelines.analysis.neighbours import kring_weights
from pipelines.analysis.request import P_FOR_CLASSES, StudyRequest
from pipelines.analysis.sparse_guard import (
    DataVerdict,
    check_enough_data,
    no_cells_in_region,
    too_small_for_map_points,
)
from pipelines.analysis.streets import top_streets
from pipelines.analysis.window import StudyWindow, choose_window
from pipelines.attribution import ATTRIBUTION
from pipelines.categories import canonical_category
from pipelines.errors import InputError
from pipelines.harm import HarmTable, load_table
from pipelines.index.h3_ranges import region_ranges
from pipelines.months import shift_month
from pipelines.quoting import quoted
from pipelines.schema import BASE_H3_RESOLUTION
from pipelines.store import CrimeStore

if TYPE_CHECKING:
    import pandas as pd

METHODS = ("gistar", "lisa")
_COLUMNS = ["longitude", "latitude", "h3_cell", "category", "location", "month"]


class StudyError(InputError):
    """A study that cannot be run as asked; the message says what to change."""


# A study's cells, column by column: numpy arrays, and lists of lists for the streets.
CellColumns = dict[str, Any]


@dataclass
class StudyResult:
    columns: CellColumns  # the cells, one entry a column, in the order written
    provenance: dict
    window: StudyWindow
    adjustments: list[str] = field(default_factory=list)

    @cached_property
    def cells(self) -> pd.DataFrame:
        """The cells as a DataFrame (the service's and the pages' form), made on first use:
        the CLI writes and caches the columns themselves, so a study in a new process does not
        import pandas (~0.15 s)."""
        import pandas as pd

        return pd.DataFrame(self.columns)

    def __len__(self) -> int:
        """The number of cells."""
        return len(next(iter(self.columns.values()), []))


@dataclass
class _Prepared:
    window: StudyWindow
    grid: StudyGrid
    crimes: pa.Table
    located: LocatedCrimes
    resolution: int


def run_study(store: CrimeStore, boundary_set: BoundarySet, request: StudyRequest) -> StudyResult:
    """Run the study; raises StudyError (or the pieces' ValueErrors) with a message to act on."""
    store = store.snapshot()  # one store version for every read of this answer
    _check_request(request)
    categories = _canonical(request.categories)
    table = load_table(request.weights, exclude_police_generated=request.exclude_police_generated)
    first, resolution = request.first, request.resolution
    adjustments: list[str] = []
    # The map-point check may coarsen the resolution and the guard may ask for a wider window or
    # another resolution; the guard changes each kind once at most, and every change is
    # reported, so the result never silently answers a different question.
    guard_changes = 0
    unresolvable: MapPointSupport | None = None  # the last resolution the map points refused
    # A pass can come back to a window and resolution already prepared (finer for the guard,
    # then coarser again for the map points): the same snapshot gives the same region, so it is
    # prepared once.
    passes: dict[tuple[str | None, int], tuple[_Prepared, MapPointSupport]] = {}
    for _ in range(len(STUDY_RESOLUTIONS) + 3):
        if (first, resolution) not in passes:
            prepared = _prepare(store, boundary_set, request, categories, first, resolution)
            if len(prepared.grid) == 0:
                raise StudyError(no_cells_in_region(resolution))
            passes[first, resolution] = (prepared, _map_point_support(prepared))
        prepared, support = passes[first, resolution]
        if not support.resolvable:
            coarser = resolution - 1
            if not request.adjust or coarser < min(STUDY_RESOLUTIONS):
                raise StudyError(f"{support.reason}; choose a coarser resolution (--res, res=)")
            adjustments.append(
                f"{support.reason} (resolution changed from {resolution} to {coarser})"
            )
            unresolvable = support
            resolution = coarser
            continue
        in_region = int(prepared.located.inside.sum())
        if in_region == 0:
            raise StudyError(_no_crimes_in_region(categories, prepared.window))
        verdict = check_enough_data(
            total_crimes=in_region,
            cells=len(prepared.grid),
            k=request.k,
            window_months=len(prepared.window.months),
            resolution=resolution,
            alpha=request.alpha,
            statistic=_statistic_name(request),
        )
        if verdict.ok:
            break
        if not request.adjust or verdict.action == "refuse" or guard_changes == 2:
            raise StudyError(verdict.message)
        guard_changes += 1
        if verdict.action == "widen_window" and verdict.suggested_window_months:
            first = shift_month(prepared.window.last, 1 - verdict.suggested_window_months)
            adjustments.append(
                f"{verdict.reason} (window widened to {first}..{prepared.window.last})"
            )
        elif verdict.suggested_resolution is not None:
            if unresolvable is not None and verdict.suggested_resolution >= unresolvable.resolution:
                # Finer would undo the map-point coarsening: the region is too small for both.
                raise StudyError(
                    too_small_for_map_points(
                        len(prepared.grid),
                        resolution,
                        verdict.suggested_resolution,
                        unresolvable.reason,
                        _statistic_name(request),
                    )
                )
            adjustments.append(
                f"{verdict.reason} (resolution changed from {resolution} to "
                f"{verdict.suggested_resolution})"
            )
            resolution = verdict.suggested_resolution
        else:
            raise StudyError(verdict.message)
    else:  # pragma: no cover - each pass changes the resolution or window, and both are bounded
        raise StudyError("the study could not settle on a resolution and window")

    grid, located, crimes, window = (
        prepared.grid,
        prepared.located,
        prepared.crimes,
        prepared.window,
    )
    harm = table.weights_for(crimes["category"])
    counts = sum_by_cell(located, len(grid))
    values = sum_by_cell(located, len(grid), harm)
    weights = kring_weights(grid.cells, request.k)
    columns = _cell_columns(grid, boundary_set, counts, values)
    columns["streets"] = top_streets(located.cell, crimes["location"], len(grid))
    if len(values) and np.ptp(values) == 0:
        raise StudyError(_no_variation(request, table.name, values, window))
    settings = _statistics(request, columns, values, counts, weights)
    # Concentration, beside the clusters: a lone busy street is a high-count place, not a hot spot.
    places = high_count_places(counts, alpha=request.alpha, correction=request.correction)
    columns["high_count_p_adjusted"] = places.p_adjusted
    columns["high_count"] = places.flagged

    emerging_settings = None
    if request.emerging:
        # Imported when asked for (as Local Moran's I below): a study in a new process
        # loads only the statistics it runs.
        from pipelines.analysis.emerging import emerging_hotspots

        month_index = _month_index(crimes["month"], window.months)
        periods = len(window.months)
        series = series_by_cell(located, month_index, periods, len(grid), harm)
        crime_series = series_by_cell(located, month_index, periods, len(grid))
        emerging = emerging_hotspots(
            series,
            weights,
            alpha=request.alpha,
            permutations=request.permutations,
            seed=request.seed,
            correction=request.correction,
            counts=crime_series,
            p_for_classes=request.p_for_classes,
        )
        columns["emerging"] = emerging.categories
        emerging_settings = emerging.settings

    provenance = _provenance(
        request,
        boundary_set,
        grid,
        window,
        table,
        settings,
        emerging_settings,
        verdict,
        located,
        adjustments,
    )
    provenance["high_count_places"] = places.settings
    provenance["map_points"] = support.provenance()
    return StudyResult(columns, provenance, window, adjustments)


def _prepare(
    store: CrimeStore,
    boundary_set: BoundarySet,
    request: StudyRequest,
    categories: list[str],
    first: str | None,
    resolution: int,
) -> _Prepared:
    window = choose_window(store, request.force, first, request.last)
    grid = build_grid(boundary_set, resolution, list(request.areas) or None)
    # Only the rows whose cell can be in the region, from every force (pipelines/store/region).
    # One ring more than the cover: rim cells left out for their land share still hold crimes
    # inside the areas, which the provenance counts.
    ranges = region_ranges(grid.cells, grid.resolution, rings=1)
    crimes = store.snapshot().read_region(
        ranges, _COLUMNS, request.force, window.first, window.last
    )
    if categories:
        chosen = arrow_numpy.from_strings(categories)
        crimes = crimes.filter(pc.is_in(crimes["category"], value_set=chosen))
    located = locate_crimes(grid, boundary_set, crimes)
    # Rows outside the ranges were never read: what lies outside the region is counted from
    # the coverage records (every located crime of the window), which have no categories.
    outside = None if categories else window.located - int(located.in_areas.sum())
    located = replace(located, outside_region=outside, no_location=window.no_location)
    return _Prepared(window, grid, crimes, located, resolution)


def _map_point_support(prepared: _Prepared) -> MapPointSupport:
    return map_point_support(
        prepared.located.cell,
        arrow_numpy.to_numpy(prepared.crimes["longitude"], nulls_as=np.nan),
        arrow_numpy.to_numpy(prepared.crimes["latitude"], nulls_as=np.nan),
        len(prepared.grid),
        prepared.resolution,
    )


def _statistics(
    request: StudyRequest,
    columns: CellColumns,
    values: np.ndarray,
    counts: np.ndarray,
    weights: object,
) -> dict:
    """Add z, p, p_adjusted, class (and hotspot) columns to ``columns``; return the settings."""
    if request.method == "gistar":
        result = gistar(
            values,
            weights,
            permutations=request.permutations,
            seed=request.seed,
            alpha=request.alpha,
            correction=request.correction,
            p_for_classes=request.p_for_classes,
            counts=counts,
        )
        columns["z"] = result.z
        columns["p"] = result.p
        columns["p_adjusted"] = result.p_adjusted
        columns["class"] = result.classes.astype(int)
        if result.p_permutation is not None:
            columns["p_permutation"] = result.p_permutation
        # The one meaning of "hot spot": adjusted p <= alpha (class 2 or 3 at alpha 0.05); the
        # 90 % class stays in ``class``, labelled as such, but is not a hot spot.
        columns["hotspot"] = result.significant & (result.classes > 0)
        return result.settings
    from pipelines.analysis.lisa import local_moran

    result = local_moran(
        values,
        weights,
        permutations=request.permutations,
        seed=request.seed,
        alpha=request.alpha,
        correction=request.correction,
        counts=counts,
    )
    columns["z"] = result.z
    columns["p"] = result.p
    columns["p_adjusted"] = result.p_adjusted
    columns["quadrant"] = result.quadrants
    columns["class"] = result.labels
    columns["hotspot"] = result.labels == "HH"
    return result.settings


def _no_crimes_in_region(categories: list[str], window: StudyWindow) -> str:
    """No crimes to study: name the window used (by default the store's latest months, which
    may be another force's) and what to change, in the words of compare's refusal."""
    forces = ", ".join(window.forces)
    held = f" (the store holds these months for {forces})" if forces else ""
    which = ", none of the chosen categories" if categories else ""
    other = "choose other categories (--category, categories=), or " if categories else ""
    return (
        f"there are no crimes in the study region in {window.first}..{window.last}{which}{held}; "
        f"{other}choose months the store holds for this region (--from/--to, from=/to=; "
        "`hotspots coverage` or GET /v1/coverage lists them), or ingest the force that covers it"
    )


def _statistic_name(request: StudyRequest) -> str:
    """The statistic asked for, as messages name it."""
    return "Gi*" if request.method == "gistar" else "Local Moran's I"


def _no_variation(
    request: StudyRequest, weights: str, values: np.ndarray, window: StudyWindow
) -> str:
    """Why the statistic is undefined (every cell the same value) and what to change."""
    statistic = _statistic_name(request)
    if not values.any():
        return (
            f"the weights {weights} give every crime of {window.first}..{window.last} zero harm, "
            f"so every cell has the same value (0) and {statistic} is undefined; use a table "
            "with non-zero weights for these crimes, or the count weights (--weights count, "
            "weights=count)"
        )
    return (
        f"every cell has the same value ({values[0]:g}) in {window.first}..{window.last}, so "
        f"{statistic} is undefined; choose other months (--from/--to, from=/to=) or another "
        "resolution (--res, res=)"
    )


def _check_request(request: StudyRequest) -> None:
    if request.resolution not in STUDY_RESOLUTIONS:
        raise StudyError(
            f"resolution must be one of {', '.join(map(str, STUDY_RESOLUTIONS))} "
            f"(H3; 9 is about 0.1 km² a cell), got {request.resolution}"
        )
    if request.method not in METHODS:
        raise StudyError(
            f"method must be one of {', '.join(METHODS)}, got {quoted(request.method)}"
        )
    if request.p_for_classes not in P_FOR_CLASSES:
        raise StudyError(
            f"unknown p rule (p_for_classes) {quoted(request.p_for_classes)}; choose one of "
            f"{', '.join(P_FOR_CLASSES)} (docs/hotspot-statistics.md compares them)"
        )
    if (
        request.method == "gistar"
        and request.p_for_classes == "permutation"
        and request.permutations < 1
    ):
        raise StudyError(
            "the default p rule (permutation) needs permutations >= 1; for a z-only run "
            "ask for the analytic p rule (p_for_classes analytic)"
        )
    try:
        check_alpha(request.alpha)
        check_method(request.correction)
    except ValueError as error:
        raise StudyError(str(error)) from error


def _canonical(categories: tuple[str, ...]) -> list[str]:
    slugs = []
    for name in categories:
        slug = canonical_category(name)
        if slug is None:
            raise StudyError(
                f"unknown crime category {quoted(name)}; use police.uk slugs such as burglary, "
                "violent-crime, anti-social-behaviour"
            )
        slugs.append(slug)
    return sorted(set(slugs))


def _cell_columns(
    grid: StudyGrid, boundary_set: BoundarySet, counts: np.ndarray, values: np.ndarray
) -> CellColumns:
    centres = grid.cell_centres()
    codes = grid.cell_area_codes()
    areas = boundary_set.area_columns()
    names = dict(zip(areas.codes, areas.names, strict=True))
    return {
        "h3": arrow_numpy.to_objects(cells_to_strings(grid.cells)),
        "lat": centres[:, 0].round(6),
        "lng": centres[:, 1].round(6),
        "area_code": codes,
        "area_name": np.array([names.get(code, "") for code in codes], dtype=object),
        "area_km2": grid.cell_areas_km2(),
        "land_share": grid.land_shares(),
        "count": counts.astype(np.int64),
        "value": values,
    }


def _month_index(months: pa.ChunkedArray, window_months: list[str]) -> np.ndarray:
    index = pc.index_in(months, value_set=arrow_numpy.from_strings(window_months))
    return arrow_numpy.to_numpy(index, nulls_as=-1).astype(np.int64)


# Each statistic's weights, as its module builds them (gistar.py, lisa.py): Gi* sums the cell
# with its k-ring; local Moran's I lags a cell by the mean of its k-ring, the cell left out.
NEIGHBOURS = {
    "gistar": "H3 k-ring, binary, cell included (Gi*)",
    "lisa": "H3 k-ring, cell excluded, row-standardised (local Moran's I)",
}


def neighbours_provenance(method: str, k: int) -> dict:
    """The provenance's ``neighbours``: the weights ``method``'s statistic uses, and k."""
    return {"type": NEIGHBOURS[method], "k": k}


def _provenance(
    request: StudyRequest,
    boundary_set: BoundarySet,
    grid: StudyGrid,
    window: StudyWindow,
    table: HarmTable,
    settings: dict,
    emerging_settings: dict | None,
    verdict: DataVerdict,
    located: LocatedCrimes,
    adjustments: list[str],
) -> dict:
    return {
        "method": request.method,
        "statistics": settings,
        "emerging": emerging_settings,
        "resolution": grid.resolution,
        "cell_rule": (
            f"a crime's cell is the resolution-{grid.resolution} parent of its "
            f"resolution-{BASE_H3_RESOLUTION} H3 cell"
        ),
        "neighbours": neighbours_provenance(request.method, request.k),
        "window": window.provenance(),
        "categories": _canonical(request.categories) or "all",
        "weights": table.provenance(),
        "permutations": request.permutations,
        "seed": request.seed,
        "alpha": request.alpha,
        "multiple_testing": request.correction,
        "region": {
            "boundary_set": boundary_set.name,
            "scheme": boundary_set.scheme,
            "vintage": boundary_set.vintage,
            "areas": grid.codes,
            **grid.cover.provenance(),
        },
        "crimes": {
            "in_region": int(located.inside.sum()),
            "outside_region": located.outside_region,
            "in_cells_below_land_share": located.below_land_share,
            "no_location": located.no_location,  # force-wide: see window.no_location_scope
        },
        "data_guard": {**asdict(verdict), "adjustments": adjustments},
        "software": {"crime-hotspots": _version()},
        "attribution": ATTRIBUTION,
    }


def _version() -> str:
    try:
        return version("crime-hotspots")
    except PackageNotFoundError:
        return "unknown"
