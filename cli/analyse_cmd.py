"""``hotspots analyse``: hotspot statistics for a region, written with their provenance."""

from __future__ import annotations

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
    console,
    fail,
    open_store,
    refuse_to_overwrite,
    step_progress,
)
from cli.tables import print_table
from pipelines.analysis.gistar import DEFAULT_P_FOR_CLASSES
from pipelines.analysis.output import output_files, output_format, write_result
from pipelines.analysis.ranking import RANK_BY, rank_cells
from pipelines.analysis.study import StudyRequest, StudyResult, run_study
from pipelines.months import MonthError, check_range


def analyse(
    boundaries: Annotated[
        str,
        typer.Option(
            "--boundaries", help="Boundary set that defines the region.", show_default=False
        ),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="File to write.", show_default=False)
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
    try:
        first, last = check_range(first, last)
        chosen_format = output_format(output, file_format)
        refuse_to_overwrite(output_files(output, chosen_format), overwrite)
        if rank_by not in RANK_BY:
            fail(f"--rank-by must be one of {', '.join(RANK_BY)}, got {rank_by!r}")
        root = open_store(data_dir).root
        boundary_set = BoundaryStore(root).read(boundaries)
    except (MonthError, ValueError, BoundaryError) as error:
        fail(str(error))
    request = StudyRequest(
        boundaries=boundaries,
        areas=area_codes(root, boundaries, area),
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
    )
    store = open_store(data_dir)
    try:
        with step_progress("Hot spots", quiet) as progress:
            progress("Computing hot spot statistics", 0, 2)
            result = run_study(store, boundary_set, request)
            cells = result.cells
            if top is not None:
                cells = rank_cells(
                    cells,
                    by=rank_by,
                    top=top,
                    per_area=per_area,
                    min_separation_m=min_separation_m,
                )
            progress(f"Writing {output}", 1, 2)
            written = write_result(cells, result.provenance, output, chosen_format)
    except (ValueError, BoundaryError) as error:
        fail(str(error))
    _summary(result, cells, top)
    console.print("Wrote " + ", ".join(str(path) for path in written))


def _summary(result: StudyResult, cells: pd.DataFrame, top: int | None) -> None:
    provenance = result.provenance
    window = provenance["window"]
    cells_frame = result.cells
    hot = int(cells_frame["hotspot"].sum())
    console.print(
        f"{len(cells_frame):,} cells at resolution {provenance['resolution']}, "
        f"{window['first']}..{window['last']}, {provenance['crimes']['in_region']:,} crimes in the "
        f"region; weights {provenance['weights']['name']} {provenance['weights']['version']}; "
        f"{hot:,} hot spot cells (adjusted p <= {provenance['alpha']}, "
        f"{provenance['multiple_testing']}).",
        highlight=False,
    )
    if provenance["method"] == "gistar":
        weaker = int(((cells_frame["class"] > 0) & ~cells_frame["hotspot"]).sum())
        if weaker:
            console.print(
                f"{weaker:,} more cells in a weaker class (adjusted p above "
                f"{provenance['alpha']}, at most 0.10): shown on maps, labelled so, not hot spots.",
                highlight=False,
            )
    places = int(cells_frame["high_count"].sum())
    console.print(
        f"{places:,} high-count places (a cell's own count significantly above the region's "
        "negative-binomial expectation; not hot spots).",
        highlight=False,
    )
    for adjustment in result.adjustments:
        console.print(f"[yellow]Adjusted:[/] {adjustment}", highlight=False)
    if window["months_missing"]:
        console.print(
            f"[yellow]Months with no stored data:[/] {', '.join(window['months_missing'])}"
        )
    if top is not None and len(cells):
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
