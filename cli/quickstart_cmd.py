"""``hotspots quickstart`` and ``hotspots demo``: from nothing to a running service, one command.

quickstart: a local authority's wards (ONS, or a file) and its force's crimes (police.uk API for
the wards dissolved into one area, or a downloaded archive) go into the store; the default hot
spot studies of every ward are computed; the service starts on http://127.0.0.1:8000.

demo: the same steps for a generated, synthetic city (pipelines/demo_city.py), with no network.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import shapely
import typer
from rich.table import Table
from rich.text import Text
from shapely.geometry.base import BaseGeometry

from boundaries.errors import BoundaryError
from boundaries.fields import detect_fields
from boundaries.ons_fetch import DEFAULT_BASE_URL as ONS_BASE_URL
from boundaries.ons_fetch import DEFAULT_VINTAGE, WARD_SERVICES, fetch_wards
from boundaries.set_titles import (
    authority_name_in_frame,
    authority_name_in_lookup,
    ward_set_title,
)
from boundaries.sets import BoundarySet, prepare_areas, read_boundary_file
from boundaries.store import BoundaryStore
from cli.common import (
    DataDirOption,
    LookupOption,
    PopulationOption,
    PrecomputeWeightsOption,
    console,
    error_console,
    fail,
    progress_bar,
    set_label,
)
from cli.ons_options import LadOption, WardVintageOption
from cli.police_api import retry_policy
from cli.tables import print_table
from pipelines.forces import ForceError, check_force
from pipelines.harm import list_tables
from pipelines.ingest.api import ApiIngestError, ingest_api
from pipelines.ingest.api_client import (
    ApiError,
    PoliceApiClient,
    RetryPolicy,
    resolve_base_url,
)
from pipelines.ingest.archive import ingest_archive
from pipelines.ingest.archive_layout import ArchiveError, list_archive
from pipelines.months import months_between, shift_month
from pipelines.quoting import quoted
from pipelines.store import CrimeStore, resolve_data_dir
from pipelines.store.crime_store import StoreError
from pipelines.store.errors import said_in_full

NO_STUDY = "not possible"  # a hot spot study the data guard refused, in the summary table

if TYPE_CHECKING:  # the web stack is imported only by the commands that serve
    from fastapi import FastAPI

_LAD_CODE = re.compile(r"^[ENSW]0[6-9]\d{6}$")
_LAD_FIELD = re.compile(r"^LAD\d{2}CD$", re.IGNORECASE)
MAX_MONTHS = 60  # police.uk keeps about 36 months online; archives go further back
DEMO_SUBDIR = "demo-city"

HostOption = Annotated[str, typer.Option("--host", help="Address to serve on.")]
PortOption = Annotated[int, typer.Option("--port", help="Port to serve on.", min=1, max=65535)]
TilesOption = Annotated[
    str,
    typer.Option(
        "--tiles",
        help="Map background: osm (OpenStreetMap), none (no network: area names drawn instead) "
        "or a tile URL template with {z}, {x} and {y}.",
    ),
]
NoServeOption = Annotated[
    bool, typer.Option("--no-serve", help="Stop after precomputing (for scripts and CI).")
]


def quickstart(
    force: Annotated[
        str,
        typer.Option(
            "--force", help="police.uk force slug, e.g. devon-and-cornwall.", show_default=False
        ),
    ],
    lad: LadOption,
    months: Annotated[
        int,
        typer.Option(
            "--months", help="Latest months of crime to load (24: a year and the year before)."
        ),
    ] = 24,
    vintage: WardVintageOption = DEFAULT_VINTAGE,
    police_api: Annotated[
        str | None,
        typer.Option(
            "--police-api",
            help="police.uk API root. Default: $HOTSPOTS_POLICE_API, else https://data.police.uk/api",
            show_default=False,
        ),
    ] = None,
    ons_api: Annotated[
        str, typer.Option("--ons-api", help="ArcGIS REST services root of the ONS portal.")
    ] = ONS_BASE_URL,
    archive: Annotated[
        Path | None,
        typer.Option(
            "--archive",
            help="A police.uk archive (folder or .zip) to load instead of calling the API.",
            show_default=False,
        ),
    ] = None,
    wards: Annotated[
        Path | None,
        typer.Option(
            "--wards",
            help="A ward boundary file to use instead of fetching from ONS (only the LAD's wards "
            "are kept when it has a LADyyCD field).",
            show_default=False,
        ),
    ] = None,
    population: PopulationOption = None,
    lookup: LookupOption = None,
    weights: PrecomputeWeightsOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    tiles: TilesOption = "osm",
    no_serve: NoServeOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Load a local authority's wards, crimes and population, precompute its hot spots and serve.

    Wards come from the ONS Open Geography Portal (or --wards FILE); crimes for the latest
    --months months from the police.uk API for the wards dissolved into one area (or --archive).
    With --population and --lookup each ward gets its residents (for rates per 1,000). Then
    every ward's default hot spot study is computed and the service starts on http://HOST:PORT,
    printing the pages to open.
    """
    force, lad = force.strip(), lad.strip().upper()
    _check_inputs(force, lad, months, vintage, police_api, ons_api)
    tables = _check_weights(weights)
    tiles = _check_tiles(tiles)
    if (population is None) != (lookup is None):
        fail("--population and --lookup go together: LSOA residents, and the LSOAs' wards")
    if not no_serve:
        _check_port_free(host, port)  # before minutes of loading, not after
    root = resolve_data_dir(data_dir)
    store, boundary_store = CrimeStore(root), BoundaryStore(root)

    console.print(Text.assemble(("1/4", "bold"), f" Wards of {lad}"), highlight=False)
    ward_set = _ward_set(lad, vintage, wards, ons_api)
    ward_set.title = ward_set.title or _title_from_lookup(lookup, lad, vintage)
    try:
        boundary_store.save(ward_set, replace=True)  # re-running quickstart refreshes the set
    except BoundaryError as error:
        fail(str(error))
    console.print(
        Text.assemble(
            f"    {len(ward_set.areas)} wards saved as boundary set ",
            (ward_set.name, "bold"),
            f" ({ward_set.source})",
        ),
        highlight=False,
        soft_wrap=True,
    )

    if population is not None and lookup is not None:
        _attach_population(boundary_store, ward_set, population, lookup)
    else:
        console.print(
            "    No --population: profiles give counts, not rates per 1,000 residents.",
            highlight=False,
        )

    console.print(
        Text.assemble(("2/4", "bold"), f" Crimes of {force}, latest {months} month(s)"),
        highlight=False,
    )
    if archive is not None:
        _load_archive(store, archive, force, months)
    else:
        area = _dissolved(ward_set)
        _load_api(store, force, area, months, resolve_base_url(police_api))

    serve_and_report(
        root, [ward_set.name], tables, host, port, no_serve, synthetic=False, tiles=tiles
    )


