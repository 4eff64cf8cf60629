"""Boundary schemes side by side, on the same crimes, cells, months and harm weights.

For two or more boundary sets over one region (2019 wards, a cluster set, custom areas) this
answers what changes when the boundaries change: each area's count, harm, rate and harm density
and rank; how ranks move; how concentrated harm is; how many significant hot cells straddle area
boundaries; and how well each scheme separates high-harm from low-harm places.

Shared ground: crimes are those inside the first (reference) scheme's region; each scheme counts
them by exact point in polygon. The H3 grid is the reference region's cover; a cell belongs to
the area of each scheme that holds its centre (cells whose centre no area holds are "outside").

Hot cells: Gi* on cell harm with the study's default classes (``pipelines.analysis.gistar``:
conditional permutation p, BH); a cell is hot when it is classed hot and its adjusted p is at most
``alpha`` -- the one meaning of "hot spot" a study uses, so "alpha" in the provenance is the level
actually applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import h3
import numpy as np
import pandas as pd
import pyarrow as pa

from boundaries.assign import OUTSIDE, AreaIndex, assign_points, assign_table
from boundaries.h3_cover import STUDY_RESOLUTIONS
from boundaries.sets import BoundarySet
from pipelines.analysis.gistar import (
    DEFAULT_P_FOR_CLASSES,
    DEFAULT_PERMUTATIONS,
    GiStarResult,
    gistar,
)
from pipelines.analysis.grid import build_grid, locate_crimes, sum_by_cell
from pipelines.analysis.neighbours import kring_weights
from pipelines.analysis.window import choose_window
from pipelines.attribution import ATTRIBUTION
from pipelines.errors import InputError
from pipelines.harm import load_table
from pipelines.planning.concentration import areas_holding_half, gini, share_in_top
from pipelines.progress import StepReport, no_progress
from pipelines.quoting import quoted
from pipelines.store import CrimeStore

_COLUMNS = ["longitude", "latitude", "h3_cell", "category"]
CORRECTION = "fdr_bh"
SEED = 0  # permutations with a fixed seed: the same comparison gives the same hot cells
# rank_moves rows hold "code", "name" and one key per set: a set may not take those names.
_RESERVED_NAMES = ("code", "name")


class CompareError(InputError):
    """Schemes that cannot be compared as asked."""


@dataclass
class SchemeSummary:
    name: str
    scheme: str
    vintage: str
    areas: pd.DataFrame  # code, name, crimes, harm, population, rate_per_1000, harm_per_km2, rank
    gini_harm: float
    top20_harm_share: float
    areas_holding_half_harm: int
    hot_cells: int
    straddling_hot_cells: int
    straddling_hot_harm: float
    hot_harm: float
    between_share: float  # share of the variance of cell harm lying between areas (eta squared)
    within_variance: float
    between_variance: float
    outside_crimes: int  # reference-region crimes in no area of this scheme

    def to_dict(self) -> dict:
        areas = self.areas.replace({np.nan: None}).to_dict(orient="records")
        return {key: value for key, value in self.__dict__.items() if key != "areas"} | {
            "areas": areas
        }


@dataclass
class Comparison:
    schemes: list[SchemeSummary]
    rank_moves: list[dict]  # for each reference area: its rank and the rank of its home area
    provenance: dict = field(default_factory=dict)
    # Significant hot cells: h3, crimes, harm, class (Gi_Bin), straddles (sets whose boundary
    # the cell's k-ring crosses), most harm first.
    hot_cells: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "provenance": self.provenance,
            "schemes": [s.to_dict() for s in self.schemes],
            "rank_moves": self.rank_moves,
            "hot_cells": self.hot_cells,
        }


def compare_schemes(
    store: CrimeStore,
    sets: list[BoundarySet],
    first: str | None = None,
    last: str | None = None,
    force: str | None = None,
    weights: str = "home-office-2018",
    resolution: int = 9,
    k: int = 1,
    alpha: float = 0.05,
    progress: StepReport = no_progress,
) -> Comparison:
    """Every scheme measured on the same crimes, cells and hot cells of the first set's region;
    ``progress`` hears of each step (reading, hot cells, each scheme)."""
    store = store.snapshot()  # one store version for every read of this answer
    check_comparison([s.name for s in sets], resolution, k, alpha)
    table = load_table(weights)
    window = choose_window(store, force, first, last)
    reference = sets[0]
    steps = 2 + len(sets)
    progress(f"Reading crimes {window.first}..{window.last}", 0, steps)
    crimes = store.read(force, window.first, window.last, columns=_COLUMNS)
    grid = build_grid(reference, resolution)
    located = locate_crimes(grid, reference, crimes)
    # Areas count every crime inside them (point in polygon), those in rim cells below the
    # land share included; the cells' Gi* counts only the crimes in region cells.
    inside = located.in_areas
    if not inside.any():
        raise CompareError(
            f"no crimes of {window.first}..{window.last} fall inside {quoted(reference.name)}; "
            "choose months the store holds for this region (`hotspots coverage` or "
            "GET /v1/coverage lists them), or name first a set that covers the crimes"
        )
    harm_all = table.weights_for(crimes["category"])
    cell_harm = sum_by_cell(located, len(grid), harm_all)
    cell_counts = sum_by_cell(located, len(grid))
    weights_matrix = kring_weights(grid.cells, k)
    progress("Hot cells (Gi*, permutations)", 1, steps)
    hot, classes = _hot_cells(cell_harm, cell_counts, weights_matrix, alpha)
    centres = grid.cell_centres()
    crimes = crimes.filter(pa.array(inside))
    harm = harm_all[inside]

    summaries = []
    cell_areas_by_scheme = []
    straddles = []
    for index, boundary_set in enumerate(sets):
        progress(f"Measuring {boundary_set.name}", 2 + index, steps)
        assignment = assign_table(AreaIndex.of(boundary_set), crimes)
        cell_area = assign_points(boundary_set, centres[:, 1], centres[:, 0]).area
        cell_areas_by_scheme.append(cell_area)
        straddling = _straddling(cell_area, weights_matrix) & hot
        straddles.append(straddling)
        summaries.append(
            _summary(boundary_set, assignment.area, harm, cell_area, cell_harm, hot, straddling)
        )
    hot_list = _hot_list(grid.cells, hot, classes, cell_counts, cell_harm, sets, straddles)
    progress("Done", steps, steps)
    return Comparison(
        summaries,
        _rank_moves(summaries, cell_areas_by_scheme),
        {
            "reference_set": reference.name,
            "study_region": {
                "scope": "set",
                "boundary_set": reference.name,
                "areas": "all areas of the set",
                "meaning": (
                    f"hot cells judged against all of {reference.name}, the reference set's "
                    "whole region; every scheme is measured on it"
                ),
                # Why there is no scope=areas: the schemes' areas differ, so a region of named
                # areas would be one scheme's and the others' areas would be cut at its edge.
                "why_no_scope": (
                    "a comparison of boundary schemes needs one region they all cover, so it "
                    "takes no areas and always studies the reference set whole"
                ),
            },
            "sets": [s.name for s in sets],
            "window": window.provenance(),
            "weights": table.provenance(),
            "resolution": resolution,
            "neighbours": {"type": "H3 k-ring", "k": k},
            "hot_cells": {
                "method": "Gi* on cell harm (binary k-ring weights, self included)",
                "alpha": alpha,
                "correction": CORRECTION,
                "p_for_classes": DEFAULT_P_FOR_CLASSES,
                "permutations": DEFAULT_PERMUTATIONS,
                "seed": SEED,
                "rule": "classed hot and adjusted p <= alpha (the study's hot spot)",
            },
            "cells": len(grid),
            "crimes_in_reference_region": int(inside.sum()),
            "crime_rule": (
                "crimes inside the reference set's region; "
                "each scheme counts them by point in polygon"
            ),
            "cell_rule": "a cell belongs to the area of each scheme that holds its centre",
            "straddle_rule": (
                "a hot cell straddles a scheme when its k-ring holds cells of more than one "
                "area, or of an area and no area"
            ),
            "attribution": ATTRIBUTION,
        },
        hot_list,
    )


def _hot_cells(
    cell_harm: np.ndarray, cell_counts: np.ndarray, weights_matrix: object, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """(hot, Gi_Bin class) per cell, by the study's default rule and meaning of "hot spot"."""
    if np.ptp(cell_harm) == 0:
        raise CompareError(
            "every cell of the reference region has the same harm, so no cell can stand out; "
            "widen the window (from/to) or use weights=count"
        )
    result: GiStarResult = gistar(
        cell_harm,
        weights_matrix,
        permutations=DEFAULT_PERMUTATIONS,
        seed=SEED,
        alpha=alpha,
        correction=CORRECTION,
        counts=cell_counts,
    )
    hot = result.significant & (result.classes > 0)
    return hot, result.classes


