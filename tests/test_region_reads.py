"""Region-pruned reads: a study reads its region's rows from every force, and nothing else."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from boundaries.sets import load_boundary_file
from pipelines.analysis.grid import build_grid, locate_crimes
from pipelines.analysis.study import StudyRequest, run_study
from pipelines.index.h3_cells import cells_for_points, parent_cells
from pipelines.index.h3_ranges import descendant_ranges, in_ranges, region_ranges
from pipelines.ingest.archive import ingest_archive
from pipelines.schema import CRIME_SCHEMA
from pipelines.store import CrimeStore, PartitionCoverage
from pipelines.store.region import ROW_GROUP_ROWS, _may_hold, index_cells
from tests.archive_fixtures import ArchiveBuilder, crime_line
from tests.service_town import EAST, WEST, X0, Y0, ward_polygons

MONTHS = ["2020-01", "2020-02", "2020-03"]
FAR = (-1.50, 53.80)  # Leeds: another force's crimes, far from the town


@pytest.mark.parametrize("resolution", [7, 9, 10])
def test_ranges_hold_exactly_the_descendants_of_the_cells(resolution: int) -> None:
    rng = np.random.default_rng(resolution)
    base = cells_for_points(rng.uniform(50.0, 51.8, 20_000), rng.uniform(-5.0, 0.5, 20_000))
    parents = parent_cells(base, resolution).to_numpy()
    region = np.unique(parents[:500])
    inside = in_ranges(descendant_ranges(region, resolution), base.to_numpy())
    assert np.array_equal(inside, np.isin(parents, region))
    # Coarser ranges (fewer of them) only ever add rows, never lose one.
    coarse = region_ranges(region, resolution, max_ranges=8)
    assert len(coarse) <= 8
    assert (in_ranges(coarse, base.to_numpy()) >= inside).all()


@pytest.mark.parametrize("max_ranges", [1, 8, 64])
def test_coarse_ranges_are_those_of_every_cells_parents(max_ranges: int) -> None:
    """Coarsening steps from the previous level's parents: the ranges equal those of the
    parents of every cell at the level where the count first fits."""
    rng = np.random.default_rng(max_ranges)
    base = cells_for_points(rng.uniform(50.0, 51.8, 5_000), rng.uniform(-5.0, 0.5, 5_000))
    region = np.unique(parent_cells(base, 10).to_numpy())
    ranges = region_ranges(region, 10, max_ranges=max_ranges)
    level = 10
    expected = descendant_ranges(region, level)
    while len(expected) > max_ranges and level > 0:
        level -= 1
        expected = descendant_ranges(parent_cells(pa.array(region), level).to_numpy(), level)
    np.testing.assert_array_equal(ranges, expected)


def _line(month: str, crime_id: str, lng: float, lat: float) -> str:
    return crime_line(month, crime_id=crime_id, longitude=f"{lng:.6f}", latitude=f"{lat:.6f}")


@pytest.fixture
def two_forces_and_a_far_one(tmp_path: Path) -> tuple[CrimeStore, object]:
    """The town's West ward holds crimes recorded by two forces (it is on their border); a
    third force's crimes are far away, in enough rows to fill several row groups."""
    archive = ArchiveBuilder(tmp_path / "archive")
    rng = np.random.default_rng(5)
    for month in MONTHS:
        west = [
            _line(month, f"a-{month}-{i}", X0 + 0.0005 + 0.001 * (i % 19), Y0 + 0.005)
            for i in range(30)
        ]
        archive.write("devon-and-cornwall", month, west)
        border = [
            _line(month, f"b-{month}-{i}", X0 + 0.015, Y0 + 0.001 + 0.001 * i) for i in range(10)
        ]
        east = [_line(month, f"c-{month}-{i}", X0 + 0.03, Y0 + 0.01) for i in range(5)]
        archive.write("dorset", month, border + east)
        lng = FAR[0] + rng.uniform(0, 0.5, 3 * ROW_GROUP_ROWS)
        lat = FAR[1] + rng.uniform(0, 0.3, 3 * ROW_GROUP_ROWS)
        far = [
            _line(month, f"w-{month}-{i}", x, y)
            for i, (x, y) in enumerate(zip(lng, lat, strict=True))
        ]
        archive.write("west-yorkshire", month, far)
    store = CrimeStore(tmp_path / "store")
    assert not ingest_archive(store, archive.root).failed
    frame = gpd.GeoDataFrame(
        {"WD19CD": [WEST, EAST], "WD19NM": ["West", "East"]},
        geometry=ward_polygons(),
        crs="EPSG:4326",
    )
    path = tmp_path / "wards.geojson"
    frame.to_file(path, engine="pyogrio")
    return store, load_boundary_file(path, "town-wards-2020", "ward", vintage="2020")


