"""``hotspots boundaries``: boundary sets (wards, clusters, custom areas, LSOAs), crime counts."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table
from rich.text import Text

from boundaries.area_names import area_directory
from boundaries.clusters import build_clusters, read_mapping
from boundaries.counts import count_crimes
from boundaries.custom_areas import load_custom_file
from boundaries.errors import BoundaryError
from boundaries.fields import SCHEMES
from boundaries.h3_cover import cover_areas
from boundaries.lsoa_route import compare_routes, read_lookup
from boundaries.ons_fetch import DEFAULT_BASE_URL, DEFAULT_VINTAGE, fetch_wards
from boundaries.population import population_for_set, read_population, with_population
from boundaries.sets import BoundarySet, check_title, load_boundary_file
from boundaries.store import BoundaryStore
from cli.areas import AreaOption, area_codes
from cli.common import (
    DataDirOption,
    ForceOption,
    FromOption,
    LookupOption,
    PopulationOption,
    ToOption,
    console,
    error_console,
    existing_data_dir,
    fail,
    open_store,
)
from cli.ons_options import LadOption, WardVintageOption
from cli.tables import print_table
from pipelines.forces import ForceError
from pipelines.months import MonthError, check_range
from pipelines.quoting import quoted
from pipelines.spreadsheet import spreadsheet_safe_csv
from pipelines.store import resolve_data_dir

boundaries_app = typer.Typer(
    help="Boundary sets (wards, ward clusters, custom areas, LSOAs) and crimes counted into them.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

NameOption = Annotated[
    str,
    typer.Option("--name", help="Name of the new set, e.g. torbay-wards-2019.", show_default=False),
]
VintageOption = Annotated[
    str | None,
    typer.Option("--vintage", help="Year (or date) the boundaries are of.", show_default=False),
]
ReplaceOption = Annotated[bool, typer.Option("--replace", help="Overwrite a set of the same name.")]
TitleOption = Annotated[
    str | None,
    typer.Option(
        "--title",
        help='Name of the set for people, shown on pages and maps, e.g. "Torbay wards (2019)" '
        "(default: the set's code).",
        show_default=False,
    ),
]
FormatOption = Annotated[
    str, typer.Option("--format", help="table, csv or json.", case_sensitive=False)
]


def _boundary_store(data_dir: Path | None, create: bool = False) -> BoundaryStore:
    """The data folder's boundary sets; the folder must exist (a mistyped --data-dir is named
    as such, not as a store with no sets) unless ``create``: the commands that add a set from
    a file or a download make it."""
    return BoundaryStore(resolve_data_dir(data_dir) if create else existing_data_dir(data_dir))


def _check_format(value: str, allowed: tuple[str, ...] = ("table", "csv", "json")) -> str:
    value = value.lower()
    if value not in allowed:
        fail(f"--format must be one of {', '.join(allowed)}, got {quoted(value)}")
    return value


def _save(
    store: BoundaryStore, boundary_set: BoundarySet, replace: bool, title: str | None = None
) -> None:
    try:
        if title is not None:
            boundary_set.title = check_title(title)
        path = store.save(boundary_set, replace=replace)
    except BoundaryError as error:
        fail(str(error))
    _report_set(boundary_set, path)


def _report_set(boundary_set: BoundarySet, path: Path) -> None:
    titled = f" ({boundary_set.title})" if boundary_set.title else ""
    console.print(
        Text.assemble(
            "Stored ",
            (boundary_set.name, "bold"),
            f"{titled}: {len(boundary_set.areas)} {boundary_set.scheme} "
            f"area(s), vintage {boundary_set.vintage} -> {path}",
        ),
        highlight=False,
    )
    for note in boundary_set.notes:
        console.print(f"  {note}", highlight=False)
    quality = boundary_set.quality
    console.print(f"  tiling: {quality.summary()}", highlight=False)
    for overlap in quality.largest_overlaps[:5]:
        console.print(
            Text.assemble(
                "  ",
                ("overlap", "yellow"),
                f" {overlap.code_a} / {overlap.code_b}: {overlap.area_m2:,.0f} m²",
            ),
            highlight=False,
        )
    for gap in quality.largest_gaps[:5]:
        console.print(
            Text.assemble(
                "  ",
                ("gap", "yellow"),
                f" {gap.area_m2:,.0f} m² at {gap.longitude}, {gap.latitude}",
            ),
            highlight=False,
        )


@boundaries_app.command("load")
def load(
    path: Annotated[
        Path, typer.Argument(help="GeoJSON, Shapefile or GeoPackage, any CRS.", show_default=False)
    ],
    name: NameOption,
    scheme: Annotated[
        str, typer.Option("--scheme", help=f"One of: {', '.join(SCHEMES)}.", show_default=False)
    ],
    vintage: VintageOption = None,
    code_field: Annotated[
        str | None,
        typer.Option(
            "--code-field", help="Field with area codes (default: detected, e.g. WD19CD)."
        ),
    ] = None,
    name_field: Annotated[
        str | None,
        typer.Option(
            "--name-field", help="Field with area names (default: detected, e.g. WD19NM)."
        ),
    ] = None,
    layer: Annotated[
        str | None, typer.Option("--layer", help="Layer of a GeoPackage (default: the first).")
    ] = None,
    title: TitleOption = None,
    replace: ReplaceOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Load a boundary set from a file: codes detected, geometry checked, repaired, stored in WGS84.

    Overlaps and gaps between the areas are reported (measured in British National Grid).
    """
    store = _boundary_store(data_dir, create=True)
    try:
        checked_title = check_title(title) if title is not None else ""  # before the slow read
        with error_console.status(Text(f"Loading {path.name}")):
            boundary_set = load_boundary_file(
                path, name, scheme, vintage, code_field, name_field, layer
            )
        boundary_set.title = checked_title
    except BoundaryError as error:
        fail(str(error))
    _save(store, boundary_set, replace)


