"""Small things a reader trips over: "1 cells" on a legend (every count goes through one plural
rule), decimals like -0.22814684444867955 in a CSV (6 significant figures, coordinates 6
decimals, as docs/town_api.md states), and a command's --help with its option names cut."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app
from pipelines.spreadsheet import rounded_decimals
from pipelines.wording import counted
from tests.service_town import WARDS

pytestmark = pytest.mark.usefixtures("no_precompute")
ONE_PLURAL = re.compile(r"(?<![\d.,])1 (cells|areas|crimes|months|units|hot spots)\b")


def test_counted() -> None:
    assert counted(1, "cell") == "1 cell" and counted(0, "cell") == "0 cells"
    assert counted(12_345, "crime") == "12,345 crimes" and counted(1.0, "unit") == "1 unit"
    assert counted(2, "hot spot cell") == "2 hot spot cells"


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/maps/hotspots?boundaries={WARDS}",
        f"/v1/maps/areas?boundaries={WARDS}",
        f"/v1/allocate?boundaries={WARDS}&units=1&format=html",
    ],
)
def test_pages_never_say_one_with_a_plural(town_api: httpx.Client, path: str) -> None:
    response = town_api.get(path)
    assert response.status_code == 200, response.text[:300]
    text = html.unescape(response.text)
    assert ONE_PLURAL.findall(text) == []


def test_the_high_count_legend_counts_one_cell(town_api: httpx.Client) -> None:
    # The town's one busy street is one high-count cell: the legend said "1 cells".
    text = html.unescape(town_api.get(f"/v1/maps/hotspots?boundaries={WARDS}").text)
    assert re.search(r"not a cluster\): 1 cell\b", text), "legend entry missing"


def _assert_rounded(text: str) -> None:
    rows = list(csv.DictReader(io.StringIO(text)))
    checked = 0
    for row in rows:
        for column, value in row.items():
            if not re.fullmatch(r"-?\d+\.\d+", value or ""):
                continue
            checked += 1
            digits = value.lstrip("-").replace(".", "").lstrip("0")
            if column in ("lat", "lng"):
                assert len(value.split(".")[1]) <= 6, (column, value)
            else:
                assert len(digits.rstrip("0")) <= 6, (column, value)
    assert checked > len(rows)  # every row has decimals to check


def test_service_csv_numbers_are_rounded(town_api: httpx.Client) -> None:
    params = {"boundaries": WARDS, "permutations": 99, "format": "csv"}
    text = town_api.get("/v1/hotspots", params=params).text
    _assert_rounded(text)
    assert "0.0989282" in text or "-0.228147" in text or "," in text  # a real table
    allocation = town_api.get(
        "/v1/allocate", params={"boundaries": WARDS, "units": 5, "format": "csv"}
    )
    _assert_rounded(allocation.text)


def test_cli_csv_numbers_are_rounded(town_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cells.csv"
    args = ["analyse", "--boundaries", WARDS, "--permutations", "99", "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--data-dir", str(town_dir)])
    assert result.exit_code == 0, result.output
    _assert_rounded(out.read_text(encoding="utf-8"))


def test_rounding_keeps_the_value_and_leaves_whole_numbers_alone() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {"z": [-0.22814684444867955, 1.23456789e-12], "lat": [50.4583931, 50.0], "n": [4, 5]}
    )
    rounded = rounded_decimals(frame)
    assert rounded["z"].tolist() == [-0.228147, 1.23457e-12]
    assert rounded["lat"].tolist() == [50.458393, 50.0]
    assert rounded["n"].tolist() == [4, 5]


def test_analyse_help_names_every_option_whole() -> None:
    text = CliRunner().invoke(app, ["analyse", "--help"], terminal_width=80).output
    assert "…" not in text
    assert "--exclude-police-generated" in text and "--min-separation-m" in text
    assert "with count, value, z, p, adjusted p and class" in " ".join(text.split())
