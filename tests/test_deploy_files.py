"""The shipped scheduling files: a docker compose file, systemd units and a cron line.

There is no Docker daemon or systemd here, so these tests check the files' structure (what
`docker compose config` and `systemd-analyze verify` would read) and that every command they
run is a real `hotspots` command with real options; they do not run the containers or units.
"""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import yaml
from typer.testing import CliRunner

from cli.main import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _runs(args: list[str]) -> None:
    """``hotspots <args> --help`` works: the command and its options exist."""
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, (args, result.output)


def test_compose_runs_the_service_and_an_updater_on_one_data_volume() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "updater"}
    assert "hotspots-data" in compose["volumes"]
    for service in services.values():
        assert "hotspots-data:/data" in service["volumes"]
        assert service["environment"]["HOTSPOTS_DATA_DIR"] == "/data"
        assert service["restart"] == "unless-stopped"
    web, updater = services["web"], services["updater"]
    assert web["command"][0] == "serve" and "8000:8000" in web["ports"]
    _runs(web["command"][:1])
    assert updater["image"] == web["image"]  # the same build
    assert updater["entrypoint"] == ["/bin/sh", "-c"]
    (loop,) = updater["command"]
    assert "hotspots update" in loop and "while true" in loop
    assert "$${UPDATE_EVERY_SECONDS:-2592000}" in loop  # $$: compose passes one $ to the shell
    assert int(updater["environment"]["UPDATE_EVERY_SECONDS"]) == 30 * 24 * 3600
    assert updater["healthcheck"] == {"disable": True}
    _runs(["update"])


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((ROOT / "deploy" / "systemd" / name).read_text())
    return parser


def test_systemd_timer_starts_the_update_service_daily() -> None:
    timer = _unit("hotspots-update.timer")
    assert timer["Timer"]["OnCalendar"] == "*-*-* 04:30:00"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"
    update = _unit("hotspots-update.service")  # the timer's default unit: same name
    assert update["Service"]["Type"] == "oneshot"
    command = shlex.split(update["Service"]["ExecStart"])
    assert command[0].endswith("/hotspots") and command[1:] == ["update"]
    _runs(command[1:])
    serve = shlex.split(_unit("hotspots.service")["Service"]["ExecStart"])
    assert serve[1] == "serve"
    _runs(serve[1:])
    for name in ("hotspots.service", "hotspots-update.service"):
        service = _unit(name)["Service"]
        assert service["Environment"] == "HOTSPOTS_DATA_DIR=/var/lib/hotspots"
        assert service["ReadWritePaths"] == "/var/lib/hotspots"


def test_cron_line_runs_update_daily() -> None:
    lines = [
        line
        for line in (ROOT / "deploy" / "cron" / "hotspots-update").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "HOTSPOTS_DATA_DIR=/var/lib/hotspots"
    fields = lines[1].split(None, 6)
    assert fields[:5] == ["30", "4", "*", "*", "*"] and fields[5] == "hotspots"
    command = shlex.split(fields[6])
    assert command[0].endswith("/hotspots") and command[1] == "update"
    _runs(command[1:2])
