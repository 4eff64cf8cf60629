"""``hotspots precompute``: the service's default studies as a batch, on Dask workers."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from cli.common import (
    DataDirOption,
    PrecomputeWeightsOption,
    QuietOption,
    console,
    error_console,
    fail,
    open_store,
    progress_bar,
)


def precompute_command(
    boundaries: Annotated[
        list[str] | None,
        typer.Option(
            "--boundaries", help="Only this boundary set (repeatable; default: every set)."
        ),
    ] = None,
    weights: PrecomputeWeightsOption = None,
    resolution: Annotated[int, typer.Option("--res", help="H3 study resolution, 7-10.")] = 9,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Local Dask worker processes.")
    ] = 2,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Address of a running Dask scheduler (tcp://host:8786) instead of local "
            "workers; its workers must see the same data folder.",
            show_default=False,
        ),
    ] = None,
    quiet: QuietOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Compute every area's default hot spot studies into the on-disk cache, on Dask.

    The same studies the service warms at start (each area of each set and each whole set,
    areas with crimes first), so the service, its workers and the CLI find them ready. With
    --scheduler the batch runs on an existing Dask cluster; otherwise on --workers local
    processes.
    """
    # Imported here: Dask and the study stack are only needed by this command.
    from distributed import Client, LocalCluster

    from boundaries.store import BoundaryStore
    from geo_service.precompute import DEFAULT_WEIGHTS, precompute
    from geo_service.results import StudyCache

    store = open_store(data_dir)
    cache = StudyCache(store, BoundaryStore(store.root))
    known = set(cache.boundaries.names())
    unknown = [name for name in boundaries or [] if name not in known]
    if unknown:
        fail(f"no boundary set named {', '.join(unknown)}; `hotspots boundaries list` shows them")
    if not cache.disk.usable():
        # Precompute's only product is the cache: computing every study to keep none of them
        # would end with a claim that they were cached.
        fail(
            f"the cache folder {cache.disk.directory} cannot be opened or written (a read-only "
            "data folder?): precompute keeps its studies there; set HOTSPOTS_CACHE_DIR to a "
            "writable folder"
        )
    try:
        if scheduler:
            client = Client(scheduler, timeout=30)
        else:
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = Client(cluster)
    except (OSError, TimeoutError) as error:
        fail(f"cannot reach the Dask scheduler {scheduler}: {error}")
    with client, progress_bar(quiet=quiet) as bar:
        task = bar.add_task("studies", total=None)
        report = precompute(
            cache,
            boundaries or None,
            tuple(weights or DEFAULT_WEIGHTS),
            resolution,
            executor=client.get_executor(pure=False),
            progress=lambda done, total, _: bar.update(task, total=total, completed=done),
        )
        if not scheduler:
            cluster.close()
    console.print(
        f"{report.warmed} of {report.requests} studies computed and cached in "
        f"{report.seconds:.1f} s" + (f"; {len(report.failed)} refused" if report.failed else ""),
        highlight=False,
    )
    for request, reason in report.failed[:10]:
        area = ",".join(request.areas) or "whole set"
        error_console.print(
            Text.assemble((f"{request.boundaries} {area}:", "yellow"), f" {reason}"),
            highlight=False,
        )
    for note in report.skipped:
        error_console.print(Text.assemble(("not computed:", "yellow"), f" {note}"), highlight=False)
