"""A small generated town for the web-service tests: two wards, one busy street, 12 months.

The same construction as tests/test_analysis_study.py's ``town``: the busy street's cell must be
the top hot spot, every cell of the region is in the answer, and counts add up to 720.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
from shapely.geometry import box

from boundaries.sets import load_boundary_file
from boundaries.store import BoundaryStore
from geo_service.dependencies import hash_key
from pipelines.ingest.archive import ingest_archive
from pipelines.store import CrimeStore
from tests.archive_fixtures import ArchiveBuilder, crime_line

X0, Y0 = -3.56, 50.44  # south-west corner (near Torquay)
HOT = (-3.5420, 50.4480)  # the busy street, in the West ward
# Its other police.uk map point, 7 m east: the same H3 cell at every study resolution. Two points
# let a study of its burglaries alone pass the map-point rule (pipelines/analysis/map_points.py).
HOT_OTHER_END = (-3.5419, 50.4480)
MONTHS = [f"2019-{m:02d}" for m in range(1, 13)]
FORCE = "devon-and-cornwall"
WARDS = "town-wards-2019"
SECOND_SCHEME = "town-wards-again"  # the same wards under another name
WEST, EAST = "E05000001", "E05000002"
IN_REGION_PER_MONTH = 60
KEY = "test-key-for-the-town"


def write_archive(root: Path) -> ArchiveBuilder:
    """20 burglaries a month on the busy street, 40 crimes spread evenly, 1 outside, 1 unlocated."""
    archive = ArchiveBuilder(root)
    rng = np.random.default_rng(7)
    for month in MONTHS:
        lines = [
            crime_line(
                month,
                crime_id=f"{month}-hot-{i}",
                category="Burglary",
                longitude=f"{(HOT, HOT_OTHER_END)[i % 2][0]:.6f}",
                latitude=f"{(HOT, HOT_OTHER_END)[i % 2][1]:.6f}",
                location="On or near High Street",
            )
            for i in range(20)
        ]
        for i in range(40):
            lng, lat = X0 + rng.uniform(0, 0.04), Y0 + rng.uniform(0, 0.02)
            lines.append(
                crime_line(
                    month,
                    crime_id=f"{month}-bg-{i}",
                    category="Shoplifting",
                    longitude=f"{lng:.6f}",
                    latitude=f"{lat:.6f}",
                    location="On or near Side Road",
                )
            )
        lines.append(crime_line(month, crime_id=f"{month}-away", longitude="-3.0", latitude="50.0"))
        lines.append(crime_line(month, crime_id=f"{month}-noloc", longitude="", latitude=""))
        archive.write(FORCE, month, lines)
    return archive


def ward_polygons() -> list:
    return [box(X0, Y0, X0 + 0.02, Y0 + 0.02), box(X0 + 0.02, Y0, X0 + 0.04, Y0 + 0.02)]


def build_town(root: Path) -> tuple[Path, Path]:
    """The town's crimes, wards and a key under ``root/store``; returns (data dir, archive)."""
    data_dir = root / "store"
    archive = write_archive(root / "archive")
    ingest_archive(CrimeStore(data_dir), archive.root)
    frame = gpd.GeoDataFrame(
        {"WD19CD": [WEST, EAST], "WD19NM": ["West Ward", "East Ward"]},
        geometry=ward_polygons(),
        crs="EPSG:4326",
    )
    path = root / "wards.geojson"
    frame.to_file(path, engine="pyogrio")
    BoundaryStore(data_dir).save(load_boundary_file(path, WARDS, "ward", vintage="2019"))
    (data_dir / "api_keys.txt").write_text(f"{hash_key(KEY)} test\n", encoding="utf-8")
    return data_dir, archive.root


def build_town_with_second_scheme(root: Path) -> Path:
    """The town's store (its data folder), with the wards loaded a second time as
    :data:`SECOND_SCHEME`: two schemes for the commands that compare them."""
    data_dir, _ = build_town(root)
    again = load_boundary_file(root / "wards.geojson", SECOND_SCHEME, "ward", vintage="2019")
    BoundaryStore(data_dir).save(again)
    return Path(data_dir)


def square_feature(code: str, name: str, x: float, y: float, size: float = 0.01) -> dict:
    """A GeoJSON Feature: a square with its south-west corner at (x, y), in degrees."""
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
