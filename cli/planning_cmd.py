"""Planning commands: ``allocate``, ``compare``, ``displacement`` and ``backtest``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from boundaries.errors import BoundaryError
from boundaries.store import BoundaryStore
from cli import study_options as study
from cli.areas import AreaOption, area_codes
from cli.common import (
    DataDirOption,
    ForceOption,
    FromOption,
    OverwriteOption,
    QuietOption,
    ToOption,
    absolute,
    check_output_place,
    fail,
    finite,
    is_standard_output,
    open_store,
    output_path,
    refuse_to_overwrite,
    set_label,
    step_progress,
    with_set_labels,
    write_text_output,
)
from cli.tables import print_table
from pipelines.analysis.scope import check_scope
from pipelines.analysis.study import StudyRequest
from pipelines.months import check_range
from pipelines.planning.allocation_request import AllocationRequest, allocate_by_need
from pipelines.planning.backtest import training_end
from pipelines.planning.backtest_record import (
    BacktestRequest,
    backtest_and_record,
    records_path,
)
from pipelines.planning.compare import compare_schemes
from pipelines.planning.displacement_areas import area_or_file
from pipelines.planning.displacement_check import (
    check_periods,
    displacement_check,
    parse_period,
)
from pipelines.quoting import quoted
from pipelines.spreadsheet import spreadsheet_safe_csv

FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="table (the default; for the terminal), json or csv (csv: allocate and backtest).",
        show_default=False,
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "-o",
        "--output",
        help="Write to this file, in the format its extension names (.json, or .csv for "
        "allocate and backtest) unless --format says; - for standard output (JSON unless "
        "--format csv).",
        show_default=False,
        parser=output_path,
        metavar="FILE",
    ),
]


def allocate_command(
    boundaries: Annotated[str, typer.Option("--boundaries", help="The scheme's boundary set.")],
    units: Annotated[int, typer.Option("--units", help="Whole units to share (officers, hours).")],
    minimum: Annotated[int, typer.Option("--min", help="Minimum units per area.")] = 0,
    maximum: Annotated[
        int | None, typer.Option("--max", help="Maximum units per area.", show_default=False)
    ] = None,
    floor_rule: Annotated[
        str,
        typer.Option(
            "--floor-rule",
            help="minimum: --min is a true minimum; added: --min is given to every area first "
            "and the rest shared on top.",
        ),
    ] = "minimum",
    rounding: Annotated[
        str,
        typer.Option(
            "--rounding",
            help="webster (Sainte-Laguë divisor method, no Alabama paradox) or "
            "largest-remainder (Hamilton).",
        ),
    ] = "webster",
    measure: Annotated[str, typer.Option("--measure", help="harm, count or rate.")] = "harm",
    weights: study.Weights = "home-office-2018",
    first: FromOption = None,
    last: ToOption = None,
    force: ForceOption = None,
    file_format: FormatOption = None,
    output: OutputOption = None,
    quiet: QuietOption = False,
    data_dir: DataDirOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Share N units across a scheme's areas by need (Webster rounding), beside the equal share."""
    check_output_place(output)
    file_format = _chosen_format(file_format, output, ("table", "json", "csv"), "allocate")
    refuse_to_overwrite([output] if output else [], overwrite, standard_output=True)
    store = open_store(data_dir)
    try:
        first, last = check_range(first, last)
        boundary_set = BoundaryStore(store.root).read(boundaries)
        request = AllocationRequest(
            boundaries,
            units,
            minimum,
            maximum,
            measure,
            weights,
            first,
            last,
            force,
            rounding=rounding,
            floor_rule=floor_rule,
        )
        with step_progress("Allocating", quiet) as progress:
            allocation = allocate_by_need(store, boundary_set, request, progress=progress)
    except (ValueError, BoundaryError) as error:
        fail(str(error))
    label = set_label(boundary_set.name, boundary_set.title)
    title = f"{units} units across {label}"
    _emit(allocation.frame, allocation.provenance, file_format, output, title=title)
    # On stderr: stdout may be JSON or CSV for another program.
    meaning = allocation.provenance["study_region"]["meaning"]
    typer.echo(f"Region: {with_set_labels(meaning, {boundary_set.name: label})}.", err=True)


