"""Reading a stored boundary set again in the same process (a warm-up worker does so for every
study) gives the set as stored now: a replaced set is read anew, and a caller's changes to the
set it got do not reach the next reader."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from boundaries.sets import load_boundary_file
from boundaries.store import BoundaryStore
from tests.test_boundaries_core import grid, write


def test_a_set_read_again_is_the_stored_one_after_a_replace_and_after_a_callers_change(
    tmp_path: Path,
) -> None:
    store = BoundaryStore(tmp_path / "data")
    first = load_boundary_file(write(grid(3, 2), tmp_path / "a.geojson"), "wards", "ward")
    store.save(first)
    read = store.read("wards")
    assert read.codes == first.codes and len(read.areas) == 6
    # A caller that adds a column or drops rows changes only its own copy.
    read.areas["population"] = 1.0
    read.areas.drop(index=read.areas.index[:2], inplace=True)
    again = store.read("wards")
    assert "population" not in again.areas.columns and len(again.areas) == 6
    assert again.areas.crs == gpd.read_parquet(store.path("wards")).crs
    assert again.areas.geometry.equals(first.areas.geometry)
    # Replaced by a set of another shape: the next read is the new set.
    second = load_boundary_file(
        write(grid(4, 2, prefix="WD23"), tmp_path / "b.geojson"), "wards", "ward", vintage="2023"
    )
    store.save(second, replace=True)
    replaced = store.read("wards")
    assert replaced.codes == second.codes and len(replaced.areas) == 8
    assert replaced.vintage == "2023"
