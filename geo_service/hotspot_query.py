"""``GET /v1/hotspots`` query parameters -> a StudyRequest plus ranking and format choices.

Everything that can be checked without data is checked here, with a message that names the
parameter, before the study cache is asked; values are canonicalised (area codes de-duplicated,
category names to slugs) so equivalent questions share one cached result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Query

from pipelines.analysis.multiple_testing import METHODS as CORRECTIONS
from pipelines.analysis.study import StudyRequest
from pipelines.categories import canonical_category
from pipelines.harm import list_tables
from pipelines.months import parse_month

# Documented in the schema (so clients and fuzzers see the shape) but checked here, so that a
# wrong value gets a message in words rather than a regular expression.
MONTH_SCHEMA = {"json_schema_extra": {"pattern": r"^\d{4}-(0[1-9]|1[0-2])$"}}
Method = Literal["gistar", "lisa"]
Correction = Literal[CORRECTIONS]  # type: ignore[valid-type]
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


def split_values(values: list[str] | None) -> tuple[str, ...]:
    """Repeatable and/or comma-separated values, blanks dropped, first occurrence kept."""
    seen: dict[str, None] = {}
    for value in values or []:
        for part in value.split(","):
            if part.strip():
                seen.setdefault(part.strip(), None)
    return tuple(seen)


def hotspot_query(
    boundaries: Annotated[
        str, Query(description="Boundary set that defines the region.", min_length=1)
    ],
    area: Annotated[
        list[str] | None,
        Query(description="Area code(s) of the set: repeat, or separate with commas."),
    ] = None,
    res: Annotated[
        int, Query(ge=7, le=10, description="H3 resolution, 7-10; 9 is about 0.1 km² a cell.")
    ] = 9,
    first: Annotated[
        str | None,
        Query(alias="from", description="First month, YYYY-MM (inclusive).", **MONTH_SCHEMA),
    ] = None,
    last: Annotated[
        str | None,
        Query(alias="to", description="Last month, YYYY-MM (inclusive).", **MONTH_SCHEMA),
    ] = None,
    force: Annotated[
        str | None,
        Query(description="Only this force (slug).", json_schema_extra={"pattern": "^[a-z-]+$"}),
    ] = None,
    categories: Annotated[
        list[str] | None,
        Query(description="Crime categories (police.uk slugs or names), comma-separated."),
    ] = None,
    weights: Annotated[
        str,
        Query(
            description="Harm table (GET /v1/weights describes each).",
            json_schema_extra={"enum": list_tables()},
        ),
    ] = "count",
    exclude_police_generated: Annotated[
        bool, Query(description="Leave out drugs and possession of weapons.")
    ] = False,
    method: Annotated[Method, Query(description="Gi* or local Moran's I.")] = "gistar",
    k: Annotated[int, Query(ge=1, le=3, description="Neighbour rings around each cell.")] = 1,
    permutations: Annotated[
        int, Query(ge=0, le=9999, description="Permutations for p-values (0: analytic only).")
    ] = 999,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
    alpha: Annotated[
        float, Query(ge=1e-6, le=0.5, description="Significance level (0.000001 to 0.5).")
    ] = 0.05,
    correction: Annotated[Correction, Query(description="Multiple-testing control.")] = "fdr_bh",
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
        Query(ge=0, le=100_000, description="Metres between chosen cells (needs top)."),
    ] = None,
    format: Annotated[Format, Query(description="json, geojson or csv.")] = "json",
) -> HotspotQuery:
    """The parsed query; raises ValueError (400) with the parameter's name when it is wrong."""
    window = month_range(first, last)
    if weights not in list_tables():
        raise ValueError(
            f"unknown weights {weights!r}; use one of {', '.join(list_tables())} "
            "(GET /v1/weights describes each)"
        )
    if top is None and (per_area or rank_by or min_separation_m is not None):
        raise ValueError("per_area, rank_by and min_separation_m rank a list: add top=N")
    study = StudyRequest(
        boundaries=boundaries,
        areas=split_values(area),
        resolution=res,
        first=window[0],
        last=window[1],
        force=force or None,
        categories=_categories(categories),
        weights=weights,
        exclude_police_generated=exclude_police_generated,
        method=method,
        k=k,
        permutations=permutations,
        seed=seed,
        alpha=alpha,
        correction=correction,
    )
    return HotspotQuery(study, top, per_area, rank_by or "z", min_separation_m, format)


def month_range(first: str | None, last: str | None) -> tuple[str | None, str | None]:
    start = parse_month(first, option="from") if first else None
    end = parse_month(last, option="to") if last else None
    if start and end and start > end:
        raise ValueError(f"from={start} is after to={end}; give the earlier month first")
    return start, end


def _categories(values: list[str] | None) -> tuple[str, ...]:
    slugs = []
    for name in split_values(values):
        slug = canonical_category(name)
        if slug is None:
            raise ValueError(
                f"unknown crime category {name!r}; use police.uk slugs such as burglary, "
                "violent-crime, anti-social-behaviour"
            )
        slugs.append(slug)
    return tuple(sorted(set(slugs)))