def _hot_list(
    cells: np.ndarray,
    hot: np.ndarray,
    classes: np.ndarray,
    counts: np.ndarray,
    harm: np.ndarray,
    sets: list[BoundarySet],
    straddles: list[np.ndarray],
) -> list[dict]:
    """The hot cells, most harm first, with the sets whose boundaries each one straddles."""
    rows = []
    for index in np.flatnonzero(hot):
        rows.append(
            {
                "h3": h3.int_to_str(int(cells[index])),
                "crimes": int(counts[index]),
                "harm": float(harm[index]),
                "class": int(classes[index]),
                "straddles": [
                    s.name for s, flags in zip(sets, straddles, strict=True) if flags[index]
                ],
            }
        )
    return sorted(rows, key=lambda row: (-row["harm"], row["h3"]))


def check_comparison(names: list[str], resolution: int, k: int, alpha: float) -> None:
    """What can be checked before any data is read; CompareError says what to change."""
    if len(names) < 2:
        raise CompareError(
            "give at least two boundary sets to compare, comma-separated, e.g. "
            "barnet-wards-2019,barnet-clusters (`hotspots boundaries list` or GET /v1/boundaries "
            "lists them)"
        )
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise CompareError(
            f"boundary set {quoted(twice[0])} is named twice; compare two different schemes"
        )
    reserved = [name for name in names if name in _RESERVED_NAMES]
    if reserved:
        raise CompareError(
            f"a boundary set named {quoted(reserved[0])} cannot be compared; rename it"
        )
    if resolution not in STUDY_RESOLUTIONS:
        raise CompareError(f"res must be an H3 resolution from 7 to 10, got {resolution}")
    if not 1 <= k <= 3:
        raise CompareError(f"k must be 1, 2 or 3 neighbour rings, got {k}")
    if not 1e-6 <= alpha <= 0.5:  # also false for nan
        kind = "a number" if math.isfinite(alpha) else "a finite number"
        raise CompareError(f"alpha must be {kind} between 0.000001 and 0.5, got {alpha}")


