"""Resident population per area, so counts can be given per 1,000 residents.

Population comes by LSOA (Census 2011 usual residents, the ONS table layout: quoted numbers with
thousands separators, a blank column, three "Persons" columns of which the first is all persons)
or as a plain ``code,population`` CSV (by LSOA or by ward). It reaches an area by the first method
that applies:
  1. direct - the file has a figure for every area's code (ward population for a ward set);
  2. members - a cluster set whose member wards all have a figure: the sum of its wards;
  3. lookup - an ONS LSOA-to-ward best-fit lookup is given: a ward's population is the sum of
     the LSOAs the lookup puts in it (ONS assigns each LSOA wholly to the ward holding most of
     its residents, so no LSOA is split or counted twice);
  4. area-weighted - an LSOA set is given: each LSOA's population is shared among the areas it
     overlaps in proportion to the overlapping land area (EPSG:27700), i.e. residents are assumed
     spread evenly over their LSOA. An LSOA wholly inside an area counts in full.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from boundaries.errors import BoundaryError
from boundaries.geometry import BRITISH_NATIONAL_GRID
from boundaries.sets import BoundarySet

_SHOWN = 8


def read_population(path: Path) -> pd.Series:
    """Population by code (int64), from the census LSOA table or a plain code,population CSV."""
    path = Path(path)
    if not path.exists():
        raise BoundaryError(f"population file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BoundaryError(f"population file {path} is not a UTF-8 CSV") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise BoundaryError(f"population file {path} is empty")
    header = [h.strip().lower() for h in rows[0]]
    if "lsoa code" in header and "persons" in header:
        code_col, value_col = header.index("lsoa code"), header.index("persons")  # all persons
    elif "code" in header and "population" in header:
        code_col, value_col = header.index("code"), header.index("population")
    else:
        raise BoundaryError(
            f"{path} is neither the census LSOA population table (LSOA Code, Persons columns) "
            f"nor a code,population CSV; its header is {','.join(rows[0][:8])}"
        )
    codes, values = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            code = row[code_col].strip()
            value = int(float(row[value_col].replace(",", "").strip()))
        except (IndexError, ValueError):
            raise BoundaryError(
                f"{path} line {number}: no population number for the code"
            ) from None
        if value < 0:
            raise BoundaryError(f"{path} line {number}: negative population for {code}")
        codes.append(code)
        values.append(value)
    if not codes:
        raise BoundaryError(f"population file {path} has no data rows")
    series = pd.Series(values, index=codes, dtype=np.int64, name="population")
    if series.index.has_duplicates:
        twice = sorted(set(series.index[series.index.duplicated()]))
        raise BoundaryError(
            f"{path} gives more than one population for {', '.join(twice[:_SHOWN])}"
        )
    return series


@dataclass
class PopulationEstimate:
    population: pd.Series  # float, by area code, in the set's order
    method: str  # "direct", "members" or "area-weighted"
    notes: list[str] = field(default_factory=list)


def population_for_set(
    target: BoundarySet,
    population: pd.Series,
    lsoas: BoundarySet | None = None,
    lookup: pd.Series | None = None,
) -> PopulationEstimate:
    codes = target.areas["code"]
    if codes.isin(population.index).all():
        return PopulationEstimate(population.reindex(codes).astype(float), "direct")
    if lookup is not None:
        return _by_lookup(target, population, lookup)
    if "members" in target.areas:
        members = target.areas["members"].str.split(";")
        wards = sorted({w for group in members for w in group})
        if pd.Index(wards).isin(population.index).all():
            totals = [float(population.reindex(group).sum()) for group in members]
            return PopulationEstimate(pd.Series(totals, index=codes.to_numpy()), "members")
    if lsoas is None:
        missing = codes[~codes.isin(population.index)].tolist()
        raise BoundaryError(
            f"the population file has no figure for {len(missing)} area(s) of {target.name} "
            f"({', '.join(missing[:_SHOWN])}); give an LSOA set (--lsoas) to share LSOA "
            "population by area"
        )
    return _area_weighted(target, population, lsoas)


def _by_lookup(target: BoundarySet, population: pd.Series, lookup: pd.Series) -> PopulationEstimate:
    """Each ward's population: the sum over the LSOAs the lookup assigns to it."""
    codes = target.areas["code"]
    in_set = lookup[lookup.isin(codes)]
    if in_set.empty:
        raise BoundaryError(
            f"the lookup assigns no LSOA to any area of {target.name}; is it a lookup to the "
            f"same ward vintage ({target.vintage})?"
        )
    known = in_set.index.isin(population.index)
    notes = []
    if not known.all():
        missing = sorted(in_set.index[~known])
        notes.append(
            f"{len(missing)} LSOA(s) of the lookup have no population figure and count as 0: "
            f"{', '.join(missing[:_SHOWN])}"
        )
    figures = population.reindex(in_set.index).fillna(0).to_numpy(dtype=float)
    totals = pd.Series(figures, index=in_set.to_numpy()).groupby(level=0).sum()
    empty = codes[~codes.isin(totals.index)].tolist()
    if empty:
        raise BoundaryError(
            f"the lookup assigns no LSOA to {len(empty)} area(s) of {target.name} "
            f"({', '.join(empty[:_SHOWN])}); is it for the same ward vintage?"
        )
    return PopulationEstimate(totals.reindex(codes).set_axis(codes.to_numpy()), "lookup", notes)


