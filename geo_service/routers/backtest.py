"""``/v1/backtest``: did the hotspots picked on a training window hold the crime that followed?

Hit rate and PAI per resolution and selection (pipelines.planning.backtest), as JSON or a
printable page. ``POST /v1/backtest`` (with an API key: it writes) runs a backtest and records
it (pipelines.planning.backtest_record) so that ``/v1/hotspots`` can report the PAI of its
settings; ``GET /v1/backtest`` with the same parameters reads that recorded run back and
``/v1/backtest/last`` lists them, neither computing nor writing anything. A backtest is up to
6 studies, so the lists are bounded, and a run goes through admission control.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from boundaries.area_names import area_directory
from boundaries.h3_cover import STUDY_RESOLUTIONS
from boundaries.sets import display_name
from boundaries.store import BoundaryStore
from geo_service.backtest_page import render_backtest_html
from geo_service.body_limit import KeyedLimitedBodyRoute
from geo_service.dependencies import (
    AdmissionDep,
    BoundaryStoreDep,
    CacheDep,
    StoreDep,
    current_version,
    require_read_access,
    require_write_key,
)
from geo_service.models import ERRORS, responses_with_text
from geo_service.pages import html_response
from geo_service.query_params import (
    MONTH_SCHEMA,
    Alpha,
    Areas,
    Categories,
    CorrectionParam,
    ExcludePoliceGenerated,
    Force,
    MethodParam,
    Neighbours,
    Permutations,
    PForClasses,
    Region,
    ScopeParam,
    Seed,
    built_in_weights,
    optional_force,
    parse_categories,
    split_values,
)
from geo_service.routers.hotspots import resolved_study
from geo_service.synthetic import boundary_set_is_synthetic, mark_provenance
from pipelines.analysis.gistar import DEFAULT_P_FOR_CLASSES
from pipelines.analysis.request import DEFAULT_SCOPE
from pipelines.analysis.study import StudyRequest
from pipelines.analysis.window import WindowError
from pipelines.attribution import ATTRIBUTION
from pipelines.errors import InputError, NotFoundError
from pipelines.harm import list_tables
from pipelines.months import Month, MonthError, shift_month
from pipelines.planning.backtest import BACKTEST_RESOLUTIONS, backtest_region, training_end
from pipelines.planning.backtest_record import (
    RECORD_DIR,
    BacktestRequest,
    BacktestSettings,
    backtest_and_record,
    find_run,
    read_records,
)
from pipelines.quoting import quoted
from pipelines.store import CrimeStore

router = APIRouter(tags=["planning"])
reads = APIRouter(dependencies=[Depends(require_read_access)])
# Running a backtest writes its record beside the store: a write, so it needs a key.
writes = APIRouter(route_class=KeyedLimitedBodyRoute, dependencies=[Depends(require_write_key)])

# Each (resolution, selection) pair is one study on the training window: 3 x 2 = 6 at most.
MAX_RESOLUTIONS = 3
MAX_SELECTIONS = 2
MAX_TRAIN_MONTHS = 36
MAX_TEST_MONTHS = 12

# -- response models -----------------------------------------------------------------------------


class BacktestRowModel(BaseModel):
    resolution: int
    selection: str = Field(description="Harm table the hot spots were chosen on (count = crimes).")
    train: str = Field(description="Training window, YYYY-MM..YYYY-MM.")
    test: str = Field(description="Test period, YYYY-MM..YYYY-MM.")
    hotspot_cells: int
    region_cells: int
    area_share: float = Field(description="a / A: share of the region's area in the hot spots.")
    test_crimes: int = Field(description="N: crimes of the test period in the region.")
    hits: int = Field(description="n: of those, crimes in the hot spots.")
    hit_rate: float = Field(description="n / N.")
    pai: float = Field(description="(n / N) / (a / A); 1 is no better than chance.")
    pei: float = Field(description="PEI* = n / n*: n* the most crimes cells of area a could hold.")
    hit_rate_top1: float = Field(description="n / N in the top 1 % of the land area by Gi* z.")
    pai_top1: float = Field(description="PAI of that top 1 % (every resolution on equal area).")
    pei_top1: float = Field(description="PEI* of that top 1 %.")
    hit_rate_top5: float = Field(description="n / N in the top 5 % of the land area by Gi* z.")
    pai_top5: float = Field(description="PAI of that top 5 %.")
    pei_top5: float = Field(description="PEI* of that top 5 %.")


class BacktestBest(BaseModel):
    resolution: int
    selection: str
    pai: float
    hit_rate: float
    hit_rate_top5: float
    pai_top5: float
    pei_top5: float
    rule: str = Field(description="How the best setting was chosen.")


class BacktestProvenance(BaseModel):
    model_config = ConfigDict(extra="allow")
    boundary_set: str
    areas: list[str] = Field(description="Area codes; empty = the whole set.")
    scope: str = Field(
        description="set: the areas' hot spots judged against the whole set (as on their map), "
        "then scored on the areas; areas: the areas alone are the study region."
    )
    study_region: dict[str, Any] = Field(
        description="What was studied (the region the hot spots were judged against) and what "
        "was scored, in words."
    )
    force: str | None
    categories: list[str] | str
    exclude_police_generated: bool
    train: dict[str, Any] = Field(description="Training window: first, last, months stored.")
    test: dict[str, Any] = Field(description="Test period: first, last, months (all stored).")
    train_months: int
    test_months: int
    resolutions: list[int]
    selections: list[str]
    hotspot_selection: dict[str, Any] = Field(
        description="The statistics that chose the hot spots: method, k, alpha, correction, "
        "permutations, seed, p-for-classes rule and the hotspot rule."
    )
    test_crimes_rule: str
    formulas: dict[str, str] = Field(description="Hit rate and PAI, with the citation.")
    data_version: str
    run_at: str = Field(
        description="When the run was recorded (repeating the newest run keeps its date)."
    )
    recorded: dict[str, Any] = Field(description="Where the run is kept, and any warning.")
    attribution: str


class BacktestResult(BaseModel):
    provenance: BacktestProvenance
    rows: list[BacktestRowModel]
    best: BacktestBest


class BacktestRecords(BaseModel):
    boundary_set: str
    data_version: str = Field(description="The data version now; a run on another is stale.")
    runs: list[dict[str, Any]] = Field(description="Recorded runs, newest first, with 'stale'.")
    warning: str | None = Field(default=None, description="Why recorded runs could not be read.")


# -- the query -----------------------------------------------------------------------------------


def _training_end(text: str) -> Month:
    """to=: a month as every query parameter takes it, except that one after this month is left
    to the store's check, which names the to= that works (``training_end``)."""
    try:
        return training_end(text, option=None)
    except MonthError as error:
        raise PydanticCustomError("month", "{reason}", {"reason": str(error)}) from None


