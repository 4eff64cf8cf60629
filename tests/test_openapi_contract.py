"""The OpenAPI schema is a contract a client can build on: every parameter carries an example
that its own schema accepts, every success answer has a typed schema, and the models say what
their fields mean."""

from __future__ import annotations

import tempfile
from pathlib import Path

import jsonschema_rs
import pytest

from geo_service.app import create_app
from geo_service.openapi_examples import NO_EXAMPLE
from geo_service.settings import Settings

# The schema depends on the code, not the data; the app still opens a (throwaway) data folder.
OPENAPI = create_app(Settings(data_dir=Path(tempfile.mkdtemp(prefix="schema-")))).openapi()
OPERATIONS = [
    (method.upper(), path, operation)
    for path, methods in OPENAPI["paths"].items()
    for method, operation in methods.items()
]


def _resolvable(schema: dict) -> dict:
    """``schema`` with the components beside it, so its #/components/... references resolve."""
    return {**schema, "components": OPENAPI["components"]}


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=lambda v: str(v)[:40])
def test_every_parameter_has_an_example_its_schema_accepts(
    method: str, path: str, operation: dict
) -> None:
    for parameter in operation.get("parameters", []):
        if parameter["name"] in NO_EXAMPLE:
            continue
        assert "example" in parameter, f"{method} {path}: {parameter['name']} has no example"
        validator = jsonschema_rs.validator_for(_resolvable(parameter["schema"]))
        assert validator.is_valid(parameter["example"]), (path, parameter)


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=lambda v: str(v)[:40])
def test_every_success_answer_has_a_schema(method: str, path: str, operation: dict) -> None:
    successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
    assert successes, f"{method} {path} documents no success"
    for status, response in successes.items():
        assert response.get("content"), f"{method} {path} {status} has no content"
        for media_type, content in response["content"].items():
            schema = content.get("schema") or {}
            assert schema, f"{method} {path} {status} {media_type} is untyped"
            assert schema.get("type") or "$ref" in schema, (method, path, status, media_type)
            if media_type == "application/json":
                assert "$ref" in schema or schema.get("properties") or schema.get("items"), (
                    f"{method} {path} {status} {media_type}: {schema}"
                )


def test_the_answers_the_issue_found_untyped_are_typed() -> None:
    paths = OPENAPI["paths"]
    provenance = paths["/v1/allocate/provenance"]["get"]["responses"]["200"]["content"]
    assert provenance["application/json"]["schema"]["$ref"].endswith("/AllocationProvenance")
    created = paths["/v1/boundaries"]["post"]["responses"]["201"]["content"]
    assert created["application/json"]["schema"]["$ref"].endswith("/BoundarySetCreated")


def test_the_area_profile_describes_every_field() -> None:
    profile = OPENAPI["components"]["schemas"]["AreaProfile"]
    assert profile.get("description")
    fields = profile["properties"].items()
    undescribed = [name for name, field in fields if not field.get("description")]
    assert not undescribed


def test_examples_are_requests_quickstart_can_answer() -> None:
    parameters = OPENAPI["paths"]["/v1/hotspots"]["get"]["parameters"]
    hotspots = {p["name"]: p.get("example") for p in parameters}
    assert hotspots["boundaries"] == "e06000027-wards-2019" and hotspots["area"] == ["E05012268"]
    assert hotspots["from"] == "2020-01" and hotspots["to"] == "2020-12" and hotspots["res"] == 9
