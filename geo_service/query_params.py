"""Query parameters the endpoints share: one declaration each (name, default, description and
documented schema), and the checks that turn a wrong value into a 422 naming the parameter.

Months, force slugs and weights are documented in the schema (so clients and fuzzers see the
shape) but checked here, so that a wrong value gets a message in words rather than a regular
expression. Values are canonicalised (codes de-duplicated, categories to slugs) so equivalent
questions share one cached result.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from pipelines.analysis.alpha_range import ALPHA_MAX, ALPHA_MIN
from pipelines.analysis.gistar import DEFAULT_P_FOR_CLASSES, P_FOR_CLASSES
from pipelines.analysis.multiple_testing import METHODS as CORRECTIONS
from pipelines.categories import canonical_category
from pipelines.errors import InputError
from pipelines.forces import FORCE_SLUG_PATTERN, check_force
from pipelines.harm import list_tables
from pipelines.months import Month, MonthError
from pipelines.quoting import quoted

# [0-9], not \d: the checked type (pipelines.months.Month) accepts ASCII digits only.
MONTH_SCHEMA = {"json_schema_extra": {"pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])$"}}
# Only named tables over HTTP: a custom table is a file path, which a URL must never name.
WEIGHTS_SCHEMA = {"json_schema_extra": {"enum": list_tables()}}


# Every float parameter: "nan" and "inf" parse as floats and pass no range check (nan <= 0.5 is
# false), so they are refused first, as "a finite number is required" (a 422).
FINITE = {"allow_inf_nan": False}


def range_schema(low: float, high: float) -> dict:
    """A number's bounds documented in the schema, for a parameter checked with a message."""
    return {"json_schema_extra": {"minimum": low, "maximum": high}}


Method = Literal["gistar", "lisa"]
Correction = Literal[CORRECTIONS]  # type: ignore[valid-type]
PRule = Literal[P_FOR_CLASSES]  # type: ignore[valid-type]

# -- the declarations --------------------------------------------------------------------------


def _query_month(text: str) -> Month:
    """A month query parameter, checked by FastAPI before the route runs: a wrong one is a 422
    whose message names the parameter (``to: 9999-12 is after this month ...``)."""
    try:
        return Month.parse(text, option=None)
    except MonthError as error:
        raise PydanticCustomError("month", "{reason}", {"reason": str(error)}) from None


# A YYYY-MM query parameter; the route receives a pipelines.months.Month.
MonthQuery = Annotated[str, AfterValidator(_query_month)]

Region = Annotated[str, Query(description="Boundary set that defines the region.", min_length=1)]
Areas = Annotated[
    list[str] | None,
    Query(description="Area code(s) of the set: repeat, or separate with commas."),
]
First = Annotated[
    MonthQuery | None,
    Query(alias="from", description="First month, YYYY-MM (inclusive).", **MONTH_SCHEMA),
]
Last = Annotated[
    MonthQuery | None,
    Query(alias="to", description="Last month, YYYY-MM (inclusive).", **MONTH_SCHEMA),
]
Force = Annotated[
    str | None,
    Query(description="Only this force (slug).", json_schema_extra={"pattern": FORCE_SLUG_PATTERN}),
]
Categories = Annotated[
    list[str] | None,
    Query(description="Crime categories (police.uk slugs or names), comma-separated."),
]
Weights = Annotated[
    str, Query(description="Harm table (GET /v1/weights describes each).", **WEIGHTS_SCHEMA)
]
ExcludePoliceGenerated = Annotated[
    bool, Query(description="Leave out drugs and possession of weapons.")
]
MethodParam = Annotated[Method, Query(description="Gi* or local Moran's I.")]
Neighbours = Annotated[int, Query(ge=1, le=3, description="Neighbour rings around each cell.")]
Permutations = Annotated[
    int,
    Query(ge=0, le=9999, description="Permutations for p-values (0 needs p_for_classes=analytic)."),
]
Seed = Annotated[int, Query(ge=0, le=2**32 - 1)]
Alpha = Annotated[
    float,
    Query(
        ge=ALPHA_MIN, le=ALPHA_MAX, description="Significance level (0.000001 to 0.5).", **FINITE
    ),
]
ScopeParam = Annotated[
    Literal["set", "areas"],
    Query(
        description="With area: set (default) judges the areas' hot spots against the whole "
        "boundary set and shows the areas' cells; areas makes the named areas alone the study "
        "region (one ward alone is often too small for Gi*), and needs area."
    ),
]
CorrectionParam = Annotated[Correction, Query(description="Multiple-testing control.")]
PForClasses = Annotated[
    PRule,
    Query(
        description=f"Which p classes Gi* cells: {DEFAULT_P_FOR_CLASSES} (default; keeps false "
        "hot spots at or below alpha on over-dispersed nulls), or the opt-in analytic / "
        "analytic-gated (what ArcGIS does; flags noise, docs/hotspot-statistics.md)."
    ),
]

# -- the checks --------------------------------------------------------------------------------


def split_values(values: list[str] | None) -> tuple[str, ...]:
    """Repeatable and/or comma-separated values, blanks dropped, first occurrence kept."""
    seen: dict[str, None] = {}
    for value in values or []:
        for part in value.split(","):
            if part.strip():
                seen.setdefault(part.strip(), None)
    return tuple(seen)


def month_range(first: str | None, last: str | None) -> tuple[Month | None, Month | None]:
    """``from`` and ``to`` (checked months, either may be absent), in order; MonthError (422)
    when they run backwards."""
    start = Month.parse(first, option="from") if first else None
    end = Month.parse(last, option="to") if last else None
    if start and end and start > end:
        raise MonthError(f"from={start} is after to={end}; give the earlier month first")
    return start, end


def parse_categories(values: list[str] | None) -> tuple[str, ...]:
    """Category names or slugs as sorted, unique police.uk slugs; InputError for an unknown one."""
    slugs = []
    for name in split_values(values):
        slug = canonical_category(name)
        if slug is None:
            raise InputError(
                f"unknown crime category {quoted(name)}; use police.uk slugs such as burglary, "
                "violent-crime, anti-social-behaviour"
            )
        slugs.append(slug)
    return tuple(sorted(set(slugs)))


def built_in_weights(name: str, choose: str = "one") -> str:
    """``name`` when it is a built-in harm table; a file path in a URL would let a request read
    files on the server, so anything else is an InputError listing the tables."""
    if name not in list_tables():
        raise InputError(
            f"unknown weights {quoted(name)}; use {choose} of {', '.join(list_tables())} "
            "(GET /v1/weights describes each)"
        )
    return name


def optional_force(force: str | None) -> str | None:
    """A police.uk force slug, or None for every force (an empty value included)."""
    return check_force(force) if force else None
