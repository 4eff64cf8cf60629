"""One validated month type (pipelines.months.Month) at every entry point: CLI options, every
query parameter that takes a month, and the store (issue 10, finding 1).

``to=9999-12`` once looped forever (the successor of 9999-12 was 1000-00) and grew the server's
memory without limit; full-width digits passed ``\\d``; years below 1000 crashed in int(); the map
page took month 13 and month 0. Every request here runs with a client timeout of a few seconds, so
a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import datetime as dt
import html
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app
from geo_service.app import create_app
from geo_service.settings import Settings
from pipelines.months import (
    FIRST_POLICE_UK_MONTH,
    Month,
    MonthError,
    check_range,
    months_between,
    shift_month,
)
from pipelines.store import CrimeStore
from tests.live_server import live_client
from tests.service_town import EAST, WARDS, WEST, build_town

pytestmark = pytest.mark.usefixtures("no_precompute")
runner = CliRunner()

# (value, words the message must carry): each a finding of the review.
BAD_MONTHS = [
    ("9999-12", "after this month"),
    ("\uff12\uff10\uff11\uff19-\uff10\uff11", "digits 0-9"),  # ２０１９-０１, full-width digits
    ("2020-13", "YYYY-MM"),
    ("2020-00", "YYYY-MM"),
    ("0999-01", f"before {FIRST_POLICE_UK_MONTH}"),
]
CLIENT_TIMEOUT = 5  # seconds: a 422 takes milliseconds; the old loop never answered


# -- the type ------------------------------------------------------------------------------------


def test_month_arithmetic_always_ends() -> None:
    assert Month("9999-11").shift(1) == "9999-12"
    with pytest.raises(MonthError):
        Month("9999-12").shift(1)  # once "1000-00", so a range up to 9999-12 never ended
    assert months_between("2019-11", "2020-02") == ["2019-11", "2019-12", "2020-01", "2020-02"]
    assert months_between("2020-02", "2019-11") == []
    assert len(months_between("1000-01", "9999-12")) == 9000 * 12  # finite, no string successor
    assert shift_month("2019-01", -1) == "2018-12" and shift_month("2019-12", 13) == "2021-01"
    assert Month("2019-04").year == 2019 and Month("2019-04").number == 4


@pytest.mark.parametrize(("text", "words"), BAD_MONTHS)
def test_parse_refuses_each_bad_month_with_what_to_fix(text: str, words: str) -> None:
    with pytest.raises(MonthError, match="--to") as raised:
        Month.parse(text, option="--to")
    assert words in str(raised.value)


def test_parse_keeps_police_uk_range_and_current_month() -> None:
    today = dt.date(2024, 5, 20)
    assert Month.parse(" 2024-05 ", today=today) == "2024-05"  # this month is allowed
    assert Month.parse(FIRST_POLICE_UK_MONTH, today=today) == FIRST_POLICE_UK_MONTH
    with pytest.raises(MonthError, match="give 2024-05 or earlier"):
        Month.parse("2024-06", today=today)
    with pytest.raises(MonthError, match="give 2010-12 or later"):
        Month.parse("2010-11", today=today)
    with pytest.raises(MonthError, match="is after --to 2019-01"):
        check_range("2019-05", "2019-01")
    parsed = Month.parse("2019-04")
    assert isinstance(parsed, str) and parsed == "2019-04" and f"{parsed}" == "2019-04"


def test_store_skips_files_whose_names_are_not_ascii_months(tmp_path: Path) -> None:
    store = CrimeStore(tmp_path)
    folder = tmp_path / "crimes" / "devon-and-cornwall"
    folder.mkdir(parents=True)
    (folder / "\uff12\uff10\uff11\uff19-01.parquet").write_bytes(b"")
    assert store.partitions() == []


# -- over HTTP -----------------------------------------------------------------------------------

GOOD_PERIOD = "2019-01:2019-03"
# The other parameters of each GET endpoint that takes a month: any valid value will do, the
# month is checked before anything is read.
ENDPOINTS: dict[str, dict[str, str]] = {
    "/v1/hotspots": {"boundaries": WARDS},
    "/v1/hotspots/provenance": {"boundaries": WARDS},
    "/v1/high-count-places": {"boundaries": WARDS},
    "/v1/maps/hotspots": {"boundaries": WARDS},
    "/v1/maps/areas": {"boundaries": WARDS},
    "/v1/boundaries/{set_name}/areas/{code}/profile": {},
    "/v1/boundaries/{set_name}/areas/{code}/profile.html": {},
    "/v1/boundaries/{set_name}/areas/{code}/briefing": {},
    "/v1/coverage": {},
    "/v1/compare": {"boundaries": WARDS},
    "/v1/maps/compare": {"boundaries": WARDS},
    "/v1/allocate": {"boundaries": WARDS, "units": "10"},
    "/v1/allocate/provenance": {"boundaries": WARDS, "units": "10"},
    "/v1/backtest": {"boundaries": WARDS},
    "/v1/displacement": {
        "target": f"{WARDS}:{WEST}",
        "control": f"{WARDS}:{EAST}",
        "buffer_m": "200",
        "before": GOOD_PERIOD,
        "after": "2019-07:2019-09",
    },
}
MONTH_PARAMETERS = {"from", "to", "before", "after"}


def _month_endpoints() -> dict[str, list[str]]:
    """Every GET path of the service with the month parameters it takes, from its OpenAPI."""
    with tempfile.TemporaryDirectory() as empty:  # the app makes its cache folder there
        spec = create_app(Settings(data_dir=Path(empty))).openapi()
    found = {}
    for path, operations in spec["paths"].items():
        names = [p["name"] for p in operations.get("get", {}).get("parameters", [])]
        if MONTH_PARAMETERS & set(names):
            found[path] = sorted(MONTH_PARAMETERS & set(names))
    return found


def test_every_endpoint_that_takes_a_month_is_checked_here() -> None:
    """A new endpoint with a month parameter must join ENDPOINTS (so the next test covers it)."""
    assert set(_month_endpoints()) == set(ENDPOINTS)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data_dir, _ = build_town(tmp_path_factory.mktemp("town"))
    with live_client(Settings(data_dir=data_dir), timeout=CLIENT_TIMEOUT) as client:
        yield client


def _requests() -> Iterator[tuple[str, str, str, str]]:
    for path, parameters in _month_endpoints().items():
        for parameter in parameters:
            for value, words in BAD_MONTHS:
                yield path, parameter, value, words


@pytest.mark.parametrize(("path", "parameter", "value", "words"), list(_requests()))
def test_bad_months_are_422_quickly_on_every_endpoint(
    api: httpx.Client, path: str, parameter: str, value: str, words: str
) -> None:
    params = dict(ENDPOINTS[path])
    if parameter in ("before", "after"):  # a period: FIRST:LAST
        params[parameter] = f"{value}:2019-03" if parameter == "before" else f"2019-07:{value}"
    else:
        params[parameter] = value
    url = path.format(set_name=WARDS, code=WEST)
    response = api.get(url, params=params)  # the client gives up after CLIENT_TIMEOUT s
    if (path, parameter, value) == ("/v1/backtest", "to", "9999-12"):
        # A backtest's to= after this month goes on to the store's check, which names the to=
        # that works (tests/test_backtest_service.py); GET, which only reads, has no such run.
        assert response.status_code == 404, response.text
        assert "no backtest of these settings is recorded" in response.json()["error"]
        return
    assert response.status_code == 422, response.text
    if response.headers["content-type"].startswith("text/html"):  # a page: its error page
        message = html.unescape(response.text)
    else:
        message = response.json()["error"]
    assert parameter in message and words in message, message
    assert "Traceback" not in message


def test_a_good_month_still_answers(api: httpx.Client) -> None:
    response = api.get("/v1/coverage", params={"from": "2019-02", "to": "2019-03"})
    assert response.status_code == 200, response.text
    assert [m["month"] for m in response.json()["forces"][0]["months"]] == ["2019-02", "2019-03"]


# -- on the command line -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def town_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir, _ = build_town(tmp_path_factory.mktemp("cli-town"))
    return data_dir


def _commands(data_dir: Path, out: Path) -> dict[str, list[str]]:
    """Every command with a month option, with valid values for the rest."""
    store = ["--data-dir", str(data_dir)]
    return {
        "analyse": ["analyse", "--boundaries", WARDS, "-o", str(out / "a.csv"), *store],
        "boundaries counts": ["boundaries", "counts", WARDS, *store],
        "boundaries routes": [
            *("boundaries", "routes", WARDS, "--lookup", str(out / "l.csv"), *store)
        ],
        "coverage": ["coverage", *store],
        "export": ["export", "--force", "devon-and-cornwall", "-o", str(out / "e.csv"), *store],
        "ingest archive": ["ingest", "archive", str(out), *store],
        "ingest api": ["ingest", "api", "--force", "metropolitan", "--poly", "1,1:1,2:2,2", *store],
        "allocate": ["allocate", "--boundaries", WARDS, "--units", "5", *store],
        "compare": ["compare", "--boundaries", f"{WARDS},{WARDS}", *store],
        "backtest": ["backtest", "--boundaries", WARDS, *store],
    }


@pytest.mark.parametrize("command", list(_commands(Path("x"), Path("y"))))
@pytest.mark.parametrize(("value", "words"), BAD_MONTHS)
def test_every_month_option_gives_a_one_line_error(
    town_store: Path, tmp_path: Path, command: str, value: str, words: str
) -> None:
    args = _commands(town_store, tmp_path)[command]
    option = "--to" if command == "backtest" or value != "0999-01" else "--from"
    result = runner.invoke(app, [*args, option, value])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error:") and result.stderr.count("\n") == 1, result.stderr
    if command == "backtest" and value == "9999-12":
        # Let through to the store's check, which names the --to that works.
        words = "the store ends at 2019-12: train on the 9 months to 2019-09 (--to 2019-09"
    assert option in result.stderr and words in result.stderr, result.stderr


@pytest.mark.parametrize(("value", "words"), BAD_MONTHS)
def test_displacement_periods_are_checked(town_store: Path, value: str, words: str) -> None:
    args = ["displacement", "--target", f"{WARDS}:{WEST}", "--control", f"{WARDS}:{EAST}"]
    args += ["--buffer-m", "200", "--before", GOOD_PERIOD, "--after", f"2019-07:{value}"]
    result = runner.invoke(app, [*args, "--data-dir", str(town_store)])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "--after" in result.stderr, result.stderr
    assert words in result.stderr


def test_analyse_to_9999_12_exits_at_once(town_store: Path, tmp_path: Path) -> None:
    """The reported hang, as a user runs it: a separate process, killed if it does not end."""
    command = [str(Path(sys.executable).parent / "hotspots"), "analyse", "--boundaries", WARDS]
    command += ["-o", str(tmp_path / "x.csv"), "--to", "9999-12", "--data-dir", str(town_store)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error:") and "--to 9999-12 is after this month" in done.stderr
