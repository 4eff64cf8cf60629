"""Boundary sets on disk: ``<data dir>/boundaries/<name>.parquet``, one GeoParquet file per set.

The set's description (scheme, vintage, source, notes, overlap/gap report) travels in the same
file's footer (``hotspots.boundary_set``), so a set and its description are replaced together by
one rename: readers see the old set or the new one, never a mix.

A set is read as its file's bytes: its codes, names and geometries come straight from the
GeoParquet columns (pyarrow and shapely), and geopandas reads the bytes into a GeoDataFrame only
when something asks for ``BoundarySet.areas`` (boundaries/sets.py says why).
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from boundaries.errors import BoundaryError, BoundarySetExists, UnknownBoundarySet
from boundaries.quality import QualityReport
from boundaries.sets import AreaColumns, AreaSource, BoundarySet, check_name, display_name
from pipelines.quoting import quoted
from pipelines.store.atomic import atomic_write, disk_faults_in_words, remove_stale_temporaries

if TYPE_CHECKING:
    import geopandas as gpd

METADATA_KEY = b"hotspots.boundary_set"
GEOPARQUET_KEY = b"geo"
# Sets read recently in this process, keyed by the file's identity (a replaced set is a new file,
# so it is read anew): a warm-up worker reads the set once per study, and parsing a set's
# GeoParquet (its CRS above all) costs ~20 ms for London's 704 wards.
_RECENT_SETS = 4
_recent: OrderedDict[tuple, tuple[dict, StoredAreas]] = OrderedDict()
_recent_lock = threading.Lock()


class StoredAreas(AreaSource):
    """A stored set's areas, from its file's bytes; each form is made once and shared by every
    read of the same file (races only make one twice: both are the same)."""

    def __init__(self, data: bytes, metadata: dict[bytes, bytes]) -> None:
        self.data = data
        self.metadata = metadata
        self._columns: AreaColumns | None = None
        self._frame: gpd.GeoDataFrame | None = None

    def columns(self) -> AreaColumns:
        if self._columns is None:
            self._columns = self._read_columns()
        return self._columns

    def frame(self) -> gpd.GeoDataFrame:
        if self._frame is None:
            from geopandas.io.arrow import _arrow_to_geopandas

            # Not gpd.read_parquet: that goes through pyarrow's dataset scanner and its pool
            # threads (see _read_bytes). The table becomes the frame as read_parquet makes it
            # (same function, same "geo" footer: CRS, geometry column).
            table = _read_bytes(self.data)
            self._frame = _arrow_to_geopandas(table)
        return self._frame.copy()  # each set read has its own (callers may add columns)

    def _read_columns(self) -> AreaColumns:
        geo = json.loads(self.metadata.get(GEOPARQUET_KEY, b"{}"))
        column = geo.get("primary_column", "geometry")
        described = geo.get("columns", {}).get(column, {})
        if described.get("encoding", "WKB").upper() != "WKB" or not _wgs84(described):
            # Not how this store writes sets: geopandas reads it.
            return AreaColumns.of(self.frame())
        # Not read_table: read_table imports pyarrow.dataset (a study needs none).
        table = _read_bytes(self.data, columns=["code", "name", column])
        # WKB bytes as a list: to_numpy would import pandas (pipelines/arrow_numpy.py).
        geometries = shapely.from_wkb(table.column(column).to_pylist())
        geometries.setflags(write=False)  # shared by every read of the file
        return AreaColumns(
            codes=tuple(str(code) for code in table.column("code").to_pylist()),
            names=tuple(table.column("name").to_pylist()),
            geometries=np.asarray(geometries, dtype=object),
        )


def _read_bytes(data: bytes, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file held in Python bytes, decoded in this thread.

    Not on Arrow's pool threads: one of them may drop the last reference to the bytes after
    the read has returned, and if the process is exiting by then (a refused command ends at
    once), freeing them takes the GIL during finalisation, which aborts the process after its
    error line ("terminate called without an active exception", exit 134; seen in about 1 of
    10 refused `boundaries load` on a read-only store, and once in CI)."""
    return pq.ParquetFile(pa.BufferReader(data)).read(columns=columns, use_threads=False)


