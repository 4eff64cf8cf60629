"""Service settings, from the environment (or given directly in tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from geo_service.admission import DEFAULT_DEADLINE, DEFAULT_QUEUE, default_workers
from pipelines.cache.disk import DEFAULT_CACHE_BYTES, cache_bytes_from_env, cache_dir_for
from pipelines.store import resolve_data_dir

READ_ACCESS = ("open", "keyed")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=resolve_data_dir)
    # File of SHA-256 hashes of API keys, one per line (`hotspots keys add` writes it); keys are
    # never stored in clear; default <data dir>/api_keys.txt. Writes always need a key; reads
    # only when read_access is "keyed".
    api_keys_file: Path | None = None
    read_access: str = "open"
    # Basemap tiles: "none" (areas, their names and hexagons on a blank background: works with
    # no network), "osm" (the default of `hotspots serve` and of $HOTSPOTS_TILES) or a URL
    # template like https://tiles.example/{z}/{x}/{y}.png. "none" here so a test never fetches.
    tiles: str = "none"
    max_body_bytes: int = 20 * 1024 * 1024
    # The on-disk cache of covers, studies and finished responses (pipelines.cache): default
    # <data dir>/cache, shared with the CLI and every worker; bounded in bytes (LRU eviction).
    cache_dir: Path | None = None
    cache_bytes: int = DEFAULT_CACHE_BYTES
    # Admission control (geo_service.admission): heavy computations at once (default: cores),
    # how many more may wait before a 503, and seconds a request may take in all.
    study_workers: int = field(default_factory=default_workers)
    study_queue: int = DEFAULT_QUEUE
    request_deadline: float = DEFAULT_DEADLINE

    def __post_init__(self) -> None:
        if self.api_keys_file is None:  # `hotspots keys add` writes here by default too
            object.__setattr__(self, "api_keys_file", Path(self.data_dir) / "api_keys.txt")
        if self.cache_dir is None:
            object.__setattr__(self, "cache_dir", cache_dir_for(self.data_dir))

    @classmethod
    def from_env(cls) -> Settings:
        keys = os.environ.get("HOTSPOTS_API_KEYS_FILE")
        access = os.environ.get("HOTSPOTS_READ_ACCESS", "open")
        if access not in READ_ACCESS:
            raise ValueError(f"HOTSPOTS_READ_ACCESS must be one of {READ_ACCESS}, got {access!r}")
        return cls(
            data_dir=resolve_data_dir(),
            api_keys_file=Path(keys) if keys else None,
            read_access=access,
            tiles=os.environ.get("HOTSPOTS_TILES", "osm"),
            cache_bytes=cache_bytes_from_env(),
            study_workers=int(_positive(STUDY_WORKERS_ENV, default_workers())),
            study_queue=int(_positive(STUDY_QUEUE_ENV, DEFAULT_QUEUE, zero_ok=True)),
            request_deadline=_positive(DEADLINE_ENV, DEFAULT_DEADLINE),
        )


STUDY_WORKERS_ENV = "HOTSPOTS_STUDY_WORKERS"
STUDY_QUEUE_ENV = "HOTSPOTS_STUDY_QUEUE"
DEADLINE_ENV = "HOTSPOTS_REQUEST_DEADLINE"


def _positive(name: str, default: float, zero_ok: bool = False) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None
    if value < 0 or (value == 0 and not zero_ok):
        raise ValueError(f"{name} must be {'0 or ' if zero_ok else ''}more than 0, got {text!r}")
    return value
