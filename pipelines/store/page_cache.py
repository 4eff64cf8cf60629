"""Leave bytes that are read or written once out of the kernel's page cache.

An archive ingest reads each police.uk CSV once and writes each partition once: for a national
archive, 3.7 GB read and 1.1 GB written. Left cached, they push out the pages the service reads
again and again (recent partitions, boundary sets, the caches), and the kernel must bring 4.8 GB
of memory into use for them, page by page. Dropped as soon as each file is done (its written
pages after they are flushed to the disk), the same few pages serve file after file.

Measured on the replicated national archive (16.2 M rows), ingested just after it was written or
after the page cache was emptied, 2 cores: 18-22 s wall with 11-18 s of kernel CPU before, 13-14 s
with 2.4 s after. Most of that kernel time was copying into memory not used before (the host of a
virtual machine like this one supplies such memory lazily); with a warm cache both ran in 12 s.
"""

from __future__ import annotations

import contextlib
import os

_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", None)  # Linux and BSDs; not macOS or Windows


def forget_cached_pages(fd: int, offset: int = 0, length: int = 0) -> None:
    """Advise the kernel that bytes ``offset`` to ``offset + length`` (``length`` 0: to the end)
    of the open file ``fd`` will not be read again soon, so their cached pages are dropped now.

    Advice only: nothing happens where the system has no ``posix_fadvise`` or the file system
    keeps its files in memory (tmpfs), and pages not yet written to the disk stay until they are.
    """
    if _DONTNEED is None:
        return
    # Advice a file system cannot take changes nothing the caller relies on.
    with contextlib.suppress(OSError):
        os.posix_fadvise(fd, offset, length, _DONTNEED)
