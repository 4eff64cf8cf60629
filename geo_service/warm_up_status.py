"""The warm-up's progress as ``/health`` reports it, the same from every server process.

With ``hotspots serve --workers N`` one process warms the cache they share (the one holding the
lock, geo_service.precompute); the others would only know that it happens "elsewhere". So the
warming process publishes its progress in the shared cache folder (``warm_up.json``, replaced
atomically: a reader sees the old status or the new one, never half), and the others report
what it says. The file names the server it belongs to (the workers' parent process) and the
warming process, so a status left by an earlier server, or by a warmer that died, is not taken
for news: that is "elsewhere", as before.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from pipelines.store.atomic import atomic_write
from pipelines.store.errors import StoreWriteError

STATUS_FILE = "warm_up.json"

log = logging.getLogger("hotspots.precompute")


def status_of(state: str, report: Any, started_at: float) -> dict[str, Any]:
    """/health's ``warm_up`` fields for a report (geo_service.precompute.PrecomputeReport):
    ``seconds`` from the wall-clock start while warming, the run's own time after."""
    seconds = time.time() - started_at if state == "warming" else report.seconds
    return {
        "state": state,
        "studies": report.requests,
        "done": report.done,
        "computed": report.computed,
        "refused": len(report.failed),
        "seconds": round(seconds, 1),
    }


class SharedWarmUp:
    """Publishes one warming process's status for its sibling processes, and keeps what it
    published: the warming process reports that same status, so /health never goes backwards
    when consecutive requests reach different processes (its own live counters run ahead of
    the file between two writes). One small write per study finished, none dropped."""

    def __init__(self, cache_dir: Path) -> None:
        self.path = Path(cache_dir) / STATUS_FILE
        self._lock = threading.Lock()
        self._published: dict[str, Any] | None = None
        self._writable = True

    def publish(self, status: dict[str, Any], started_at: float) -> None:
        body = {
            **status,
            "started_at": started_at,
            "server": os.getppid(),
            "warmer": os.getpid(),
        }
        with self._lock:  # the file and what this process reports change together
            if self._writable:
                try:
                    with atomic_write(self.path) as tmp:
                        tmp.write_bytes(json.dumps(body).encode())
                except (OSError, StoreWriteError) as error:  # read-only: the others say
                    log.warning(  # "elsewhere"; this process reports its own counters
                        "cannot share the warm-up progress in %s: %s", self.path, error
                    )
                    self._writable = False
            self._published = dict(status)

    def published(self) -> dict[str, Any] | None:
        """The last status published (what the sibling processes read), or None before any."""
        with self._lock:
            return None if self._published is None else dict(self._published)


def shared_status(cache_dir: Path) -> dict[str, Any] | None:
    """The progress a sibling process published, or None: no file, one of another server
    (an earlier run), or one whose warming process is gone."""
    try:
        body = json.loads((Path(cache_dir) / STATUS_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(body, dict) or body.get("server") != os.getppid():
        return None
    if body.get("state") == "warming" and not _alive(body.get("warmer")):
        return None  # it died warming: its last word is not the state now
    fields = ("state", "studies", "done", "computed", "refused", "seconds")
    status = {name: body.get(name) for name in fields}
    if status["state"] == "warming" and isinstance(body.get("started_at"), int | float):
        status["seconds"] = round(time.time() - body["started_at"], 1)
    return status


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
