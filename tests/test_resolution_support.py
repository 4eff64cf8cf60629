"""Resolutions the data supports: distinct police.uk map points per occupied cell, the rule that
coarsens or refuses, and what it does on Torbay's real, snapped crimes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pipelines.analysis.map_points import MIN_MEDIAN_POINTS, map_point_support
from pipelines.analysis.study import StudyError, StudyRequest, run_study
from tests.torbay import TORBAY_WARDS, torbay_store


def test_snapped_crimes_on_one_point_a_cell_cannot_resolve_it() -> None:
    # Ten cells, each holding crimes on a single shared point: every crime shares its point.
    cell = np.repeat(np.arange(10), 5)
    lon = np.repeat(np.linspace(-3.6, -3.5, 10), 5)
    lat = np.full(50, 50.45)
    support = map_point_support(cell, lon, lat, n_cells=20, resolution=10)
    assert support.median_points_per_occupied_cell == 1 < MIN_MEDIAN_POINTS
    assert support.shared_point_share == 1.0 and not support.resolvable
    assert support.cells_with_a_point_share == 0.5 and support.single_point_share == 1.0
    assert "cannot resolve cells this small" in support.reason


def test_two_points_a_cell_resolve_and_unsnapped_crimes_are_left_to_the_guard() -> None:
    cell = np.repeat(np.arange(10), 4)
    lon = np.repeat(np.linspace(-3.6, -3.5, 20), 2)  # two points a cell, two crimes each
    support = map_point_support(cell, lon, np.full(40, 50.45), n_cells=10, resolution=9)
    assert support.median_points_per_occupied_cell == 2 and support.resolvable
    # One crime a point (geocoded one by one): snapping cannot be what limits the resolution.
    single = map_point_support(
        np.arange(10), np.linspace(-3.6, -3.5, 10), np.full(10, 50.4), 10, 10
    )
    assert single.median_points_per_occupied_cell == 1 and single.shared_point_share == 0
    assert single.resolvable
    # Crimes outside the region (cell -1) are left out.
    outside = map_point_support(np.array([-1, -1]), np.zeros(2), np.zeros(2), 5, 9)
    assert outside.occupied_cells == 0 and outside.resolvable


@pytest.mark.shared_data
def test_torbay_resolution_10_is_coarsened_or_refused_and_9_finds_hot_spots(
    shared_data: Path, tmp_path: Path
) -> None:
    store, wards = torbay_store(shared_data, tmp_path, "2019-01", "2019-12")
    asked = StudyRequest(TORBAY_WARDS, resolution=10, first="2019-01", last="2019-12")
    result = run_study(store, wards, asked)
    assert result.provenance["resolution"] == 9
    (said,) = result.adjustments
    assert "median of 1 police.uk map point" in said and "from 10 to 9" in said
    points = result.provenance["map_points"]
    assert points["resolvable"] and points["median_points_per_occupied_cell"] == 3
    assert points["shared_point_share"] > 0.9 and points["map_points"] > 1400
    # The default still finds hot spots at resolution 9, each with adjusted p <= alpha.
    cells = result.cells
    assert 5 <= cells["hotspot"].sum() <= 40
    assert (cells.loc[cells["hotspot"], "p_adjusted"] <= 0.05).all()
    with pytest.raises(StudyError, match="cannot resolve cells this small"):
        run_study(store, wards, StudyRequest(TORBAY_WARDS, resolution=10, adjust=False))


@pytest.mark.shared_data
def test_a_ward_too_small_for_either_resolution_gets_one_consistent_message(
    shared_data: Path, tmp_path: Path
) -> None:
    """Clifton with Maidenway (Torbay) has 17 land cells at resolution 9, too few for Gi*; at
    10 its crimes sit on single map points. The refusal says that, once, and what to change:
    never "use resolution 10" and "resolution changed from 10 to 9" in one breath."""
    store, wards = torbay_store(shared_data, tmp_path, "2019-01", "2019-12")
    asked = StudyRequest(
        TORBAY_WARDS, areas=("E05012256",), resolution=9, first="2019-01", last="2019-12"
    )
    with pytest.raises(StudyError) as refused:
        run_study(store, wards, asked)
    said = str(refused.value)
    assert said.startswith("the study region has only 17 cells at resolution 9")
    assert "resolution 10 would have enough cells, but at resolution 10" in said
    assert "median of 1 police.uk map point" in said
    assert said.endswith(
        "choose a larger region (more areas, e.g. the ward with its neighbours, or a ward cluster)"
    )
    assert "use resolution" not in said and "changed from" not in said
    # With a second ward the region is large enough at resolution 9, as the message says.
    both = StudyRequest(
        TORBAY_WARDS,
        areas=("E05012256", "E05012255"),
        resolution=9,
        first="2019-01",
        last="2019-12",
    )
    assert run_study(store, wards, both).provenance["resolution"] == 9


@pytest.mark.shared_data
def test_an_area_smaller_than_a_cell_is_refused_as_input_not_a_server_error(
    shared_data: Path, tmp_path: Path
) -> None:
    """An 80 m square inside a Torbay ward owns no resolution-9 cell (London's Bread Street,
    0.09 km², is such a ward). The study refuses it as bad input saying what to change; before,
    a bare ValueError reached the service as a 500 and was recomputed on every restart."""
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import box

    from boundaries.sets import load_boundary_file
    from pipelines.errors import InputError

    store, _ = torbay_store(shared_data, tmp_path, "2019-01", "2019-12")
    wards = gpd.read_file(shared_data / "boundaries/wards_2019/E06000027.geojson").to_crs(27700)
    ward = wards.iloc[[0]].copy()
    centre = ward.geometry.iloc[0].representative_point()
    square = box(centre.x - 40, centre.y - 40, centre.x + 40, centre.y + 40)
    tiny = ward.copy()
    tiny["geometry"], tiny["WD19CD"], tiny["WD19NM"] = [square], "E05999999", "Tiny square"
    ward["geometry"] = ward.geometry.difference(square)
    both = gpd.GeoDataFrame(pd.concat([ward, tiny]), crs=27700).to_crs(4326)
    both.to_file(tmp_path / "tiny.geojson", driver="GeoJSON")
    areas = load_boundary_file(tmp_path / "tiny.geojson", "tiny-set", "ward", vintage="2019")
    asked = StudyRequest("tiny-set", areas=("E05999999",), resolution=9, first="2019-01")
    with pytest.raises(InputError) as refused:
        run_study(store, areas, replace(asked, last="2019-12"))
    said = str(refused.value)
    assert said.startswith("the study region holds no H3 cell at resolution 9")
    assert said.endswith("or a ward cluster)")
    # The ward around it is studied as before.
    around = replace(asked, areas=(str(ward["WD19CD"].iloc[0]),), last="2019-12")
    assert run_study(store, areas, around).provenance["resolution"] in (8, 9)