@boundaries_app.command("list")
def list_sets(
    output: FormatOption = "table",
    data_dir: DataDirOption = None,
) -> None:
    """List the stored boundary sets."""
    output = _check_format(output, ("table", "json"))
    store = _boundary_store(data_dir)
    try:
        sets = store.list()
    except BoundaryError as error:
        fail(str(error))
    if output == "json":
        print(json.dumps(sets, indent=2))
        return
    if not sets:
        console.print(f"No boundary sets in {store.root}; add one with `hotspots boundaries load`.")
        return
    table = Table(title=f"Boundary sets in {store.root}")
    for column in ("name", "title", "scheme", "vintage", "areas", "overlaps", "gaps", "source"):
        table.add_column(column, justify="right" if column == "areas" else "left")
    for item in sets:
        quality = item.get("quality", {})
        table.add_row(
            item["name"],
            item.get("title") or item["name"],  # untitled: the code, as --title's help says
            item["scheme"],
            item["vintage"],
            f"{item['areas']:,}",
            str(quality.get("overlaps", 0)),
            str(quality.get("gaps", 0)),
            item.get("source", ""),
        )
    print_table(table)


@boundaries_app.command("areas")
def areas(
    name: Annotated[str, typer.Argument(help="A stored boundary set.", show_default=False)],
    output: FormatOption = "table",
    data_dir: DataDirOption = None,
) -> None:
    """List a set's areas: the codes and names every --area option accepts."""
    output = _check_format(output)
    try:
        directory = area_directory(_boundary_store(data_dir), name)
    except BoundaryError as error:
        fail(str(error))
    frame = pd.DataFrame({"code": directory.codes, "name": directory.names})
    if output == "json":
        print(json.dumps(frame.to_dict(orient="records"), indent=2))
    elif output == "csv":
        _print_csv(frame)
    else:
        _print_table(frame, f"Areas of {name}")