def _area_weighted(
    target: BoundarySet, population: pd.Series, lsoas: BoundarySet
) -> PopulationEstimate:
    lsoa_codes = lsoas.areas["code"]
    known = lsoa_codes.isin(population.index)
    if not known.any():
        raise BoundaryError(
            f"the population file has no figure for any area of {lsoas.name}; is it by LSOA, "
            "and of the same LSOA vintage?"
        )
    lsoa_geoms = lsoas.areas.geometry.to_crs(BRITISH_NATIONAL_GRID).values.to_numpy()
    area_geoms = target.areas.geometry.to_crs(BRITISH_NATIONAL_GRID).values.to_numpy()
    lsoa_pop = population.reindex(lsoa_codes).to_numpy(dtype=float)
    tree = shapely.STRtree(lsoa_geoms)
    area_index, lsoa_index = tree.query(area_geoms, predicate="intersects")
    shared = shapely.area(shapely.intersection(area_geoms[area_index], lsoa_geoms[lsoa_index]))
    share = shared / shapely.area(lsoa_geoms[lsoa_index])
    contribution = np.nan_to_num(lsoa_pop[lsoa_index]) * share
    totals = np.bincount(area_index, weights=contribution, minlength=len(area_geoms))
    notes = []
    unknown_touched = sorted(
        set(lsoa_codes.iloc[lsoa_index[~np.isfinite(lsoa_pop[lsoa_index]) & (share > 1e-6)]])
    )
    if unknown_touched:
        notes.append(
            f"{len(unknown_touched)} LSOA(s) overlapping the areas have no population figure "
            f"and count as 0: {', '.join(unknown_touched[:_SHOWN])}"
        )
    lsoa_land = np.bincount(area_index, weights=shared, minlength=len(area_geoms))
    uncovered = 1 - lsoa_land / shapely.area(area_geoms)
    short = target.areas["code"][uncovered > 0.01].tolist()
    if short:
        notes.append(
            f"{len(short)} area(s) extend more than 1% beyond {lsoas.name} "
            f"(population there unknown): {', '.join(short[:_SHOWN])}"
        )
    series = pd.Series(np.round(totals, 1), index=target.areas["code"].to_numpy())
    return PopulationEstimate(series, "area-weighted", notes)


def with_population(target: BoundarySet, estimate: PopulationEstimate, source: str) -> BoundarySet:
    """A copy of the set with a ``population`` column and the method recorded."""
    areas = target.areas.copy()
    areas["population"] = estimate.population.reindex(areas["code"]).to_numpy(dtype=float)
    extra = {**target.extra, "population": {"method": estimate.method, "source": source}}
    return BoundarySet(
        name=target.name,
        scheme=target.scheme,
        vintage=target.vintage,
        areas=areas,
        source=target.source,
        code_field=target.code_field,
        name_field=target.name_field,
        notes=target.notes + estimate.notes,
        quality=target.quality,
        created=target.created,
        extra=extra,
        title=target.title,
    )
