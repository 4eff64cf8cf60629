"""The acceptance checks on the real Devon and Cornwall and City of London archives."""

from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from collections import Counter
from pathlib import Path

import geopandas as gpd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cli.main import app
from pipelines.categories import canonical_category

runner = CliRunner()
DEVON = "devon-and-cornwall"


def _source_rows(folder: Path) -> dict[str, list[dict]]:
    """The archive's data rows per month, read independently with the csv module."""
    months: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("*/*-street.csv")):
        with path.open(newline="", encoding="utf-8-sig") as handle:
            months[path.parent.name] = list(csv.DictReader(handle))
    return months


def _hotspots(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def devon_store(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("devon") / "store"
    _hotspots(
        "ingest",
        "archive",
        str(shared_data / "police_uk/archive" / DEVON),
        "--data-dir",
        str(store),
    )
    return store


def test_every_devon_row_is_stored_or_counted(devon_store: Path, shared_data: Path) -> None:
    source = _source_rows(shared_data / "police_uk/archive" / DEVON)
    coverage = json.loads(_hotspots("coverage", "--json", "--data-dir", str(devon_store)))

    assert sum(len(rows) for rows in source.values()) == 269_489
    assert [row["month"] for row in coverage] == sorted(source)
    for row in coverage:
        expected = len(source[row["month"]])
        assert row["force"] == DEVON and row["source"] == "archive" and row["status"] == "stored"
        assert row["stored"] + sum(row["rejected"].values()) == expected == row["source_rows"]
        no_location = sum(
            1 for r in source[row["month"]] if not r["Longitude"] and not r["Latitude"]
        )
        assert row["no_location"] == no_location
    assert sum(row["stored"] + sum(row["rejected"].values()) for row in coverage) == 269_489


def test_ingesting_again_changes_nothing(devon_store: Path, shared_data: Path) -> None:
    def hashes() -> dict[str, str]:
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((devon_store / "crimes" / DEVON).glob("*.parquet"))
        }

    before = hashes()
    _hotspots(
        "ingest",
        "archive",
        str(shared_data / "police_uk/archive" / DEVON),
        "--data-dir",
        str(devon_store),
    )
    assert hashes() == before
    assert len(before) == 24


def test_csv_export_round_trips_against_the_source(
    devon_store: Path, shared_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "devon.csv"
    _hotspots(
        "export",
        "--force",
        DEVON,
        "--format",
        "csv",
        "-o",
        str(out),
        "--data-dir",
        str(devon_store),
    )

    def key(crime_id: str, month: str, category: str, lng: str, lat: str) -> tuple:
        coords = (round(float(lng), 6), round(float(lat), 6)) if lng else (None, None)
        return (crime_id or None, month, category, *coords)

    expected = Counter(
        key(
            r["Crime ID"],
            r["Month"],
            canonical_category(r["Crime type"]),
            r["Longitude"],
            r["Latitude"],
        )
        for rows in _source_rows(shared_data / "police_uk/archive" / DEVON).values()
        for r in rows
    )
    with out.open(newline="") as handle:
        exported = Counter(
            key(r["crime_id"], r["month"], r["category"], r["longitude"], r["latitude"])
            for r in csv.DictReader(handle)
        )
    assert exported == expected


def test_parquet_and_geojson_exports_are_readable(devon_store: Path, tmp_path: Path) -> None:
    parquet = tmp_path / "devon.parquet"
    geojson = tmp_path / "torbay-month.geojson"
    _hotspots("export", "--force", DEVON, "-o", str(parquet), "--data-dir", str(devon_store))
    _hotspots(
        "export",
        "--force",
        DEVON,
        "--from",
        "2020-06",
        "--to",
        "2020-06",
        "--format",
        "geojson",
        "-o",
        str(geojson),
        "--data-dir",
        str(devon_store),
    )
    assert pq.read_metadata(parquet).num_rows == 269_489
    stored = gpd.read_parquet(parquet, columns=["longitude", "latitude", "geometry"])
    assert stored.crs.to_epsg() == 4326
    assert stored.geometry.notna().sum() == stored["longitude"].notna().sum()
    points = gpd.read_file(geojson)
    assert set(points["month"]) == {"2020-06"}
    located = points[points.geometry.notna()]
    assert len(located) == points["longitude"].notna().sum()
    assert (located.geometry.x.round(6) == located["longitude"].round(6)).all()
    assert located["h3_cell"].str.len().eq(15).all()


def test_city_of_london_zip(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "police_uk/archive/city-of-london"
    zip_path = tmp_path / "city.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in folder.rglob("*.csv"):
            bundle.write(path, path.relative_to(folder).as_posix())
    store = tmp_path / "store"
    _hotspots("ingest", "archive", str(zip_path), "--data-dir", str(store))
    coverage = json.loads(_hotspots("coverage", "--json", "--data-dir", str(store)))

    assert len(coverage) == 12
    assert sum(r["stored"] + sum(r["rejected"].values()) for r in coverage) == 9_298
