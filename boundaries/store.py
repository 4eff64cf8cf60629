"""Boundary sets on disk: ``<data dir>/boundaries/<name>.parquet``, one GeoParquet file per set.

The set's description (scheme, vintage, source, notes, overlap/gap report) travels in the same
file's footer (``hotspots.boundary_set``), so a set and its description are replaced together by
one rename: readers see the old set or the new one, never a mix.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path

import geopandas as gpd
import pyarrow as pa
import pyarrow.parquet as pq

from boundaries.errors import BoundaryError, BoundarySetExists, UnknownBoundarySet
from boundaries.quality import QualityReport
from boundaries.sets import BoundarySet, check_name, display_name
from pipelines.quoting import quoted
from pipelines.store.atomic import atomic_write, disk_faults_in_words, remove_stale_temporaries

METADATA_KEY = b"hotspots.boundary_set"
# Sets read recently in this process, keyed by the file's identity (a replaced set is a new file,
# so it is read anew): a warm-up worker reads the set once per study, and parsing a set's
# GeoParquet (its CRS above all) costs ~20 ms for London's 704 wards.
_RECENT_SETS = 4
_recent: OrderedDict[tuple, tuple[dict, gpd.GeoDataFrame]] = OrderedDict()
_recent_lock = threading.Lock()


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
        table = pq.read_table(pa.BufferReader(geoparquet.getvalue()))
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


def _read_set(path: Path) -> tuple[dict, gpd.GeoDataFrame]:
    """The set's description and a copy of its areas (callers may add columns to theirs)."""
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
            data = pa.BufferReader(file.read())
            metadata = pq.read_schema(data).metadata or {}
            if METADATA_KEY not in metadata:
                raise BoundaryError(f"{path} is not a boundary set written by hotspots")
            recent = (json.loads(metadata[METADATA_KEY]), gpd.read_parquet(data))
            with _recent_lock:
                _recent[key] = recent
                while len(_recent) > _RECENT_SETS:
                    _recent.popitem(last=False)
    description, areas = recent
    return description, areas.copy()
