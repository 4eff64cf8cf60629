"""``hotspots ingest api``: fetch an area's street crime from data.police.uk into the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from shapely.geometry.base import BaseGeometry

from cli.common import (
    DataDirOption,
    FromOption,
    QuietOption,
    ToOption,
    console,
    fail,
    open_store,
    progress_bar,
)
from cli.police_api import BaseUrlOption, api_root, retry_policy
from cli.tables import print_table
from pipelines.attribution import ATTRIBUTION
from pipelines.forces import ForceError, check_force
from pipelines.ingest import api as api_ingest
from pipelines.ingest.api import ApiIngestError, ApiIngestReport, NoMonthsError, ProgressUpdate
from pipelines.ingest.api_area import AreaError, parse_poly, read_boundary
from pipelines.ingest.api_client import (
    RequestRefused,
)
from pipelines.months import MonthError, check_range
from pipelines.store.crime_store import StoreError
from pipelines.store.errors import said_in_full


def ingest_api(
    force: Annotated[
        str,
        typer.Option(
            "--force",
            help="Force slug the crimes are stored under, e.g. [bold]metropolitan[/] "
            "(also asked for its crimes with no location).",
            show_default=False,
        ),
    ],
    boundary: Annotated[
        Path | None,
        typer.Option(
            "--boundary",
            help="Area as a boundary file (GeoJSON, Shapefile, GeoPackage...; any CRS). "
            "All its features are dissolved into one area.",
            show_default=False,
        ),
    ] = None,
    poly: Annotated[
        str | None,
        typer.Option(
            "--poly",
            help='Area as police.uk writes it: "lat,lng:lat,lng:lat,lng" (at least 3 points).',
            show_default=False,
        ),
    ] = None,
    first: FromOption = None,
    last: ToOption = None,
    base_url: BaseUrlOption = None,
    quiet: QuietOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Fetch street-level crime for an area from the data.police.uk API.

    Fetches every month police.uk publishes between --from and --to (default: all of them).

    Areas over the API's 10,000-crime cap are split and asked again, automatically.

    Requests stay under the published rate limit; transient failures are retried.

    Inside the area each month's rows are replaced; rows elsewhere are kept, so areas add up.

    Tune retries with $HOTSPOTS_API_ATTEMPTS and $HOTSPOTS_API_BACKOFF (first wait, seconds).
    """
    try:
        check_force(force, "--force")
        first, last = check_range(first, last)
    except (MonthError, ForceError) as error:
        fail(str(error))
    area = _area(boundary, poly)
    url = api_root(base_url)
    retry = retry_policy()
    store = open_store(data_dir, create=True)

    with progress_bar(detail=True, quiet=quiet) as bar:
        task = bar.add_task(f"Fetching {force} months", total=None, detail="")

        def show(update: ProgressUpdate) -> None:
            detail = f"{update.requests:,} requests, {update.splits:,} splits"
            bar.update(task, total=update.months_total, completed=update.months_done, detail=detail)

        try:
            report = api_ingest.ingest_api(
                store, force, area, first, last, url, progress=show, retry=retry
            )
        except ApiIngestError as error:
            bar.stop()
            if error.report is not None and error.report.months:
                _print_report(error.report, store.root)
            message = " ".join(str(error).split())
            if isinstance(error.__cause__, NoMonthsError | RequestRefused):
                fail(message)  # the request was wrong, not the service: a usage error (2)
            stored = len(error.report.months) if error.report else 0
            fail(f"{message} ({stored} month(s) stored before it stopped)", code=1)
        except StoreError as error:
            bar.stop()
            fail(" ".join(said_in_full(error).split()), code=1)
    _print_report(report, store.root)


def _area(boundary: Path | None, poly: str | None) -> BaseGeometry:
    if (boundary is None) == (poly is None):
        fail('give the area as exactly one of --boundary FILE or --poly "lat,lng:lat,lng:..."')
    try:
        return read_boundary(boundary) if boundary is not None else parse_poly(poly or "")
    except AreaError as error:
        fail(" ".join(str(error).split()))


def _print_report(report: ApiIngestReport, root: Path) -> None:
    table = Table(title=f"{report.force} from {report.base_url} into {root}")
    for column in (
        "month",
        "requests",
        "splits",
        "returned",
        "stored",
        "no location",
        "kept",
        "rejected",
    ):
        table.add_column(column, justify="left" if column == "month" else "right")
    for month in report.months:
        rejected = ", ".join(f"{reason} {n:,}" for reason, n in month.rejected.items()) or "0"
        table.add_row(
            month.month,
            f"{month.requests:,}",
            f"{month.splits:,}",
            f"{month.returned:,}",
            f"{month.stored_fresh:,}",
            f"{month.no_location:,}",
            f"{month.kept:,}",
            rejected,
        )
    print_table(table)
    console.print(
        f"{len(report.months)} month(s), {report.requests:,} requests "
        f"({report.posts:,} POST, {report.retries:,} retried, "
        f"{report.rate_limited:,} rate-limited). {ATTRIBUTION}",
        highlight=False,
    )
