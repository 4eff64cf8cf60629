"""``hotspots analyse``: hotspot statistics for a region, written with their provenance.

A question asked before, on the same data, is answered from the study cache the service shares
(pipelines/cache/studies.py), and the provenance says so; that path loads neither the numerical
stack nor the boundaries (a fraction of a second instead of seconds for a whole force).
Everything heavy is imported by the path that computes.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from cli import study_options as study
from cli.areas import AreaOption
from cli.common import (
    DataDirOption,
    ForceOption,
    FromOption,
    OverwriteOption,
    QuietOption,
    ToOption,
    check_output_place,
    confirm_written,
    console,
    existing_data_dir,
    fail,
    finite,
    open_store,
    output_path,
    refuse_standard_output,
    refuse_to_overwrite,
    set_label,
    step_progress,
    with_set_labels,
)
from cli.numpy_extras import defer_numpy_extras
from cli.process_exit import skip_teardown
from cli.study_summary import study_summary
from pipelines.analysis.output import (
    encode_cells,
    output_files,
    output_format,
    write_columns,
    write_result,
)
from pipelines.analysis.request import DEFAULT_P_FOR_CLASSES, DEFAULT_SCOPE, StudyRequest
from pipelines.analysis.scope import (
    check_scope,
    check_scope_has_areas,
    judged_against_set,
    scope_provenance,
    shown_columns,
    studied_request,
)
from pipelines.cache.disk import cache_dir_for, open_cache
from pipelines.cache.studies import CachedStudy, CacheHit, find_cached
from pipelines.months import MonthError, check_range
from pipelines.quoting import quoted
from pipelines.store.atomic import file_version
from pipelines.store.view import ManifestView

if TYPE_CHECKING:
    import pandas as pd

    from boundaries.sets import BoundarySet
    from pipelines.store import CrimeStore
    from pipelines.store.snapshot import Snapshot


def analyse(
    boundaries: Annotated[
        str,
        typer.Option(
            "--boundaries", help="Boundary set that defines the region.", show_default=False
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="File to write.",
            show_default=False,
            parser=output_path,
            metavar="FILE",
        ),
    ],
    area: AreaOption = None,
    resolution: study.Resolution = 9,
    first: FromOption = None,
    last: ToOption = None,
    force: ForceOption = None,
    category: study.Category = None,
    weights: study.Weights = "count",
    exclude_police_generated: study.ExcludePoliceGenerated = False,
    method: study.Method = "gistar",
    k: study.Neighbours = 1,
    permutations: study.Permutations = 999,
    seed: study.Seed = 0,
    alpha: study.Alpha = 0.05,
    correction: study.Correction = "fdr_bh",
    p_for_classes: study.PForClasses = DEFAULT_P_FOR_CLASSES,
    adjust: Annotated[
        bool,
        typer.Option(
            "--adjust/--no-adjust",
            help="Let the sparse-data guard widen the window or change the resolution "
            "(it says which).",
        ),
    ] = True,
    scope: Annotated[
        str,
        typer.Option(
            "--scope",
            help="With --area: set (judge the areas against the whole boundary set, write "
            "their cells) or areas (the named areas alone are the study region).",
        ),
    ] = DEFAULT_SCOPE,
    emerging: Annotated[
        bool, typer.Option("--emerging", help="Add emerging-hotspot categories (>= 10 months).")
    ] = False,
    top: Annotated[
        int | None,
        typer.Option(
            "--top", help="Write the ranked list of the top N hotspots instead.", show_default=False
        ),
    ] = None,
    rank_by: Annotated[str, typer.Option("--rank-by", help="z or value (harm).")] = "z",
    per_area: Annotated[bool, typer.Option("--per-area", help="Top N in each area.")] = False,
    min_separation_m: Annotated[
        float | None,
        typer.Option(
            "--min-separation-m",
            help="Patrol constraint: metres between chosen cells.",
            show_default=False,
            callback=finite,
        ),
    ] = None,
    file_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="csv, geojson or json. Default: from the file name.",
            show_default=False,
        ),
    ] = None,
    quiet: QuietOption = False,
    data_dir: DataDirOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Find statistically significant hot spots of crime or harm in a region.

    Every cell of the region is written (zero-crime cells included), with count, value, z, p,
    adjusted p and class; the settings and data behind them go in the provenance.
    """
    _one_blas_thread()
    try:
        first, last = check_range(first, last)
        refuse_standard_output(output, "analyse prints its summary there")
        check_output_place(output)
        chosen_format = output_format(output, file_format)
        check_scope_has_areas(check_scope(scope), area)
        refuse_to_overwrite(output_files(output, chosen_format), overwrite)
        if rank_by != "z":  # the default needs no check (and no pandas)
            from pipelines.analysis.ranking import RANK_BY

            if rank_by not in RANK_BY:
                fail(f"--rank-by must be one of {', '.join(RANK_BY)}, got {quoted(rank_by)}")
    except (MonthError, ValueError) as error:
        fail(str(error))
    request = StudyRequest(
        boundaries=boundaries,
        areas=tuple(area or ()),  # codes as given; names are resolved by the computing path
        resolution=resolution,
        first=first,
        last=last,
        force=force,
        categories=tuple(category or ()),
        weights=weights,
        exclude_police_generated=exclude_police_generated,
        method=method,
        k=k,
        permutations=permutations,
        seed=seed,
        alpha=alpha,
        correction=correction,
        p_for_classes=p_for_classes,
        emerging=emerging,
        adjust=adjust,
        scope=scope,
    )
    root = existing_data_dir(data_dir)
    if judged_against_set(request):
        # The set's study serves every area: the codes pick its cells (unknown names end here).
        request = dataclasses.replace(request, areas=_area_codes(root, boundaries, area))
    studied = studied_request(request)
    view = _current_view(root)
    hit = find_cached(root, studied, view)
    if hit is None and studied.areas:
        # Asked by name: the cache keys studies by area code, so resolve the names and look again
        # (asked by code, the codes are what was looked up already).
        codes = _area_codes(root, boundaries, area)
        if codes != studied.areas:
            studied = request = dataclasses.replace(request, areas=codes)
            hit = find_cached(root, studied, view)
    from_cache = hit is not None
    keeping: threading.Thread | None = None
    if hit is None:
        hit, keeping = _compute(studied, area if studied.areas else None, data_dir, quiet, view)
    try:
        _write_answer(
            request,
            hit,
            from_cache,
            output,
            chosen_format,
            top,
            rank_by,
            per_area,
            min_separation_m,
            _set_label(root, boundaries),
        )
    finally:
        if keeping is not None:
            keeping.join()  # the study is in the cache, whole, before the command ends
    # Written, closed and cached: the console script may end the process without unloading
    # the numerical stack (0.15-0.18 s, cli/process_exit.py).
    skip_teardown()