def test_a_border_ward_counts_crimes_recorded_by_either_force(two_forces_and_a_far_one) -> None:
    store, wards = two_forces_and_a_far_one
    request = StudyRequest("town-wards-2020", areas=(WEST,), permutations=99, adjust=False)
    result = run_study(store, wards, request)

    # Every crime of either force inside the ward (30 + 10 a month), counted exactly as when
    # every stored row is read and placed.
    everything = store.read(columns=["longitude", "latitude", "h3_cell", "force", "category"])
    full = locate_crimes(build_grid(wards, 9, [WEST]), wards, everything)
    assert int(full.in_areas.sum()) == 3 * 40
    crimes = result.provenance["crimes"]
    assert int(result.cells["count"].sum()) == crimes["in_region"] == int(full.inside.sum())
    assert crimes["in_cells_below_land_share"] == full.below_land_share
    assert crimes["in_region"] + crimes["in_cells_below_land_share"] == 3 * 40
    # What lies outside is every other located crime of the window, far force included.
    assert crimes["outside_region"] == everything.num_rows - 3 * 40
    assert crimes["no_location"] == 0


def test_the_far_force_is_skipped_row_group_by_row_group(two_forces_and_a_far_one) -> None:
    store, _ = two_forces_and_a_far_one
    path = store.partition_path("west-yorkshire", MONTHS[0])
    metadata = pq.ParquetFile(path).metadata
    assert metadata.num_row_groups == 3  # rows sorted by cell, 8,192 to a row group

    cells = [h3.str_to_int(h3.latlng_to_cell(Y0 + 0.005, X0 + 0.005, 9))]
    ranges = region_ranges(np.array(cells, dtype=np.uint64), 9)
    rows = store.snapshot().read_region(ranges, ["force", "h3_cell"])
    assert set(rows["force"].to_pylist()) == {"devon-and-cornwall"}
    assert in_ranges(ranges, rows["h3_cell"].to_numpy()).all()
    # Not read and filtered: the footer statistics rule out every one of its row groups.
    h3_column = metadata.schema.to_arrow_schema().get_field_index("h3_cell")
    statistics = [metadata.row_group(g).column(h3_column).statistics for g in range(3)]
    assert not any(_may_hold(s, ranges) for s in statistics)
    sorted_cells = pq.read_table(path, columns=["h3_cell"])["h3_cell"].to_numpy()
    assert (np.diff(sorted_cells.astype(np.float64)) >= 0).all()


def test_the_manifest_rules_out_far_forces_and_keeps_both_border_forces(
    two_forces_and_a_far_one,
) -> None:
    store, _ = two_forces_and_a_far_one
    snapshot = store.snapshot()
    west_cells = [h3.str_to_int(h3.latlng_to_cell(Y0 + 0.005, X0 + 0.015, 9))]
    ranges = region_ranges(np.array(west_cells, dtype=np.uint64), 9, rings=1)
    candidates = snapshot.manifest.region_index.may_hold(ranges)
    # Both forces that recorded crimes in the border ward, every month; not the far force.
    assert candidates == {(f, m) for f in ("devon-and-cornwall", "dorset") for m in MONTHS}
    key = ("west-yorkshire", MONTHS[0])
    entry = snapshot.manifest.partitions[key]
    assert entry.h3_parents == index_cells(store.read_partition(*key)["h3_cell"])


