"""A store built by `hotspots quickstart` on the real data in ../shared/data, as `make
quickstart` builds it (24 months, Torbay's 2019 wards, residents by the ONS lookup), for tests
of the pages a locality manager reads."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.main import app as cli

SET = "e06000027-wards-2019"
SET_TITLE = "Torbay wards (2019)"  # quickstart names the set after the authority the lookup names
TORMOHUN = "E05012268"  # Torquay's town centre: the busiest Torbay ward


def quickstart_args(shared_data: Path, data_dir: Path, *extra: str) -> list[str]:
    """The arguments `make quickstart` gives, with ``extra`` after them."""
    return [
        "quickstart",
        "--force",
        "devon-and-cornwall",
        "--lad",
        "E06000027",
        "--months",
        "24",
        "--archive",
        str(shared_data / "police_uk" / "archive" / "devon-and-cornwall"),
        "--wards",
        str(shared_data / "boundaries" / "wards_2019" / "E06000027.geojson"),
        "--population",
        str(shared_data / "population" / "lsoa_2011_census_population.csv"),
        "--lookup",
        str(shared_data / "lookups" / "ons_LSOA11_to_WD19_LAD19_EW.csv"),
        "--data-dir",
        str(data_dir),
        *extra,
    ]


def run_quickstart(shared_data: Path, data_dir: Path) -> str:
    """Run the quickstart without serving (count weights only, to keep the suite quick); its
    output."""
    result = CliRunner().invoke(
        cli, quickstart_args(shared_data, data_dir, "--no-serve", "--weights", "count")
    )
    assert result.exit_code == 0, result.output
    return result.output
