"""Refuse query parameters a route does not take, naming them and the ones it does take.

A misspelled parameter (``categorie=burglary``) would otherwise be ignored and the answer would
silently cover every category. The valid names come from the route's own declaration (its
dependant, sub-dependencies included), so a parameter added to any route is accepted without
touching this module.
"""

from __future__ import annotations

import difflib

from fastapi import Request
from fastapi._compat import field_annotation_is_sequence
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from pipelines.errors import InputError
from pipelines.quoting import quoted


class UnknownQueryParameter(InputError):
    """A query parameter the route does not declare (HTTP 422)."""


class RepeatedQueryParameter(InputError):
    """A single-valued query parameter given more than once (HTTP 422): the framework would
    silently use the last value."""


_COMPARE_SCOPE = (
    "scope does not apply to a comparison: boundary schemes are compared on one region they "
    "all cover, so it takes no areas and always studies the reference set whole (scope= is for "
    "the hot spots of named areas: /v1/hotspots, hot spot maps and backtests)"
)
_ALLOCATE_SCOPE = (
    "scope does not apply to an allocation: units are shared across all areas of the set, each "
    "by its own crimes, with no hot spot study whose region a scope could choose (scope= is for "
    "the hot spots of named areas: /v1/hotspots, hot spot maps and backtests)"
)
# Parameters a user can reasonably expect on a route that does not take them: why not, in words.
WHY_NOT_TAKEN: dict[str, dict[str, str]] = {
    "/v1/compare": {"scope": _COMPARE_SCOPE},
    "/v1/maps/compare": {"scope": _COMPARE_SCOPE},
    "/v1/allocate": {"scope": _ALLOCATE_SCOPE},
    "/v1/allocate/provenance": {"scope": _ALLOCATE_SCOPE},
}


async def reject_unknown_query_parameters(request: Request) -> None:
    """An app-wide dependency: InputError when the query names a parameter the route lacks, or
    repeats one that takes a single value. Async, so it runs on the event loop rather than
    costing a thread per request."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = _query_names(route.dependant)
    unknown = sorted({name for name in request.query_params if name not in declared})
    if unknown:
        reasons = WHY_NOT_TAKEN.get(request.url.path.rstrip("/"), {})
        said = [reasons[name] for name in unknown if name in reasons]
        rest = [name for name in unknown if name not in reasons]
        if rest:
            said.append(unknown_message(rest, frozenset(declared)))
        raise UnknownQueryParameter("; ".join(said))
    repeated = sorted(
        name
        for name, many in declared.items()
        if not many and len(request.query_params.getlist(name)) > 1
    )
    if repeated:
        raise RepeatedQueryParameter(repeated_message(request, repeated))


def declared_query_parameters(route: APIRoute) -> frozenset[str]:
    """The names (aliases where given) of every query parameter ``route`` declares. A walk of a
    few dozen fields, a few microseconds: not worth a cache keyed on routes."""
    return frozenset(_query_names(route.dependant))


def repeated_message(request: Request, repeated: list[str]) -> str:
    given = [
        f"{name}= is given {len(values)} times ({', '.join(quoted(v) for v in values)})"
        for name in repeated
        for values in [request.query_params.getlist(name)]
    ]
    return f"{'; '.join(given)}; it takes one value: give it once"


def unknown_message(unknown: list[str], accepted: frozenset[str]) -> str:
    """Which names are unknown, the closest valid name to each, and every valid name."""
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, accepted, n=1)
        problems.append(
            f"{quoted(name)} (did you mean {quoted(close[0])}?)" if close else quoted(name)
        )
    plural = "s" if len(unknown) > 1 else ""
    takes = (
        f"this route takes: {', '.join(sorted(accepted))}"
        if accepted
        else "this route takes no query parameters"
    )
    return f"unknown query parameter{plural} {', '.join(problems)}; {takes}"


def _query_names(dependant: Dependant) -> dict[str, bool]:
    """Each declared query parameter -> whether it takes several values (a list)."""
    names: dict[str, bool] = {}
    for field in dependant.query_params:
        model = field.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            # A query parameter model: each of its fields is a parameter of its own.
            for name, info in model.model_fields.items():
                names[info.alias or name] = field_annotation_is_sequence(info.annotation)
        else:
            names[field.alias] = field_annotation_is_sequence(model)
    for sub in dependant.dependencies:
        for name, many in _query_names(sub).items():
            names[name] = names.get(name, False) or many
    return names