TrainingEndQuery = Annotated[str, AfterValidator(_training_end)]


@dataclass(frozen=True)
class BacktestQuery:
    backtest: BacktestRequest
    format: str


def backtest_query(
    store: StoreDep,
    boundaries: Region,
    area: Areas = None,
    last: Annotated[
        TrainingEndQuery | None,
        Query(
            alias="to",
            description="Last month of the training window, YYYY-MM. Default: the latest month "
            "that leaves a stored test period after it.",
            **MONTH_SCHEMA,
        ),
    ] = None,
    train_months: Annotated[
        int, Query(ge=1, le=MAX_TRAIN_MONTHS, description="Months the hot spots are chosen on.")
    ] = 12,
    test_months: Annotated[
        int, Query(ge=1, le=MAX_TEST_MONTHS, description="Months after it they are scored on.")
    ] = 3,
    res: Annotated[
        list[str] | None,
        Query(
            description=f"H3 resolutions (7-10) to compare, up to {MAX_RESOLUTIONS}; default 8,9."
        ),
    ] = None,
    weights: Annotated[
        list[str] | None,
        Query(
            description=f"Selections to compare, up to {MAX_SELECTIONS}: harm tables "
            f"({', '.join(list_tables())}); default count,home-office-2018."
        ),
    ] = None,
    force: Force = None,
    categories: Categories = None,
    exclude_police_generated: ExcludePoliceGenerated = False,
    method: MethodParam = "gistar",
    k: Neighbours = 1,
    permutations: Permutations = 999,
    seed: Seed = 0,
    alpha: Alpha = 0.05,
    correction: CorrectionParam = "fdr_bh",
    p_for_classes: PForClasses = DEFAULT_P_FOR_CLASSES,
    scope: ScopeParam = DEFAULT_SCOPE,
    format: Annotated[Literal["json", "html"], Query(description="json or html.")] = "json",
) -> BacktestQuery:
    """The parsed query; InputError (422) naming the parameter when it is wrong."""
    resolutions = _resolutions(res)
    selections = _selections(weights)
    force = optional_force(force)
    if last is None:
        last = _default_last(store, force, test_months)
    base = StudyRequest(
        boundaries=boundaries,
        areas=split_values(area),
        force=force,
        categories=parse_categories(categories),
        exclude_police_generated=exclude_police_generated,
        method=method,
        k=k,
        permutations=permutations,
        seed=seed,
        alpha=alpha,
        correction=correction,
        p_for_classes=p_for_classes,
        scope=scope,
    )
    asked = BacktestRequest.ending(
        base,
        last,
        train_months,
        test_months=test_months,
        resolutions=resolutions,
        selections=selections,
    )
    return BacktestQuery(asked, format)


