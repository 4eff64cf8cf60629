"""The study scope: what the named areas' hot spots are judged against.

A ward is judged against its town by default (``scope="set"``): the study region is the whole
boundary set, and the answer keeps the named areas' cells (ranked lists and counts are among
them). One ward alone is a poor Gi* region: a town-centre ward of ~30 cells has no cluster
against itself (every cell is compared with the ward's own mean) and a small ward has too few
cells for the data guard at all, so the map said 0 hot spots where the area profile, which
always studied the set, listed five. ``scope="areas"`` keeps the older question (the named areas
alone are the region) for those who want it. Without areas both scopes are the same study, so
they share one key (:func:`studied_request`).

One cached study of the set then serves every ward's default answer: the cache is asked for
:func:`studied_request` and :func:`shown_columns` / :func:`shown_result` cut the answer down.
This module imports nothing heavy (the CLI answers from the cache without pandas).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pipelines.analysis.request import SCOPES, StudyRequest
from pipelines.errors import InputError
from pipelines.quoting import quoted

if TYPE_CHECKING:
    from pipelines.analysis.study import StudyResult


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise InputError(f"scope must be one of {', '.join(SCOPES)}, got {quoted(scope)}")
    return scope


def check_scope_has_areas(scope: str, areas: tuple[str, ...] | list[str] | None) -> None:
    """Refuse scope "areas" without an area: it asks for the named areas studied alone, and
    with none named the answer would silently be the whole set's (scope "set")."""
    if scope == "areas" and not areas:
        raise InputError(
            "scope areas studies the named areas alone, so it needs at least one area: name it "
            "(area= in the API, --area on the command line), or leave scope at set to study the "
            "whole boundary set"
        )


def judged_against_set(request: StudyRequest) -> bool:
    """Whether the answer is the set's study cut down to the named areas."""
    return bool(request.areas) and request.scope == "set"


def studied_request(request: StudyRequest) -> StudyRequest:
    """The study actually run (and cached) for ``request``: the whole set for the default
    scope, the named areas for ``scope="areas"``; without areas the scope is irrelevant and
    spelled "set", so both spellings share one cache entry."""
    if judged_against_set(request) or not request.areas:
        return dataclasses.replace(request, areas=(), scope="set")
    return request


def scope_provenance(request: StudyRequest, provenance: dict, shown_cells: int) -> dict:
    """``provenance`` with the scope stated plainly: the study region and the areas shown."""
    region = provenance.get("region", {})
    set_name = region.get("boundary_set", request.boundaries)
    whole = judged_against_set(request) or not request.areas
    study_region = {
        "scope": request.scope if request.areas else "set",
        "areas": "all areas of the set" if whole else list(request.areas),
        "boundary_set": set_name,
        "cells": int(region.get("cells", 0)) if "cells" in region else None,
        "meaning": (
            f"hot spots judged against all of {set_name}"
            if whole
            else "hot spots judged against the named areas alone"
        ),
    }
    return {
        **provenance,
        "study_region": study_region,
        "shown_areas": list(request.areas) if request.areas else "all",
        "shown_cells": shown_cells,
    }


def shown_columns(
    request: StudyRequest, columns: dict[str, list[Any]]
) -> tuple[dict[str, list[Any]], int]:
    """The columns of the named areas' cells (all when the study is theirs alone), and the
    number of cells the studied region had."""
    total = len(next(iter(columns.values()), []))
    if not judged_against_set(request):
        return columns, total
    wanted = set(request.areas)
    keep = [i for i, code in enumerate(columns["area_code"]) if code in wanted]
    return {name: [values[i] for i in keep] for name, values in columns.items()}, total


def shown_result(request: StudyRequest, result: StudyResult) -> StudyResult:
    """The study result as the request shows it: the named areas' cells of the set's study,
    with the scope in the provenance."""
    columns = result.columns
    total = len(result)
    if judged_against_set(request):
        wanted = set(request.areas)
        keep = [i for i, code in enumerate(columns["area_code"]) if code in wanted]
        columns = {name: _taken(values, keep) for name, values in columns.items()}
    provenance = scope_provenance(request, result.provenance, len(columns["area_code"]))
    provenance["study_region"]["cells"] = total
    return dataclasses.replace(result, columns=columns, provenance=provenance)


def _taken(values: Any, keep: list[int]) -> Any:
    """The values at positions ``keep`` (a numpy array stays one, of its dtype)."""
    return [values[i] for i in keep] if isinstance(values, list) else values[keep]
