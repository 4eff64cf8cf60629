"""``GET /v1/hotspots`` query parameters -> a StudyRequest plus ranking and format choices.

Everything that can be checked without data is checked here, with a message that names the
parameter, before the study cache is asked; values are canonicalised (area codes de-duplicated,
category names to slugs) so equivalent questions share one cached result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Literal

import orjson
from fastapi import Query

from geo_service.paging import DEFAULT_LIMIT, MAX_LIMIT
from geo_service.query_params import (
    FINITE,
    Alpha,
    Areas,
    Categories,
    CorrectionParam,
    ExcludePoliceGenerated,
    First,
    Force,
    Last,
    MethodParam,
    Neighbours,
    Permutations,
    PForClasses,
    Region,
    ScopeParam,
    Seed,
    Weights,
    built_in_weights,
    month_range,
    optional_force,
    parse_categories,
    split_values,
)
from pipelines.analysis.gistar import DEFAULT_P_FOR_CLASSES
from pipelines.analysis.scope import check_scope_has_areas
from pipelines.analysis.study import StudyRequest
from pipelines.errors import InputError

RankBy = Literal["z", "value"]
Format = Literal["json", "geojson", "csv"]


@dataclass(frozen=True)
class HotspotQuery:
    study: StudyRequest
    top: int | None
    per_area: bool
    rank_by: str
    min_separation_m: float | None
    format: str
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None

    def paging_key(self) -> str:
        """The query a page cursor is bound to: every parameter but the page (cursor, limit)."""
        unpaged = replace(self, cursor=None, limit=0)
        return orjson.dumps(unpaged, option=orjson.OPT_SORT_KEYS).decode()


def hotspot_query(
    boundaries: Region,
    area: Areas = None,
    scope: ScopeParam = "set",
    res: Annotated[
        int, Query(ge=7, le=10, description="H3 resolution, 7-10; 9 is about 0.1 km² a cell.")
    ] = 9,
    first: First = None,
    last: Last = None,
    force: Force = None,
    categories: Categories = None,
    weights: Weights = "count",
    exclude_police_generated: ExcludePoliceGenerated = False,
    method: MethodParam = "gistar",
    k: Neighbours = 1,
    permutations: Permutations = 999,
    seed: Seed = 0,
    alpha: Alpha = 0.05,
    correction: CorrectionParam = "fdr_bh",
    p_for_classes: PForClasses = DEFAULT_P_FOR_CLASSES,
    top: Annotated[
        int | None,
        Query(ge=1, le=10000, description="Return the ranked list of the top N hot spots."),
    ] = None,
    per_area: Annotated[bool, Query(description="Top N in each area (needs top).")] = False,
    rank_by: Annotated[
        RankBy | None, Query(description="Rank by Gi* z (default) or value (needs top).")
    ] = None,
    min_separation_m: Annotated[
        float | None,
        Query(ge=0, le=100_000, description="Metres between chosen cells (needs top).", **FINITE),
    ] = None,
    format: Annotated[Format, Query(description="json, geojson or csv.")] = "json",
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_LIMIT,
            description="Cells per page (json and geojson); page.next_cursor gives the next.",
        ),
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=500, description="page.next_cursor of the previous page."),
    ] = None,
) -> HotspotQuery:
    """The parsed query; raises InputError (422) with the parameter's name when it is wrong."""
    window = month_range(first, last)
    built_in_weights(weights)
    if top is None and (per_area or rank_by or min_separation_m is not None):
        raise InputError("per_area, rank_by and min_separation_m rank a list: add top=N")
    areas = split_values(area)
    check_scope_has_areas(scope, areas)
    study = StudyRequest(
        boundaries=boundaries,
        areas=areas,
        resolution=res,
        first=window[0],
        last=window[1],
        force=optional_force(force),
        categories=parse_categories(categories),
        weights=weights,
        exclude_police_generated=exclude_police_generated,
        method=method,
        k=k,
        permutations=permutations,
        seed=seed,
        alpha=alpha,
        correction=correction,
        p_for_classes=p_for_classes,
        scope=scope,
    )
    return HotspotQuery(
        study, top, per_area, rank_by or "z", min_separation_m, format, limit, cursor
    )