def _resolutions(values: list[str] | None) -> tuple[int, ...]:
    parts = split_values(values) or tuple(map(str, BACKTEST_RESOLUTIONS))
    allowed = ", ".join(map(str, STUDY_RESOLUTIONS))
    resolutions = []
    for part in parts:
        if not part.isdigit() or int(part) not in STUDY_RESOLUTIONS:
            raise InputError(f"res must be H3 resolutions among {allowed}, got {quoted(part)}")
        resolutions.append(int(part))
    if len(set(resolutions)) > MAX_RESOLUTIONS:
        raise InputError(
            f"res lists {len(set(resolutions))} resolutions; a backtest compares at most "
            f"{MAX_RESOLUTIONS} (each is a study), so split them over two requests"
        )
    return tuple(sorted(set(resolutions)))


def _selections(values: list[str] | None) -> tuple[str, ...]:
    selections = split_values(values) or ("count", "home-office-2018")
    for name in selections:
        built_in_weights(name, choose="one or two")
    if len(selections) > MAX_SELECTIONS:
        raise InputError(
            f"weights lists {len(selections)} selections; a backtest compares at most "
            f"{MAX_SELECTIONS}, so split them over two requests"
        )
    return selections


def _default_last(store: CrimeStore, force: str | None, test_months: int) -> str:
    held = sorted({month for _, month in store.partitions(force or None)})
    if not held:
        where = f"force {quoted(force)}" if force else "any force"
        raise WindowError(f"the crime store holds no crimes for {where}, so nothing to backtest")
    return shift_month(held[-1], -test_months)


# -- endpoints -----------------------------------------------------------------------------------

WRITE_ERRORS = {status: ERRORS[status] for status in (401, 403, 422, 503)}

_FORMATS = responses_with_text(
    "The rows, the best setting and the provenance; format=html: a page.", "text/html"
)


@reads.get(
    "/backtest",
    response_model=BacktestResult,
    responses={**_FORMATS, 404: ERRORS[404]},
    summary="The recorded backtest of these settings (nothing is computed or written)",
)
def recorded_backtest(
    query: Annotated[BacktestQuery, Depends(backtest_query)],
    request: Request,
    boundary_store: BoundaryStoreDep,
    store: StoreDep,
) -> Response:
    """The newest recorded run of exactly these settings (training window, test months,
    resolutions, selections and hotspot settings), marked ``stale`` when the crimes or the
    boundaries changed since. Reading never runs or records anything: ``POST /v1/backtest``
    (with a key) or ``hotspots backtest`` runs one. 404 when none is recorded."""
    set_name = query.backtest.base.boundaries
    base = resolved_study(boundary_store, query.backtest.base)
    asked = dataclasses.replace(query.backtest, base=base)
    data_version = current_version(request, set_name)
    run = find_run(store.root, asked)
    if run is None:
        raise NotFoundError(
            f"no backtest of these settings is recorded for {quoted(set_name)}; run one with POST "
            "/v1/backtest and the same parameters (needs an API key) or `hotspots backtest`; "
            f"GET /v1/backtest/last?boundaries={set_name} lists the recorded runs"
        )
    return _answer(run, None, data_version, boundary_store, query.format)


# Plain `def`: the studies are CPU bound, so FastAPI runs the route in its thread pool.
@writes.post(
    "/backtest",
    response_model=BacktestResult,
    responses={**_FORMATS, **WRITE_ERRORS},
    summary="Run a backtest and record it: hit rate and PAI of hotspots on the months after",
)
def run_and_record_backtest(
    query: Annotated[BacktestQuery, Depends(backtest_query)],
    request: Request,
    store: StoreDep,
    boundary_store: BoundaryStoreDep,
    cache: CacheDep,
    admission: AdmissionDep,
) -> Response:
    """Hot spots are chosen on the training window (``to`` and ``train_months``) for each
    resolution and selection, then the crimes of the ``test_months`` after it are counted in
    them: hit rate n/N and PAI (n/N)/(a/A) (Chainey, Tompson and Uhlig 2008). The run is
    recorded (it writes, so it needs an API key), and ``/v1/hotspots`` reports its PAI for
    matching settings; ``GET /v1/backtest`` with the same parameters reads it back."""
    set_name = query.backtest.base.boundaries
    data_version = current_version(request, set_name)

    def run() -> tuple[dict, str | None]:
        base = resolved_study(boundary_store, query.backtest.base)
        return backtest_and_record(
            store.root,
            boundary_store.read(set_name),
            store,
            dataclasses.replace(query.backtest, base=base),
            data_version,
            source="api",
            study=lambda study: cache.get(study)[0],  # shared with /v1/hotspots' studies
        )

    entry, warning = admission.run(run)  # up to 6 studies: a heavy request like any other
    return _answer(entry, warning, data_version, boundary_store, query.format)


