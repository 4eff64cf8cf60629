"""Comparing two versions of a force-month row by row (pipelines/ingest/revisions.py)."""

from __future__ import annotations

import pyarrow as pa

from pipelines.ingest.revisions import compare_months
from pipelines.schema import CRIME_SCHEMA


def _month(rows: list[dict]) -> pa.Table:
    base = {name: None for name in CRIME_SCHEMA.names}
    full = [
        {**base, "month": "2020-01", "force": "kent", "source": "archive", **row} for row in rows
    ]
    return pa.Table.from_pylist(full, schema=CRIME_SCHEMA)


def _crime(crime_id: str | None, category: str = "burglary", **extra: object) -> dict:
    return {"crime_id": crime_id, "category": category, "longitude": 0.5, "latitude": 51.2, **extra}


def test_new_month_is_all_added() -> None:
    changes = compare_months(None, _month([_crime("a"), _crime(None)]))
    assert (changes.rows_before, changes.rows_after, changes.added) == (0, 2, 2)


def test_rows_matched_by_crime_id_and_changes_named_by_field() -> None:
    old = _month(
        [_crime("a"), _crime("b"), _crime("c"), _crime("d", last_outcome="Under investigation")]
    )
    new = _month(
        [
            _crime("a"),
            _crime("b", category="drugs"),  # re-categorised
            _crime("d", last_outcome="Offender charged"),  # outcome revised
            _crime("e"),  # new
        ]
    )
    changes = compare_months(old, new)
    assert (changes.added, changes.removed, changes.changed) == (1, 1, 2)
    assert changes.changed_fields == {"category": 1, "last_outcome": 1}


def test_row_order_and_storage_route_are_not_revisions() -> None:
    rows = [_crime("a"), _crime("b"), _crime(None, category="anti-social-behaviour")]
    old = _month(rows)
    new = _month([{**row, "source": "api", "h3_cell": 1} for row in reversed(rows)])
    assert not compare_months(old, new).any


def test_rows_without_an_id_compare_as_a_multiset() -> None:
    asb = _crime(None, category="anti-social-behaviour")
    old = _month([asb, asb, _crime(None, category="anti-social-behaviour", location="X")])
    new = _month([asb, _crime(None, category="anti-social-behaviour", location="Y")])
    changes = compare_months(old, new)
    # one repeat gone, and the X row revised to Y: no ID, so removed + added, never "changed"
    assert (changes.added, changes.removed, changes.changed) == (1, 2, 0)


def test_api_rows_without_persistent_id_match_on_api_id() -> None:
    old = _month([{**_crime(None), "api_id": 7}, {**_crime(None), "api_id": 8}])
    new = _month([{**_crime(None, category="robbery"), "api_id": 7}, {**_crime(None), "api_id": 8}])
    changes = compare_months(old, new)
    assert (changes.added, changes.removed, changes.changed) == (0, 0, 1)


def test_repeated_crime_ids_pair_unchanged_rows_first() -> None:
    old = _month([_crime("a"), _crime("a", category="drugs")])
    new = _month([_crime("a", category="drugs"), _crime("a")])
    assert not compare_months(old, new).any
