"""The crime store: Parquet files per force and month under ``<data dir>/crimes``, and the
manifest that says which of them make up the current version.

Layout::

    crimes/manifest.json                        the current version (pipelines.store.manifest)
    crimes/<force>/<YYYY-MM>.<hash>.parquet     partition files, never overwritten
    .locks/                                     file locks of writers (pipelines.store.locks)

Readers pin one version with :meth:`CrimeStore.snapshot` and read only through it. Writers
stage new partition files with :meth:`CrimeStore.writer` (holding each force-month's lock) and
publish them together by swapping the manifest. Files the manifest stops naming are deleted
after ``grace_seconds``, long enough for any study that pinned an older version to finish.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.forces import check_force
from pipelines.schema import BASE_H3_RESOLUTION, CRIME_SCHEMA
from pipelines.store.atomic import atomic_write, remove_stale_temporaries, write_content_addressed
from pipelines.store.coverage import METADATA_KEY, PartitionCoverage
from pipelines.store.errors import CorruptPartition, StoreError
from pipelines.store.locks import (
    StoreLock,
    acquire_partition,
    lock_timeout_from_env,
    manifest_lock,
)
from pipelines.store.manifest import MANIFEST_NAME, Manifest, PartitionEntry, load_manifest
from pipelines.store.paths import DATA_DIR_ENV, resolve_data_dir  # noqa: F401 (their old home)
from pipelines.store.region import ROW_GROUP_ROWS, index_cells, region_ordered
from pipelines.store.snapshot import Snapshot, damaged_files

_H3_KEY = b"hotspots.h3_resolution"
_H3_COLUMN = "h3_cell"
# Longer than any study or export runs, so a reader's pinned files outlive it.
DEFAULT_GRACE_SECONDS = 3600.0


# Snapshots pinned by the current request (or other unit of work): store root -> snapshot. A
# context variable, so it follows a request into the thread pool that runs its handler.
_pins: ContextVar[dict[Path, Snapshot] | None] = ContextVar("hotspots_store_pins", default=None)
_pins_lock = threading.Lock()


@contextmanager
def pinned_reads() -> Iterator[None]:
    """Within the block, :meth:`CrimeStore.snapshot` pins one version per store on first use
    and returns it every time after, however deep the code that asks."""
    token = _pins.set({})
    try:
        yield
    finally:
        _pins.reset(token)


class CrimeStore:
    """The store at ``root``. Reading methods read the newest version; a caller that reads more
    than once for one answer pins a :meth:`snapshot` and reads through it."""

    def __init__(
        self,
        root: str | os.PathLike,
        lock_timeout: float | None = None,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ) -> None:
        self.root = Path(root)
        self.crimes_dir = self.root / "crimes"
        self.lock_timeout = lock_timeout_from_env() if lock_timeout is None else lock_timeout
        self.grace_seconds = grace_seconds
        self._pinned: tuple[tuple[int, int, int], Manifest] | None = None
        self._pinned_lock = threading.Lock()
        self._checked: tuple[str, float, dict[str, str]] | None = None  # for problems()
        self._resolved_root: Path | None = None  # the key of pinned_reads (see snapshot)

    # -- versions -------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Pin the current version: every read through the snapshot sees the same files.

        Inside :func:`pinned_reads` (the service wraps each request in it) every call returns
        the same snapshot, so all reads of one answer and its data version agree."""
        pins = _pins.get()
        if pins is None:
            return self.latest()
        key = self._pin_key()
        with _pins_lock:
            snapshot = pins.get(key)
            if snapshot is None:
                snapshot = pins[key] = self.latest()
        return snapshot

    def _pin_key(self) -> Path:
        # Resolved once: a realpath per request was a third of a cached answer's time.
        if self._resolved_root is None:
            self._resolved_root = self.root.resolve()
        return self._resolved_root

    def latest(self) -> Snapshot:
        """The newest version, even inside :func:`pinned_reads` (what a writer builds on)."""
        return Snapshot(self.root, self._current_manifest(), current=self.version)

    def version(self) -> str:
        """The newest data version (the manifest's version)."""
        return self._current_manifest().version

    def _current_manifest(self) -> Manifest:
        # The manifest is replaced by rename, so (inode, size, mtime) changes with every swap:
        # one stat per request instead of parsing the manifest every time.
        try:
            info = (self.crimes_dir / MANIFEST_NAME).stat()
        except FileNotFoundError:
            return load_manifest(self.crimes_dir)  # pre-manifest or empty store: list it
        key = (info.st_ino, info.st_size, info.st_mtime_ns)
        with self._pinned_lock:
            if self._pinned is not None and self._pinned[0] == key:
                return self._pinned[1]
        manifest = load_manifest(self.crimes_dir)
        with self._pinned_lock:
            self._pinned = (key, manifest)
        return manifest

    # -- reading (the newest version) -----------------------------------------------------------

    def partitions(
        self, force: str | None = None, first: str | None = None, last: str | None = None
    ) -> list[tuple[str, str]]:
        return self.snapshot().partitions(force, first, last)

    def forces(self) -> list[str]:
        return self.snapshot().forces()

    def partition_path(self, force: str, month: str) -> Path | None:
        return self.snapshot().partition_path(force, month)

    def coverage_of(self, force: str, month: str) -> PartitionCoverage | None:
        return self.snapshot().coverage_of(force, month)

    def coverage(
        self, force: str | None = None, first: str | None = None, last: str | None = None
    ) -> list[PartitionCoverage]:
        return self.snapshot().coverage(force, first, last)

    def read_partition(self, force: str, month: str) -> pa.Table | None:
        return self.snapshot().read_partition(force, month)

    def read(
        self,
        force: str | None = None,
        first: str | None = None,
        last: str | None = None,
        columns: Iterable[str] | None = None,
    ) -> pa.Table:
        return self.snapshot().read(force, first, last, columns)

    # -- health ---------------------------------------------------------------------------------

    def problems(self, max_age: float = 0.0) -> dict[str, str]:
        """Damaged partition files of the current version (relative name -> what is wrong):
        missing, a size other than written (truncated), or found unreadable by a read in this
        process. Stats files only; with ``max_age`` a check of the same version at most that
        many seconds old is reused (/health is polled)."""
        snapshot = self.latest()
        now = time.monotonic()
        checked = self._checked
        if checked is not None and checked[0] == snapshot.version and now - checked[1] < max_age:
            found = dict(checked[2])
        else:
            found = self._stat_partitions(snapshot)
            self._checked = (snapshot.version, now, dict(found))
        named = set(snapshot.files())
        for file, why in damaged_files(self.root).items():
            if file in named:
                found.setdefault(file, why)
        return dict(sorted(found.items()))

    def _stat_partitions(self, snapshot: Snapshot) -> dict[str, str]:
        found: dict[str, str] = {}
        for entry in snapshot.manifest.partitions.values():
            name = f"crimes/{entry.file}"
            try:
                size = (self.crimes_dir / entry.file).stat().st_size
            except FileNotFoundError:
                found[name] = "missing"
                continue
            if size != entry.bytes:
                found[name] = f"damaged ({size} bytes, {entry.bytes} written)"
        return found

    # -- writing --------------------------------------------------------------------------------

    @contextmanager
    def writer(self) -> Iterator[StoreWriter]:
        """Stage partitions and publish them as one new version when the block ends.

        Each force-month written is locked against other writers (processes too) until then;
        a block that fails publishes nothing."""
        writer = StoreWriter(self)
        try:
            yield writer
            writer.commit()
        finally:
            writer.release()

    def write_partition(self, table: pa.Table, coverage: PartitionCoverage) -> Path:
        """Replace one force-month with ``table`` and publish it (a one-partition writer)."""
        with self.writer() as writer:
            return writer.write(table, coverage)

    def collect_garbage(self, now: float | None = None) -> list[str]:
        """Delete partition files no manifest has named for ``grace_seconds``, and what killed
        writers left behind that long; returns what was deleted (relative names)."""
        with manifest_lock(self.root):
            manifest = load_manifest(self.crimes_dir)
            if manifest.listed:
                return []  # nothing is retired before the first manifest exists
            deleted, kept_retired = self._collect(manifest, time.time() if now is None else now)
            if kept_retired != manifest.retired:
                self._save(replace(manifest, retired=kept_retired))
        return deleted

    def _collect(self, manifest: Manifest, now: float) -> tuple[list[str], dict[str, float]]:
        named = {entry.file for entry in manifest.partitions.values()}
        cutoff = now - self.grace_seconds
        deleted: list[str] = []
        kept_retired: dict[str, float] = {}
        for file, retired_at in manifest.retired.items():
            if file in named:
                continue  # the same bytes were written again: in use once more
            path = self.crimes_dir / file
            if not path.exists():
                continue
            # The file's own time too: a writer may have just written the same bytes again.
            if retired_at < cutoff and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                deleted.append(f"crimes/{file}")
            else:
                kept_retired[file] = retired_at
        for force_dir in self.crimes_dir.iterdir() if self.crimes_dir.is_dir() else []:
            if not force_dir.is_dir():
                continue
            for path in force_dir.iterdir():
                relative = f"{force_dir.name}/{path.name}"
                if relative in named or relative in kept_retired:
                    continue
                # Never committed: a killed writer's file, or a writer still staging (younger).
                try:
                    written = path.stat().st_mtime
                except FileNotFoundError:
                    # A worker's temporary file, renamed meanwhile (an archive ingest publishing
                    # a batch while its workers write the next: the ingest failed on it).
                    continue
                if written < cutoff:
                    path.unlink(missing_ok=True)
                    deleted.append(f"crimes/{relative}")
        return deleted, kept_retired

    def _save(self, manifest: Manifest) -> None:
        with atomic_write(self.crimes_dir / MANIFEST_NAME) as tmp:
            tmp.write_text(manifest.to_json(), encoding="utf-8")


