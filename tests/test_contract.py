"""openapi.yaml is a valid OpenAPI document and says what the SDK relies on."""

from __future__ import annotations

from pathlib import Path

import yaml
from openapi_spec_validator import validate

SPEC = Path(__file__).resolve().parent.parent / "openapi.yaml"


def load() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(SPEC.read_text())


def test_spec_is_valid_openapi() -> None:
    spec = load()
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_observation_fields_are_all_required() -> None:
    schemas = load()["components"]["schemas"]
    assert set(schemas["ObservationMeta"]["required"]) == {
        "userId",
        "source",
        "metric",
        "externalId",
        "batch",
    }
    assert set(schemas["ObservationPoint"]["required"]) == {"start", "end", "value"}
    assert schemas["ObservationPoint"]["properties"]["value"]["type"] == "integer"


def test_limits_and_statuses() -> None:
    spec = load()
    create = spec["paths"]["/v1/time-series"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["maxItems"] == 5000
    assert {"400", "401", "413", "422", "429", "500", "503"} <= set(create["responses"])
    query = spec["paths"]["/v1/time-series/query"]["post"]
    page_size = next(p for p in query["parameters"] if p["name"] == "pageSize")
    assert page_size["schema"]["default"] == 500
    assert page_size["schema"]["maximum"] == 5000
    for path in spec["paths"].values():
        for op in path.values():
            if op["operationId"] != "refreshToken":
                assert op.get("security", spec["security"]) == [{"bearerAuth": []}]
