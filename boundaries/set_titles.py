"""Titles for boundary sets a person reads ("Torbay wards (2019)"), found where a load already
has the local authority's name: an ONS lookup CSV or a ward file with LADyyCD / LADyyNM columns.
A set whose authority is not named anywhere keeps no title, and pages show its code."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

_LAD_CODE_FIELD = re.compile(r"^LAD(\d{2})CD$", re.IGNORECASE)


def ward_set_title(authority: str, vintage: str) -> str:
    """'Torbay wards (2019)'."""
    return f"{authority} wards ({vintage})"


def authority_name_in_frame(frame: pd.DataFrame, lad: str) -> str | None:
    """The name a table gives local authority ``lad`` (LADyyNM beside LADyyCD, the newest
    vintage first), or None when it names none."""
    for code_field, name_field in _lad_field_pairs(list(map(str, frame.columns))):
        rows = frame[frame[code_field].astype("string").str.strip().str.upper() == lad.upper()]
        names = rows[name_field].dropna().astype(str).str.strip()
        names = names[names != ""]
        if len(names):
            return str(names.mode().iloc[0])
    return None


def authority_name_in_lookup(path: Path, lad: str) -> str | None:
    """The name an ONS lookup CSV gives ``lad``, or None (no name columns, or no such row).
    Reads only the LAD columns."""
    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns.tolist()
        pairs = _lad_field_pairs(list(map(str, header)))
        if not pairs:
            return None
        columns = sorted({field for pair in pairs for field in pair})
        frame = pd.read_csv(path, usecols=columns, dtype=str, encoding="utf-8-sig")
    except (OSError, ValueError, UnicodeDecodeError):
        return None  # the lookup's own reader reports a bad file; a title is only a nicety
    return authority_name_in_frame(frame, lad)


def _lad_field_pairs(columns: list[str]) -> list[tuple[str, str]]:
    """(LADyyCD, LADyyNM) column pairs present, the newest vintage first."""
    by_upper = {column.upper(): column for column in columns}
    pairs = []
    for column in columns:
        match = _LAD_CODE_FIELD.match(column)
        name_field = by_upper.get(f"LAD{match.group(1)}NM") if match else None
        if match and name_field:
            pairs.append((int(match.group(1)), column, name_field))
    return [(code, name) for _, code, name in sorted(pairs, reverse=True)]
