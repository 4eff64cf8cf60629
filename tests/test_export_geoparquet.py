"""`hotspots export --format parquet` writes GeoParquet (issue 10, finding 14): points that
geopandas, and GDAL's Parquet driver (what QGIS opens it with), read as a layer.

The GDAL bundled with pyogrio here has no Parquet driver (it needs Arrow), so the GDAL check runs
only where one has it and says so otherwise; the file is also checked against what the
GeoParquet 1.0 specification requires of its ``geo`` metadata, which is what GDAL reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyarrow.parquet as pq
import pyogrio
import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.archive_fixtures import ArchiveBuilder, crime_line

runner = CliRunner()
FORCE = "devon-and-cornwall"


@pytest.fixture
def exported(archive: ArchiveBuilder, data_dir: Path, tmp_path: Path) -> Path:
    lines = [
        crime_line("2019-01", crime_id="a", longitude="-3.526912", latitude="50.463581"),
        crime_line("2019-01", crime_id="b", longitude="-3.530000", latitude="50.470000"),
        crime_line("2019-01", crime_id="c", longitude="", latitude=""),  # no location
    ]
    archive.write(FORCE, "2019-01", lines)
    ingested = runner.invoke(
        app, ["ingest", "archive", str(archive.root), "--data-dir", str(data_dir)]
    )
    assert ingested.exit_code == 0, ingested.output
    out = tmp_path / "crimes.parquet"
    result = runner.invoke(
        app, ["export", "--force", FORCE, "-o", str(out), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    return out


def test_geopandas_reads_points_with_their_crs(exported: Path) -> None:
    points = gpd.read_parquet(exported)
    assert points.crs.to_epsg() == 4326
    assert list(points.geometry.geom_type.fillna("none")) == ["Point", "Point", "none"]
    located = points[points.geometry.notna()]
    assert (located.geometry.x == located["longitude"]).all()
    assert (located.geometry.y == located["latitude"]).all()
    assert str(points["h3_cell"].dtype) == "UInt64"  # the stored cell id, exact; null with no place
    assert points["h3_cell"].isna().tolist() == [False, False, True]
    assert set(points["crime_id"]) == {"a", "b", "c"}


def test_geo_metadata_follows_the_geoparquet_specification(exported: Path) -> None:
    geo = json.loads(pq.read_schema(exported).metadata[b"geo"])
    assert geo["version"] == "1.0.0" and geo["primary_column"] == "geometry"
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB"
    assert column["geometry_types"] == ["Point"]
    crs = column.get("crs")  # absent means OGC:CRS84; present, PROJJSON of EPSG:4326 here
    assert crs is None or crs["id"] == {"authority": "EPSG", "code": 4326}
    west, south, east, north = column["bbox"]
    assert (west, east) == (-3.53, -3.526912) and (south, north) == (50.463581, 50.47)


def test_gdal_opens_it_as_a_point_layer(exported: Path) -> None:
    if "Parquet" not in pyogrio.list_drivers():
        pytest.skip(
            f"GDAL {pyogrio.__gdal_version_string__} bundled with pyogrio has no Parquet driver "
            "(built without Arrow); QGIS's GDAL has it"
        )
    info = pyogrio.read_info(exported)
    assert info["geometry_type"] == "Point" and info["features"] == 3
    frame = pyogrio.read_dataframe(exported)
    assert frame.geometry.notna().sum() == 2