def _summary(
    boundary_set: BoundarySet,
    crime_area: np.ndarray,
    harm: np.ndarray,
    cell_area: np.ndarray,
    cell_harm: np.ndarray,
    hot: np.ndarray,
    straddling: np.ndarray,
) -> SchemeSummary:
    frame = boundary_set.areas
    n = len(frame)
    placed = crime_area >= 0
    crimes = np.bincount(crime_area[placed], minlength=n)
    area_harm = np.bincount(crime_area[placed], weights=harm[placed], minlength=n)
    km2 = frame["area_m2"].to_numpy(dtype=np.float64) / 1e6
    table = pd.DataFrame(
        {
            "code": frame["code"].to_numpy(),
            "name": frame["name"].to_numpy(),
            "crimes": crimes,
            "harm": area_harm,
            "harm_per_km2": np.where(km2 > 0, area_harm / np.where(km2 > 0, km2, 1), np.nan),
        }
    )
    if "population" in frame:
        population = frame["population"].to_numpy(dtype=np.float64)
        table["population"] = population
        with np.errstate(divide="ignore", invalid="ignore"):
            table["rate_per_1000"] = np.where(population > 0, crimes * 1000 / population, np.nan)
    # Rank 1 = most harm; ties share the better rank, as league tables do.
    table["rank"] = table["harm"].rank(ascending=False, method="min").astype(int)

    between, within, share = _variance_split(cell_harm, cell_area)
    return SchemeSummary(
        name=boundary_set.name,
        scheme=boundary_set.scheme,
        vintage=boundary_set.vintage,
        areas=table,
        gini_harm=gini(area_harm),
        top20_harm_share=share_in_top(area_harm, 0.2),
        areas_holding_half_harm=areas_holding_half(area_harm),
        hot_cells=int(hot.sum()),
        straddling_hot_cells=int(straddling.sum()),
        straddling_hot_harm=float(cell_harm[straddling].sum()),
        hot_harm=float(cell_harm[hot].sum()),
        between_share=share,
        within_variance=within,
        between_variance=between,
        outside_crimes=int((~placed).sum()),
    )


def _straddling(cell_area: np.ndarray, weights_matrix: object) -> np.ndarray:
    """Cells whose k-ring holds cells of more than one area (or of an area and no area)."""
    matrix = weights_matrix.tocsr()
    labels = cell_area[matrix.indices]
    starts, ends = matrix.indptr[:-1], matrix.indptr[1:]
    lowest = np.minimum.reduceat(labels, starts)
    highest = np.maximum.reduceat(labels, starts)
    return (ends > starts) & (lowest != highest)


def _variance_split(values: np.ndarray, groups: np.ndarray) -> tuple[float, float, float]:
    """Between- and within-area variance of the values of cells inside the scheme's areas, and
    the between share (eta squared: 1 = areas separate harm perfectly, 0 = not at all). Rim cells
    whose centre no area holds belong to no area, so they are left out."""
    inside = groups != OUTSIDE
    values, groups = values[inside], groups[inside]
    if len(values) == 0:
        return 0.0, 0.0, 0.0
    total_mean = values.mean()
    labels, inverse = np.unique(groups, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=len(labels))
    sizes = np.bincount(inverse, minlength=len(labels))
    means = sums / sizes
    between = float((sizes * (means - total_mean) ** 2).sum() / len(values))
    within = float(((values - means[inverse]) ** 2).sum() / len(values))
    total = between + within
    return between, within, (between / total if total > 0 else 0.0)


def _rank_moves(summaries: list[SchemeSummary], cell_areas: list[np.ndarray]) -> list[dict]:
    """For each reference area: its rank, and in each other scheme the area holding most of its
    cells (by cell centre) with that area's rank."""
    reference = summaries[0]
    moves = []
    for index, row in reference.areas.iterrows():
        mine = cell_areas[0] == index
        entry = {"code": row["code"], "name": row["name"], reference.name: int(row["rank"])}
        for summary, areas in zip(summaries[1:], cell_areas[1:], strict=True):
            homes = areas[mine & (areas != OUTSIDE)]
            if len(homes) == 0:
                entry[summary.name] = None
                continue
            home = int(np.bincount(homes).argmax())
            entry[summary.name] = {
                "code": summary.areas["code"].iloc[home],
                "rank": int(summary.areas["rank"].iloc[home]),
            }
        moves.append(entry)
    return moves
