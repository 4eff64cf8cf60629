"""``hotspots serve``: run the web service (the JSON API, its /docs, profiles and maps)."""

from __future__ import annotations

import contextlib
import copy
import errno
import os
import re
import socket
import sys
from typing import Annotated

import typer
from rich.text import Text

from cli.common import DataDirOption, console, error_console, fail, missing_data_dir
from cli.keys_cmd import keys_file
from cli.standard_output import standard_output_was_shut
from pipelines.quoting import quoted
from pipelines.store import resolve_data_dir
from pipelines.store.paths import DATA_DIR_ENV

_TILE_URL = re.compile(r"^https?://\S*\{z\}\S*\{x\}\S*\{y\}\S*$")


def check_tiles(tiles: str) -> str:
    if tiles in ("none", "osm") or _TILE_URL.match(tiles):
        return tiles
    raise ValueError(
        f"--tiles must be none, osm or a URL template with {{z}}, {{x}} and {{y}} "
        f"(e.g. https://tiles.example/{{z}}/{{x}}/{{y}}.png), got {quoted(tiles)}"
    )


def check_port_free(host: str, port: int) -> None:
    """OSError with a line that says what to do when ``host:port`` cannot be listened on (in use
    by another server, or not an address of this machine)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As uvicorn binds: SO_REUSEADDR, so a port in TIME_WAIT after a restart is not "busy".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise OSError(
                    f"port {port} on {host} is already in use (another `hotspots serve`?): stop "
                    f"that server or choose another --port, e.g. --port {port + 1}"
                ) from None
            raise OSError(f"cannot listen on {host}:{port}: {error.strerror}") from None


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0 for every interface).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = (
        8000
    ),
    data_dir: DataDirOption = None,
    tiles: Annotated[
        str,
        typer.Option(
            "--tiles",
            help="Map background: osm (OpenStreetMap), none (no network: area names drawn "
            "instead) or a tile URL template with {z}, {x} and {y}.",
        ),
    ] = "osm",
    read_access: Annotated[
        str,
        typer.Option("--read-access", help="open: anyone may read; keyed: reads need a key too."),
    ] = "open",
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Server processes; they share the on-disk caches, and one of them warms them.",
        ),
    ] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Log a line per request (off by default: it costs about a quarter of the "
            "service's throughput of cached answers; a reverse proxy usually logs them).",
        ),
    ] = False,
) -> None:
    """Serve the API on http://HOST:PORT (documentation at /docs). Writes need a key made with
    `hotspots keys add`."""
    # Imported here so that other commands do not pay for loading the web stack.
    import uvicorn

    from geo_service.app import create_app
    from geo_service.settings import READ_ACCESS, Settings

    if read_access not in READ_ACCESS:
        fail(f"--read-access must be one of {', '.join(READ_ACCESS)}, got {quoted(read_access)}")
    try:
        check_tiles(tiles)
        check_port_free(host, port)  # at once, not after the app is built
    except (ValueError, OSError) as error:
        fail(str(error))
    settings = Settings(
        data_dir=resolve_data_dir(data_dir),
        api_keys_file=keys_file(data_dir),
        read_access=read_access,
        tiles=tiles,
    )
    assert settings.api_keys_file is not None  # always set by Settings
    if not settings.data_dir.is_dir():
        # The service makes the folder and serves an empty store there (boundary sets can be
        # added through its API), so this is no error; but it is usually a mistyped path.
        error_console.print(
            Text.assemble(
                ("warning:", "yellow"),
                f" {missing_data_dir(settings.data_dir, data_dir)}: serving an empty store, "
                f"made there now; give your store's folder with --data-dir or ${DATA_DIR_ENV}",
            ),
            highlight=False,
            soft_wrap=True,
        )
    if not settings.api_keys_file.exists():
        error_console.print(
            Text.assemble(
                ("warning:", "yellow"),
                f" no API keys in {settings.api_keys_file}: writes (and keyed "
                "reads) are refused until you run `hotspots keys add`",
            ),
            highlight=False,
        )
    if standard_output_was_shut():
        # A server started with `>&-` still serves: its banner and access log go nowhere.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the process's own stream
    console.print(
        f"Serving {settings.data_dir} on http://{host}:{port} (API docs at /docs, reads "
        f"{read_access}). Ctrl+C stops.",
        highlight=False,
    )
    options = uvicorn_options(access_log)
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, **options)
        return
    from geo_service.paging import CURSOR_SECRET_ENV, cursor_secret

    # Each worker process builds its app from the environment (Settings.from_env). The page
    # cursors' secret is made here, once, so that every worker signs with the same one even
    # when the data folder is read-only and cannot keep it (each would make its own).
    os.environ.update(
        {
            DATA_DIR_ENV: str(settings.data_dir),
            "HOTSPOTS_API_KEYS_FILE": str(settings.api_keys_file),
            "HOTSPOTS_READ_ACCESS": read_access,
            "HOTSPOTS_TILES": tiles,
            CURSOR_SECRET_ENV: cursor_secret(settings.data_dir).hex(),
        }
    )
    uvicorn.run(
        "geo_service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **options,
    )


def uvicorn_options(access_log: bool = False) -> dict:
    """uvicorn's settings for the service: its own log format, with the service's messages
    (``hotspots.*``: warm-up progress, cache problems) at INFO beside uvicorn's, and the
    fastest event loop and HTTP parser installed (:func:`loop_and_parser`)."""
    from uvicorn.config import LOGGING_CONFIG

    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["hotspots"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return {
        "log_config": log_config,
        "log_level": "info",
        "access_log": access_log,
        **loop_and_parser(),
    }


def loop_and_parser() -> dict[str, str]:
    """uvloop and httptools (dependencies: on cached answers they measured 1.5-2x the requests
    a second of asyncio and h11), or uvicorn's own where one is missing (uvloop has no Windows
    build)."""
    options = {"loop": "asyncio", "http": "h11"}
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: F401

        options["loop"] = "uvloop"
    with contextlib.suppress(ImportError):
        import httptools  # noqa: F401

        options["http"] = "httptools"
    return options
