"""The ``backtest`` entry of a hotspot answer's provenance: how well its settings predicted.

The numbers come from the newest recorded backtest whose settings match the hotspot question
(``pipelines.planning.backtest_record``). Hotspot responses are cached on the data version *and*
the record file's fingerprint (:func:`version_with_backtests`), so recording a backtest never
leaves a cached hotspot answer without its PAI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pipelines.analysis.request import DEFAULT_SCOPE
from pipelines.analysis.study import StudyRequest
from pipelines.planning.backtest_record import (
    find_match,
    hotspot_entry,
    read_records,
    record_fingerprint,
)


def version_with_backtests(data_version: str, data_dir: Path, set_name: str) -> str:
    """The response-cache version of an answer that reports backtests: the data and the record."""
    return f"{data_version}+backtests:{record_fingerprint(data_dir, set_name)}"


def backtest_provenance(
    data_dir: Path, study: StudyRequest, resolution: int, data_version: str
) -> dict[str, Any]:
    """``{"backtest": entry}`` for the matching recorded run, else ``{"backtest": None,
    "backtest_hint": how to run one}``; ``backtest_warning`` when the record is unreadable.
    ``resolution`` is the one the study used (the data guard may have changed the asked one)."""
    records = read_records(data_dir, study.boundaries)
    extra: dict[str, Any] = {}
    if records.warning:
        extra["backtest_warning"] = records.warning
    match = find_match(records.runs, study, resolution)
    if match is None:
        return {"backtest": None, "backtest_hint": backtest_hint(study, resolution), **extra}
    run, row = match
    return {"backtest": hotspot_entry(run, row, data_version), **extra}


def backtest_hint(study: StudyRequest, resolution: int) -> str:
    """How to run the backtest these settings need, over HTTP and on the command line."""
    query: list[tuple[str, str]] = [
        ("boundaries", study.boundaries),
        *(("area", code) for code in study.areas),
        ("res", str(resolution)),
        ("weights", study.weights),
    ]
    cli = [
        f"--boundaries {study.boundaries}",
        *(f"--area {code}" for code in study.areas),
        f"--res {resolution}",
        f"--weights {study.weights}",
    ]
    if study.areas and study.scope != DEFAULT_SCOPE:  # the scope of the answer it is hinted on
        query.append(("scope", study.scope))
        cli.append(f"--scope {study.scope}")
    if study.force:
        query.append(("force", study.force))
        cli.append(f"--force {study.force}")
    if study.categories:
        query.append(("categories", ",".join(study.categories)))
        cli.extend(f"--category {slug}" for slug in study.categories)
    if study.exclude_police_generated:
        query.append(("exclude_police_generated", "true"))
        cli.append("--exclude-police-generated")
    defaults = StudyRequest(study.boundaries)
    for name, option in (("method", "method"), ("k", "k"), ("alpha", "alpha")):
        if getattr(study, name) != getattr(defaults, name):
            query.append((name, str(getattr(study, name))))
            cli.append(f"--{option} {getattr(study, name)}")
    if study.correction != defaults.correction:
        query.append(("correction", study.correction))
        cli.append(f"--correction {study.correction}")
    return (
        "no backtest is recorded for these settings; run one with "
        f"POST /v1/backtest?{urlencode(query)} (with an API key; add to=YYYY-MM, the training "
        f"window's last month) or `hotspots backtest {' '.join(cli)} --to YYYY-MM`"
    )


def recorded_backtest_url(data_dir: Path, study: StudyRequest, resolution: int) -> str | None:
    """The page of the recorded backtest that scored ``study``'s settings (its scope included,
    so a ward's map links to the backtest of the hot spots it shows), or None without one."""
    match = find_match(read_records(data_dir, study.boundaries).runs, study, resolution)
    if match is None:
        return None
    run, _ = match
    settings = run["settings"]
    query: list[tuple[str, str]] = [
        ("boundaries", settings["boundaries"]),
        *(("area", code) for code in settings["areas"]),
        ("to", run["train"]["last"]),
        ("train_months", str(run["train_months"])),
        ("test_months", str(run["test_months"])),
        ("res", ",".join(map(str, run["resolutions"]))),
        ("weights", ",".join(run["selections"])),
    ]
    if settings["areas"]:
        query.append(("scope", settings.get("scope", "areas")))
    for name in ("force", "method", "k", "alpha", "correction", "p_for_classes"):
        if settings[name] is not None:
            query.append((name, str(settings[name])))
    if settings["categories"]:
        query.append(("categories", ",".join(settings["categories"])))
    if settings["exclude_police_generated"]:
        query.append(("exclude_police_generated", "true"))
    query += [("permutations", str(settings["permutations"])), ("seed", str(settings["seed"]))]
    return f"/v1/backtest?{urlencode([*query, ('format', 'html')])}"
