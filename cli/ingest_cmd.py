"""``hotspots ingest``: the two sources of street-level crime, archive and API."""

from __future__ import annotations

import typer

from cli.ingest_api_cmd import ingest_api
from cli.ingest_archive_cmd import ingest_archive_command

ingest_app = typer.Typer(
    help="Load police.uk street-level crime into the store.", no_args_is_help=True
)
ingest_app.command("archive")(ingest_archive_command)
ingest_app.command("api")(ingest_api)