@boundaries_app.command("counts")
def counts(
    name: Annotated[str, typer.Argument(help="A stored boundary set.", show_default=False)],
    force: ForceOption = None,
    first: FromOption = None,
    last: ToOption = None,
    output: FormatOption = "table",
    data_dir: DataDirOption = None,
) -> None:
    """Count stored crimes into each area of a set (exact point in polygon).

    Crimes outside every area and crimes without a location are counted too, never dropped.
    """
    output = _check_format(output)
    try:
        first, last = check_range(first, last)
        boundary_set = _boundary_store(data_dir).read(name)
        with error_console.status(Text(f"Counting crimes into {name}")):
            result = count_crimes(open_store(data_dir), boundary_set, force, first, last)
    except (MonthError, BoundaryError, ForceError) as error:
        fail(str(error))
    if result.total == 0:
        fail(
            "no stored crimes for that selection; ingest some first (`hotspots ingest archive`) "
            "or widen --force/--from/--to"
        )
    if output == "json":
        print(json.dumps(result.to_dict(), indent=2))
        return
    if output == "csv":
        frame = result.table.copy()
        extra = pd.DataFrame(
            {
                "code": ["", ""],
                "name": ["(outside every area)", "(no location)"],
                "crimes": [result.outside, result.no_location],
            }
        )
        _print_csv(pd.concat([frame, extra], ignore_index=True))
        return
    _print_table(result.table, f"Crimes by area of {name}")
    console.print(
        f"{int(result.table['crimes'].sum()):,} in areas, {result.outside:,} outside every area, "
        f"{result.no_location:,} without location; {result.total:,} in the selection. "
        f"{result.distinct_points:,} distinct map points, {result.shared_edge_points} on a shared "
        "edge (edge rule in docs/boundaries.md).",
        highlight=False,
    )


@boundaries_app.command("fetch")
def fetch(
    lad: LadOption,
    scheme: Annotated[str, typer.Option("--scheme", help="Only ward is available.")] = "ward",
    vintage: WardVintageOption = DEFAULT_VINTAGE,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Set name (default: <lad>-wards-<vintage>).", show_default=False
        ),
    ] = None,
    base_url: Annotated[
        str, typer.Option("--base-url", help="ArcGIS REST services root of the ONS portal.")
    ] = DEFAULT_BASE_URL,
    title: TitleOption = None,
    replace: ReplaceOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Download a local authority's wards from the ONS Open Geography Portal and store them."""
    if scheme != "ward":
        fail(f"only --scheme ward can be fetched from ONS, got {quoted(scheme)}")
    set_name = name or f"{lad.strip().lower()}-wards-{vintage}"
    store = _boundary_store(data_dir, create=True)
    try:
        with error_console.status(Text(f"Fetching {vintage} wards of {lad} from ONS")) as status:
            boundary_set = fetch_wards(
                lad,
                set_name,
                vintage,
                base_url,
                progress=lambda n: status.update(Text(f"Fetched {n} ward(s) of {lad}")),
            )
    except BoundaryError as error:
        fail(str(error))
    _save(store, boundary_set, replace, title)


