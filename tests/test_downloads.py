"""CSV downloads open safely in a spreadsheet: names from files and users never run as formulas."""

from __future__ import annotations

import csv
import io

import pandas as pd

from geo_service.downloads import spreadsheet_safe_csv


def test_text_that_a_spreadsheet_would_run_is_quoted_and_numbers_are_not() -> None:
    frame = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://x")', "+44 road", "@SUM(A1)", "-cmd", "Tormohun"],
            "streets": ["\tOn or near A", "On or near B", None, "On or near C", "D"],
            "difference": [-0.5, 1.5, -2.0, 0.0, 3.25],
        }
    )
    rows = list(csv.DictReader(io.StringIO(spreadsheet_safe_csv(frame))))
    assert [r["name"] for r in rows] == [
        '\'=HYPERLINK("http://x")',
        "'+44 road",
        "'@SUM(A1)",
        "'-cmd",
        "Tormohun",
    ]
    assert rows[0]["streets"] == "'\tOn or near A" and rows[2]["streets"] == ""
    assert [float(r["difference"]) for r in rows] == [-0.5, 1.5, -2.0, 0.0, 3.25]