def _answer(
    entry: dict,
    warning: str | None,
    data_version: str,
    boundary_store: BoundaryStore,
    format: str,
) -> Response:
    body = result_body(entry, warning, data_version, boundary_store)
    set_name = entry["settings"]["boundaries"]
    if format == "html":
        page = render_backtest_html(body, *_set_words(boundary_store, set_name))
        return html_response(page, boundary_store, [set_name])
    model = BacktestResult.model_validate(body)
    return JSONResponse(model.model_dump(mode="json"), headers={"X-Data-Version": data_version})


@reads.get(
    "/backtest/last",
    response_model=BacktestRecords,
    responses=_FORMATS,
    summary="The recorded backtest runs of a boundary set (nothing is computed)",
)
def last_backtests(
    request: Request,
    store: StoreDep,
    boundary_store: BoundaryStoreDep,
    boundaries: Annotated[str, Query(description="Boundary set name.", min_length=1)],
    format: Annotated[
        Literal["json", "html"], Query(description="json: every run; html: the newest run's page.")
    ] = "json",
) -> Response:
    """Every recorded run for the set, newest first, each marked ``stale`` when the crimes or
    the boundaries changed since it ran. ``format=html`` shows the newest run's page."""
    boundary_store.describe(boundaries)  # 404 for an unknown set
    data_version = current_version(request, boundaries)
    records = read_records(store.root, boundaries)
    if format == "html":
        if not records.runs:
            raise NotFoundError(
                f"no backtest is recorded for {quoted(boundaries)}"
                + (f" ({records.warning})" if records.warning else "")
                + f"; run one with POST /v1/backtest?boundaries={boundaries} (needs an API key)"
            )
        body = result_body(records.runs[0], records.warning, data_version, boundary_store)
        page = render_backtest_html(body, *_set_words(boundary_store, boundaries))
        return html_response(page, boundary_store, [boundaries])
    runs = [{**run, "stale": run["data_version"] != data_version} for run in records.runs]
    model = BacktestRecords(
        boundary_set=boundaries, data_version=data_version, runs=runs, warning=records.warning
    )
    return JSONResponse(model.model_dump(mode="json"), headers={"X-Data-Version": data_version})


def _set_words(store: BoundaryStore, set_name: str) -> tuple[str, dict[str, str], str]:
    """What the page names the set and its areas by: title, code -> name, scheme."""
    description = store.describe(set_name)
    directory = area_directory(store, set_name)
    names = dict(zip(directory.codes, directory.names, strict=True))
    return display_name(description), names, str(description.get("scheme", ""))


def result_body(
    entry: dict, warning: str | None, data_version: str, boundary_store: BoundaryStore
) -> dict:
    """The response body of a recorded run: rows, best, and every choice behind them."""
    settings = entry["settings"]
    scope = BacktestSettings.from_dict(settings).scope  # runs recorded before scopes: "areas"
    studied = StudyRequest(settings["boundaries"], areas=tuple(settings["areas"]), scope=scope)
    provenance = {
        "boundary_set": settings["boundaries"],
        "areas": settings["areas"],
        "scope": scope,
        "study_region": backtest_region(studied),
        "force": settings["force"],
        "categories": settings["categories"] or "all",
        "exclude_police_generated": settings["exclude_police_generated"],
        "train": entry["train"],
        "test": entry["test"],
        "train_months": entry["train_months"],
        "test_months": entry["test_months"],
        "resolutions": entry["resolutions"],
        "selections": entry["selections"],
        "hotspot_selection": entry["hotspot_selection"],
        "test_crimes_rule": entry["test_crimes_rule"],
        "formulas": entry["formulas"],
        "data_version": entry["data_version"],
        "stale": entry["data_version"] != data_version,
        "run_at": entry["run_at"],
        "source": entry["source"],
        "recorded": {
            "file": f"{RECORD_DIR}/{settings['boundaries']}.json",
            "warning": warning,
            "reported_by": "GET /v1/hotspots with the same settings, res and weights "
            "(provenance.backtest)",
        },
        "attribution": ATTRIBUTION,
    }
    if boundary_set_is_synthetic(boundary_store, settings["boundaries"]):
        provenance = mark_provenance(provenance)
    return {"provenance": provenance, "rows": entry["rows"], "best": entry["best"]}


router.include_router(reads)
router.include_router(writes)