def _write_answer(
    request: StudyRequest,
    hit: CacheHit,
    from_cache: bool,
    output: Path,
    chosen_format: str,
    top: int | None,
    rank_by: str,
    per_area: bool,
    min_separation_m: float | None,
    label: str,
) -> None:
    """Write the study as ``request`` shows it, in ``chosen_format``, and print the summary,
    which names the set by ``label`` (:func:`cli.common.set_label`)."""
    study_answer, studied_cells = _shown(request, hit.study)
    provenance = scope_provenance(
        request,
        {
            **study_answer.provenance,
            "data_version": hit.data_version,
            "study_cache": {
                "answered_from_cache": from_cache,
                "computed_at": study_answer.computed_at,
                "key": "the request with its window spelled out, and the data version",
            },
        },
        len(study_answer),
    )
    provenance["study_region"]["cells"] = studied_cells
    ranked = None
    try:
        if top is None:
            written = write_columns(
                study_answer.columns,
                provenance,
                output,
                chosen_format,
                cells_json=study_answer.cells_json,
            )
        else:
            from pipelines.analysis.ranking import rank_cells

            ranked = rank_cells(
                study_answer.to_result().cells,
                by=rank_by,
                top=top,
                per_area=per_area,
                min_separation_m=min_separation_m,
            )
            written = write_result(ranked, provenance, output, chosen_format)
    except ValueError as error:
        fail(str(error))
    labels = {request.boundaries: label}
    _summary(study_answer.columns, provenance, study_answer.adjustments, ranked, top, labels)
    confirm_written(written)


