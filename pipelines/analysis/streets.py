"""The streets a cell's crimes were recorded on, so a team recognises the place."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import arrow_numpy

_PREFIX = "On or near "
# police.uk title-cases names letter by letter after an apostrophe ("St Peter'S Mews"); a single
# capital ending a word after a lower-case letter is put back ("St Peter's Mews"), while names
# like "O'Neill Road", "D'Arcy Close" or an all-capitals "ST PETER'S" are left as they are.
_CAPITAL_AFTER_APOSTROPHE = re.compile(r"(?<=[a-z])(['’])([A-Z])\b")
TOP_STREETS = 3


def top_streets(
    cell: np.ndarray,
    location: np.ndarray | pa.Array | pa.ChunkedArray,
    n_cells: int,
    top: int = TOP_STREETS,
) -> list[list[str]]:
    """Per cell, its ``top`` most frequent "On or near" locations (most frequent first; ties by
    name so the answer is stable), without the "On or near" prefix police.uk puts on all.

    Works on integer codes: each distinct location is cleaned once, (cell, street) pairs are
    counted as integers and sorted by (cell, crimes descending, name); London's 770,000 crimes
    take 0.1 s instead of 0.3 s grouping strings."""
    cell = np.asarray(cell)
    raw_code, raw_names = _codes(location)
    # Each distinct location is cleaned once; cleaned names are numbered in order of first
    # appearance (two locations can clean to one street).
    numbers: dict[str, int] = {}
    street_of_raw = np.fromiter(
        (numbers.setdefault(_cleaned(name), len(numbers)) for name in raw_names),
        dtype=np.int64,
        count=len(raw_names),
    )
    streets = list(numbers)
    empty = np.flatnonzero(np.asarray(streets, dtype=object) == "")
    street_of_raw = np.where(np.isin(street_of_raw, empty), -1, street_of_raw)
    street_of_raw = np.append(street_of_raw, -1)  # raw code -1 (no location) -> no street
    street = street_of_raw[raw_code]
    keep = (cell >= 0) & (street >= 0)
    n_streets = max(len(streets), 1)
    pair, crimes = np.unique(
        cell[keep].astype(np.int64) * n_streets + street[keep], return_counts=True
    )
    pair_cell, pair_street = pair // n_streets, pair % n_streets
    name_rank = np.empty(len(streets), dtype=np.int64)
    name_rank[np.argsort(np.asarray(streets, dtype=object), kind="stable")] = np.arange(
        len(streets)
    )
    order = np.lexsort((name_rank[pair_street], -crimes, pair_cell))
    pair_cell, pair_street = pair_cell[order], pair_street[order]
    first_of_cell = np.searchsorted(pair_cell, pair_cell, side="left")
    best = (np.arange(len(pair_cell)) - first_of_cell) < top
    result: list[list[str]] = [[] for _ in range(n_cells)]
    names = np.asarray(streets, dtype=object)
    for cell_index, street_index in zip(
        pair_cell[best].tolist(), pair_street[best].tolist(), strict=True
    ):
        result[cell_index].append(str(names[street_index]))
    return result


def _cleaned(name: str) -> str:
    """A location as a street: no "On or near", no surrounding spaces, apostrophes put right."""
    return _CAPITAL_AFTER_APOSTROPHE.sub(_lower_letter, name.removeprefix(_PREFIX).strip())


def _lower_letter(match: re.Match[str]) -> str:
    return match[1] + match[2].lower()


def _codes(location: np.ndarray | pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list]:
    """(code per crime, -1 where missing (null, None or NaN); the distinct locations)."""
    if not isinstance(location, pa.Array | pa.ChunkedArray):
        location = pa.array(np.asarray(location, dtype=object), type=pa.string(), from_pandas=True)
    if isinstance(location, pa.ChunkedArray):
        location = location.combine_chunks()
    encoded = pc.dictionary_encode(location)
    codes = arrow_numpy.to_numpy(encoded.indices, nulls_as=-1)
    return codes.astype(np.int64), encoded.dictionary.to_pylist()
