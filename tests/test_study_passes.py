"""A study that goes back to a resolution it already tried prepares that region once."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipelines.analysis.study as study
from pipelines.analysis.study import StudyError, StudyRequest, run_study
from tests.torbay import TORBAY_WARDS, torbay_store


@pytest.mark.shared_data
def test_a_refusal_after_trying_finer_and_back_prepares_each_resolution_once(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clifton with Maidenway (Torbay): too few cells at 9, the guard tries 10, the map points
    send it back to 9, which refuses (tests/test_resolution_support.py checks the message).
    Before, the third pass read and placed the region at 9 again, a third of a refusal's time
    in warm-up, where most small wards are refused."""
    store, wards = torbay_store(shared_data, tmp_path, "2019-01", "2019-12")
    asked = StudyRequest(
        TORBAY_WARDS, areas=("E05012256",), resolution=9, first="2019-01", last="2019-12"
    )
    with pytest.raises(StudyError) as before:
        run_study(store, wards, asked)
    prepared: list[int] = []
    original = study._prepare

    def counted(*args: object) -> object:
        prepared.append(args[-1])  # the resolution
        return original(*args)

    monkeypatch.setattr(study, "_prepare", counted)
    with pytest.raises(StudyError) as refused:
        run_study(store, wards, asked)
    assert prepared == [9, 10]
    assert str(refused.value) == str(before.value)
    assert "resolution 10 would have enough cells, but at resolution 10" in str(refused.value)
