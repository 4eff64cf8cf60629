"""``GET /v1/coverage``: per force, the months held, rows stored, with no location, rejected,
and the months missing inside the stored range (from each partition's coverage record)."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from geo_service.dependencies import StoreDep, require_read_access
from geo_service.errors import NotFound
from geo_service.models import ERRORS, Coverage, CoverageMonth, ForceCoverage
from geo_service.query_params import First, Last, month_range
from pipelines.quoting import quoted
from pipelines.store.coverage import coverage_rows
from pipelines.store.crime_store import StoreError

router = APIRouter(tags=["coverage"], dependencies=[Depends(require_read_access)])


@router.get("/coverage", response_model=Coverage, responses=ERRORS)
def coverage(
    store: StoreDep,
    force: Annotated[str | None, Query(description="Only this force (slug).")] = None,
    first: First = None,
    last: Last = None,
) -> Coverage:
    """What the store holds and what it left out, so a gap can never pass unseen."""
    first, last = month_range(first, last)
    if force and force not in store.forces():
        known = ", ".join(store.forces()) or "none yet"
        raise NotFound(f"the store holds no force {quoted(force)}; it holds: {known}")
    try:
        rows = coverage_rows(store.coverage(force, first, last))
    except StoreError as error:  # a damaged partition: the operator must re-ingest it
        raise HTTPException(500, str(error)) from None
    by_force: dict[str, list[dict]] = {}
    for row in rows:
        by_force.setdefault(row["force"], []).append(row)
    return Coverage(forces=[_force(name, held) for name, held in by_force.items()])


def _force(force: str, rows: list[dict]) -> ForceCoverage:
    stored = [row for row in rows if row["status"] == "stored"]
    rejected: Counter[str] = Counter()
    for row in stored:
        rejected.update(row["rejected"])
    return ForceCoverage(
        force=force,
        first=rows[0]["month"],
        last=rows[-1]["month"],
        months_held=len(stored),
        source_rows=sum(row["source_rows"] for row in stored),
        stored=sum(row["stored"] for row in stored),
        no_location=sum(row["no_location"] for row in stored),
        rejected=dict(sorted(rejected.items())),
        gaps=[row["month"] for row in rows if row["status"] == "missing"],
        months=[CoverageMonth(**row) for row in rows],
    )