@boundaries_app.command("cluster")
def cluster(
    mapping: Annotated[
        Path, typer.Argument(help="CSV (ward_code,cluster) or YAML mapping.", show_default=False)
    ],
    wards: Annotated[
        str,
        typer.Option("--wards", help="The ward set the codes refer to.", show_default=False),
    ],
    name: NameOption,
    vintage: VintageOption = None,
    title: TitleOption = None,
    replace: ReplaceOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Group wards into clusters; each cluster is the union of its wards."""
    store = _boundary_store(data_dir)
    try:
        ward_set = store.read(wards)
        result = build_clusters(ward_set, read_mapping(mapping), name, vintage)
    except BoundaryError as error:
        fail(str(error))
    if result.unassigned:
        error_console.print(
            Text.assemble(
                ("warning:", "yellow"),
                f" {len(result.unassigned)} ward(s) of {wards} are in no cluster: "
                f"{', '.join(result.unassigned)}",
            ),
            highlight=False,
        )
    _save(store, result.clusters, replace, title)


@boundaries_app.command("custom")
def custom(
    path: Annotated[
        Path, typer.Argument(help="GeoJSON Feature or FeatureCollection.", show_default=False)
    ],
    name: NameOption,
    vintage: VintageOption = None,
    title: TitleOption = None,
    replace: ReplaceOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Store custom areas (town centre, estate, night-time economy zone) drawn as GeoJSON."""
    store = _boundary_store(data_dir, create=True)
    try:
        boundary_set = load_custom_file(path, name, vintage)
    except BoundaryError as error:
        fail(str(error))
    _save(store, boundary_set, replace, title)


@boundaries_app.command("cover")
def cover(
    name: Annotated[str, typer.Argument(help="A stored boundary set.", show_default=False)],
    resolution: Annotated[
        int, typer.Option("--resolution", "-r", help="H3 study resolution, 7-10.")
    ] = 9,
    areas: AreaOption = None,
    output: FormatOption = "csv",
    data_dir: DataDirOption = None,
) -> None:
    """Every H3 cell of the land-only region (zero-crime cells included): its area, land share
    and land km² (cells enter when at least half inside the areas)."""
    output = _check_format(output, ("csv", "json"))
    try:
        boundary_set = _boundary_store(data_dir).read(name)
        with error_console.status(Text(f"Covering {name} at resolution {resolution}")):
            codes = area_codes(resolve_data_dir(data_dir), name, areas)
            result = cover_areas(boundary_set, resolution, codes or None)
    except BoundaryError as error:
        fail(str(error))
    frame = result.to_table().to_pandas()
    if output == "json":
        print(
            json.dumps(
                {
                    "resolution": resolution,
                    "region": result.provenance(),
                    "cells": frame.to_dict(orient="records"),
                }
            )
        )
        return
    _print_csv(frame)


@boundaries_app.command("population")
def population(
    name: Annotated[str, typer.Argument(help="A stored boundary set.", show_default=False)],
    population_file: PopulationOption,
    lsoas: Annotated[
        str | None,
        typer.Option("--lsoas", help="Stored LSOA set, to share LSOA population by area."),
    ] = None,
    lookup: LookupOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Attach resident population to a set's areas (for rates per 1,000 residents)."""
    store = _boundary_store(data_dir)
    try:
        target = store.read(name)
        lsoa_set = store.read(lsoas) if lsoas else None
        figures = read_population(population_file)
        ward_of_lsoa = read_lookup(lookup) if lookup else None
        estimate = population_for_set(target, figures, lsoa_set, ward_of_lsoa)
        updated = with_population(target, estimate, str(population_file))
        store.save(updated, replace=True)
    except BoundaryError as error:
        fail(str(error))
    console.print(
        f"Population of {len(updated.areas)} area(s) of {name} by the {estimate.method} method: "
        f"{estimate.population.sum():,.0f} residents.",
        highlight=False,
    )
    for note in estimate.notes:
        console.print(Text.assemble("  ", (note, "yellow")), highlight=False)


@boundaries_app.command("routes")
def routes(
    name: Annotated[str, typer.Argument(help="A stored ward set.", show_default=False)],
    lookup: LookupOption,
    force: ForceOption = None,
    first: FromOption = None,
    last: ToOption = None,
    output: FormatOption = "table",
    data_dir: DataDirOption = None,
) -> None:
    """Compare ward counts by point (exact) with ward counts by the crimes' LSOA codes."""
    output = _check_format(output, ("table", "json"))
    try:
        first, last = check_range(first, last)
        wards = _boundary_store(data_dir).read(name)
        table = read_lookup(lookup)
        crimes = open_store(data_dir).read(
            force, first, last, columns=["longitude", "latitude", "lsoa_code"]
        )
        if crimes.num_rows == 0:
            fail("no stored crimes for that selection; ingest some first")
        result = compare_routes(wards, crimes, table)
    except (MonthError, BoundaryError, ForceError) as error:
        fail(str(error))
    if output == "json":
        print(json.dumps(result.to_dict(), indent=2))
        return
    _print_table(result.by_area, f"{name}: crimes by point vs by LSOA lookup")
    console.print(
        f"{result.both:,} crimes in a ward by both routes, {result.agree:,} in the same ward "
        f"({result.both - result.agree:,} differ); {result.point_only:,} only by point, "
        f"{result.lsoa_only:,} only by LSOA, {result.no_lsoa:,} without an LSOA code.",
        highlight=False,
    )


def _print_csv(frame: pd.DataFrame) -> None:
    buffer = io.StringIO()
    buffer.write(spreadsheet_safe_csv(frame, quoting=csv.QUOTE_MINIMAL, lineterminator="\n"))
    print(buffer.getvalue(), end="")


def _print_table(frame: pd.DataFrame, title: str) -> None:
    table = Table(title=title)
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        table.add_column(str(column), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    print_table(table)
