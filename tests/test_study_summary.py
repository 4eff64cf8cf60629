"""The first line ``hotspots analyse`` prints names the flagged cells by the statistic's
meaning: Gi*'s are hot spots, Local Moran's I's are high-high clusters."""

from __future__ import annotations

from typing import Any

import pytest

from cli.study_summary import study_summary

COLUMNS: dict[str, list[Any]] = {
    "hotspot": [True, True, False],
    "count": [5, 4, 0],
    "area_code": ["E1", "E1", "E1"],
    "area_name": ["Tormohun", "Tormohun", "Tormohun"],
}


def _provenance(statistic: str) -> dict[str, Any]:
    return {
        "window": {"first": "2020-01", "last": "2020-12"},
        "study_region": {"scope": "areas", "areas": ["E1"], "boundary_set": "torbay"},
        "resolution": 9,
        "weights": {"name": "count", "version": "1.0"},
        "alpha": 0.05,
        "multiple_testing": "fdr_bh",
        "crimes": {"in_region": 9},
        "statistics": {"statistic": statistic},
    }


@pytest.mark.parametrize(
    ("statistic", "said"),
    [
        ("Getis-Ord Gi*", "2 hot spot cells (adjusted p <= 0.05, fdr_bh)"),
        ("Local Moran's I", "2 high-high cluster cells (adjusted p <= 0.05, fdr_bh)"),
    ],
)
def test_the_flagged_cells_are_named_by_the_statistics_meaning(statistic: str, said: str) -> None:
    summary = study_summary(COLUMNS, _provenance(statistic))
    assert said in summary
    if statistic == "Local Moran's I":
        assert "hot spot" not in summary
