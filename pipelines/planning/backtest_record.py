"""Backtest runs kept beside the data, so a hotspot answer can say how well its settings predicted.

One JSON file per boundary set: ``<data dir>/backtests/<set>.json`` holding a list of runs. A run
is identified by its settings (everything that chooses the hotspots except the resolution and the
selection, which vary per row) and the resolutions and selections it compared; the newest run
with that identity replaces the older one, whatever its windows. Files are replaced atomically
(``pipelines.store.atomic``) under a lock, so readers see the old list or the new one.

A row (resolution R, selection W) of a run on settings S *matches* a hotspot question with the
same boundaries, areas, scope, force, categories, police-generated exclusion, method, k, alpha,
correction and p-for-classes rule, at resolution R with weights W. The window need not match: the
hotspot question is usually about a later window, so the match reports the windows the backtest
was scored on. Permutations and seed are not compared (with the default Gi* rule they do not
change the classes at all; for LISA they move only Monte Carlo noise); the match reports them.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_type_hints

from boundaries.sets import BoundarySet, check_name
from pipelines.analysis.request import DEFAULT_SCOPE
from pipelines.analysis.study import StudyRequest
from pipelines.categories import canonical_category
from pipelines.errors import InputError
from pipelines.months import shift_month
from pipelines.planning.backtest import (
    BACKTEST_RESOLUTIONS,
    BACKTEST_SELECTIONS,
    BEST_RULE,
    CITATION,
    PAI_FORMULA,
    BacktestRow,
    BacktestRun,
    StudyRunner,
    best,
    rows_as_dicts,
    run_backtest,
)
from pipelines.progress import StepReport, no_progress
from pipelines.quoting import quoted
from pipelines.store import CrimeStore
from pipelines.store.atomic import (
    atomic_write,
    disk_faults_in_words,
    file_version,
    remove_stale_temporaries,
)
from pipelines.store.errors import StoreWriteError

RECORD_FORMAT = "hotspots-backtests/2"  # 2: rows scored at fixed area shares, PEI*
RECORD_DIR = "backtests"
# Runs kept per boundary set, newest first: GET /v1/backtest records, and its settings include a
# continuous alpha, so without a bound anyone who may read could grow the file without end.
MAX_RUNS = 100
# What readers of a recorded run rely on (the hotspot entry, the API body, the page): a file
# edited by hand or by another version without them is reported unreadable, never a crash.
_NUMBER = (int, float)
_ROW_SHAPE: dict = {
    name: {int: int, float: _NUMBER, str: str}[kind]
    for name, kind in get_type_hints(BacktestRow).items()
}
_RUN_SHAPE: dict = {
    "resolutions": list,
    "selections": list,
    "train_months": int,
    "test_months": int,
    "train": {
        "first": str,
        "last": str,
        "months": int,
        "months_stored": int,
        "months_missing": list,
    },
    "test": {"first": str, "last": str, "months": int},
    "hotspot_selection": {
        "method": str,
        "statistic": str,
        "neighbours": {"type": str, "k": int},
        "hotspot_rule": str,
        "alpha": _NUMBER,
        "correction": str,
        "permutations": int,
        "seed": int,
    },
    "test_crimes_rule": str,
    "formulas": {
        "hit_rate": str,
        "pai": str,
        "citation": str,
        "pei": str,
        "fixed_area": str,
        "best": str,
    },
    "best": {
        "resolution": int,
        "selection": str,
        "pai": _NUMBER,
        "hit_rate": _NUMBER,
        "hit_rate_top5": _NUMBER,
        "pai_top5": _NUMBER,
        "pei_top5": _NUMBER,
        "rule": str,
    },
    "data_version": str,
    "run_at": str,
    "source": str,
}
_lock = threading.Lock()  # one writer per process; flock below covers other processes


@dataclass(frozen=True)
class BacktestSettings:
    """What chooses the hotspots of a backtest, apart from the resolution and the selection."""

    boundaries: str
    areas: tuple[str, ...]  # sorted; empty = the whole set
    force: str | None
    categories: tuple[str, ...]  # canonical slugs, sorted; empty = all
    exclude_police_generated: bool
    method: str
    k: int
    alpha: float
    correction: str
    p_for_classes: str
    permutations: int
    seed: int
    # What the areas' hot spots are judged against (pipelines/analysis/scope.py): "set" unless
    # named areas were studied alone.
    scope: str = DEFAULT_SCOPE

    @classmethod
    def of(cls, request: StudyRequest) -> BacktestSettings:
        return cls(
            boundaries=request.boundaries,
            areas=tuple(sorted(set(request.areas))),
            scope=request.scope if request.areas else DEFAULT_SCOPE,
            force=request.force or None,
            categories=_canonical(request.categories),
            exclude_police_generated=request.exclude_police_generated,
            method=request.method,
            k=request.k,
            alpha=request.alpha,
            correction=request.correction,
            p_for_classes=request.p_for_classes,
            permutations=request.permutations,
            seed=request.seed,
        )

    @classmethod
    def from_dict(cls, data: dict) -> BacktestSettings:
        names = {f.name for f in fields(cls)}
        data = dict(data)
        # Runs recorded before scopes existed studied the named areas alone.
        data.setdefault("scope", "areas" if data.get("areas") else DEFAULT_SCOPE)
        values = {name: data[name] for name in names}  # KeyError: not a record we wrote
        values["areas"] = tuple(values["areas"])
        values["categories"] = tuple(values["categories"])
        return cls(**values)

    def matches(self, request: StudyRequest) -> bool:
        """Same hotspot-choosing settings as ``request`` (its resolution and weights aside)."""
        other = BacktestSettings.of(request)
        return (
            self.boundaries == other.boundaries
            and self.areas == other.areas
            and self.scope == other.scope
            and self.force == other.force
            and self.categories == other.categories
            and self.exclude_police_generated == other.exclude_police_generated
            and self.method == other.method
            and self.k == other.k
            and math.isclose(self.alpha, other.alpha, rel_tol=1e-9)
            and self.correction == other.correction
            and self.p_for_classes == other.p_for_classes
        )


@dataclass(frozen=True)
class BacktestRequest:
    """A backtest as asked: the training question (its window ends the training), the months
    scored after it, and the resolutions and selections compared."""

    base: StudyRequest
    train_months: int = 12
    test_months: int = 3
    resolutions: tuple[int, ...] = BACKTEST_RESOLUTIONS
    selections: tuple[str, ...] = BACKTEST_SELECTIONS

    @classmethod
    def ending(
        cls, base: StudyRequest, last: str, train_months: int, **options: Any
    ) -> BacktestRequest:
        """The backtest whose training window is the ``train_months`` ending ``last``."""
        check_scope_has_areas(base)
        if train_months < 1:
            raise ValueError(f"the training window must be at least 1 month, got {train_months}")
        first = shift_month(last, 1 - train_months)
        return cls(replace(base, first=first, last=last), train_months, **options)


def check_scope_has_areas(base: StudyRequest) -> None:
    """Refuse scope "areas" without an area: it asks for named areas studied alone, and with none
    named the run would silently be the whole set's (scope "set"), recorded as such."""
    if base.scope == "areas" and not base.areas:
        raise InputError(
            "scope areas backtests the named areas studied alone, so it needs at least one "
            "area: name it (area= in the API, --area on the command line), or leave scope at "
            "set to backtest the whole boundary set"
        )