def compare_command(
    boundaries: Annotated[
        str, typer.Option("--boundaries", help="Two or more boundary sets, comma-separated.")
    ],
    weights: study.Weights = "home-office-2018",
    resolution: study.Resolution = 9,
    k: study.Neighbours = 1,
    alpha: study.Alpha = 0.05,
    first: FromOption = None,
    last: ToOption = None,
    force: ForceOption = None,
    file_format: FormatOption = None,
    output: OutputOption = None,
    quiet: QuietOption = False,
    data_dir: DataDirOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Compare boundary schemes on the same crimes, cells, months and harm weights."""
    check_output_place(output)
    file_format = _chosen_format(file_format, output, ("table", "json"), "compare")
    refuse_to_overwrite([output] if output else [], overwrite, standard_output=True)
    store = open_store(data_dir)
    names = [name.strip() for name in boundaries.split(",") if name.strip()]
    try:
        first, last = check_range(first, last)
        sets = [BoundaryStore(store.root).read(name) for name in names]
        with step_progress("Comparing", quiet) as progress:
            comparison = compare_schemes(
                store,
                sets,
                first,
                last,
                force,
                weights,
                resolution,
                k=k,
                alpha=alpha,
                progress=progress,
            )
    except (ValueError, BoundaryError) as error:
        fail(str(error))
    body = comparison.to_dict()
    labels = {s.name: set_label(s.name, s.title) for s in sets}
    meaning = comparison.provenance["study_region"]["meaning"]
    region = f"Region: {with_set_labels(meaning, labels)}."
    if file_format == "json":
        _write_json(body, output)
        typer.echo(region, err=True)
        return
    table = Table(title="Boundary schemes compared (harm: " + weights + ")")
    for column in (
        "scheme",
        "areas",
        "Gini",
        "top 20 %",
        "half the harm",
        "hot cells",
        "straddling",
        "between share",
    ):
        table.add_column(column)
    for s in comparison.schemes:
        table.add_row(
            labels.get(s.name, s.name),
            str(len(s.areas)),
            f"{s.gini_harm:.2f}",
            f"{s.top20_harm_share:.0%}",
            str(s.areas_holding_half_harm),
            str(s.hot_cells),
            str(s.straddling_hot_cells),
            f"{s.between_share:.2f}",
        )
    print_table(table)
    typer.echo(region, err=True)


def displacement_command(
    target: Annotated[str, typer.Option("--target", help="SET:CODE of a stored area, or a file.")],
    control: Annotated[str, typer.Option("--control", help="SET:CODE or a file.")],
    buffer_m: Annotated[
        float, typer.Option("--buffer-m", help="Buffer ring width, metres.", callback=finite)
    ],
    before: Annotated[str, typer.Option("--before", help="YYYY-MM:YYYY-MM before the change.")],
    after: Annotated[str, typer.Option("--after", help="YYYY-MM:YYYY-MM after the change.")],
    category: Annotated[
        list[str] | None, typer.Option("--category", help="Only this category (repeatable).")
    ] = None,
    force: ForceOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Weighted Displacement Quotient: did the crime move into the buffer around the target?"""
    store = open_store(data_dir)
    boundary_store = BoundaryStore(store.root)
    try:
        periods = parse_period(before, "--before"), parse_period(after, "--after")
        check_periods(*periods, "--before", "--after")
        check = displacement_check(
            store,
            area_or_file(boundary_store, target, "--target"),
            area_or_file(boundary_store, control, "--control"),
            buffer_m,
            *periods,
            categories=category,
            force=force,
        )
    except (ValueError, BoundaryError) as error:
        fail(str(error))
    typer.echo(json.dumps(check.to_dict(), indent=2))


# The API's limits (geo_service/routers/backtest.py, not imported: it loads FastAPI), so a month
# count far out of range is refused in words, not as "no month 6 of year -6313".
MAX_TRAIN_MONTHS = 36
MAX_TEST_MONTHS = 12


def backtest_command(
    boundaries: Annotated[str, typer.Option("--boundaries", help="Boundary set of the region.")],
    last: Annotated[str, typer.Option("--to", help="Last month of the training window.")],
    train_months: Annotated[
        int,
        typer.Option(
            "--train-months", min=1, max=MAX_TRAIN_MONTHS, help="Training months (1 to 36)."
        ),
    ] = 12,
    test_months: Annotated[
        int,
        typer.Option(
            "--test-months", min=1, max=MAX_TEST_MONTHS, help="Months scored after (1 to 12)."
        ),
    ] = 3,
    area: AreaOption = None,
    resolutions: Annotated[
        str, typer.Option("--res", help="Resolutions the data supports, e.g. 8,9.")
    ] = "8,9",  # pipelines.planning.backtest.BACKTEST_RESOLUTIONS
    selections: Annotated[
        str, typer.Option("--weights", help="Selections to compare, e.g. count,home-office-2018.")
    ] = "count,home-office-2018",
    force: ForceOption = None,
    category: study.Category = None,
    exclude_police_generated: study.ExcludePoliceGenerated = False,
    method: study.Method = "gistar",
    k: study.Neighbours = 1,
    alpha: study.Alpha = 0.05,
    correction: study.Correction = "fdr_bh",
    permutations: study.Permutations = 999,
    seed: study.Seed = 0,
    # gistar.DEFAULT_P_FOR_CLASSES, not imported: the command's module loads lazily
    p_for_classes: study.PForClasses = "permutation",
    scope: study.Scope = "set",
    file_format: FormatOption = None,
    output: OutputOption = None,
    quiet: QuietOption = False,
    data_dir: DataDirOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Score last period's hotspots on the following months: hit rate and PAI per setting.

    The run is recorded in <data dir>/backtests/<set>.json (the newest run for the same settings
    replaces the older), so `GET /v1/hotspots` reports its PAI for matching settings."""
    # Here, not at the top: the record keys on the service's own data version (cannot differ).
    from geo_service.results import data_version

    check_output_place(output)
    file_format = _chosen_format(file_format, output, ("table", "json", "csv"), "backtest")
    refuse_to_overwrite([output] if output else [], overwrite, standard_output=True)
    store = open_store(data_dir)
    try:
        last = training_end(last, option="--to")
        parts = [r.strip() for r in resolutions.split(",") if r.strip()]
        if not all(part.isdigit() for part in parts):
            raise ValueError(f"--res must be whole numbers such as 8,9, got {quoted(resolutions)}")
        boundary_store = BoundaryStore(store.root)
        boundary_set = boundary_store.read(boundaries)
        base = StudyRequest(
            boundaries,
            areas=area_codes(store.root, boundaries, area),
            force=force,
            categories=tuple(category or ()),
            exclude_police_generated=exclude_police_generated,
            method=method,
            k=k,
            alpha=alpha,
            correction=correction,
            permutations=permutations,
            seed=seed,
            p_for_classes=p_for_classes,
            scope=check_scope(scope),
        )
        asked = BacktestRequest.ending(
            base,
            last,
            train_months,
            test_months=test_months,
            resolutions=tuple(int(part) for part in parts),
            selections=tuple(s.strip() for s in selections.split(",") if s.strip()),
        )
        snapshot = store.snapshot()  # the run and its recorded version read one store version
        version = data_version(snapshot, boundary_store, boundaries)
        with step_progress("Backtesting", quiet) as progress:
            entry, warning = backtest_and_record(
                store.root,
                boundary_set,
                snapshot,
                asked,
                version,
                source="cli",
                progress=progress,
                in_full=True,
            )
    except (ValueError, BoundaryError) as error:
        fail(str(error))
    frame = pd.DataFrame(entry["rows"])
    provenance = {
        key: entry[key]
        for key in (
            "best",
            "train",
            "test",
            "study_region",
            "hotspot_selection",
            "test_crimes_rule",
            "formulas",
        )
    } | {"settings": entry["settings"], "data_version": version, "run_at": entry["run_at"]}
    label = set_label(boundary_set.name, boundary_set.title)
    _emit(frame, provenance, file_format, output, title=f"Hotspot backtest (PAI) of {label}")
    # On stderr: stdout may be JSON or CSV for another program.
    meaning = with_set_labels(entry["study_region"]["meaning"], {boundary_set.name: label})
    typer.echo(f"Region: {meaning}.", err=True)
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    else:
        record = absolute(records_path(store.root, boundaries))
        typer.echo(
            f"Recorded in {record}; GET /v1/hotspots reports this PAI for the same settings.",
            err=True,
        )


# Extensions that name a file format: -o FILE without --format writes the one its extension
# names, or is refused when the command cannot write it (x.csv from compare used to get JSON).
FORMAT_EXTENSIONS = {"csv": "CSV", "json": "JSON", "geojson": "GeoJSON", "parquet": "Parquet"}


def _chosen_format(
    file_format: str | None, output: Path | None, allowed: tuple[str, ...], command: str
) -> str:
    """The output format, checked before anything runs: the table is for the terminal; -o -
    writes JSON; -o FILE writes the format its extension names, and a name of no known format
    (report.txt) is refused naming --format, as analyse and export refuse it (nobody expects
    JSON in a .txt); an explicit --format table with -o is refused rather than written as
    JSON."""
    written = [f for f in allowed if f != "table"]
    if file_format is None:
        if output is None:
            return "table"
        if is_standard_output(output):
            return "json"
        named = output.suffix.lower().lstrip(".")
        if named not in FORMAT_EXTENSIONS:
            fail(
                f"cannot tell the format from {quoted(output.name)}; add --format "
                f"{'|'.join(written)}"
            )
        if named not in written:
            kinds = " or ".join(FORMAT_EXTENSIONS[f] for f in written)
            files = " or ".join(f".{f}" for f in written)
            fail(
                f"-o {output} names a {FORMAT_EXTENSIONS[named]} file, but {command} writes "
                f"{kinds}: give -o a {files} file, or add --format {'|'.join(written)} to "
                "write that format to this name"
            )
        return named
    if file_format not in allowed:
        choices = ", ".join(allowed[:-1]) + " or " + allowed[-1]
        fail(f"--format must be {choices} for {command}, got {quoted(file_format)}")
    if file_format == "table" and output:
        fail(
            "--format table is for the terminal, not a file: use --format "
            f"{' or '.join(written)} with -o"
        )
    return file_format


def _emit(
    frame: pd.DataFrame, provenance: dict, file_format: str, output: Path | None, title: str
) -> None:
    if file_format == "csv":
        write_text_output(output, spreadsheet_safe_csv(frame))
    elif file_format == "json":
        _write_json({"provenance": provenance, "rows": _records(frame)}, output)
    else:
        table = Table(title=title)
        for column in frame.columns:
            table.add_column(str(column))
        for row in frame.itertuples(index=False):
            table.add_row(*(f"{v:,.3f}" if isinstance(v, float) else str(v) for v in row))
        print_table(table)


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def _write_json(body: dict, output: Path | None) -> None:
    write_text_output(output, json.dumps(body, indent=2, default=str))
