"""Planning commands: ``allocate``, ``compare``, ``displacement`` and ``backtest``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import geopandas as gpd
import pandas as pd
import shapely
import typer
from rich.table import Table
from shapely.geometry.base import BaseGeometry

from boundaries.errors import BoundaryError
from boundaries.store import BoundaryStore
from pipelines.analysis.study import StudyRequest
from pipelines.analysis.window import choose_window
from pipelines.cli.common import DataDirOption, FromOption, ToOption, console, fail, open_store
from pipelines.harm import load_table
from pipelines.months import MonthError, check_range, parse_month, shift_month
from pipelines.planning.allocation import allocate
from pipelines.planning.backtest import backtest, best, rows_as_dicts
from pipelines.planning.compare import compare_schemes
from pipelines.planning.displacement import weighted_displacement_quotient
from pipelines.planning.displacement_areas import displacement_areas, period_counts
from pipelines.planning.measures import MEASURES, area_measures
from pipelines.store.atomic import atomic_write

FormatOption = Annotated[
    str, typer.Option("--format", help="table, json or csv (csv: allocate only).")
]
OutputOption = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write to this file.", show_default=False)
]
WeightsOption = Annotated[
    str, typer.Option("--weights", help="Harm table: count, home-office-2018, cchi or a file.")
]
ForceOption = Annotated[
    str | None, typer.Option("--force", help="Only this force (slug).", show_default=False)
]


def allocate_command(
    boundaries: Annotated[str, typer.Option("--boundaries", help="The scheme's boundary set.")],
    units: Annotated[int, typer.Option("--units", help="Whole units to share (officers, hours).")],
    minimum: Annotated[int, typer.Option("--min", help="Minimum units per area.")] = 0,
    maximum: Annotated[
        int | None, typer.Option("--max", help="Maximum units per area.", show_default=False)
    ] = None,
    measure: Annotated[str, typer.Option("--measure", help="harm, count or rate.")] = "harm",
    weights: WeightsOption = "home-office-2018",
    first: FromOption = None,
    last: ToOption = None,
    force: ForceOption = None,
    file_format: FormatOption = "table",
    output: OutputOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Share N units across a scheme's areas by need (largest remainder), beside the equal share."""
    if measure not in MEASURES:
        fail(f"--measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    store = open_store(data_dir)
    try:
        first, last = check_range(first, last)
        boundary_set = BoundaryStore(store.root).read(boundaries)
        table = load_table(weights)
        window = choose_window(store, force, first, last)
        frame = area_measures(store, boundary_set, table, window.first, window.last, force)
        if measure == "rate" and "rate" not in frame:
            fail(
                f"{boundaries} has no population, so no rate; attach one with "
                "`hotspots boundaries population` or use --measure harm"
            )
        column = {"harm": "harm", "count": "crimes", "rate": "rate"}[measure]
        values = frame[column].fillna(0).to_numpy()
        result = allocate(frame["code"].tolist(), values, units, minimum, maximum)
    except (ValueError, BoundaryError) as error:
        fail(str(error))
    frame["measure"] = values
    frame["exact_share"] = result.exact_share.round(3)
    frame["units"] = result.units
    frame["equal_share"] = result.equal_share.round(3)
    provenance = {
        "boundaries": boundaries,
        "units": units,
        "min": minimum,
        "max": maximum,
        "measure": measure,
        "weights": table.provenance(),
        "window": window.provenance(),
        "method": "floors first, proportional share with caps re-shared, largest remainder",
    }
    _emit(frame, provenance, file_format, output, title=f"{units} units across {boundaries}")


def compare_command(
    boundaries: Annotated[
        str, typer.Option("--boundaries", help="Two or more boundary sets, comma-separated.")
    ],
    weights: WeightsOption = "home-office-2018",
    resolution: Annotated[int, typer.Option("--res", help="H3 resolution, 7-10.")] = 9,
    first: FromOption = None,
    last: ToOption = None,
    force: ForceOption = None,
    file_format: FormatOption = "table",
    output: OutputOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Compare boundary schemes on the same crimes, cells, months and harm weights."""
    store = open_store(data_dir)
    names = [name.strip() for name in boundaries.split(",") if name.strip()]
    try:
        first, last = check_range(first, last)
        sets = [BoundaryStore(store.root).read(name) for name in names]
        comparison = compare_schemes(store, sets, first, last, force, weights, resolution)
    except (ValueError, BoundaryError) as error:
        fail(str(error))
    body = comparison.to_dict()
    if file_format == "json" or output:
        _write_json(body, output)
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
            s.name,
            str(len(s.areas)),
            f"{s.gini_harm:.2f}",
            f"{s.top20_harm_share:.0%}",
            str(s.areas_holding_half_harm),
            str(s.hot_cells),
            str(s.straddling_hot_cells),
            f"{s.between_share:.2f}",
        )
    console.print(table)


def displacement_command(
    target: Annotated[str, typer.Option("--target", help="SET:CODE of a stored area, or a file.")],
    control: Annotated[str, typer.Option("--control", help="SET:CODE or a file.")],
    buffer_m: Annotated[float, typer.Option("--buffer-m", help="Buffer ring width, metres.")],
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
    try:
        periods = [_period(before, "--before"), _period(after, "--after")]
        areas = displacement_areas(
            _geometry(store.root, target), _geometry(store.root, control), buffer_m
        )
        counts = []
        for first, last in periods:
            crimes = store.read(force, first, last, columns=["longitude", "latitude", "category"])
            if crimes.num_rows == 0:
                fail(f"no crimes stored for {first}..{last}; choose periods the store holds")
            counts.append(period_counts(areas, crimes, category))
        result = weighted_displacement_quotient(*counts)
    except (ValueError, BoundaryError) as error:
        fail(str(error))
    body = result.to_dict() | {
        "buffer_m": buffer_m,
        "before_period": before,
        "after_period": after,
    }
    typer.echo(json.dumps(body, indent=2))


def backtest_command(
    boundaries: Annotated[str, typer.Option("--boundaries", help="Boundary set of the region.")],
    last: Annotated[str, typer.Option("--to", help="Last month of the training window.")],
    train_months: Annotated[int, typer.Option("--train-months", help="Training months.")] = 12,
    test_months: Annotated[int, typer.Option("--test-months", help="Months scored after.")] = 3,
    area: Annotated[
        list[str] | None, typer.Option("--area", help="Only this area (repeatable).")
    ] = None,
    resolutions: Annotated[str, typer.Option("--res", help="Resolutions, e.g. 8,9,10.")] = "8,9,10",
    selections: Annotated[
        str, typer.Option("--weights", help="Selections to compare, e.g. count,home-office-2018.")
    ] = "count,home-office-2018",
    force: ForceOption = None,
    file_format: FormatOption = "table",
    output: OutputOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Score last period's hotspots on the following months: hit rate and PAI per setting."""
    store = open_store(data_dir)
    try:
        last = parse_month(last, option="--to")
        resolution_list = tuple(int(r) for r in resolutions.split(","))
        boundary_set = BoundaryStore(store.root).read(boundaries)
        base = StudyRequest(
            boundaries,
            areas=tuple(area or ()),
            first=shift_month(last, 1 - train_months),
            last=last,
            force=force,
        )
        rows = backtest(
            store,
            boundary_set,
            base,
            test_months,
            resolution_list,
            tuple(s.strip() for s in selections.split(",")),
        )
    except (ValueError, BoundaryError) as error:
        fail(str(error))
    frame = pd.DataFrame(rows_as_dicts(rows))
    top = best(rows)
    provenance = {
        "best": {"resolution": top.resolution, "selection": top.selection, "pai": top.pai}
    }
    _emit(frame, provenance, file_format, output, title="Hotspot backtest (PAI)")


def _emit(
    frame: pd.DataFrame, provenance: dict, file_format: str, output: Path | None, title: str
) -> None:
    if file_format not in ("table", "json", "csv"):
        fail(f"--format must be table, json or csv, got {file_format!r}")
    if file_format == "json":
        _write_json({"provenance": provenance, "rows": _records(frame)}, output)
    elif file_format == "csv":
        text = frame.to_csv(index=False)
        if output:
            _write_text(output, text)
        else:
            typer.echo(text, nl=False)
    else:
        table = Table(title=title)
        for column in frame.columns:
            table.add_column(str(column))
        for row in frame.itertuples(index=False):
            table.add_row(*(f"{v:,.3f}" if isinstance(v, float) else str(v) for v in row))
        console.print(table)


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def _write_json(body: dict, output: Path | None) -> None:
    text = json.dumps(body, indent=2, default=str)
    if output:
        _write_text(output, text)
    else:
        typer.echo(text)


def _write_text(output: Path, text: str) -> None:
    if not output.parent.is_dir():
        fail(f"folder {output.parent} does not exist; create it or choose another -o")
    with atomic_write(output) as tmp:
        tmp.write_text(text, encoding="utf-8")
    console.print(f"Wrote {output}")


def _period(text: str, option: str) -> tuple[str, str]:
    parts = text.split(":")
    if len(parts) != 2:
        raise MonthError(f"{option} must be FIRST:LAST months, e.g. 2019-01:2019-06, got {text!r}")
    first, last = (parse_month(p, option=option) for p in parts)
    if first > last:
        raise MonthError(f"{option} runs backwards: {first} is after {last}")
    return first, last


def _geometry(root: Path, spec: str) -> BaseGeometry:
    """``SET:CODE`` of a stored area, or a boundary file dissolved to one geometry."""
    path = Path(spec)
    if path.exists():
        frame = gpd.read_file(path).to_crs(4326)
        return shapely.union_all(shapely.make_valid(frame.geometry.values))
    if ":" not in spec:
        raise BoundaryError(f"{spec!r} is neither a file nor SET:CODE of a stored area")
    set_name, code = spec.split(":", 1)
    areas = BoundaryStore(root).read(set_name).areas
    match = areas[areas["code"] == code]
    if match.empty:
        raise BoundaryError(f"{set_name} has no area {code!r}")
    return match.geometry.iloc[0]
