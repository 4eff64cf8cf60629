"""A study's first pass made ahead (pipelines/analysis/passes.py): ``hotspots analyse`` makes it
on its cover's thread while the statistics import, and the study takes it as made. The answer
is the one the study gives making every pass itself; a pass made for another question, store
version or boundary set is not used."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from boundaries.store import BoundaryStore
from cli.main import app
from pipelines.analysis import passes, study
from pipelines.analysis.passes import first_pass_ahead
from pipelines.analysis.study import StudyRequest, run_study
from pipelines.cache import disk
from pipelines.cache.studies import canonical_request
from pipelines.store import CrimeStore
from tests.service_town import WARDS, WEST, build_town


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir, _ = build_town(tmp_path_factory.mktemp("town"))
    return data_dir


def _same(one: study.StudyResult, other: study.StudyResult) -> None:
    assert one.provenance == other.provenance
    assert one.adjustments == other.adjustments
    assert list(one.columns) == list(other.columns)
    for name, column in one.columns.items():
        if isinstance(column, np.ndarray):
            np.testing.assert_array_equal(column, other.columns[name], strict=True)
        else:
            assert column == other.columns[name], name


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads ``prepare_pass`` runs on, wherever it is called from."""
    threads: list[str] = []
    real = passes.prepare_pass

    def counted(*args: object, **kwargs: object) -> passes.PreparedPass:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(passes, "prepare_pass", counted)
    monkeypatch.setattr(study, "prepare_pass", counted)
    return threads


@pytest.mark.parametrize(
    "asked",
    [
        StudyRequest(WARDS, areas=(WEST,), first="2019-01", last="2019-12", permutations=99),
        StudyRequest(WARDS, categories=("burglary",), weights="cchi", permutations=99),
    ],
)
def test_the_study_takes_the_first_pass_as_made_and_answers_the_same(
    town: Path, asked: StudyRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = CrimeStore(town).snapshot()
    wards = BoundaryStore(town).read(WARDS)
    request = canonical_request(snapshot, asked)
    made = first_pass_ahead(snapshot, wards, request)
    assert made is not None
    threads = _counting(monkeypatch)
    with_it = run_study(snapshot, wards, request, first_pass=made)
    assert threads == []  # the study made no pass of its own
    without = run_study(snapshot, wards, request)
    assert threads == ["MainThread"]
    _same(with_it, without)


def test_a_first_pass_made_for_another_question_is_not_used(
    town: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CrimeStore(town)
    snapshot = store.snapshot()
    wards = BoundaryStore(town).read(WARDS)
    request = canonical_request(snapshot, StudyRequest(WARDS, permutations=99, resolution=9))
    made = first_pass_ahead(snapshot, wards, request)
    assert made is not None
    other = StudyRequest(WARDS, permutations=99, resolution=10, first=request.first)
    other = canonical_request(snapshot, other)
    threads = _counting(monkeypatch)
    for asked, boundary_set in [(other, wards), (request, BoundaryStore(town).read(WARDS))]:
        threads.clear()
        _same(
            run_study(snapshot, boundary_set, asked, first_pass=made),
            run_study(snapshot, boundary_set, asked),
        )
        assert threads == ["MainThread", "MainThread"]  # made its own pass both times
    assert made.serves(snapshot, wards, request)
    assert not made.serves(snapshot, wards, other)


def test_no_first_pass_is_made_for_a_question_the_study_refuses(town: Path) -> None:
    snapshot = CrimeStore(town).snapshot()
    wards = BoundaryStore(town).read(WARDS)
    unknown = StudyRequest(WARDS, categories=("no-such-category",))
    assert first_pass_ahead(snapshot, wards, canonical_request(snapshot, unknown)) is None
    no_months = StudyRequest(WARDS, first="2001-01", last="2001-12")
    assert first_pass_ahead(snapshot, wards, no_months) is None
    with pytest.raises(study.StudyError, match="unknown crime category"):
        run_study(snapshot, wards, unknown, first_pass=None)


def test_analyse_makes_the_first_pass_on_the_cover_s_thread(
    town: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once, off the main thread; the answer is the study's, written whole."""
    threads = _counting(monkeypatch)
    # A cache of its own: no study or cover of another test answers this one.
    monkeypatch.setattr(disk, "_active", disk.open_cache(tmp_path / "cache"))
    monkeypatch.setenv("HOTSPOTS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "answer.json"
    args = ["analyse", "--boundaries", WARDS, "--data-dir", str(town), "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--area", WEST, "--scope", "areas"])
    assert result.exit_code == 0, result.output
    assert len(threads) == 1 and threads[0] != "MainThread"
    answer = json.loads(out.read_text())
    assert answer["provenance"]["study_cache"]["answered_from_cache"] is False
    assert answer["provenance"]["region"]["areas"] == [WEST]
    assert len(answer["cells"]) > 0
