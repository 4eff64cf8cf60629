"""Entry point of the ``hotspots`` command."""

from __future__ import annotations

import typer

from cli.analyse_cmd import analyse
from cli.boundaries_cmd import boundaries_app
from cli.coverage_cmd import coverage
from cli.export_cmd import export
from cli.ingest_api_cmd import ingest_api
from cli.ingest_archive_cmd import ingest_archive_command
from cli.keys_cmd import keys_app
from cli.planning_cmd import (
    allocate_command,
    backtest_command,
    compare_command,
    displacement_command,
)
from cli.quickstart_cmd import demo, quickstart
from cli.serve_cmd import serve
from cli.update_cmd import update
from pipelines.attribution import ATTRIBUTION

app = typer.Typer(
    name="hotspots",
    help="Load police.uk crime into a local store and turn it into hotspot evidence.\n\n"
    + ATTRIBUTION,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
ingest_app = typer.Typer(
    help="Load police.uk street-level crime into the store.", no_args_is_help=True
)
app.add_typer(ingest_app, name="ingest")

ingest_app.command("archive")(ingest_archive_command)
ingest_app.command("api")(ingest_api)
app.command("update")(update)
app.command("coverage")(coverage)
app.command("export")(export)
app.add_typer(boundaries_app, name="boundaries")
app.command("analyse")(analyse)
app.command("serve")(serve)
app.command("quickstart")(quickstart)
app.command("demo")(demo)
app.add_typer(keys_app, name="keys")
app.command("allocate")(allocate_command)
app.command("compare")(compare_command)
app.command("displacement")(displacement_command)
app.command("backtest")(backtest_command)


if __name__ == "__main__":
    app()
