"""``GET /v1/weights``: the harm tables a hotspot query can use: source, version and weights."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from geo_service.dependencies import require_read_access
from geo_service.models import ERRORS, WeightTable, WeightTables
from pipelines.harm import list_tables, load_table

router = APIRouter(tags=["weights"], dependencies=[Depends(require_read_access)])


@router.get("/weights", response_model=WeightTables, responses=ERRORS)
def weights() -> WeightTables:
    """Each built-in table (the names ``weights=`` takes): source, version, unit, the rule for
    anti-social behaviour, and the weight of one crime of each police.uk category."""
    tables = []
    for name in list_tables():
        table = load_table(name)
        described = table.provenance()
        tables.append(
            WeightTable(
                name=described["name"],
                version=described["version"],
                title=described["title"],
                source=described["source"],
                unit=described["unit"],
                default=described["default"],
                options=described["options"],
                weights=described["weights"],
                derivations=dict(sorted(table.derivations.items())),
            )
        )
    return WeightTables(tables=tables)
