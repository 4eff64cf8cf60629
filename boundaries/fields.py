"""Which columns of a boundary file hold the area code and name (ONS conventions first).

ONS files name fields ``<geography><yy>CD`` / ``<geography><yy>NM`` (``WD19CD``, ``LSOA11CD``,
``LAD22NM``). A file often carries several (a ward file also has ``LAD22CD``), so the scheme of
the set decides which geography is meant; the two-digit year also hints at the vintage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from boundaries.errors import BoundaryError
from pipelines.quoting import quoted

# Scheme -> the ONS geography prefixes that code it. Schemes without ONS codes use plain names.
SCHEME_PREFIXES: dict[str, tuple[str, ...]] = {
    "ward": ("WD",),
    "lsoa": ("LSOA",),
    "msoa": ("MSOA",),
    "lad": ("LAD", "LTLA"),
    "utla": ("UTLA", "CTYUA"),
    "neighbourhood": ("NHOOD",),
    "cluster": (),
    "custom": (),
}
SCHEMES: tuple[str, ...] = tuple(SCHEME_PREFIXES)

_ONS_CODE = re.compile(r"^([A-Za-z]+?)(\d{2})(CD)$", re.IGNORECASE)
_PLAIN_CODES = ("code", "area_code", "id", "neighbourhood_id", "ward_code", "identifier")
_PLAIN_NAMES = ("name", "area_name", "ward_name", "label", "title")


@dataclass(frozen=True)
class FieldChoice:
    code_field: str
    name_field: str | None  # None: the code doubles as the name
    vintage_hint: str | None  # "2019" from WD19CD; None when the field says nothing
    reason: str  # how the choice was made, reported back to the user


def detect_fields(
    columns: Sequence[str],
    scheme: str,
    code_field: str | None = None,
    name_field: str | None = None,
) -> FieldChoice:
    """Pick the code and name fields; explicit choices win but must exist."""
    available = [c for c in columns if c != "geometry"]
    for given, what in ((code_field, "--code-field"), (name_field, "--name-field")):
        if given is not None and given not in available:
            raise BoundaryError(
                f"{what} {quoted(given)} is not a field of the file; "
                f"its fields are {', '.join(available)}"
            )
    reason = "given"
    if code_field is None:
        code_field, reason = _detect_code(available, scheme)
    if name_field is None:
        name_field = _name_for(code_field, available)
    match = _ONS_CODE.match(code_field)
    vintage = f"20{match.group(2)}" if match else None
    return FieldChoice(code_field, name_field, vintage, reason)


def _detect_code(columns: Sequence[str], scheme: str) -> tuple[str, str]:
    ons = [c for c in columns if _ONS_CODE.match(c)]
    prefixes = SCHEME_PREFIXES.get(scheme, ())
    matching = [c for c in ons if _ONS_CODE.match(c).group(1).upper() in prefixes]
    if len(matching) == 1:
        return matching[0], f"ONS {scheme} code field"
    if len(matching) > 1:
        raise BoundaryError(
            f"several {scheme} code fields ({', '.join(matching)}); choose one with --code-field"
        )
    if not prefixes and len(ons) == 1:
        return ons[0], "the only ONS code field"
    lowered = {c.lower(): c for c in columns}
    for plain in _PLAIN_CODES:
        if plain in lowered:
            return lowered[plain], f"field named {quoted(lowered[plain])}"
    hint = f" (looked for {'/'.join(p + 'yyCD' for p in prefixes)})" if prefixes else ""
    raise BoundaryError(
        f"cannot tell which field holds the {scheme} codes{hint}; the fields are "
        f"{', '.join(columns) or '(none)'}; pass --code-field"
    )


def _name_for(code_field: str, columns: Sequence[str]) -> str | None:
    match = _ONS_CODE.match(code_field)
    if match:
        stem = code_field[: -len(match.group(3))]
        for column in columns:
            if column.upper() == f"{stem}NM".upper():
                return column
    lowered = {c.lower(): c for c in columns}
    for plain in _PLAIN_NAMES:
        if plain in lowered:
            return lowered[plain]
    return None
