"""Police force slugs (``devon-and-cornwall``, ``metropolitan``): the one check every entry uses.

A slug names a folder of the crime store, so anything else (``../..``, ``a/b``) is refused before
it reaches a path.
"""

from __future__ import annotations

import re

from pipelines.errors import InputError
from pipelines.quoting import quoted

FORCE_SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_FORCE_SLUG = re.compile(FORCE_SLUG_PATTERN)


class ForceError(InputError):
    """A force name that is not a police.uk slug."""


def check_force(force: str, option: str = "force") -> str:
    """``force`` when it is a police.uk slug; otherwise a ForceError naming ``option``."""
    if not isinstance(force, str) or not _FORCE_SLUG.match(force):
        raise ForceError(
            f"{option} must be a police.uk force slug such as devon-and-cornwall or "
            f"metropolitan, got {quoted(force)}"
        )
    return force
