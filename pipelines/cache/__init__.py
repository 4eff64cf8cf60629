"""The on-disk cache shared by the CLI, server workers and batch runs (pipelines.cache.disk)."""

from pipelines.cache.disk import (
    CACHE_BYTES_ENV,
    CACHE_DIR_ENV,
    DiskCache,
    active_cache,
    cache_dir_for,
    cache_key,
    caching_in,
    open_cache,
    use_cache,
)

__all__ = [
    "CACHE_BYTES_ENV",
    "CACHE_DIR_ENV",
    "DiskCache",
    "active_cache",
    "cache_dir_for",
    "cache_key",
    "caching_in",
    "open_cache",
    "use_cache",
]
