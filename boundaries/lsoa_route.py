"""The LSOA route: a crime's LSOA code -> ward by an ONS best-fit lookup, compared with the points.

police.uk archive rows carry the LSOA the crime's snapped point falls in. ONS best-fit lookups put
each LSOA wholly in the one ward holding most of its population, so an LSOA that straddles a ward
boundary sends all its crimes to one ward; the point route (exact point in polygon) splits them.
The comparison says how many crimes each route puts in each ward and how many move between them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from boundaries.assign import AreaIndex, assign_table
from boundaries.errors import BoundaryError
from boundaries.sets import BoundarySet

_LSOA = re.compile(r"^LSOA\d{2}CD$", re.IGNORECASE)
_WARD = re.compile(r"^WD\d{2}CD$", re.IGNORECASE)


def read_lookup(path: Path, ward_field: str | None = None) -> pd.Series:
    """LSOA code -> ward code, from an ONS lookup CSV (LSOAyyCD and WDyyCD columns)."""
    path = Path(path)
    if not path.exists():
        raise BoundaryError(f"lookup file {path} does not exist")
    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns.tolist()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        raise BoundaryError(f"lookup file {path} is not a CSV") from None
    lsoa = next((c for c in header if _LSOA.match(c)), None)
    ward = ward_field or next((c for c in header if _WARD.match(c)), None)
    if lsoa is None or ward is None or ward not in header:
        raise BoundaryError(
            f"{path} needs an LSOA code column (e.g. LSOA11CD) and a ward code column "
            f"(e.g. WD19CD); its header is {','.join(header[:10])}"
        )
    frame = pd.read_csv(path, usecols=[lsoa, ward], dtype=str, encoding="utf-8-sig")
    frame = frame.dropna().drop_duplicates(subset=[lsoa])
    return pd.Series(frame[ward].to_numpy(), index=frame[lsoa].to_numpy(), name=ward)


@dataclass
class RouteComparison:
    by_area: pd.DataFrame  # code, name, by_point, by_lsoa, difference
    both: int  # crimes placed in a ward of the set by both routes
    agree: int  # ... and in the same ward
    point_only: int  # in a ward by point, but the LSOA is missing or maps outside the set
    lsoa_only: int  # the LSOA maps into the set, but the point is outside every ward
    no_lsoa: int  # crimes with no LSOA code (API rows, no location)
    moves: pd.DataFrame  # by_point, by_lsoa, crimes: the commonest disagreements

    def to_dict(self) -> dict:
        return {
            "both": self.both,
            "agree": self.agree,
            "point_only": self.point_only,
            "lsoa_only": self.lsoa_only,
            "no_lsoa": self.no_lsoa,
            "areas": self.by_area.to_dict(orient="records"),
            "moves": self.moves.to_dict(orient="records"),
        }


def wards_by_lsoa(lsoa_codes: pa.Array | pa.ChunkedArray, lookup: pd.Series) -> np.ndarray:
    """Ward code (object array, None when unknown) for each crime's LSOA code."""
    codes = pd.Series(np.asarray(lsoa_codes.to_pylist(), dtype=object))
    return codes.map(lookup).where(lambda s: s.notna(), None).to_numpy(dtype=object)


def compare_routes(wards: BoundarySet, table: pa.Table, lookup: pd.Series) -> RouteComparison:
    """Point route vs LSOA route for crime rows with longitude, latitude and lsoa_code."""
    if "lsoa_code" not in table.column_names:
        raise BoundaryError("the crime rows have no lsoa_code column for the LSOA route")
    set_codes = wards.areas["code"]
    if not set_codes.isin(lookup.to_numpy()).any():
        raise BoundaryError(
            f"the lookup's wards ({lookup.name}) share no code with {wards.name}; "
            "use a lookup of the same ward vintage"
        )
    by_point = assign_table(AreaIndex.of(wards), table).area_codes().to_numpy(zero_copy_only=False)
    by_lsoa = wards_by_lsoa(table.column("lsoa_code"), lookup)
    in_set = set(set_codes)
    point_in = pd.notna(by_point)
    lsoa_in = np.array([code in in_set for code in by_lsoa], dtype=bool)
    no_lsoa = int(pd.isna(pd.Series(table.column("lsoa_code").to_pylist())).sum())
    both = point_in & lsoa_in
    agree = both & (by_point == by_lsoa)
    point_counts = pd.Series(by_point[point_in]).value_counts()
    lsoa_counts = pd.Series(by_lsoa[lsoa_in]).value_counts()
    by_area = pd.DataFrame({"code": set_codes, "name": wards.areas["name"]})
    by_area["by_point"] = point_counts.reindex(set_codes).fillna(0).astype(int).to_numpy()
    by_area["by_lsoa"] = lsoa_counts.reindex(set_codes).fillna(0).astype(int).to_numpy()
    by_area["difference"] = by_area["by_lsoa"] - by_area["by_point"]
    moved = both & ~agree
    moves = (
        pd.DataFrame({"by_point": by_point[moved], "by_lsoa": by_lsoa[moved]})
        .value_counts()
        .rename("crimes")
        .reset_index()
        .head(20)
    )
    return RouteComparison(
        by_area=by_area,
        both=int(both.sum()),
        agree=int(agree.sum()),
        point_only=int((point_in & ~lsoa_in).sum()),
        lsoa_only=int((lsoa_in & ~point_in).sum()),
        no_lsoa=no_lsoa,
        moves=moves,
    )
