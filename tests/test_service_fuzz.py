"""Schemathesis against the service's own OpenAPI schema, on a real server with a small town's
data: whatever the parameters and bodies, the answer is never a 5xx, and every documented
response matches its schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.generation.modes import GenerationMode

from geo_service.app import create_app
from geo_service.precompute import PRECOMPUTE_ENV
from geo_service.settings import Settings
from tests.live_server import live_server
from tests.service_town import KEY, WARDS, build_town

EXAMPLES = 15  # per operation and mode: the whole file stays well under a minute


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir, _ = build_town(tmp_path_factory.mktemp("fuzz"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PRECOMPUTE_ENV, "0")  # only the fuzzer's requests use the CPU
        with live_server(Settings(data_dir=data_dir, max_body_bytes=200_000)) as base:
            yield base


# The schema depends on the code, not the data: read it once, to name one test per operation.
OPENAPI = create_app(Settings(data_dir=Path("unused-data-dir"))).openapi()
OPERATIONS = [
    (method.upper(), path)
    for path, methods in OPENAPI["paths"].items()
    for method in methods
    if method in ("get", "post", "put", "patch", "delete")
]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_server_errors(fuzz_server: str, method: str, path: str, mode: GenerationMode) -> None:
    operation = schemathesis.openapi.from_dict(OPENAPI)[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same cases every run: a failure here is reproducible
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        # Random set names only ever meet a 400 or 404: point at the town's set instead, so
        # the cases reach the statistics and the GeoJSON/mapping checks.
        if path.startswith("/v1/hotspots") and isinstance(case.query, dict):
            case.query["boundaries"] = WARDS
        if method == "POST" and isinstance(case.body, dict):
            case.body["name"] = "fuzz-set"
            if case.body.get("scheme") == "cluster":
                case.body["wards"] = WARDS
            case.query = {**(case.query or {}), "replace": "true"}
        case.call_and_validate(
            base_url=fuzz_server,
            headers={"X-API-Key": KEY},  # writes get past the key check, to their bodies
            checks=[not_a_server_error, response_schema_conformance],
            timeout=120,
        )

    try:
        check()
    except Unsatisfiable:
        # Negative mode: an operation whose every parameter is a free string has no
        # schema-breaking request to make.
        assert mode == GenerationMode.NEGATIVE
        pytest.skip(f"no request can break the schema of {method} {path}")


def test_the_town_survived_the_fuzzing(fuzz_server: str) -> None:
    """The fuzzer holds a valid key; the set every hotspot case used must still be there."""
    assert WARDS in httpx.get(f"{fuzz_server}/health").json()["boundary_sets"]


def test_schema_is_for_this_service(fuzz_server: str) -> None:
    paths = set(httpx.get(f"{fuzz_server}/openapi.json").json()["paths"])
    assert paths == set(OPENAPI["paths"])
    assert {"/health", "/v1/hotspots", "/v1/boundaries", "/v1/weights", "/v1/coverage"} <= paths
