"""The service's rule for naming sources: file names only (the rule lives in pipelines, which the
profile shares)."""

from pipelines.public_text import without_folders

__all__ = ["without_folders"]