def _shown(request: StudyRequest, study_answer: CachedStudy) -> tuple[CachedStudy, int]:
    """The study as ``request`` shows it (the named areas' cells of the set's study), and the
    number of cells studied."""
    columns, studied_cells = shown_columns(request, study_answer.columns)
    if columns is study_answer.columns:
        return study_answer, studied_cells
    cut = dataclasses.replace(study_answer, columns=columns, cells_json=encode_cells(columns))
    return cut, studied_cells


def _one_blas_thread() -> None:
    """One OpenBLAS thread (unless the environment says otherwise), set before numpy loads: no
    step of a study multiplies dense matrices (Gi* and Moran's I use scipy.sparse), and
    OpenBLAS's default of a thread per core costs 0.05 CPU-s to start for each of numpy and
    scipy, taken from the other commands and servers on the machine."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _current_view(root: Path) -> ManifestView | None:
    """The store's current manifest, read once for both the cache lookup and a computed study
    (a national store's, 1,440 partitions, takes ~15 ms to parse); None when it cannot be read,
    and the computing path then says what is wrong."""
    try:
        return ManifestView.current(root)
    except Exception:  # as find_cached: any doubt is left to the full path
        return None


def _snapshot_of(store: CrimeStore, view: ManifestView) -> Snapshot:
    """``view``'s version of ``store`` as the snapshot ``store.snapshot()`` makes of the manifest
    it reads (again) from disk."""
    from pipelines.store.snapshot import Snapshot

    return Snapshot(store.root, view.manifest, current=store.version)


def _compute(
    request: StudyRequest,
    area: list[str] | None,
    data_dir: Path | None,
    quiet: bool,
    view: ManifestView | None = None,
) -> tuple[CacheHit, threading.Thread]:
    """Run the study on one pinned store version (``view``'s, the one the cache was asked about,
    when given); a thread keeps it in the shared study cache while the answer is written
    (pickling and writing a London study, ~12 MB, takes 0.05-0.15 s; the file and SQLite writes
    release the GIL). The caller joins the thread before it ends."""
    from boundaries.errors import BoundaryError
    from boundaries.store import BoundaryStore
    from pipelines.cache import active_cache
    from pipelines.cache.studies import CachedStudy, canonical_request, data_version, remember

    # Before scipy is imported and before the cover's thread starts (cli/numpy_extras.py).
    defer_numpy_extras()
    store = open_store(data_dir)
    request = dataclasses.replace(request, areas=_area_codes(store.root, request.boundaries, area))
    try:
        boundary_store = BoundaryStore(store.root)
        boundary_set = boundary_store.read(request.boundaries)
        covering = _cover_ahead(boundary_set, request)
        # Imported while the cover is computed: the cover's geometry (shapely, h3ronpy)
        # releases the GIL, the imports (scipy.sparse and the statistics) hold it.
        from pipelines.analysis.study import run_study

        covering.join()  # the study reads the cover from the cache instead of computing it
        # The answer and its data version read one store version.
        snapshot = store.snapshot() if view is None else _snapshot_of(store, view)
        canonical = canonical_request(snapshot, request)
        with step_progress("Hot spots", quiet) as progress:
            progress("Computing hot spot statistics", 0, 1)
            result = run_study(snapshot, boundary_set, canonical)
    except (ValueError, BoundaryError) as error:
        fail(str(error))
    study_answer = CachedStudy.from_result(result)
    version = data_version(snapshot, boundary_store, canonical.boundaries, up_to=canonical.last)
    keeping = threading.Thread(
        target=remember,
        args=(active_cache(), request, canonical, version, study_answer),
        name="study-cache-write",
    )
    keeping.start()
    reported = data_version(snapshot, boundary_store, request.boundaries, up_to=request.last)
    return CacheHit(study_answer, reported), keeping


def _cover_ahead(boundary_set: BoundarySet, request: StudyRequest) -> threading.Thread:
    """Start computing the study region's cover at the asked resolution (the study's first
    pass) into the cover cache; the caller joins the thread before the study asks for it. Any
    error is left to the study, which asks for the same cover and says what is wrong."""
    from boundaries.h3_cover import cover_areas

    def cover() -> None:
        with contextlib.suppress(Exception):  # the study raises it again, with its message
            cover_areas(boundary_set, request.resolution, list(request.areas) or None)

    # In this context: covers go to the cache the command chose (pipelines.cache.caching_in).
    thread = threading.Thread(target=contextvars.copy_context().run, args=(cover,))
    thread.start()
    return thread


AREA_CODES_KIND = "area-codes"


def _area_codes(root: Path, set_name: str, values: list[str] | None) -> tuple[str, ...]:
    """The codes ``values`` (codes or names) name in the set, remembered in the store's cache
    for this version of the set's file, so a repeated question by name skips reading the set
    (and importing geopandas). Unknown names end the command (``cli.areas.area_codes``)."""
    if not values:
        return ()
    from cli.areas import area_codes

    set_file = root / "boundaries" / f"{set_name}.parquet"
    key = (set_name, file_version(set_file), tuple(values))
    disk = open_cache(cache_dir_for(root))
    codes = disk.get(AREA_CODES_KIND, key)
    if not isinstance(codes, tuple):
        codes = area_codes(root, set_name, values)
        disk.set(AREA_CODES_KIND, key, codes)
    return codes


SET_LABEL_KIND = "set-label"


def _set_label(root: Path, set_name: str) -> str:
    """The set as the commands name it (:func:`cli.common.set_label`), remembered in the
    store's cache for this version of the set's file, so an answer from the study cache does
    not read the set's file (and load pyarrow) again to name it."""
    set_file = root / "boundaries" / f"{set_name}.parquet"
    key = (set_name, file_version(set_file))
    disk = open_cache(cache_dir_for(root))
    label = disk.get(SET_LABEL_KIND, key)
    if not isinstance(label, str):
        from boundaries.errors import BoundaryError
        from boundaries.store import BoundaryStore

        try:
            title = str(BoundaryStore(root).describe(set_name).get("title") or "")
        except (BoundaryError, OSError):  # the answer is written: name the set by its code
            return set_name
        label = set_label(set_name, title)
        disk.set(SET_LABEL_KIND, key, label)
    return label


