"""The store manifest: the list of partition files that make up one version of the store.

``<data dir>/crimes/manifest.json`` names, for every force and month, the one Parquet file that
holds it (with its size and coverage record). Partition files are never overwritten: a new
month gets a new content-addressed file, and a new manifest is swapped in by one atomic rename.
So the manifest's version names exactly the files a reader sees, and a reader that pinned a
manifest keeps reading the same files while ingests run. Files a newer manifest no longer names
are listed as retired, with the time, and deleted once no reader can still be using them.

A store written before manifests existed (``<force>/<YYYY-MM>.parquet`` and no manifest) is read
by listing its files; the first write turns that listing into a manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.months import is_month
from pipelines.store.coverage import METADATA_KEY, PartitionCoverage
from pipelines.store.errors import CorruptPartition, StoreUnavailable

if TYPE_CHECKING:
    from pipelines.store.region import PartitionIndex

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
_ENTRY_KEYS = ("force", "month", "file", "bytes", "coverage", "h3_parents")


@dataclass(frozen=True)
class PartitionEntry:
    force: str
    month: str
    file: str  # relative to the crimes folder: "<force>/<month>.<sha256[:16]>.parquet"
    bytes: int  # the file's size when written: a different size means a damaged file
    coverage: PartitionCoverage | None = None  # None only for a listed pre-manifest store
    # The H3 cells at INDEX_RESOLUTION (pipelines.store.region) that hold the partition's
    # located rows, as hex strings: a region read skips the partition without opening it when
    # none of them meets the region. None (files written before the index): always opened.
    h3_parents: tuple[str, ...] | None = None

    def to_dict(self) -> dict:
        return dict(self._as_dict)

    @cached_property
    def _as_dict(self) -> dict:
        # Once per entry: an archive ingest writes the manifest again every batch, and most
        # of its entries are the same objects each time.
        coverage = asdict(self.coverage) if self.coverage else None
        item = {
            "force": self.force,
            "month": self.month,
            "file": self.file,
            "bytes": self.bytes,
            "coverage": coverage,
        }
        if self.h3_parents is not None:
            item["h3_parents"] = list(self.h3_parents)
        return item

    @classmethod
    def from_dict(cls, item: dict) -> PartitionEntry:
        coverage = item.get("coverage")
        parents = item.get("h3_parents")
        entry = cls(
            force=item["force"],
            month=item["month"],
            file=item["file"],
            bytes=int(item["bytes"]),
            coverage=PartitionCoverage(**coverage) if coverage else None,
            h3_parents=tuple(parents) if parents is not None else None,
        )
        # The dictionary it was read from is the one it writes: an ingest that publishes in
        # batches reads the manifest back before every swap, and turning each entry into a
        # dictionary again (asdict) made the swaps of a national ingest grow with the square
        # of its partitions.
        entry.__dict__["_as_dict"] = {key: item[key] for key in _ENTRY_KEYS if key in item}
        return entry


@dataclass(frozen=True)
class Manifest:
    partitions: dict[tuple[str, str], PartitionEntry] = field(default_factory=dict)
    retired: dict[str, float] = field(default_factory=dict)  # file -> when it stopped being used
    listed: bool = False  # built by listing a pre-manifest store, not read from a manifest

    @cached_property
    def version(self) -> str:
        """16 hex digits of SHA-256 over every (force, month, file): the same files always give
        the same version, and any replaced partition gives a new one. Worked out once per
        manifest (a manifest is never changed in place): every request asks for it."""
        digest = hashlib.sha256()
        for (force, month), entry in sorted(self.partitions.items()):
            digest.update(f"{force}/{month}={entry.file}:{entry.bytes}\n".encode())
        return digest.hexdigest()[:16]

    @cached_property
    def region_index(self) -> PartitionIndex:
        """The partitions' H3 index (pipelines.store.region), built once per manifest."""
        from pipelines.store.region import PartitionIndex

        keys = list(self.partitions)
        return PartitionIndex(keys, [self.partitions[key].h3_parents for key in keys])

    def to_json(self) -> str:
        body = {
            "format": MANIFEST_FORMAT,
            "version": self.version,
            "partitions": [e.to_dict() for _, e in sorted(self.partitions.items())],
            "retired": dict(sorted(self.retired.items())),
        }
        # One line: the C encoder (indent would use the pure-Python one, ~10x slower).
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        body = json.loads(text)
        if body.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"unknown manifest format {body.get('format')!r}")
        entries = [PartitionEntry.from_dict(item) for item in body["partitions"]]
        retired = {str(k): float(v) for k, v in body.get("retired", {}).items()}
        return cls({(e.force, e.month): e for e in entries}, retired)


def load_manifest(crimes_dir: Path) -> Manifest:
    """The current manifest, or a listing of a pre-manifest store, or an empty manifest."""
    path = crimes_dir / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return list_legacy_store(crimes_dir)
    try:
        return Manifest.from_json(text)
    except (ValueError, KeyError, TypeError) as error:
        raise StoreUnavailable(
            f"the crime store's manifest crimes/{MANIFEST_NAME} is unreadable ({error}); "
            "restore it from a backup or re-ingest into an empty data folder"
        ) from None


def list_legacy_store(crimes_dir: Path) -> Manifest:
    """A manifest for ``<force>/<YYYY-MM>.parquet`` files written before manifests existed."""
    if not crimes_dir.is_dir():
        return Manifest(listed=True)
    entries = {}
    for force_dir in sorted(crimes_dir.iterdir()):
        if not force_dir.is_dir() or force_dir.name.startswith("."):
            continue
        for file in force_dir.glob("*.parquet"):
            if is_month(file.stem):
                relative = f"{force_dir.name}/{file.name}"
                entries[(force_dir.name, file.stem)] = PartitionEntry(
                    force_dir.name, file.stem, relative, file.stat().st_size
                )
    return Manifest(entries, listed=True)


def read_footer_coverage(crimes_dir: Path, entry: PartitionEntry) -> PartitionCoverage:
    """The coverage record in a partition's Parquet footer (for listed pre-manifest stores)."""
    import pyarrow.parquet as pq  # only listed pre-manifest stores read footers

    name = f"crimes/{entry.file}"
    try:
        metadata = pq.read_schema(crimes_dir / entry.file).metadata or {}
    except FileNotFoundError:
        raise CorruptPartition(name, "missing") from None
    except (OSError, ValueError) as error:
        raise CorruptPartition(name, f"unreadable ({type(error).__name__})") from None
    if METADATA_KEY not in metadata:
        raise CorruptPartition(name, "without its coverage record")
    return PartitionCoverage.from_json(metadata[METADATA_KEY])