def demo(
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same city.")] = 2024,
    weights: PrecomputeWeightsOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    tiles: TilesOption = "osm",
    no_serve: NoServeOption = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help=f"Folder of the demo store. Default: <$HOTSPOTS_DATA_DIR or ./data>/{DEMO_SUBDIR}",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve a generated demo city (synthetic wards, clusters and crimes) with no network.

    Everything is made up and labelled so: force demo-city-synthetic, sets demo-city-synthetic-*.
    The city gets its own store so its months never mix with real data.
    """
    from pipelines.demo_city import CLUSTERS_SET, DEMO_FORCE, WARDS_SET, build_demo

    tables = _check_weights(weights)
    tiles = _check_tiles(tiles)
    if not no_serve:
        _check_port_free(host, port)
    root = Path(data_dir) if data_dir is not None else resolve_data_dir(None) / DEMO_SUBDIR
    store, boundary_store = CrimeStore(root), BoundaryStore(root)
    others = [f for f in store.forces() if f != DEMO_FORCE]
    if others:
        # A study's default window is the latest months of any force: mixing would shift it.
        fail(
            f"{root} already holds real crimes ({', '.join(others)}); give the demo its own "
            "--data-dir"
        )
    console.print(
        Text.assemble(
            ("1/2", "bold"), f" Generating the synthetic demo city (seed {seed}) into {root}"
        ),
        highlight=False,
    )
    report = build_demo(store, boundary_store, seed)
    months = report.city.months
    console.print(
        Text.assemble(
            f"    {report.ingest.stored:,} synthetic crimes for {months[0]}..{months[-1]}, "
            f"{len(report.wards.areas)} wards ({WARDS_SET}), {len(report.clusters.areas)} "
            f"clusters ({CLUSTERS_SET}). ",
            ("Synthetic: not a real place, not real crime.", "bold red"),
        ),
        highlight=False,
    )
    serve_and_report(
        root, [WARDS_SET, CLUSTERS_SET], tables, host, port, no_serve, synthetic=True, tiles=tiles
    )


# -- shared: precompute, summarise, serve -----------------------------------------------------


def serve_and_report(
    root: Path,
    set_names: list[str],
    weights: tuple[str, ...],
    host: str,
    port: int,
    no_serve: bool,
    synthetic: bool,
    tiles: str = "osm",
) -> None:
    """Warm the service's cache for the sets, print what was found, then serve (or stop)."""
    # The web stack is only loaded by the commands that serve.
    import uvicorn

    from cli.keys_cmd import keys_file
    from geo_service.app import create_app
    from geo_service.precompute import precompute
    from geo_service.settings import Settings

    # Same settings as `hotspots serve` would use for this store (keys file included).
    app = create_app(Settings(data_dir=root, api_keys_file=keys_file(root), tiles=tiles))
    step = "2/2" if synthetic else "3/4"
    console.print(
        Text.assemble((step, "bold"), " Precomputing the default hot spot studies"),
        highlight=False,
    )
    with progress_bar("    {task.description}") as bar:
        task = bar.add_task("studies", total=None)
        report = precompute(
            app,
            set_names,
            weights,
            progress=lambda done, total, _: bar.update(task, total=total, completed=done),
        )
    console.print(
        f"    {report.warmed} of {report.requests} studies ready in {report.seconds:.1f} s"
        + (f"; {len(report.failed)} refused (too little data)" if report.failed else ""),
        highlight=False,
    )
    for note in report.skipped:
        error_console.print(
            Text.assemble(("warning:", "yellow"), f" not precomputed: {note}"), highlight=False
        )
    if report.warmed == 0:
        reason = report.failed[0][1] if report.failed else "; ".join(report.skipped)
        fail(f"no hot spot study could be computed: {reason}", code=1)
    _summary(app, set_names[0], weights)

    base = f"http://{host}:{port}"
    urls = _urls(app, base, set_names[0])
    if no_serve:
        console.print(
            f"Done (--no-serve). Serve it with: hotspots serve --data-dir {root} --tiles {tiles}"
            + (" (the demo store)" if synthetic else ""),
            highlight=False,
        )
        for label, url in urls:
            console.print(f"    {label}: {url}", highlight=False, soft_wrap=True)
        return
    console.print(
        Text.assemble((f"{'' if synthetic else '4/4 '}Serving", "bold"), f" {root} on {base}"),
        highlight=False,
    )
    for label, url in urls:
        console.print(f"    {label}: {url}", highlight=False, soft_wrap=True)
    console.print("    Ctrl+C stops.", highlight=False)
    # The app whose cache was just warmed is the one served: the first page is fast too.
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _summary(app: FastAPI, set_name: str, weights: tuple[str, ...]) -> None:
    """Per area: crimes in the window and significant hot spot cells, per weights table."""
    from geo_service.precompute import default_request

    cache = app.state.cache
    boundary_set = cache.boundaries.read(set_name)
    table = Table(
        title="Significant hot spot cells (H3 res 9) per area of "
        f"{set_label(boundary_set.name, boundary_set.title)}, "
        "judged against the whole set"
    )
    table.add_column("code")
    table.add_column("area")
    table.add_column("crimes in map cells", justify="right")
    for weight in weights:
        table.add_column(weight, justify="right")
    windows: set[str] = set()
    rows: list[tuple[str, str, int | None, list[str]]] = []
    for code, name in zip(boundary_set.areas["code"], boundary_set.areas["name"], strict=True):
        crimes: int | None = None
        cells: list[str] = []
        for weight in weights:
            try:
                result, _ = cache.get(default_request(set_name, code, weight))
            except ValueError:  # the data guard's refusal, already counted in the report
                cells.append(NO_STUDY)
                continue
            # The ward's own cells of the set's study (hot spots judged against the whole set).
            crimes = int(result.cells["count"].sum())
            windows.add(f"{result.window.first}..{result.window.last}")
            cells.append(str(int(result.cells["hotspot"].sum())))
        rows.append((code, name, crimes, cells))
    counted = _crimes_of_refused_areas(cache.store, boundary_set, rows, windows)
    for code, name, crimes, cells in rows:
        shown = crimes if crimes is not None else counted.get(code)
        table.add_row(code, name, "" if shown is None else f"{shown:,}", *cells)
    if windows:
        table.caption = (
            f"crimes and hot spots of {', '.join(sorted(windows))}; crimes in map cells: those in "
            "the H3 cells whose centre is in the area (the profile counts crimes inside the "
            "boundary, docs/profile.md)"
        )
    if any(NO_STUDY in cells for *_, cells in rows):
        table.caption = (table.caption or "") + (
            f"; {NO_STUDY}: too few crimes or too small an area for a reliable hot spot study "
            "(the reasons are above); its crimes are still counted"
        )
    print_table(table)


def _crimes_of_refused_areas(
    store: CrimeStore, boundary_set: BoundarySet, rows: list, windows: set[str]
) -> dict[str, int]:
    """Crimes in each area whose studies were all refused, counted into the set's areas for the
    window the other studies used, so the table shows a count, not a dash."""
    from boundaries.counts import count_crimes

    if len(windows) != 1 or all(crimes is not None for _, _, crimes, _ in rows):
        return {}
    first, last = next(iter(windows)).split("..")
    counts = count_crimes(store, boundary_set, first=first, last=last).table
    return dict(zip(counts["code"], counts["crimes"].astype(int).tolist(), strict=True))


def _urls(app: FastAPI, base: str, set_name: str) -> list[tuple[str, str]]:
    """Links to open, for the routes this service has (a route not built yet is not offered)."""
    boundary_set = app.state.cache.boundaries.read(set_name)
    code = str(boundary_set.areas["code"].iloc[0])
    candidates = [
        ("Start page (find an area by name)", "/", "/"),
        ("API documentation", "/docs", "/docs"),
        (
            f"Top 10 hot spots of {boundary_set.areas['name'].iloc[0]}",
            "/v1/hotspots",
            f"/v1/hotspots?boundaries={set_name}&area={code}&top=10",
        ),
        ("Hot spot map", "/v1/maps/hotspots", f"/v1/maps/hotspots?boundaries={set_name}"),
        (
            "Area profile (page)",
            "/v1/boundaries/{set_name}/areas/{code}/profile.html",
            f"/v1/boundaries/{set_name}/areas/{code}/profile.html",
        ),
        (
            "Area profile (JSON)",
            "/v1/boundaries/{set_name}/areas/{code}/profile",
            f"/v1/boundaries/{set_name}/areas/{code}/profile",
        ),
    ]
    paths = set(app.openapi()["paths"]) | {"/docs", "/"}  # app.routes nests included routers
    return [(label, base + url) for label, path, url in candidates if path in paths]


# -- quickstart steps ------------------------------------------------------------------------


def _check_tiles(tiles: str) -> str:
    from cli.serve_cmd import check_tiles

    try:
        return check_tiles(tiles)
    except ValueError as error:
        fail(str(error))


def _check_port_free(host: str, port: int) -> None:
    from cli.serve_cmd import check_port_free

    try:
        check_port_free(host, port)
    except OSError as error:
        fail(str(error))


def _attach_population(
    boundary_store: BoundaryStore, ward_set: BoundarySet, population: Path, lookup: Path
) -> None:
    from boundaries.lsoa_route import read_lookup
    from boundaries.population import population_for_set, read_population, with_population

    try:
        figures = read_population(population)
        estimate = population_for_set(ward_set, figures, lookup=read_lookup(lookup))
        boundary_store.save(with_population(ward_set, estimate, str(population)), replace=True)
    except BoundaryError as error:
        fail(str(error))
    console.print(
        f"    {estimate.population.sum():,.0f} residents attached by the ONS LSOA-to-ward "
        f"lookup ({population.name})",
        highlight=False,
        soft_wrap=True,
    )
    for note in estimate.notes:
        error_console.print(Text.assemble(("warning:", "yellow"), f" {note}"), highlight=False)


def _check_weights(weights: list[str] | None) -> tuple[str, ...]:
    from geo_service.precompute import DEFAULT_WEIGHTS

    chosen = tuple(dict.fromkeys(weights)) if weights else DEFAULT_WEIGHTS
    known = list_tables()
    unknown = [w for w in chosen if w not in known]
    if unknown:
        fail(f"--weights {quoted(unknown[0])} is not a harm table; use one of {', '.join(known)}")
    return chosen


def _check_inputs(
    force: str, lad: str, months: int, vintage: str, police_api: str | None, ons_api: str
) -> None:
    try:
        check_force(force, "--force")
    except ForceError as error:
        fail(str(error))
    if not _LAD_CODE.match(lad):
        fail(
            f"--lad {quoted(lad)} is not a local authority code (E06/E07/E08/E09/W06 + 6 digits, "
            "e.g. E06000027 for Torbay)"
        )
    if not 1 <= months <= MAX_MONTHS:
        fail(f"--months must be between 1 and {MAX_MONTHS}, got {months}")
    if vintage not in WARD_SERVICES:
        fail(f"--vintage must be one of {', '.join(WARD_SERVICES)}, got {quoted(vintage)}")
    for option, url in (("--police-api", police_api), ("--ons-api", ons_api)):
        if url is not None and not url.startswith(("http://", "https://")):
            fail(f"{option} must start with http:// or https://, got {quoted(url)}")


def _ward_set(lad: str, vintage: str, wards: Path | None, ons_api: str) -> BoundarySet:
    try:
        if wards is None:
            with error_console.status(Text(f"Fetching {vintage} wards of {lad} from ONS")):
                return fetch_wards(lad, f"{lad.lower()}-wards-{vintage}", vintage, ons_api)
        return _wards_from_file(wards, lad, vintage)
    except BoundaryError as error:
        fail(str(error))


def _wards_from_file(path: Path, lad: str, vintage: str) -> BoundarySet:
    """The file's wards of ``lad`` when it says which LAD each ward is in, else all of them."""
    frame = read_boundary_file(path)
    lad_fields = sorted(c for c in frame.columns if _LAD_FIELD.match(str(c)))
    source = str(path.resolve())
    if lad_fields:
        field = lad_fields[-1]  # the newest LAD vintage when a file carries several
        frame = frame[frame[field].astype("string").str.strip().str.upper() == lad]
        if frame.empty:
            raise BoundaryError(f"{path} has no wards with {field} = {lad}")
        source = f"{source} where {field}='{lad}'"
    # The file's own code field (WD22CD...) says its vintage better than --vintage's default.
    vintage = detect_fields(list(frame.columns), "ward").vintage_hint or vintage
    name = f"{lad.lower()}-wards-{vintage}"
    prepared = prepare_areas(frame, name, "ward", vintage=vintage, source=source)
    authority = authority_name_in_frame(frame, lad)
    prepared.title = ward_set_title(authority, vintage) if authority else ""
    return prepared


def _title_from_lookup(lookup: Path | None, lad: str, vintage: str) -> str:
    """'Torbay wards (2019)' when the ONS lookup names the authority, else "" (pages show the
    set's code)."""
    authority = authority_name_in_lookup(lookup, lad) if lookup is not None else None
    return ward_set_title(authority, vintage) if authority else ""


def _dissolved(ward_set: BoundarySet) -> BaseGeometry:
    """The local authority as one area: its wards dissolved (what the API is asked about)."""
    return shapely.union_all(shapely.make_valid(ward_set.areas.geometry.values))


def _latest(months_held: list[str], count: int) -> tuple[str, str]:
    last = months_held[-1]
    return shift_month(last, 1 - count), last


def _load_archive(store: CrimeStore, path: Path, force: str, months: int) -> None:
    try:
        listing = list_archive(path, force)
        first, last = _latest(listing.months, months)
        with error_console.status(Text(f"Loading {force} {first}..{last} from {path}")):
            # The listing already made, not a second walk of the archive.
            report = ingest_archive(
                store, path, force, first, last, listing=listing.within(first, last)
            )
    except ArchiveError as error:
        fail(str(error))
    except StoreError as error:
        fail(" ".join(said_in_full(error).split()), code=1)
    loaded = [f for f in report.files if f.coverage is not None]
    console.print(
        f"    {report.stored:,} crimes stored from {len(loaded)} month file(s), {first}..{last}",
        highlight=False,
    )
    for failed in report.failed:
        error_console.print(
            Text.assemble(("warning:", "yellow"), f" {failed.name} not loaded: {failed.error}"),
            highlight=False,
        )
    if not loaded:
        fail(f"no month of {force} could be loaded from {path}", code=1)


def _load_api(store: CrimeStore, force: str, area: BaseGeometry, months: int, url: str) -> None:
    retry = retry_policy()
    try:
        with error_console.status(Text(f"Asking {url} which months it has")):
            available = asyncio.run(_available_months(url, retry))
    except ApiError as error:
        fail(f"cannot get the list of months from police.uk: {' '.join(str(error).split())}", 1)
    if not available:
        fail(f"{url} lists no months of crime", code=1)
    first, last = _latest(available, months)
    with error_console.status(Text(f"Fetching {force} crimes {first}..{last} from {url}")):
        try:
            report = ingest_api(store, force, area, first, last, url, retry=retry)
        except ApiIngestError as error:
            stored = len(error.report.months) if error.report else 0
            fail(f"{' '.join(str(error).split())} ({stored} month(s) stored before it stopped)", 1)
        except StoreError as error:
            fail(" ".join(said_in_full(error).split()), code=1)
    stored = sum(m.stored_fresh for m in report.months)
    gaps = sorted(set(months_between(first, last)) - {m.month for m in report.months})
    console.print(
        f"    {stored:,} crimes stored for {len(report.months)} month(s), {first}..{last}, "
        f"in {report.requests:,} requests"
        + (f"; police.uk has no data for {', '.join(gaps)}" if gaps else ""),
        highlight=False,
    )


async def _available_months(url: str, retry: RetryPolicy) -> list[str]:
    async with PoliceApiClient(url, retry=retry) as client:
        return await client.available_months()
