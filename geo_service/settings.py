"""Service settings, from the environment (or given directly in tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

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
    cache_entries: int = 256

    def __post_init__(self) -> None:
        if self.api_keys_file is None:  # `hotspots keys add` writes here by default too
            object.__setattr__(self, "api_keys_file", Path(self.data_dir) / "api_keys.txt")

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
        )