@dataclass(frozen=True)
class BacktestRecords:
    """The runs recorded for a boundary set; ``warning`` says why none could be read."""

    runs: list[dict]
    warning: str | None = None


def records_path(data_dir: Path, set_name: str) -> Path:
    return Path(data_dir) / RECORD_DIR / f"{check_name(set_name)}.json"


def record_fingerprint(data_dir: Path, set_name: str) -> str:
    """The record file's version (size and modification time; "absent" without one): part of the
    cache key of any response that reports a recorded backtest, so a new record is never hidden
    by a cache. A stat, not a read: it is checked on every hotspot request."""
    return file_version(records_path(data_dir, set_name))


def read_records(data_dir: Path, set_name: str) -> BacktestRecords:
    """The recorded runs, newest first; none with a warning when the file cannot be used."""
    path = records_path(data_dir, set_name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return BacktestRecords([])
    except OSError as error:
        return BacktestRecords([], _unreadable(set_name, f"cannot be read ({error.strerror})"))
    except UnicodeDecodeError:
        return BacktestRecords([], _unreadable(set_name, "is not UTF-8 text"))
    try:
        runs = _parse(text)
    except ValueError as error:
        return BacktestRecords([], _unreadable(set_name, str(error)))
    return BacktestRecords(sorted(runs, key=lambda run: run["run_at"], reverse=True))


def record_run(
    data_dir: Path,
    run: BacktestRun,
    data_version: str,
    source: str,
    train_months: int,
    now: datetime | None = None,
    in_full: bool = False,
) -> tuple[dict, str | None]:
    """Keep ``run`` in the boundary set's record, replacing an older run with the same settings,
    resolutions and selections. Returns (the stored run, a warning or None). Repeating the newest
    run (same settings, windows, data version and rows) leaves the file untouched, so a repeated
    request does not change the record or the responses cached on it. ``in_full``: the warning
    names files by their absolute paths (for the command line; the service never does)."""
    settings = BacktestSettings.of(run.request)
    entry = run_entry(run, data_version, source, train_months, now)
    path = records_path(data_dir, settings.boundaries)
    warning = None
    with _locked(path.parent):
        current = read_records(data_dir, settings.boundaries)
        if current.warning:
            # Kept aside rather than overwritten: someone may want to see what went wrong.
            os.replace(path, path.with_name(path.name + ".unreadable"))
            kept = path.with_name(path.name + ".unreadable")
            warning = f"{current.warning} It was moved to {_named(kept, in_full)}."
        newest = current.runs[0] if current.runs else None
        if newest and _identity(newest) == _identity(entry) and _same_result(newest, entry):
            return newest, warning
        runs = [entry] + [r for r in current.runs if _identity(r) != _identity(entry)]
        runs = runs[:MAX_RUNS]
        body = {"format": RECORD_FORMAT, "boundary_set": settings.boundaries, "runs": runs}
        remove_stale_temporaries(path)  # a killed writer's; the lock makes us the only writer
        with atomic_write(path) as tmp:
            tmp.write_text(json.dumps(body, indent=2, default=_plain), encoding="utf-8")
    return entry, warning


def find_run(data_dir: Path, request: BacktestRequest) -> dict | None:
    """The newest recorded run of exactly ``request`` (settings, resolutions, selections,
    training window and test months), or None: what ``GET /v1/backtest`` answers with."""
    wanted = (
        _identity(
            {
                "settings": asdict(BacktestSettings.of(request.base)),
                "resolutions": sorted(set(request.resolutions)),
                "selections": sorted(set(request.selections)),
            }
        ),
        request.base.last,
        request.train_months,
        request.test_months,
    )
    for run in read_records(data_dir, request.base.boundaries).runs:
        found = (_identity(run), run["train"]["last"], run["train_months"], run["test_months"])
        if found == wanted:
            return run
    return None


def delete_records(data_dir: Path, set_name: str) -> None:
    """Delete a boundary set's records (with the set: runs of a deleted set mean nothing)."""
    path = records_path(data_dir, set_name)
    with (
        _locked(path.parent),
        disk_faults_in_words(f"{RECORD_DIR}/{path.name}"),
    ):
        for kept in (path, path.with_name(path.name + ".unreadable")):
            kept.unlink(missing_ok=True)


def find_match(
    runs: list[dict], request: StudyRequest, resolution: int
) -> tuple[dict, dict] | None:
    """The newest run (of ``runs``, newest first) whose settings match ``request`` and that
    scored (``resolution``, ``request.weights``), with that row."""
    for run in runs:
        if not BacktestSettings.from_dict(run["settings"]).matches(request):
            continue
        if not _training_fully_stored(run):
            continue  # chosen on fewer months than its window says: not a score to quote
        for row in run["rows"]:
            if row["resolution"] == resolution and row["selection"] == request.weights:
                return run, row
    return None


def _training_fully_stored(run: dict) -> bool:
    """False for a run recorded before incomplete training windows were refused."""
    train = run.get("train") or {}
    months, stored = train.get("months"), train.get("months_stored")
    return not isinstance(months, int) or not isinstance(stored, int) or stored >= months


def hotspot_entry(run: dict, row: dict, current_version: str) -> dict[str, Any]:
    """How the recorded backtest scored this hotspot setting, for a hotspot answer's provenance."""
    top = run["best"]
    return {
        "pai": row["pai"],
        "hit_rate": row["hit_rate"],
        "pei": row["pei"],
        "hit_rate_top5": row["hit_rate_top5"],
        "pai_top5": row["pai_top5"],
        "hits": row["hits"],
        "test_crimes": row["test_crimes"],
        "area_share": row["area_share"],
        "hotspot_cells": row["hotspot_cells"],
        "resolution": row["resolution"],
        "selection": row["selection"],
        "train": row["train"],
        "test": row["test"],
        "run_at": run["run_at"],
        "data_version": run["data_version"],
        "stale": run["data_version"] != current_version,
        "best": top,
        "best_is_this_setting": (top["resolution"], top["selection"])
        == (row["resolution"], row["selection"]),
        "compared": {"resolutions": run["resolutions"], "selections": run["selections"]},
        "permutations": run["settings"]["permutations"],
        "seed": run["settings"]["seed"],
        "source": run["source"],
        "formula": PAI_FORMULA,
        "citation": CITATION,
    }


def run_entry(
    run: BacktestRun,
    data_version: str,
    source: str,
    train_months: int,
    now: datetime | None = None,
) -> dict:
    """The run as it is recorded (and as the API returns it): settings, windows, rows, best."""
    top = best(run.rows)
    return {
        "settings": asdict(BacktestSettings.of(run.request)),
        "resolutions": sorted({row.resolution for row in run.rows}),
        "selections": sorted({row.selection for row in run.rows}),
        "train_months": train_months,
        "test_months": run.test_window["months"],
        "train": run.train_window,
        "test": run.test_window,
        "hotspot_selection": run.hotspot_selection,
        "test_crimes_rule": run.test_crimes_rule,
        "study_region": run.study_region,
        "formulas": run.formulas,
        "rows": rows_as_dicts(run.rows),
        "best": {
            "resolution": top.resolution,
            "selection": top.selection,
            "pai": top.pai,
            "hit_rate": top.hit_rate,
            "hit_rate_top5": top.hit_rate_top5,
            "pai_top5": top.pai_top5,
            "pei_top5": top.pei_top5,
            "rule": BEST_RULE,
        },
        "data_version": data_version,
        "run_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "source": source,
    }


def _identity(run: dict) -> tuple:
    # Through the settings class: a run recorded before scopes gets the scope it had.
    settings = asdict(BacktestSettings.from_dict(run["settings"]))
    return (
        tuple((name, json.dumps(settings[name])) for name in sorted(settings)),
        tuple(run["resolutions"]),
        tuple(run["selections"]),
    )


def _same_result(stored: dict, new: dict) -> bool:
    keys = ("train", "test", "data_version", "rows", "train_months")
    # Through JSON, as stored: tuples and lists compare alike.
    return all(
        json.dumps(stored.get(k), default=_plain) == json.dumps(new[k], default=_plain)
        for k in keys
    )


def _parse(text: str) -> list[dict]:
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"is not valid JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(body, dict) or body.get("format") != RECORD_FORMAT:
        raise ValueError(f"is not a {RECORD_FORMAT} record")
    runs = body.get("runs")
    if not isinstance(runs, list):
        raise ValueError("has no list of runs")
    for run in runs:
        try:
            BacktestSettings.from_dict(run["settings"])
            rows = run["rows"]
            if not rows or not all(_has_shape(row, _ROW_SHAPE) for row in rows):
                raise ValueError
            if not _has_shape(run, _RUN_SHAPE):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise ValueError("holds a run without its settings, windows, rows or date") from None
    return runs


def _has_shape(value: object, shape: dict) -> bool:
    """``value`` is a dict with every key of ``shape``, each of the type (or shape) given."""
    if not isinstance(value, dict):
        return False
    for key, kind in shape.items():
        if key not in value:
            return False
        ok = (
            _has_shape(value[key], kind) if isinstance(kind, dict) else isinstance(value[key], kind)
        )
        if not ok:
            return False
    return True


def _plain(value: object) -> object:
    """numpy scalars (from the statistics) as Python numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot record a {type(value).__name__}")


def _unreadable(set_name: str, reason: str) -> str:
    return (
        f"the backtest record of {quoted(set_name)} {reason}, so no recorded backtest is reported; "
        "run the backtest again to write a new record."
    )


def _canonical(categories: tuple[str, ...]) -> tuple[str, ...]:
    # Unknown names stay as given: the study refuses them before anything is recorded.
    return tuple(sorted({canonical_category(name) or name for name in categories}))


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise read-modify-write of the records: threads by a lock, processes (the CLI beside
    the service) by flock on the folder itself, which leaves no lock file behind."""
    directory.mkdir(parents=True, exist_ok=True)
    with _lock:
        try:
            import fcntl
        except ImportError:  # Windows: the in-process lock only
            yield
            return
        fd = os.open(directory, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def backtest_and_record(
    data_dir: Path,
    boundary_set: BoundarySet,
    store: CrimeStore,
    request: BacktestRequest,
    data_version: str,
    source: str,
    study: StudyRunner | None = None,
    progress: StepReport = no_progress,
    in_full: bool = False,
) -> tuple[dict, str | None]:
    """Run the backtest ``request`` asks for and record it: (the run as recorded, a warning).
    The command line and the service both come here, so they record alike. A record that
    cannot be written (a read-only folder) is a warning: the result itself stands. ``in_full``:
    the warning names the record by its absolute path (the command line's; the service shows
    no server path)."""
    run = run_backtest(
        store,
        boundary_set,
        request.base,
        request.test_months,
        request.resolutions,
        request.selections,
        study=study,
        progress=progress,
    )
    try:
        return record_run(
            data_dir, run, data_version, source, request.train_months, in_full=in_full
        )
    except (OSError, StoreWriteError) as error:
        entry = run_entry(run, data_version, source, request.train_months)
        if isinstance(error, StoreWriteError):  # it names the file (relative, or in full)
            return entry, f"the run could not be recorded ({_said(error, in_full)})"
        record = _named(records_path(data_dir, request.base.boundaries), in_full)
        return entry, f"the run could not be recorded in {record} ({error.strerror or error})"


def _named(path: Path, in_full: bool) -> str:
    """A record file as a warning names it: by its absolute path for the command line, else
    relative to the data folder (``backtests/NAME.json``), never the server's path."""
    return os.path.abspath(path) if in_full else f"{path.parent.name}/{path.name}"


def _said(error: StoreWriteError, in_full: bool) -> str:
    return error.in_full if in_full else str(error)
