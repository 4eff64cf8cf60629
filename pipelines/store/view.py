"""What one version of the store holds, from its manifest alone: forces, months, files, coverage.

No pyarrow: a command that only needs to know the data version and the stored months (the
CLI's answer from the study cache) reads the manifest and nothing else. :class:`Snapshot` is
this view plus the methods that read rows.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.forces import check_force
from pipelines.months import in_range
from pipelines.store.coverage import PartitionCoverage
from pipelines.store.manifest import Manifest, load_manifest, read_footer_coverage


class ManifestView:
    """One manifest held in memory; ``version`` is the data version it names."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.crimes_dir = root / "crimes"
        self.manifest = manifest
        self.version = manifest.version

    @classmethod
    def current(cls, root: Path) -> ManifestView:
        """The store's current version at ``root`` (the manifest on disk now)."""
        return cls(Path(root), load_manifest(Path(root) / "crimes"))

    def snapshot(self) -> ManifestView:
        """Itself: code that pins a snapshot at its top accepts a store or a snapshot."""
        return self

    def files(self) -> list[str]:
        """Every partition file of this version, relative to the data folder."""
        return [f"crimes/{e.file}" for _, e in sorted(self.manifest.partitions.items())]

    def partitions(
        self, force: str | None = None, first: str | None = None, last: str | None = None
    ) -> list[tuple[str, str]]:
        """(force, month) of every partition in this version, sorted."""
        wanted = check_force(force) if force else None
        return sorted(
            key
            for key in self.manifest.partitions
            if (wanted is None or key[0] == wanted) and in_range(key[1], first, last)
        )

    def forces(self) -> list[str]:
        return sorted({force for force, _ in self.manifest.partitions})

    def partition_path(self, force: str, month: str) -> Path | None:
        """The file holding ``force`` ``month`` in this version, or None when it is not held."""
        # A held key is a valid slug: check only the others (callers loop over every partition).
        entry = self.manifest.partitions.get((force, month))
        if entry is None:
            check_force(force)
            return None
        return self.crimes_dir / entry.file

    def coverage_of(self, force: str, month: str) -> PartitionCoverage | None:
        entry = self.manifest.partitions.get((check_force(force), month))
        if entry is None:
            return None
        if entry.coverage is not None:
            return entry.coverage
        return read_footer_coverage(self.crimes_dir, entry)

    def coverage(
        self, force: str | None = None, first: str | None = None, last: str | None = None
    ) -> list[PartitionCoverage]:
        """Coverage records of this version's partitions (from the manifest: no file reads)."""
        records = []
        for part_force, month in self.partitions(force, first, last):
            record = self.coverage_of(part_force, month)
            if record is not None:
                records.append(record)
        return records
