"""Find street-level CSVs in a folder or zip laid out like the data.police.uk archive.

The archive holds ``YYYY-MM/YYYY-MM-<force>-street.csv`` (plus outcomes and stop-and-search files,
which this product does not use). Force and month come from the file name.
"""

from __future__ import annotations

import functools
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.months import in_range
from pipelines.store.page_cache import forget_cached_pages

_STREET_FILE = re.compile(
    r"^(?P<month>[0-9]{4}-(?:0[1-9]|1[0-2]))-(?P<force>[a-z0-9-]+?)-street\.csv$"
)
_LOCAL_HEADER_BYTES = 30  # a zip member's local header before its name and extra field
_OTHER_ARCHIVE_FILE = re.compile(r"-(outcomes|stop-and-search)\.csv$")


class ArchiveError(Exception):
    """The path given is not something we can read as a police.uk archive."""


@dataclass(frozen=True)
class StreetFile:
    force: str
    month: str
    name: str  # path inside the archive, for messages and provenance
    read: Callable[[], bytes]  # picklable: worker processes read the files they prepare
    size: int = 0  # bytes, uncompressed


@dataclass
class ArchiveListing:
    street_files: list[StreetFile]
    ignored: list[str] = field(default_factory=list)  # CSVs that are not street-level crime
    # Folders named like CSV files (2023-01/2023-01-kent-street.csv/): skipped, as no file
    # can be read from them, and named so that a month missing for that reason is not a mystery.
    folders: list[str] = field(default_factory=list)
    forces: list[str] = field(default_factory=list)
    months: list[str] = field(default_factory=list)

    def within(self, first: str | None, last: str | None) -> ArchiveListing:
        """The files of months ``first``..``last`` (the listing :func:`list_archive` gives for
        them, without reading the archive's folder or zip again)."""
        files = [f for f in self.street_files if in_range(f.month, first, last)]
        return ArchiveListing(
            files,
            ignored=self.ignored,
            folders=self.folders,
            forces=sorted({f.force for f in files}),
            months=sorted({f.month for f in files}),
        )


def list_archive(
    path: Path, force: str | None = None, first: str | None = None, last: str | None = None
) -> ArchiveListing:
    """Street-level files in ``path`` for the force and months asked; errors say what was found."""
    if not path.exists():
        raise ArchiveError(f"{path} does not exist; give a folder or .zip from data.police.uk")
    if path.is_dir():
        entries, folders = _folder_entries(path)
    elif zipfile.is_zipfile(path):
        entries, folders = _zip_entries(path)
    elif _starts_like_zip(path):
        raise ArchiveError(
            f"{path} starts like a zip archive but its end is missing: the download was cut "
            "short or the file is damaged; download it again"
        )
    else:
        raise ArchiveError(
            f"{path} is neither a folder nor a zip archive; give the unzipped folder or the .zip "
            "downloaded from data.police.uk"
        )

    found: list[StreetFile] = []
    ignored: list[str] = []
    for name, reader, size in entries:
        base = name.rsplit("/", 1)[-1]
        match = _STREET_FILE.match(base)
        if match:
            found.append(StreetFile(match["force"], match["month"], name, reader, size))
        elif base.lower().endswith(".csv"):
            ignored.append(name)
    folders = [name for name in folders if not is_other_archive_file(name)]
    if not found:
        named = f"; {_folders_said(folders)}" if folders else ""
        raise ArchiveError(
            f"no street-level files (YYYY-MM/YYYY-MM-<force>-street.csv) in {path}{named}"
        )

    all_forces = sorted({f.force for f in found})
    all_months = sorted({f.month for f in found})
    if force and force not in all_forces:
        raise ArchiveError(
            f"no files for force {force!r} in {path}; it holds: {', '.join(all_forces)}"
        )
    selected = [
        f for f in found if (force is None or f.force == force) and in_range(f.month, first, last)
    ]
    if not selected:
        raise ArchiveError(
            f"no street-level files for months {first or 'start'}..{last or 'end'} in {path}; "
            f"it holds {all_months[0]}..{all_months[-1]}"
        )
    _reject_duplicates(selected)
    selected.sort(key=lambda f: (f.force, f.month))
    return ArchiveListing(
        selected,
        ignored=sorted(ignored),
        folders=folders,
        forces=sorted({f.force for f in selected}),
        months=sorted({f.month for f in selected}),
    )


def _starts_like_zip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def _reject_duplicates(files: list[StreetFile]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for file in files:
        key = (file.force, file.month)
        if key in seen:
            raise ArchiveError(
                f"two files for {file.force} {file.month}: {seen[key]} and {file.name}; "
                "remove one so the month is not counted twice"
            )
        seen[key] = file.name


_Entry = tuple[str, Callable[[], bytes], int]


def _folders_said(folders: list[str]) -> str:
    """The words for folders named like CSV files, for the error that nothing was found."""
    shown = ", ".join(folders[:3]) + (f" and {len(folders) - 3} more" if len(folders) > 3 else "")
    if len(folders) == 1:
        return f"{shown} is a folder, not a CSV file"
    return f"{shown} are folders, not CSV files"


def _folder_entries(folder: Path) -> tuple[list[_Entry], list[str]]:
    """The CSV files under ``folder``, and the folders named like CSV files (sorted)."""
    entries: list[_Entry] = []
    folders: list[str] = []
    for csv_path in sorted(folder.rglob("*.csv")):
        name = csv_path.relative_to(folder).as_posix()
        if csv_path.is_file():
            entries.append((name, functools.partial(_read_once, csv_path), csv_path.stat().st_size))
        elif csv_path.is_dir():
            folders.append(name)
    return entries, folders


def _zip_entries(zip_path: Path) -> tuple[list[_Entry], list[str]]:
    """:func:`_folder_entries` of a zip: its CSV members, and its folders named like them."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as error:
        raise ArchiveError(f"{zip_path} is a damaged zip archive: {error}") from error
    members = [i for i in infos if not i.filename.endswith("/")]
    entries = [
        (info.filename, functools.partial(_read_member, zip_path, info.filename), info.file_size)
        for info in sorted(members, key=lambda i: i.filename)
        if info.filename.lower().endswith(".csv")
    ]
    folders = sorted(i.filename.rstrip("/") for i in infos if i.filename.lower().endswith(".csv/"))
    return entries, folders


def _read_once(path: Path) -> bytes:
    """The file's bytes, its pages then dropped from the page cache: an ingest reads each file
    once (``pipelines.store.page_cache``)."""
    with open(path, "rb") as handle:
        data = handle.read()
        forget_cached_pages(handle.fileno())
    return data


def _read_member(zip_path: Path, member: str) -> bytes:
    """A zip member's bytes, and the member's span of the zip then dropped from the page cache,
    as :func:`_read_once` does for a file."""
    with open(zip_path, "rb") as handle, zipfile.ZipFile(handle) as archive:
        info = archive.getinfo(member)
        data = archive.read(info)
        # The member's local header, as long as its entry in the central directory says, and
        # its compressed bytes: pages shared with the next member's header are kept.
        header = _LOCAL_HEADER_BYTES + len(info.filename.encode()) + len(info.extra)
        forget_cached_pages(handle.fileno(), info.header_offset, header + info.compress_size)
    return data


def is_other_archive_file(name: str) -> bool:
    """Outcomes and stop-and-search files: expected in an archive, not crimes."""
    return bool(_OTHER_ARCHIVE_FILE.search(name))
