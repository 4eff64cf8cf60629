"""Map-point support and top streets, counted on integer codes, equal the plain definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.analysis.map_points import map_point_support
from pipelines.analysis.streets import top_streets


def _snapped(rng: np.random.Generator, crimes: int, points: int) -> tuple[np.ndarray, ...]:
    spots = rng.uniform((-0.5, 51.3), (0.3, 51.7), (points, 2)).round(6)
    chosen = spots[rng.integers(0, points, crimes)]
    return rng.integers(-1, 300, crimes), chosen[:, 0], chosen[:, 1]


def test_map_point_support_counts_distinct_points_per_cell() -> None:
    rng = np.random.default_rng(4)
    cell, lon, lat = _snapped(rng, 40_000, 900)
    support = map_point_support(cell, lon, lat, 320, 9)
    inside = cell >= 0
    rows = pd.DataFrame({"cell": cell[inside], "lon": lon[inside], "lat": lat[inside]})
    per_cell = rows.drop_duplicates().groupby("cell").size()
    at_point = rows.groupby(["lon", "lat"])["cell"].transform("size")
    assert support.map_points == len(rows[["lon", "lat"]].drop_duplicates())
    assert support.occupied_cells == len(per_cell)
    assert support.median_points_per_occupied_cell == float(per_cell.median())
    assert support.single_point_share == float((per_cell == 1).mean())
    assert support.shared_point_share == float((at_point > 1).mean())


def test_top_streets_most_frequent_first_ties_by_name() -> None:
    cell = np.array([0, 0, 0, 0, 0, 0, 1, 1, -1, 1, 0])
    location = np.array(
        [
            "On or near B Road",
            "On or near A Road",
            "On or near B Road",
            "On or near A Road",
            "On or near C Lane",
            "On or near D Way",
            None,
            "On or near  ",
            "On or near Outside",
            "Park",
            "On or near E Close",
        ],
        dtype=object,
    )
    expected = [["A Road", "B Road", "C Lane"], ["Park"], []]
    assert top_streets(cell, location, 3) == expected
    assert top_streets(cell, pa.chunked_array([location[:4], location[4:]]), 3) == expected


def test_top_streets_put_apostrophes_right() -> None:
    """police.uk writes "St Peter'S Mews"; the list says "St Peter's Mews" and leaves names
    whose capital after an apostrophe is right (O'Neill, D'Arcy, all capitals) alone."""
    names = [
        "On or near St Peter'S Mews",
        "On or near O'Neill Road",
        "On or near D'Arcy Close",
        "On or near ST PETER'S MEWS",
        "On or near Smith\u2019S Lane",
    ]
    cell = np.arange(len(names))
    streets = top_streets(cell, np.array(names, dtype=object), len(names))
    assert streets == [
        ["St Peter's Mews"],
        ["O'Neill Road"],
        ["D'Arcy Close"],
        ["ST PETER'S MEWS"],
        ["Smith\u2019s Lane"],
    ]


def test_values_are_numbered_as_pandas_factorize_numbers_them() -> None:
    """pipelines.numbering (Arrow's hash tables, no pandas) gives pandas.factorize's codes: in
    order of first appearance, 0.0 and -0.0 one value, pairs of floats compared exactly."""
    from pipelines.numbering import first_seen_codes, pair_codes

    rng = np.random.default_rng(3)
    keys = rng.integers(-50, 50, 2_000).astype(np.int64)
    codes, first = first_seen_codes(keys)
    expected, uniques = pd.factorize(keys)
    assert codes.tolist() == expected.tolist() and keys[first].tolist() == uniques.tolist()
    x = np.round(rng.normal(size=3_000), 1)
    y = np.round(rng.normal(size=3_000), 1)
    x[:5] = [0.0, -0.0, 0.0, 1.5, -0.0]
    codes, first = pair_codes(x, y)
    expected, uniques = pd.factorize(x + 1j * y)
    assert codes.tolist() == expected.tolist()
    assert (x[first] + 1j * y[first]).tolist() == uniques.tolist()
    assert (
        first_seen_codes(np.zeros(0))[0].tolist()
        == pair_codes(np.zeros(0), np.zeros(0))[0].tolist()
        == []
    )