# Dictionary encoding only where values repeat (not IDs, LSOAs or streets), and min/max
# statistics only for the column reads prune by: both cost time at every write for nothing.
_DICTIONARY_COLUMNS = [
    "month",
    "force",
    "reported_by",
    "falls_within",
    "category",
    "last_outcome",
    "context",
    "source",
]
# LZ4 for every column but the Crime ID: 64 random hex digits, which LZ4 cannot shrink (1.6 %
# larger files uncompressed) while compressing them was 15 % of a partition's write time.
_COMPRESSION = {name: "none" if name == "crime_id" else "lz4" for name in CRIME_SCHEMA.names}


def write_partition_file(
    crimes_dir: Path, table: pa.Table, coverage: PartitionCoverage, durable: bool = True
) -> PartitionEntry:
    """Write ``table`` as a new, unpublished file of its force-month under ``crimes_dir``
    (sorted by H3 cell, content-addressed) and return its manifest entry. ``durable=False``:
    not yet flushed to the disk; the publishing process calls ``atomic.flush_files`` and
    ``atomic.flush_folders`` on it before the manifest names it.

    ``table`` has the canonical schema, except that text columns may come dictionary-encoded
    (an archive ingest's do); the file reads back as the canonical schema either way.

    The caller must hold the force-month's lock (:meth:`StoreWriter.lock`), in this process or
    in the one it works for, and publish the entry with :meth:`StoreWriter.add`."""
    if not _canonical(table.schema):
        raise StoreError(f"rows do not match the canonical schema:\n{table.schema}")
    if coverage.stored != table.num_rows:
        raise StoreError(
            f"coverage says {coverage.stored} rows stored but the table has {table.num_rows}"
        )
    force, month = check_force(coverage.force), coverage.month
    directory = crimes_dir / force
    # The force-month's lock is held: temporaries of it are a killed writer's.
    remove_stale_temporaries(directory / f"{month}.parquet")
    table = region_ordered(table).replace_schema_metadata(None)
    # Written in memory, then to disk once: the content's hash needs no read back.
    sink = pa.BufferOutputStream()
    # Without the Arrow schema in the footer (store_schema=False): it would record the
    # dictionary-encoded columns as such and readers would get them back so. Parquet's own
    # types read back as the canonical schema (text, int64, float64, uint64); the coverage
    # record and H3 resolution go in the footer's key-value metadata as before.
    with pq.ParquetWriter(
        sink,
        table.schema,
        compression=_COMPRESSION,
        use_dictionary=_DICTIONARY_COLUMNS,
        write_statistics=[_H3_COLUMN],
        store_schema=False,
    ) as parquet:
        parquet.write_table(table, row_group_size=ROW_GROUP_ROWS)
        parquet.add_key_value_metadata(
            {METADATA_KEY: coverage.to_json().encode(), _H3_KEY: str(BASE_H3_RESOLUTION).encode()}
        )
    content = sink.getvalue()
    path = write_content_addressed(directory, month, ".parquet", memoryview(content), durable)
    return PartitionEntry(
        force,
        month,
        f"{force}/{path.name}",
        content.size,
        coverage,
        index_cells(table[_H3_COLUMN], presorted=True),
    )


