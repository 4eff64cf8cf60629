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


def test_a_study_reads_the_same_areas_without_geopandas_as_the_geodataframe_holds(
    tmp_path: Path,
) -> None:
    """The columns a study reads (pyarrow and shapely) are the GeoDataFrame's, area by area: the
    same codes, names and geometries, to the byte of their WKB, in the set's order."""
    import shapely

    store = BoundaryStore(tmp_path / "data")
    stored = load_boundary_file(write(grid(3, 2), tmp_path / "a.geojson"), "wards", "ward")
    store.save(stored)
    lean = store.read("wards").area_columns()
    frame = gpd.read_parquet(store.path("wards"))
    assert list(lean.codes) == frame["code"].tolist() == sorted(lean.codes)
    assert list(lean.names) == frame["name"].tolist()
    assert (
        shapely.to_wkb(lean.geometries).tolist()
        == shapely.to_wkb(frame.geometry.values.to_numpy()).tolist()
    )
    # A set given as a GeoDataFrame gives the same columns.
    given = stored.area_columns()
    assert given.codes == lean.codes and given.names == lean.names
    assert shapely.equals_exact(given.geometries, lean.geometries, tolerance=0).all()
    # Chosen areas keep the set's order, whatever order they are asked in.
    chosen = lean.chosen([lean.codes[4], lean.codes[1], "not-a-code"])
    assert chosen.codes == (lean.codes[1], lean.codes[4])
    assert chosen.names == (lean.names[1], lean.names[4])
    assert list(chosen.geometries) == [lean.geometries[1], lean.geometries[4]]


def test_a_real_sets_areas_read_without_geopandas_equal_the_geodataframes(
    tmp_path: Path, shared_data: Path
) -> None:
    """The same, on ONS wards with holes and multipolygons (all London's 2022 wards)."""
    import shapely

    wards_file = shared_data / "boundaries/wards_2022/E12000007.geojson"
    store = BoundaryStore(tmp_path / "data")
    store.save(load_boundary_file(wards_file, "london", "ward"))
    lean = store.read("london").area_columns()
    frame = store.read("london").areas
    assert len(lean) == len(frame) == 704
    assert list(lean.codes) == frame["code"].tolist()
    assert list(lean.names) == frame["name"].tolist()
    assert (
        shapely.to_wkb(lean.geometries).tolist()
        == shapely.to_wkb(frame.geometry.values.to_numpy()).tolist()
    )


def test_a_read_set_travels_to_another_process_whole(tmp_path: Path) -> None:
    """A set read from the store pickles (Dask workers get theirs so) with its areas, whether
    or not its GeoDataFrame was built yet."""
    import pickle

    store = BoundaryStore(tmp_path / "data")
    store.save(load_boundary_file(write(grid(3, 2), tmp_path / "a.geojson"), "wards", "ward"))
    lean = pickle.loads(pickle.dumps(store.read("wards")))
    built = store.read("wards")
    built.areas["population"] = 2.0
    built = pickle.loads(pickle.dumps(built))
    assert lean.codes == built.codes and lean.name == "wards"
    assert lean.areas.geometry.equals(built.areas.geometry)
    assert "population" not in lean.areas and (built.areas["population"] == 2.0).all()