def _generated_partition(rng: np.random.Generator, force: str, month: str, centre, spread):
    """Rows of one force-month around ``centre``: forces overlap at their edges, as real ones
    do, and a few rows have no location."""
    rows = int(rng.integers(200, 3_000))
    lat = centre[1] + rng.normal(0, spread, rows)
    lng = centre[0] + rng.normal(0, spread * 1.6, rows)
    unlocated = rng.random(rows) < 0.02
    lat[unlocated] = np.nan
    lng[unlocated] = np.nan
    ids = [f"{force}-{month}-{i}" for i in range(rows)]
    table = pa.table(
        {
            "crime_id": ids,
            "api_id": pa.nulls(rows, pa.int64()),
            "month": [month] * rows,
            "force": [force] * rows,
            "reported_by": pa.nulls(rows, pa.string()),
            "falls_within": pa.nulls(rows, pa.string()),
            "longitude": pa.array(lng, mask=unlocated),
            "latitude": pa.array(lat, mask=unlocated),
            "location": pa.nulls(rows, pa.string()),
            "lsoa_code": pa.nulls(rows, pa.string()),
            "lsoa_name": pa.nulls(rows, pa.string()),
            "category": ["burglary"] * rows,
            "last_outcome": pa.nulls(rows, pa.string()),
            "context": pa.nulls(rows, pa.string()),
            "source": ["archive"] * rows,
            "h3_cell": cells_for_points(lat, lng),
        }
    ).cast(CRIME_SCHEMA)
    coverage = PartitionCoverage(force, month, "archive", rows, rows, int(unlocated.sum()))
    return table, coverage


def test_a_pruned_read_equals_a_full_read_for_random_regions(tmp_path: Path) -> None:
    """Forces laid side by side with overlapping edges; regions of random place, size and
    resolution. The pruned read (manifest index, row-group statistics, row filter) returns
    exactly the rows a read of everything keeps inside the same ranges, and never drops a row
    whose cell is in the region."""
    rng = np.random.default_rng(12)
    store = CrimeStore(tmp_path / "store")
    forces = {f"force-{i}": (-4.0 + 0.35 * (i % 4), 50.3 + 0.25 * (i // 4)) for i in range(8)}
    with store.writer() as writer:
        for force, centre in forces.items():
            for month in MONTHS:
                writer.write(*_generated_partition(rng, force, month, centre, 0.08))
    # One partition as written before the index existed: it must still be read.
    manifest = store.snapshot().manifest
    key = ("force-5", MONTHS[1])
    legacy = replace(manifest, partitions={**manifest.partitions})
    legacy.partitions[key] = replace(legacy.partitions[key], h3_parents=None)
    (store.crimes_dir / "manifest.json").write_text(legacy.to_json(), encoding="utf-8")

    snapshot = store.snapshot()
    assert snapshot.manifest.partitions[key].h3_parents is None
    everything = snapshot.read(columns=["crime_id", "h3_cell"])
    stored_cells = everything["h3_cell"].fill_null(0).to_numpy()
    pruned_partitions = 0
    for trial in range(30):
        resolution = int(rng.choice([7, 8, 9, 10]))
        centre = forces[f"force-{rng.integers(len(forces))}"]
        lat = centre[1] + rng.uniform(-0.2, 0.2)
        lng = centre[0] + rng.uniform(-0.3, 0.3)
        disk = h3.grid_disk(h3.latlng_to_cell(lat, lng, resolution), int(rng.integers(0, 6)))
        region = np.array([h3.str_to_int(c) for c in disk], dtype=np.uint64)
        ranges = region_ranges(region, resolution, max_ranges=int(rng.choice([8, 256])))
        pruned = snapshot.read_region(ranges, ["crime_id", "h3_cell"])
        expected = everything.filter(pa.array(in_ranges(ranges, stored_cells)))
        assert sorted(pruned["crime_id"].to_pylist()) == sorted(expected["crime_id"].to_pylist())
        parents = parent_cells(everything["h3_cell"], resolution).fill_null(0).to_numpy()
        needed = set(everything.filter(pa.array(np.isin(parents, region)))["crime_id"].to_pylist())
        assert needed <= set(pruned["crime_id"].to_pylist()), f"trial {trial} dropped a crime"
        candidates = snapshot.manifest.region_index.may_hold(ranges)
        assert key in candidates
        pruned_partitions += len(snapshot.partitions()) - len(candidates)
    assert pruned_partitions > 0  # the index did rule partitions out