def _wgs84(described: dict) -> bool:
    """Whether a GeoParquet column's CRS is EPSG:4326 (the spec's default when none is given)."""
    crs = described.get("crs", {})
    if crs is None:
        return False  # an explicitly unknown CRS
    identifier = crs.get("id", {}) if isinstance(crs, dict) else {}
    return not crs or (identifier.get("authority") == "EPSG" and identifier.get("code") == 4326)


class BoundaryStore:
    def __init__(self, data_dir: str | os.PathLike) -> None:
        self.root = Path(data_dir) / "boundaries"

    def path(self, name: str) -> Path:
        return self.root / f"{check_name(name)}.parquet"

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def save(self, boundary_set: BoundarySet, replace: bool = False) -> Path:
        """Write the set atomically; refuse to overwrite another set unless ``replace``."""
        path = self.path(boundary_set.name)
        if path.exists() and not replace:
            raise BoundarySetExists(
                f"a boundary set named {quoted(boundary_set.name)} already exists; "
                "choose another --name or pass --replace"
            )
        # geopandas writes the GeoParquet "geo" footer; the set's description is added beside it.
        geoparquet = io.BytesIO()
        boundary_set.areas.to_parquet(geoparquet, index=False)
        table = _read_bytes(geoparquet.getvalue())
        metadata = dict(table.schema.metadata or {})
        metadata[METADATA_KEY] = json.dumps(boundary_set.metadata()).encode()
        remove_stale_temporaries(path)
        with atomic_write(path) as tmp_path:
            pq.write_table(table.replace_schema_metadata(metadata), tmp_path, compression="zstd")
        return path

    def describe(self, name: str) -> dict:
        """The set's description from its footer, without reading geometry."""
        path = self._existing(name)
        metadata = pq.read_schema(path).metadata or {}
        if METADATA_KEY not in metadata:
            raise BoundaryError(f"{path} is not a boundary set written by hotspots")
        return json.loads(metadata[METADATA_KEY])

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.parquet") if not p.name.startswith("."))

    def list(self) -> list[dict]:
        return [self.describe(name) for name in self.names()]

    def read(self, name: str) -> BoundarySet:
        """The set; its GeoDataFrame is read from the file only when ``areas`` is asked for."""
        description, areas = _read_set(self._existing(name))
        return BoundarySet(
            name=description["name"],
            scheme=description["scheme"],
            vintage=description["vintage"],
            areas=areas,
            source=description.get("source", ""),
            code_field=description.get("code_field"),
            name_field=description.get("name_field"),
            notes=description.get("notes", []),
            quality=QualityReport.from_dict(description.get("quality", {})),
            created=description.get("created", ""),
            extra=description.get("extra", {}),
            title=description.get("title", ""),
        )

    def display_name(self, name: str) -> str:
        """The set's title for pages (its code when it has none), from its footer only."""
        return display_name(self.describe(name))

    def delete(self, name: str) -> None:
        path = self._existing(name)
        with disk_faults_in_words(f"boundaries/{path.name}"):  # read-only store: said in words
            path.unlink()

    def _existing(self, name: str) -> Path:
        path = self.path(name)
        if not path.exists():
            known = ", ".join(self.names()) or "none yet"
            raise UnknownBoundarySet(
                f"no boundary set named {quoted(name)} (sets: {known}); "
                "load one with `hotspots boundaries load`"
            )
        return path


def _read_set(path: Path) -> tuple[dict, StoredAreas]:
    """The set's description and its areas (each read builds a GeoDataFrame of its own)."""
    with open(path, "rb") as file:
        # The identity of the open file: what is read below is this file, even if the set is
        # replaced meanwhile (replacing renames a new file over the path).
        stat = os.fstat(file.fileno())
        key = (str(path.resolve()), stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with _recent_lock:
            recent = _recent.get(key)
            if recent is not None:
                _recent.move_to_end(key)
        if recent is None:
            data = file.read()
            metadata = pq.read_schema(pa.BufferReader(data)).metadata or {}
            if METADATA_KEY not in metadata:
                raise BoundaryError(f"{path} is not a boundary set written by hotspots")
            recent = (json.loads(metadata[METADATA_KEY]), StoredAreas(data, metadata))
            with _recent_lock:
                _recent[key] = recent
                while len(_recent) > _RECENT_SETS:
                    _recent.popitem(last=False)
    return recent
