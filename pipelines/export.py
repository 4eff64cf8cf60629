"""Write stored crimes as CSV, Parquet or GeoJSON for other tools (QGIS, DuckDB, pandas).

Parquet is GeoParquet (1.0): the stored columns plus a point geometry (WKB, longitude/latitude
on WGS 84, null for a crime with no location) described in the file's ``geo`` metadata, so
QGIS (GDAL's Parquet driver), ``geopandas.read_parquet`` and DuckDB's spatial extension open it
as points. CSV and GeoJSON carry the H3 cell as its standard hexadecimal string; Parquet keeps
the stored uint64. Files are written beside the target and renamed into place, so a failed
export never leaves half a file where a good one was.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import geopandas as gpd
import h3
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from pyogrio import errors as pyogrio_errors

from pipelines.quoting import quoted
from pipelines.spreadsheet import spreadsheet_safe_table
from pipelines.store.atomic import atomic_write

FORMATS = ("csv", "parquet", "geojson")


class ExportError(Exception):
    """An export that cannot be written as asked."""


class ExportWriteError(ExportError):
    """The writer failed part way (not the request's fault): exit 1, as a disk fault."""


def format_for(path: Path, explicit: str | None) -> str:
    """The format asked for, or the one the file name implies."""
    if explicit:
        if explicit not in FORMATS:
            raise ExportError(
                f"--format must be one of {', '.join(FORMATS)}, got {quoted(explicit)}"
            )
        return explicit
    suffix = path.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    raise ExportError(
        f"cannot tell the format from {quoted(path.name)}; add --format {'|'.join(FORMATS)}"
    )


def export_crimes(crimes: pa.Table, path: Path, file_format: str) -> int:
    """Write ``crimes`` to ``path`` in ``file_format``; returns rows written."""
    if not path.parent.is_dir():
        folder = os.path.abspath(path.parent)  # checked before the work; removed since
        raise ExportError(f"folder {folder} does not exist; create it or choose another -o")
    with atomic_write(path) as tmp_path:
        if file_format == "parquet":
            _write_geoparquet(crimes, tmp_path)
        elif file_format == "csv":
            pa_csv.write_csv(spreadsheet_safe_table(_with_hex_cells(crimes)), tmp_path)
        elif file_format == "geojson":
            try:
                _write_geojson(_with_hex_cells(crimes), tmp_path, layer=path.stem)
            except (pyogrio_errors.DataSourceError, pyogrio_errors.DataLayerError) as error:
                raise _gdal_write_error(error, path, tmp_path) from error
        else:
            raise ExportError(f"unknown format {quoted(file_format)}")
    return crimes.num_rows


# Free bytes below which a failed GDAL write is taken for a full disk (GDAL writes in blocks of
# a few KiB, so a write that failed for want of space leaves less than this).
_NEARLY_FULL_BYTES = 1 << 20


def _gdal_write_error(error: Exception, path: Path, tmp_path: Path) -> Exception:
    """A failed GDAL (pyogrio) write in words. GDAL's error carries no errno, so a nearly
    full disk under the file is taken as the cause: an ``OSError`` ENOSPC, which the atomic
    write turns into its usual "the disk is full" message; anything else is one line naming
    the file as the user gave it, not the temporary file."""
    try:
        info = os.statvfs(tmp_path.parent)
        full = info.f_bavail * info.f_frsize < _NEARLY_FULL_BYTES
    except OSError:
        full = False
    if full:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    reason = str(error).replace(str(tmp_path), str(path)).strip().splitlines()[0]
    return ExportWriteError(f"could not write {path}: {reason}")


def _with_hex_cells(crimes: pa.Table) -> pa.Table:
    cells = crimes["h3_cell"].to_pylist()
    hex_cells = pa.array([h3.int_to_str(c) if c is not None else None for c in cells], pa.string())
    index = crimes.schema.get_field_index("h3_cell")
    return crimes.set_column(index, "h3_cell", hex_cells)


# pandas' nullable integers: a null (the H3 cell of a crime with no location) must not turn a
# uint64 column into float64, which cannot hold an H3 id exactly.
_NULLABLE_INTEGERS = {
    pa.uint64(): pd.UInt64Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.int32(): pd.Int32Dtype(),
}


def _points(crimes: pa.Table) -> gpd.GeoDataFrame:
    """The crimes as points on WGS 84; rows with no location keep a null geometry rather than a
    fake point at (NaN, NaN)."""
    frame = crimes.to_pandas(types_mapper=_NULLABLE_INTEGERS.get)
    geometry = gpd.points_from_xy(frame["longitude"], frame["latitude"], crs="EPSG:4326")
    geometry[frame["longitude"].isna().to_numpy()] = None
    return gpd.GeoDataFrame(frame, geometry=geometry)


def _write_geoparquet(crimes: pa.Table, path: Path) -> None:
    # Spec 1.0.0: the version GDAL (3.8+), QGIS and DuckDB all read.
    _points(crimes).to_parquet(path, index=False, compression="zstd", schema_version="1.0.0")


def _write_geojson(crimes: pa.Table, path: Path, layer: str) -> None:
    _points(crimes).to_file(
        path, driver="GeoJSON", engine="pyogrio", layer=layer, COORDINATE_PRECISION=6
    )
