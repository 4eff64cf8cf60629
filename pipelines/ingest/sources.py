"""Where each force's crimes came from, so ``hotspots update`` can ask the same source again.

``<data dir>/sources.json`` lists the API areas ingested per force (the geometry itself, as
WKB: a partition's provenance keeps only the area's fingerprint and bounds) and the archive
folder or zip each force was last loaded from. Ingests add to it; the file is replaced atomically.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import shapely
from shapely.geometry.base import BaseGeometry

from pipelines.ingest.api_area import area_fingerprint
from pipelines.store.atomic import atomic_write

SOURCES_FILE = "sources.json"


class SourcesError(ValueError):
    """The sources record cannot be read; the message says how to rebuild it."""


@dataclass(frozen=True)
class ApiArea:
    force: str
    fingerprint: str  # api_area.area_fingerprint: matches the partitions' provenance entries
    wkb_hex: str  # the geometry, EPSG:4326, exactly (the fingerprint is recomputed from it)
    base_url: str  # where it was first fetched from (for the record; update asks its own URL)

    def shape(self) -> BaseGeometry:
        return shapely.from_wkb(bytes.fromhex(self.wkb_hex))


@dataclass(frozen=True)
class ArchiveSource:
    force: str
    path: str  # absolute path of the folder or zip


@dataclass
class Sources:
    api_areas: list[ApiArea] = field(default_factory=list)
    archives: list[ArchiveSource] = field(default_factory=list)

    def areas_of(self, force: str) -> list[ApiArea]:
        return [area for area in self.api_areas if area.force == force]

    def archive_of(self, force: str) -> ArchiveSource | None:
        return next((a for a in self.archives if a.force == force), None)


def read_sources(data_dir: Path) -> Sources:
    path = Path(data_dir) / SOURCES_FILE
    if not path.exists():
        return Sources()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Sources(
            api_areas=[ApiArea(**item) for item in raw.get("api_areas", [])],
            archives=[ArchiveSource(**item) for item in raw.get("archives", [])],
        )
    except (ValueError, TypeError) as error:
        raise SourcesError(
            f"{path} is damaged ({error}); delete it and ingest each area or archive once more"
        ) from None


def _write(data_dir: Path, sources: Sources) -> None:
    body = {
        "api_areas": [asdict(a) for a in sorted(sources.api_areas, key=_area_key)],
        "archives": [asdict(a) for a in sorted(sources.archives, key=lambda a: a.force)],
    }
    with atomic_write(Path(data_dir) / SOURCES_FILE) as tmp:
        tmp.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _area_key(area: ApiArea) -> tuple[str, str]:
    return (area.force, area.fingerprint)


def record_api_area(data_dir: Path, force: str, area: BaseGeometry, base_url: str) -> None:
    """Remember an ingested API area (once per force and geometry)."""
    sources = read_sources(data_dir)
    fingerprint = area_fingerprint(area)
    if any(_area_key(a) == (force, fingerprint) for a in sources.api_areas):
        return
    wkb_hex = shapely.to_wkb(area, hex=True, output_dimension=2)
    sources.api_areas.append(ApiArea(force, fingerprint, wkb_hex, base_url))
    _write(data_dir, sources)


def record_archive(data_dir: Path, forces: list[str], path: Path) -> None:
    """Remember the archive each force was last loaded from."""
    sources = read_sources(data_dir)
    where = str(Path(path).resolve())
    kept = [a for a in sources.archives if a.force not in forces]
    updated = kept + [ArchiveSource(force, where) for force in forces]
    if sorted(updated, key=lambda a: a.force) == sorted(sources.archives, key=lambda a: a.force):
        return
    sources.archives = updated
    _write(data_dir, sources)
