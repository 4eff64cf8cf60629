"""Schemathesis against the service's own OpenAPI schema, on a real server with a small town's
data, with every check it has: whatever the parameters and bodies (schema-valid or not), the
answer is never a 5xx, its status and content type are documented, it matches its schema,
invalid input is refused, valid input is not refused for its form, an unsupported method is a
405; and following the schema's links (create a set, read it, delete it, read it again) the
resource is there after its creation and gone after its deletion."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode

from geo_service.app import create_app
from geo_service.precompute import PRECOMPUTE_ENV
from geo_service.settings import Settings
from tests.live_server import live_server
from tests.service_town import KEY, WARDS, build_town

EXAMPLES = 15  # per operation and mode
STATEFUL_EXAMPLES = 10  # link chains of up to 4 calls: the whole file stays under ~2 minutes


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir, _ = build_town(tmp_path_factory.mktemp("fuzz"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PRECOMPUTE_ENV, "0")  # only the fuzzer's requests use the CPU
        with live_server(Settings(data_dir=data_dir, max_body_bytes=200_000)) as base:
            yield base


# The schema depends on the code, not the data: read it once, to name one test per operation
# (the app still opens a data folder: a throwaway one, never the working tree).
OPENAPI = create_app(Settings(data_dir=Path(tempfile.mkdtemp(prefix="schema-")))).openapi()
OPERATIONS = [
    (method.upper(), path)
    for path, methods in OPENAPI["paths"].items()
    for method in methods
    if method in ("get", "post", "put", "patch", "delete")
]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# Statuses each check accepts, where they differ from schemathesis's defaults:
# - schema-valid input may still be unanswerable (no crimes stored for the months, a GeoJSON
#   object that is no polygon): 422 says so in words, and is not a refusal of its form;
# - a body over the limit is refused with 413.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
            },
            "negative_data_rejection": {
                "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413",
                                      "415", "422", "428", "429"]
            },
        }
    }
)  # fmt: skip
SCHEMA = schemathesis.openapi.from_dict(OPENAPI, config=CONFIG)


def _aim_at_the_town(case: schemathesis.Case) -> None:
    """Random set names only ever meet a 404: point hotspot queries at the town's set, so the
    cases reach the statistics, and name every created set fuzz-set (replacing the last), so
    the town's own set is never the one replaced or deleted."""
    if case.path.startswith("/v1/hotspots") and isinstance(case.query, dict):
        case.query["boundaries"] = WARDS
    if case.method == "POST" and isinstance(case.body, dict):
        case.body["name"] = "fuzz-set"
        if case.body.get("scheme") == "cluster":
            case.body["wards"] = WARDS
        case.query = {**(case.query or {}), "replace": "true"}


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_server_errors(fuzz_server: str, method: str, path: str, mode: GenerationMode) -> None:
    operation = SCHEMA[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same cases every run: a failure here is reproducible
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        _aim_at_the_town(case)
        case.call_and_validate(
            base_url=fuzz_server,
            headers={"X-API-Key": KEY},  # writes get past the key check, to their bodies
            timeout=120,
        )

    try:
        check()
    except Unsatisfiable:
        # Negative mode: an operation whose every parameter is a free string has no
        # schema-breaking request to make.
        assert mode == GenerationMode.NEGATIVE
        pytest.skip(f"no request can break the schema of {method} {path}")


def test_following_the_links_keeps_every_check(fuzz_server: str) -> None:
    """Stateful: chains of calls along the schema's links (POST /v1/boundaries -> its areas,
    its deletion), every check on every step (use after free, resource availability...)."""

    class Workflow(SCHEMA.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case) -> None:
            _aim_at_the_town(case)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict:
            return {"base_url": fuzz_server, "headers": {"X-API-Key": KEY}, "timeout": 120}

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=4,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
    )


def test_the_town_survived_the_fuzzing(fuzz_server: str) -> None:
    """The fuzzer holds a valid key; the set every hotspot case used must still be there."""
    assert WARDS in httpx.get(f"{fuzz_server}/health").json()["boundary_sets"]


def test_schema_is_for_this_service(fuzz_server: str) -> None:
    paths = set(httpx.get(f"{fuzz_server}/openapi.json").json()["paths"])
    assert paths == set(OPENAPI["paths"])
    assert {"/health", "/v1/hotspots", "/v1/boundaries", "/v1/weights", "/v1/coverage"} <= paths