def _summary(
    columns: dict[str, list[Any]],
    provenance: dict,
    adjustments: list[str],
    ranked: pd.DataFrame | None,
    top: int | None,
    labels: dict[str, str],
) -> None:
    window = provenance["window"]
    hotspot = columns["hotspot"]
    # The set as allocate, compare and backtest name it: "Title (code)" for a titled set.
    console.print(with_set_labels(study_summary(columns, provenance), labels), highlight=False)
    if provenance["method"] == "gistar":
        pairs = zip(columns["class"], hotspot, strict=True)
        weaker = sum(1 for level, is_hot in pairs if level > 0 and not is_hot)
        if weaker:
            console.print(
                f"{weaker:,} more cells in a weaker class (adjusted p above "
                f"{provenance['alpha']}, at most 0.10): shown on maps, labelled so, not hot spots.",
                highlight=False,
            )
    places = sum(columns["high_count"])
    console.print(
        f"{places:,} high-count places (a cell's own count significantly above the region's "
        "negative-binomial expectation; not hot spots).",
        highlight=False,
    )
    for adjustment in adjustments:
        console.print(Text.assemble(("Adjusted:", "yellow"), f" {adjustment}"), highlight=False)
    if window["months_missing"]:
        console.print(
            Text.assemble(
                ("Months with no stored data:", "yellow"),
                f" {', '.join(window['months_missing'])}",
            ),
            highlight=False,
        )
    if provenance["study_cache"]["answered_from_cache"]:
        console.print(
            f"Answered from the study cache (computed {provenance['study_cache']['computed_at']} "
            f"on data version {provenance['data_version']}).",
            highlight=False,
        )
    cells = ranked
    if cells is not None and top is not None and len(cells):
        from rich.table import Table

        from cli.tables import print_table

        table = Table(title=f"Top {len(cells)} hotspots")
        for column in ("rank", "h3", "area", "count", "value", "z", "streets"):
            table.add_column(column, no_wrap=column in ("rank", "h3"))
        for row in cells.head(20).itertuples():
            table.add_row(
                str(row.rank),
                row.h3,
                str(row.area_name or row.area_code),
                str(row.count),
                f"{row.value:,.1f}",
                f"{row.z:.2f}",
                ", ".join(row.streets[:2]),
            )
        print_table(table)
