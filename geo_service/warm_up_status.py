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
import time
from pathlib import Path
from typing import Any

from pipelines.store.atomic import atomic_write
from pipelines.store.errors import StoreWriteError

STATUS_FILE = "warm_up.json"
# At most one write a this many seconds while warming (each study finishing would be one).
_PUBLISH_EVERY = 0.5

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
    """Publishes one warming process's status for its sibling processes (throttled)."""

    def __init__(self, cache_dir: Path) -> None:
        self.path = Path(cache_dir) / STATUS_FILE
        self._last = 0.0

    def publish(self, status: dict[str, Any], started_at: float, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < _PUBLISH_EVERY:
            return
        self._last = now
        body = {
            **status,
            "started_at": started_at,
            "server": os.getppid(),
            "warmer": os.getpid(),
        }
        try:
            with atomic_write(self.path) as tmp:
                tmp.write_bytes(json.dumps(body).encode())
        except (OSError, StoreWriteError) as error:  # read-only: the others say "elsewhere"
            log.warning("cannot share the warm-up progress in %s: %s", self.path, error)


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
