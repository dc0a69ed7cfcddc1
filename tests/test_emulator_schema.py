"""The observation schema the emulator derives from the generated models, and fields it adds."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import attrs
import httpx
import pytest
import yaml
from genomcore_ts_api.models import ObservationMeta, ObservationPoint, QueryPage
from genomcore_ts_api.types import UNSET, Unset

from genomcore_sdk.emulator import Emulator, ingest
from genomcore_sdk.emulator.schema import (
    CONSTRAINTS,
    ObservationSchema,
    SchemaError,
    derive_schema,
    observation_schema,
)
from tests.conftest import REFRESH, TOKEN
from tests.helpers import observation

SPEC = Path(__file__).resolve().parent.parent / "openapi.yaml"
KINDS = {
    ("integer", None): "int",
    ("integer", "int64"): "int",
    ("string", None): "string",
    ("string", "date-time"): "date-time",
    ("string", "date"): "date",
    ("number", None): "number",
    ("boolean", None): "bool",
}


def spec_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = yaml.safe_load(SPEC.read_text())["components"]["schemas"]
    return schemas


@pytest.mark.parametrize(
    ("part", "component"), [("meta", "ObservationMeta"), ("point", "ObservationPoint")]
)
def test_derived_schema_equals_the_spec(part: str, component: str) -> None:
    declared = spec_schemas()[component]
    derived = getattr(observation_schema(), part)
    assert derived.names == set(declared["properties"])
    assert derived.required == set(declared["required"])
    assert derived.additional_properties == declared.get("additionalProperties", True)
    for name, prop in declared["properties"].items():
        field = derived.field(name)
        assert field.kind == KINDS[(prop["type"], prop.get("format"))], name
        assert field.min_length == prop.get("minLength", 0), name
        assert not field.nullable
    # the constraints the models cannot carry are exactly the spec's
    spec_min_lengths = {
        f"{part}.{name}": prop["minLength"]
        for name, prop in declared["properties"].items()
        if "minLength" in prop
    }
    ours = {k: v["minLength"] for k, v in CONSTRAINTS.items() if k.startswith(part + ".")}
    assert ours == spec_min_lengths


def test_json_names_come_from_to_dict_not_attribute_names() -> None:
    meta = observation_schema().meta
    assert [(f.attribute, f.name) for f in meta.fields] == [
        ("user_id", "userId"),
        ("source", "source"),
        ("metric", "metric"),
        ("external_id", "externalId"),
        ("batch", "batch"),
    ]


# What openapi-python-client generates for ObservationMeta once the spec adds an optional
# `unit` (string) and an optional nullable `calibrated` (boolean): optional fields are
# typed `X | Unset` with default UNSET and left out of to_dict() when unset.
@attrs.define
class RegeneratedMeta:
    user_id: int
    source: str
    metric: str
    external_id: str
    batch: str
    unit: str | Unset = UNSET
    calibrated: bool | Unset | None = UNSET

    def to_dict(self) -> dict[str, Any]:
        field_dict: dict[str, Any] = {
            "userId": self.user_id,
            "source": self.source,
            "metric": self.metric,
            "externalId": self.external_id,
            "batch": self.batch,
        }
        if not isinstance(self.unit, Unset):
            field_dict["unit"] = self.unit
        if not isinstance(self.calibrated, Unset):
            field_dict["calibrated"] = self.calibrated
        return field_dict


@attrs.define
class RegeneratedPoint:
    start: datetime.datetime
    end: datetime.datetime
    value: int
    quality: int | Unset = UNSET
    confidence: float | Unset = UNSET
    method: Literal["manual", "auto"] | Unset = UNSET
    checked_on: datetime.date | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        field_dict: dict[str, Any] = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "value": self.value,
        }
        if not isinstance(self.quality, Unset):
            field_dict["quality"] = self.quality
        if not isinstance(self.confidence, Unset):
            field_dict["confidence"] = self.confidence
        if not isinstance(self.method, Unset):
            field_dict["method"] = self.method
        if not isinstance(self.checked_on, Unset):
            field_dict["checkedOn"] = self.checked_on.isoformat()
        return field_dict


def test_derivation_reads_optional_and_nullable_fields() -> None:
    schema = derive_schema(RegeneratedMeta, RegeneratedPoint)
    assert [f.name for f in schema.meta_extras] == ["unit", "calibrated"]
    unit, calibrated = schema.meta_extras
    assert (unit.kind, unit.required, unit.nullable) == ("string", False, False)
    assert (calibrated.kind, calibrated.required, calibrated.nullable) == ("bool", False, True)
    assert [(f.name, f.attribute, f.kind, f.required, f.choices) for f in schema.point_extras] == [
        ("quality", "quality", "int", False, ()),
        ("confidence", "confidence", "number", False, ()),
        ("method", "method", "enum", False, ("manual", "auto")),
        ("checkedOn", "checked_on", "date", False, ()),
    ]


def test_a_model_without_a_core_field_is_refused() -> None:
    @attrs.define
    class Shrunk:
        user_id: int
        source: str

        def to_dict(self) -> dict[str, Any]:
            return {"userId": self.user_id, "source": self.source}

    with pytest.raises(SchemaError, match=r"meta\.metric in a typed column"):
        derive_schema(Shrunk, ObservationPoint)


@pytest.fixture
def regenerated() -> Iterator[tuple[Emulator, httpx.Client]]:
    schema: ObservationSchema = derive_schema(RegeneratedMeta, RegeneratedPoint)
    with (
        Emulator(token=TOKEN, refresh_token=REFRESH, schema=schema) as emu,
        httpx.Client(base_url=emu.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as http,
    ):
        yield emu, http


def test_new_optional_fields_are_stored_and_returned(
    regenerated: tuple[Emulator, httpx.Client],
) -> None:
    emu, http = regenerated
    with_unit = observation(0)
    with_unit["meta"]["unit"] = "count"
    with_unit["meta"]["calibrated"] = None
    with_unit["point"]["quality"] = 3
    with_unit["point"]["confidence"] = 1
    with_unit["point"]["method"] = "auto"
    with_unit["point"]["checkedOn"] = "2024-04-02"
    plain = observation(1)
    created = http.post("/v1/time-series", json=[with_unit, plain])
    assert created.status_code == 201, created.text

    page = http.post("/v1/time-series/query", json={"sort": {"timestamp": 1}}).json()
    first, second = page["data"]
    assert first["meta"] == {**observation(0)["meta"], "unit": "count", "calibrated": None}
    assert first["point"] == {
        **observation(0)["point"],
        "start": "2024-04-01T00:00:00Z",
        "end": "2024-04-01T00:00:30Z",
        "quality": 3,
        "confidence": 1.0,
        "method": "auto",
        "checkedOn": "2024-04-02",
    }
    assert second["meta"] == plain["meta"]
    assert "quality" not in second["point"]
    # two series: same core meta, different optional fields
    assert emu.state.store.count("meta_extra != ''") == 1
    # the generated client still reads the page (unknown keys are ignored by from_dict)
    parsed = QueryPage.from_dict(page)
    assert isinstance(parsed.data[0].meta, ObservationMeta)


def test_new_optional_fields_are_type_checked(regenerated: tuple[Emulator, httpx.Client]) -> None:
    emu, http = regenerated
    bad = observation(0)
    bad["meta"]["unit"] = 5
    bad["meta"]["calibrated"] = "yes"
    bad["point"]["quality"] = 1.5
    bad["point"]["method"] = "guess"
    bad["point"]["checkedOn"] = "2024-02-30"
    bad["meta"]["colour"] = "red"
    answer = http.post("/v1/time-series", json=[bad])
    assert answer.status_code == 422
    assert answer.json()["details"] == [
        {
            "index": 0,
            "field": "meta.colour",
            "message": "is not a field of meta (allowed: userId, source, metric, externalId, "
            "batch, unit, calibrated)",
        },
        {"index": 0, "field": "meta.unit", "message": "must be a string, got 5"},
        {"index": 0, "field": "meta.calibrated", "message": "must be true or false, got 'yes'"},
        {
            "index": 0,
            "field": "point.quality",
            "message": "must be an integer from -9223372036854775808 to "
            "9223372036854775807, got 1.5",
        },
        {
            "index": 0,
            "field": "point.method",
            "message": "must be one of ['manual', 'auto'], got 'guess'",
        },
        {
            "index": 0,
            "field": "point.checkedOn",
            "message": "must be a date like 2024-04-01, got '2024-02-30'",
        },
    ]
    assert emu.state.store.count() == 0


def test_the_default_schema_can_be_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = derive_schema(RegeneratedMeta, RegeneratedPoint)
    monkeypatch.setattr(ingest, "default_schema", lambda: schema)
    with Emulator(token=TOKEN, refresh_token=REFRESH) as emu:
        assert emu.state.parser.schema is schema
    with pytest.raises(ValueError, match="in_process=True"):
        Emulator(schema=schema, in_process=False)


def test_the_installed_models_are_what_the_emulator_serves() -> None:
    schema = observation_schema()
    assert schema.meta.model is ObservationMeta
    assert schema.point.model is ObservationPoint
    assert schema.meta_extras == ()
    assert schema.point_extras == ()
