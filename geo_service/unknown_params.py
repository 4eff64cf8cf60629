"""Refuse query parameters a route does not take, naming them and the ones it does take.

A misspelled parameter (``categorie=burglary``) would otherwise be ignored and the answer would
silently cover every category. The valid names come from the route's own declaration (its
dependant, sub-dependencies included), so a parameter added to any route is accepted without
touching this module.
"""

from __future__ import annotations

import difflib

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from pipelines.errors import InputError
from pipelines.quoting import quoted


class UnknownQueryParameter(InputError):
    """A query parameter the route does not declare (HTTP 422)."""


async def reject_unknown_query_parameters(request: Request) -> None:
    """An app-wide dependency: InputError when the query names a parameter the route lacks.
    Async, so it runs on the event loop rather than costing a thread per request."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    accepted = declared_query_parameters(route)
    unknown = sorted({name for name in request.query_params if name not in accepted})
    if unknown:
        raise UnknownQueryParameter(unknown_message(unknown, accepted))


def declared_query_parameters(route: APIRoute) -> frozenset[str]:
    """The names (aliases where given) of every query parameter ``route`` declares. A walk of a
    few dozen fields, a few microseconds: not worth a cache keyed on routes."""
    return frozenset(_query_names(route.dependant))


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


def _query_names(dependant: Dependant) -> set[str]:
    names: set[str] = set()
    for field in dependant.query_params:
        model = field.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            # A query parameter model: each of its fields is a parameter of its own.
            names.update(info.alias or name for name, info in model.model_fields.items())
        else:
            names.add(field.alias)
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
