"""What a republication changed in one force-month: rows added, removed and changed, by crime ID.

police.uk republishes months as outcomes and locations are revised. Two versions of a month are
matched row by row on the crime's identity: the police.uk ``Crime ID`` (the API's
``persistent_id``), else the API's numeric ``id``. A matched row whose content differs is
*changed* (counted per field: category, outcome, location...); an identity only in the new
version is *added*, only in the old one *removed*. Rows with no identity at all (anti-social
behaviour in the archive has no Crime ID) are compared as a multiset of their content, so a
revised one counts as one removed and one added.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

# The published content of a row; source, api_id and h3_cell are how we stored it, not what
# police.uk said, so a month re-read through another route is not a revision.
CONTENT = [
    "month",
    "reported_by",
    "falls_within",
    "longitude",
    "latitude",
    "location",
    "lsoa_code",
    "lsoa_name",
    "category",
    "last_outcome",
    "context",
]
# Fields reported by name when they change; the point and its street name count as "location".
_FIELD_GROUPS = {
    "category": ["category"],
    "last_outcome": ["last_outcome"],
    "location": ["longitude", "latitude", "location"],
    "lsoa": ["lsoa_code", "lsoa_name"],
    "other": ["month", "reported_by", "falls_within", "context"],
}


@dataclass
class RowChanges:
    rows_before: int
    rows_after: int
    added: int = 0
    removed: int = 0
    changed: int = 0
    changed_fields: dict[str, int] = field(default_factory=dict)  # field group -> rows

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def compare_months(old: pa.Table | None, new: pa.Table) -> RowChanges:
    """How ``new`` differs from ``old`` (None: the month was not stored, every row is added)."""
    if old is None or old.num_rows == 0:
        return RowChanges(0, new.num_rows, added=new.num_rows)
    before, after = _frame(old), _frame(new)
    changes = RowChanges(old.num_rows, new.num_rows)

    keyed_before = before[before["key"].notna()]
    keyed_after = after[after["key"].notna()]
    merged = _align(keyed_before).merge(
        _align(keyed_after), on=["key", "occurrence"], how="outer", suffixes=("_old", "_new")
    )
    only_old = merged["digest_new"].isna()
    only_new = merged["digest_old"].isna()
    both = merged[~only_old & ~only_new]
    differs = both[both["digest_old"] != both["digest_new"]]
    changes.added = int(only_new.sum())
    changes.removed = int(only_old.sum())
    changes.changed = len(differs)
    if len(differs):
        changes.changed_fields = _changed_fields(differs)

    loose_before = Counter(before.loc[before["key"].isna(), "digest"])
    loose_after = Counter(after.loc[after["key"].isna(), "digest"])
    changes.added += sum((loose_after - loose_before).values())
    changes.removed += sum((loose_before - loose_after).values())
    return changes


def _frame(table: pa.Table) -> pd.DataFrame:
    frame = table.select([*CONTENT, "crime_id", "api_id"]).to_pandas()
    key = frame["crime_id"].astype(object)
    api_key = frame["api_id"].map(lambda v: None if pd.isna(v) else f"api:{int(v)}")
    frame["key"] = key.where(key.notna(), api_key)
    frame["digest"] = pd.util.hash_pandas_object(frame[CONTENT], index=False).to_numpy()
    return frame


def _align(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sharing one identity (police.uk repeats a few IDs) are paired in content order."""
    ordered = frame.sort_values(["key", "digest"], kind="stable")
    ordered = ordered.assign(occurrence=ordered.groupby("key").cumcount())
    return ordered[["key", "occurrence", "digest", *CONTENT]]


def _changed_fields(differs: pd.DataFrame) -> dict[str, int]:
    counts = {}
    for group, columns in _FIELD_GROUPS.items():
        changed = pd.Series(False, index=differs.index)
        for column in columns:
            old, new = differs[f"{column}_old"], differs[f"{column}_new"]
            changed |= (old != new) & ~(old.isna() & new.isna())
        if changed.any():
            counts[group] = int(changed.sum())
    return counts
