"""``alpha=nan`` (or inf, -inf) is told a finite number is required, on every float parameter of
the API and every float option of the CLI, rather than "must be <= 0.5" (nan fails every range
check) or an answer computed on nan. The API's float parameters are found in its own OpenAPI
schema, so a float parameter added later is checked too."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app
from geo_service.app import create_app
from geo_service.settings import Settings
from pipelines.analysis.multiple_testing import check_alpha
from tests.live_server import page_or_api_error_message
from tests.service_town import EAST, KEY, WARDS, WEST

pytestmark = pytest.mark.usefixtures("no_precompute")

NON_FINITE = ["nan", "inf", "-inf", "NaN", "1e999"]
# What each route needs besides the number under test, so only that number is wrong.
REQUIRED = {
    "boundaries": WARDS,
    "units": "5",
    "target": f"{WARDS}:{WEST}",
    "control": f"{WARDS}:{EAST}",
    "buffer_m": "100",
    "before": "2019-01:2019-06",
    "after": "2019-07:2019-12",
    "to": "2019-09",
}


def _float_parameters() -> list[tuple[str, str, str, frozenset[str]]]:
    """(method, path, name, every parameter of the route) of each number query parameter in
    the schema."""
    schema = create_app(Settings(data_dir=Path("/nonexistent"))).openapi()
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            parameters = operation.get("parameters", [])
            takes = frozenset(parameter["name"] for parameter in parameters)
            for parameter in parameters:
                kinds = [parameter["schema"], *parameter["schema"].get("anyOf", [])]
                if any(kind.get("type") == "number" for kind in kinds):
                    found.append((method, path, parameter["name"], takes))
    return found


FLOATS = _float_parameters()


def test_the_schema_has_the_float_parameters_we_know_of() -> None:
    names = {name for _, _, name, _ in FLOATS}
    assert {"alpha", "min_separation_m", "buffer_m"} <= names
    assert len(FLOATS) >= 10


@pytest.mark.parametrize(
    ("method", "path", "name", "takes"), FLOATS, ids=[f"{m} {p} {n}" for m, p, n, _ in FLOATS]
)
@pytest.mark.parametrize("value", NON_FINITE)
def test_api_refuses_non_finite_numbers(
    town_api: httpx.Client, method: str, path: str, name: str, takes: frozenset[str], value: str
) -> None:
    params = {key: v for key, v in REQUIRED.items() if key in takes and key != name}
    params[name] = value
    response = town_api.request(method.upper(), path, params=params, headers={"X-API-Key": KEY})
    message = page_or_api_error_message(response, 422)
    assert f"{name}: a finite number is required" in message, message
    assert "less than" not in message and "greater than" not in message


ANALYSE = ["analyse", "--boundaries", WARDS, "-o", "{tmp}/x.json"]
DISPLACEMENT = ["displacement", "--target", f"{WARDS}:{WEST}", "--control", f"{WARDS}:{EAST}"]
DISPLACEMENT += ["--before", "2019-01:2019-06", "--after", "2019-07:2019-12"]
CLI = {
    "analyse --alpha": [*ANALYSE, "--alpha"],
    "analyse --min-separation-m": [*ANALYSE, "--top", "3", "--min-separation-m"],
    "compare --alpha": ["compare", "--boundaries", f"{WARDS},{WARDS}", "--alpha"],
    "backtest --alpha": ["backtest", "--boundaries", WARDS, "--to", "2019-09", "--alpha"],
    "displacement --buffer-m": [*DISPLACEMENT, "--buffer-m"],
    "update --max-removed-share": ["update", "--dry-run", "--max-removed-share"],
}


@pytest.mark.parametrize("args", CLI.values(), ids=CLI.keys())
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_cli_refuses_non_finite_numbers(tmp_path: Path, args: list[str], value: str) -> None:
    argv = [a.format(tmp=tmp_path) for a in args] + [value, "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert "a finite number is required" in result.output, result.output
    assert "Traceback" not in result.output


def test_the_statistics_say_so_too() -> None:
    with pytest.raises(ValueError, match="finite number"):
        check_alpha(float("nan"))


def test_alpha_has_one_range_on_every_route(town_api: httpx.Client) -> None:
    """The map once took alpha up to 1 while every other route stops at 0.5: one range, one
    message, wherever alpha is a parameter."""
    schema = town_api.get("/openapi.json").json()
    ranges = {}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "alpha":
                    field = parameter["schema"]
                    ranges[path] = (field.get("minimum"), field.get("maximum"))
    assert "/v1/maps/hotspots" in ranges
    assert set(ranges.values()) == {(1e-6, 0.5)}, ranges


ALPHA_OPTIONS = {k: v for k, v in CLI.items() if k.endswith("--alpha")}


@pytest.mark.parametrize("args", ALPHA_OPTIONS.values(), ids=ALPHA_OPTIONS.keys())
@pytest.mark.parametrize("value", ["0.9", "0.51", "0", "-0.05"])
def test_cli_alpha_has_the_apis_range(tmp_path: Path, args: list[str], value: str) -> None:
    """``--alpha 0.9`` was accepted while the API stops at 0.5: the same range on the CLI,
    refused in one line before anything runs."""
    argv = [a.format(tmp=tmp_path) for a in args] + [value, "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        f"error: Invalid value for '--alpha': a significance level from 0.000001 to 0.5 "
        f"is required, got {float(value)}. See `hotspots {argv[0]} --help`."
    ], result.output
    assert "Traceback" not in result.output
