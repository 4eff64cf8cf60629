"""An example for every parameter of the OpenAPI schema, so /docs fills "Try it out" with a
request that answers on a store `make quickstart` loaded (Torbay's wards and 2020's crimes).

One table, by parameter name, with a few per-route exceptions; each example is written as it
would appear in a URL and converted to the parameter's schema type (integer, number, boolean,
array). tests/test_openapi_contract.py fails on a parameter without an example, so a parameter
added anywhere needs one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

WARDS = "e06000027-wards-2019"  # the set quickstart makes for Torbay
TORMOHUN = "E05012268"

EXAMPLES: dict[str, str] = {
    "X-API-Key": "the-key-printed-by-hotspots-keys-add",
    "boundaries": WARDS,
    "set_name": WARDS,
    "code": TORMOHUN,
    "area": TORMOHUN,
    "scope": "set",
    "res": "9",
    "from": "2020-01",
    "to": "2020-12",
    "force": "devon-and-cornwall",
    "categories": "burglary,robbery",
    "weights": "cchi",
    "exclude_police_generated": "false",
    "method": "gistar",
    "k": "1",
    "permutations": "999",
    "seed": "0",
    "alpha": "0.05",
    "correction": "fdr_bh",
    "p_for_classes": "permutation",
    "top": "10",
    "per_area": "false",
    "rank_by": "value",
    "min_separation_m": "400",
    "format": "json",
    "metric": "harm_per_km2",
    "units": "40",
    "min": "2",
    "max": "8",
    "measure": "harm",
    "floor_rule": "minimum",
    "rounding": "webster",
    "limit": "500",
    "suppress": "false",
    "target": f"{WARDS}:{TORMOHUN}",
    "control": f"{WARDS}:E05012255",
    "buffer_m": "300",
    "before": "2020-01:2020-06",
    "after": "2020-07:2020-12",
    "train_months": "6",
    "test_months": "3",
    "replace": "false",
}
# Parameters no example can show: a value only the service issues, which any made-up one (and
# Swagger UI sends the example it shows) would turn into a 422.
NO_EXAMPLE = {"cursor": "an opaque token from a previous answer's page.next_cursor"}
ROUTE_EXAMPLES: dict[tuple[str, str], str] = {
    ("/v1/compare", "boundaries"): f"{WARDS},torbay-clusters",
    ("/v1/maps/compare", "boundaries"): f"{WARDS},torbay-clusters",
    ("/v1/backtest", "res"): "8,9",
    ("/v1/backtest", "weights"): "count,cchi",
    ("/v1/backtest", "to"): "2020-09",
}


def install_parameter_examples(app: FastAPI) -> None:
    """Make ``app.openapi()`` carry an example on each parameter that does not declare one,
    and a string schema on each text answer (pages, CSV) that has none."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                for parameter in operation.get("parameters", []):
                    add_example(path, parameter)
                for response in operation.get("responses", {}).values():
                    for media_type, content in response.get("content", {}).items():
                        # A page or a CSV is text; FastAPI leaves its schema empty.
                        if media_type.startswith("text/") and not content.get("schema"):
                            content["schema"] = {"type": "string"}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def add_example(path: str, parameter: dict[str, Any]) -> None:
    if "example" in parameter or "examples" in parameter:
        return
    text = ROUTE_EXAMPLES.get((path, parameter["name"]), EXAMPLES.get(parameter["name"]))
    if text is not None:
        parameter["example"] = typed(text, parameter.get("schema", {}))


def typed(text: str, schema: dict[str, Any]) -> Any:
    """``text`` (as in a URL) as a value of ``schema``'s type (the first non-null of anyOf)."""
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    kind = options[0].get("type") if options else "string"
    if kind == "array":
        item = options[0].get("items", {})
        return [typed(part, item) for part in text.split(",")]
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        return text == "true"
    return text
