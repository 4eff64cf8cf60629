"""``hotspots analyse`` answers a repeated question from the study cache the service shares: the
same answer as computing it, said so in the provenance, missed when the data changes, and
without loading the numerical stack."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from boundaries.store import BoundaryStore
from cli.main import app
from geo_service.results import StudyCache
from pipelines.analysis.study import StudyRequest, run_study
from pipelines.cache.studies import CachedStudy
from pipelines.ingest.archive import ingest_archive
from pipelines.store import CrimeStore
from tests.archive_fixtures import crime_line
from tests.fresh_process import modules_loaded
from tests.service_town import FORCE, WARDS, WEST, build_town, write_archive

# The town's busy street is a Gi* hot spot under the opt-in analytic p rule at resolution 10.
ANALYTIC = ("--p-for-classes", "analytic", "--res", "10")
HEAVY = ("numpy", "pandas", "pyarrow", "scipy", "geopandas", "shapely", "h3")


@pytest.fixture
def town(tmp_path: Path) -> Path:
    data_dir, _ = build_town(tmp_path)
    return data_dir


def _analyse(data_dir: Path, out: Path, *extra: str) -> dict:
    args = ["analyse", "--boundaries", WARDS, "--data-dir", str(data_dir), "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--overwrite", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text(encoding="utf-8"))


def _without_cache_note(provenance: dict) -> dict:
    return {k: v for k, v in provenance.items() if k != "study_cache"}


def test_a_repeated_question_is_answered_from_the_cache_with_the_same_answer(
    town: Path, tmp_path: Path
) -> None:
    computed = _analyse(town, tmp_path / "first.json")
    cached = _analyse(town, tmp_path / "again.json")
    assert computed["provenance"]["study_cache"]["answered_from_cache"] is False
    assert cached["provenance"]["study_cache"]["answered_from_cache"] is True
    assert cached["cells"] == computed["cells"]
    assert _without_cache_note(cached["provenance"]) == _without_cache_note(computed["provenance"])
    assert cached["provenance"]["data_version"] == computed["provenance"]["data_version"]
    # Another question on the same data (another seed) is computed, not served.
    other = _analyse(town, tmp_path / "seed.json", "--seed", "1")
    assert other["provenance"]["study_cache"]["answered_from_cache"] is False
    assert other["provenance"]["seed"] == 1


def test_the_cached_study_rebuilds_the_computed_frame_exactly(town: Path) -> None:
    store = CrimeStore(town)
    result = run_study(store, BoundaryStore(town).read(WARDS), StudyRequest(WARDS))
    rebuilt = CachedStudy.from_result(result).to_result()
    pd.testing.assert_frame_equal(rebuilt.cells, result.cells)
    assert rebuilt.provenance == result.provenance and rebuilt.window == result.window


def test_new_data_misses_the_cache(town: Path, tmp_path: Path) -> None:
    first = _analyse(town, tmp_path / "before.json")
    # A republished month in the window: the same question now reads other files.
    archive = write_archive(tmp_path / "republished")
    month = "2019-06"
    extra = crime_line(month, crime_id="late", longitude="-3.5410", latitude="50.4470")
    archive.write(FORCE, month, [extra])
    ingest_archive(CrimeStore(town), archive.root, first=month, last=month)
    after = _analyse(town, tmp_path / "after.json")
    assert after["provenance"]["data_version"] != first["provenance"]["data_version"]
    assert after["provenance"]["study_cache"]["answered_from_cache"] is False
    assert after["cells"] != first["cells"]


def test_the_service_answers_from_what_the_command_line_computed(
    town: Path, tmp_path: Path
) -> None:
    computed = _analyse(town, tmp_path / "cli.json")
    cache = StudyCache(CrimeStore(town), BoundaryStore(town))
    result, version = cache.get(StudyRequest(WARDS))
    assert (cache.hits, cache.misses) == (1, 0)
    assert version == computed["provenance"]["data_version"]
    assert result.cells["count"].tolist() == [cell["count"] for cell in computed["cells"]]


def _cli_in_process(args: list[str]) -> str:
    """Code that runs ``hotspots ARGS`` in the interpreter it is given to, failing if it fails."""
    return (
        "from cli.main import app\n"
        "try:\n"
        f"    app({args!r})\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
    )


def test_an_answer_from_the_cache_loads_no_numerical_stack(town: Path, tmp_path: Path) -> None:
    out = tmp_path / "answer.json"
    _analyse(town, out)  # computed and kept
    args = ["analyse", "--boundaries", WARDS, "--data-dir", str(town), "-o", str(out)]
    loaded, printed = modules_loaded(_cli_in_process([*args, "--overwrite"]), HEAVY)
    assert loaded == [], printed
    assert "Answered from the study cache" in printed
    assert json.loads(out.read_text())["provenance"]["study_cache"]["answered_from_cache"]


def test_a_ranked_list_and_a_csv_from_the_cache_equal_the_computed_ones(
    town: Path, tmp_path: Path
) -> None:
    computed = _analyse(town, tmp_path / "top.json", "--top", "3", *ANALYTIC)
    cached = _analyse(town, tmp_path / "top-again.json", "--top", "3", *ANALYTIC)
    assert cached["provenance"]["study_cache"]["answered_from_cache"] is True
    assert cached["cells"] == computed["cells"] and 1 <= len(cached["cells"]) <= 3
    everything = _analyse(town, tmp_path / "all.json")["cells"]  # the default question, kept
    csv_file = tmp_path / "cells.csv"
    args = ["analyse", "--boundaries", WARDS, "--data-dir", str(town), "-o", str(csv_file)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0 and "Answered from the study cache" in result.output
    rows = pd.read_csv(csv_file)
    assert rows["h3"].tolist() == [cell["h3"] for cell in everything]
    assert rows["count"].tolist() == [cell["count"] for cell in everything]


def test_an_area_asked_by_name_is_answered_from_what_its_code_computed(
    town: Path, tmp_path: Path
) -> None:
    by_code = _analyse(town, tmp_path / "code.json", "--area", WEST)
    by_name = _analyse(town, tmp_path / "name.json", "--area", "west ward")
    assert by_code["provenance"]["study_cache"]["answered_from_cache"] is False
    assert by_name["provenance"]["study_cache"]["answered_from_cache"] is True
    assert by_name["cells"] == by_code["cells"]
    # Asked by that name again, in a new process: its code is remembered with the set's file
    # version, so the answer comes without reading the set or loading the numerical stack.
    out = tmp_path / "again.json"
    args = ["analyse", "--boundaries", WARDS, "--data-dir", str(town), "-o", str(out)]
    loaded, printed = modules_loaded(_cli_in_process([*args, "--area", "west ward"]), HEAVY)
    assert loaded == [], printed
    assert json.loads(out.read_text())["cells"] == by_code["cells"]