def _canonical(schema: pa.Schema) -> bool:
    """Whether ``schema`` is CRIME_SCHEMA, text columns dictionary-encoded or not."""
    if schema.names != CRIME_SCHEMA.names:
        return False
    for field, expected in zip(schema, CRIME_SCHEMA, strict=True):
        kind = field.type
        if pa.types.is_dictionary(kind) and kind.value_type == pa.string():
            kind = pa.string()
        if kind != expected.type:
            return False
    return True


class StoreWriter:
    """Partitions staged by one ingest; see :meth:`CrimeStore.writer`. Thread-safe: an archive
    ingest writes from a pool of threads."""

    def __init__(self, store: CrimeStore) -> None:
        self.store = store
        self._staged: dict[tuple[str, str], PartitionEntry] = {}
        self._locks: dict[tuple[str, str], StoreLock] = {}
        self._guard = threading.Lock()

    def lock(self, force: str, month: str) -> None:
        """Hold ``force`` ``month`` against other writers until the writer ends (waits up to the
        store's lock timeout, then raises PartitionLocked). Take it before reading a partition
        that the new one is built from, so no other ingest's rows are lost in between."""
        key = (check_force(force), month)
        with self._guard:
            if key in self._locks:
                return
        lock = acquire_partition(self.store.root, key[0], month, self.store.lock_timeout)
        with self._guard:
            self._locks[key] = lock

    def current(self, force: str, month: str) -> pa.Table | None:
        """The stored rows of ``force`` ``month`` (locked first), to build a new partition on."""
        self.lock(force, month)
        return self.store.latest().read_partition(force, month)

    def current_coverage(self, force: str, month: str) -> PartitionCoverage | None:
        self.lock(force, month)
        return self.store.latest().coverage_of(force, month)

    def write(self, table: pa.Table, coverage: PartitionCoverage) -> Path:
        """Write ``table`` as the new file of its force-month; published at commit."""
        self.lock(check_force(coverage.force), coverage.month)
        entry = write_partition_file(self.store.crimes_dir, table, coverage)
        self.add(entry)
        return self.store.crimes_dir / entry.file

    def add(self, entry: PartitionEntry) -> None:
        """Stage a partition file written by :func:`write_partition_file` while this writer
        held its force-month's lock (an archive ingest's worker processes write them)."""
        key = (entry.force, entry.month)
        with self._guard:
            if key not in self._locks:
                raise StoreError(f"{entry.force} {entry.month} was written without its lock")
            self._staged[key] = entry

    @property
    def staged(self) -> int:
        """Partitions written and not yet published."""
        with self._guard:
            return len(self._staged)

    def commit(self) -> str:
        """Publish the partitions staged so far as a new manifest and release their locks (the
        writer can go on writing); returns the new data version."""
        store = self.store
        with self._guard:
            staged = dict(self._staged)
        with manifest_lock(store.root):
            current = load_manifest(store.crimes_dir)
            if not staged:
                return current.version
            partitions = dict(current.partitions)
            retired = dict(current.retired)
            now = time.time()
            for key, entry in staged.items():
                if not (store.crimes_dir / entry.file).exists():
                    raise CorruptPartition(f"crimes/{entry.file}", "missing before publishing")
                old = partitions.get(key)
                if old is not None and old.file != entry.file:
                    retired[old.file] = now
                retired.pop(entry.file, None)
                partitions[key] = entry
            if current.listed:  # first manifest of a pre-manifest store: record coverage
                snapshot = Snapshot(store.root, current)
                for key, entry in list(partitions.items()):
                    if entry.coverage is None:
                        partitions[key] = replace(entry, coverage=snapshot.coverage_of(*key))
            manifest = Manifest(partitions, retired)
            _, kept_retired = store._collect(manifest, now)
            manifest = replace(manifest, retired=kept_retired)
            store._save(manifest)
        with self._guard:
            published = [k for k, e in staged.items() if self._staged.get(k) is e]
            for key in published:
                del self._staged[key]
            locks = [self._locks.pop(key) for key in published if key in self._locks]
        for lock in locks:
            lock.release()
        return manifest.version

    def release(self) -> None:
        with self._guard:
            locks, self._locks = list(self._locks.values()), {}
        for lock in locks:
            lock.release()
