"""Regeneration drill: the API team changes the spec; the SDK follows with no facade edit.

The drill copies ``openapi.yaml``, makes the three kinds of change an API team
makes without breaking clients:

* a new OPTIONAL field on the observation's meta (``meta.deviceModel``),
* a new optional query parameter (``includeTotal`` on ``queryTimeSeries``),
* a new response field (``StoredObservation.receivedAt``),

regenerates the low-level client into a temporary folder with the pinned
generator, exactly as ``make generate`` does (``scripts/generate_client.py``),
and runs the facade's round trip (create with the new field set, query it
back, delete) in a subprocess whose ``PYTHONPATH`` puts the regenerated
package first, against an emulator running there too (so it serves the
regenerated schema).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi.yaml"
GENERATE = ROOT / "scripts" / "generate_client.py"


def change_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The API team's change: three additions that old clients must survive."""
    schemas = spec["components"]["schemas"]
    schemas["ObservationMeta"]["properties"]["deviceModel"] = {
        "type": "string",
        "minLength": 1,
        "description": "The device model that measured the value, e.g. `Actiwatch Spectrum`.",
    }
    spec["paths"]["/v1/time-series/query"]["post"]["parameters"].append(
        {
            "name": "includeTotal",
            "in": "query",
            "required": False,
            "description": "Whether to count every match for `total` (slower on large sets).",
            "schema": {"type": "boolean", "default": True},
        }
    )
    schemas["StoredObservation"]["properties"]["receivedAt"] = {
        "type": "string",
        "format": "date-time",
        "description": "When the server stored the observation.",
    }
    return spec


# Runs in the subprocess: regenerated genomcore_ts_api first on sys.path, the
# repository's facade and emulator unchanged.
ROUND_TRIP = textwrap.dedent(
    """
    import datetime as dt
    import json
    import sys

    import httpx
    import genomcore_ts_api
    from genomcore_ts_api.api.time_series import query_time_series as query_op
    from genomcore_ts_api.models import (
        Observation, ObservationMeta, ObservationPoint, QueryRequest, StoredObservation,
    )

    import genomcore_sdk
    from genomcore_sdk import GenomcoreApiClient
    from genomcore_sdk.emulator import Emulator

    out = {"generated": genomcore_ts_api.__file__, "facade": genomcore_sdk.__file__}
    urls = []
    hooks = {"request": [lambda request: urls.append(str(request.url))]}
    utc = dt.timezone.utc
    with Emulator(token="t", refresh_token="r") as emu, GenomcoreApiClient(
        token="t", refresh_token="r", base_url=emu.base_url,
        http_client=httpx.Client(event_hooks=hooks),
    ) as api:
        as_dict = {
            "meta": {"userId": 7, "source": "watch", "metric": "steps", "externalId": "W-7",
                     "batch": "drill", "deviceModel": "Actiwatch Spectrum"},
            "point": {"start": "2024-04-01T00:00:00Z", "end": "2024-04-01T00:01:00Z", "value": 3},
        }
        as_model = Observation(
            meta=ObservationMeta(user_id=7, source="watch", metric="steps", external_id="W-7",
                                 batch="drill", device_model="GT3X"),
            point=ObservationPoint(start=dt.datetime(2024, 4, 1, 0, 1, tzinfo=utc),
                                   end=dt.datetime(2024, 4, 1, 0, 2, tzinfo=utc), value=4),
        )
        report = api.time_series.create_time_series(body=[as_dict, as_model, {
            "meta": {"userId": 7, "source": "watch", "metric": "steps", "externalId": "W-7",
                     "batch": "drill"},
            "point": {"start": "2024-04-01T00:02:00Z", "end": "2024-04-01T00:03:00Z", "value": 5},
        }], chunksize=10)
        out["stored"] = report.stored
        body = {"filter": {"meta.batch": "drill"}, "sort": {"timestamp": 1}}
        page = api.time_series.query_time_series(page=0, pageSize=10, body=body)
        out["devices"] = [
            None if isinstance(o.meta.device_model, type(genomcore_ts_api.types.UNSET))
            else o.meta.device_model
            for o in page.data
        ]
        out["values"] = [o.point.value for o in page.data]
        out["received_at_types"] = sorted({type(o.received_at).__name__ for o in page.data})
        parsed = StoredObservation.from_dict(
            dict(page.data[0].to_dict(), receivedAt="2024-04-01T00:00:05Z")
        )
        out["received_at_parsed"] = parsed.received_at.isoformat()
        # the new query parameter, through the facade's generic call: no facade edit
        urls.clear()
        with_param = api.call(
            query_op, "Querying with includeTotal", body=QueryRequest.from_dict(body),
            page=0, page_size=10, include_total=True,
        )
        out["with_param_total"] = with_param.total
        out["with_param_url"] = urls[-1]
        out["deleted"] = api.time_series.delete_time_series(
            body={"userId": 7, "batch": "drill", "metric": "steps"}).deleted
        out["left"] = api.time_series.query_time_series(page=0, pageSize=10, body=body).total
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The changed spec, regenerated with the pinned generator into a temporary folder."""
    work = tmp_path_factory.mktemp("drill")
    spec = change_spec(yaml.safe_load(SPEC.read_text()))
    validate(spec)  # the drill's own edit must be a valid OpenAPI document
    changed = work / "openapi.yaml"
    changed.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = work / "gen"
    subprocess.run(
        [sys.executable, str(GENERATE), "--spec", str(changed), "--output", str(out)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return out


INTROSPECT = textwrap.dedent(
    """
    import inspect
    import json

    import attrs
    import genomcore_ts_api
    from genomcore_ts_api.api.time_series import query_time_series
    from genomcore_ts_api.models import ObservationMeta, QueryRequest, StoredObservation
    from genomcore_ts_api.types import UNSET

    meta = ObservationMeta.from_dict({"userId": 1, "source": "s", "metric": "m",
                                      "externalId": "e", "batch": "b", "deviceModel": "GT3X"})
    bare = ObservationMeta(user_id=1, source="s", metric="m", external_id="e", batch="b")
    param = inspect.signature(query_time_series.sync_detailed).parameters["include_total"]
    kwargs = query_time_series._get_kwargs(body=QueryRequest(), include_total=False)
    print(json.dumps({
        "file": genomcore_ts_api.__file__,
        "meta_fields": [f.name for f in attrs.fields(ObservationMeta)],
        "device_model": meta.device_model,
        "device_model_wire": meta.to_dict().get("deviceModel"),
        "bare_is_unset": bare.device_model is UNSET and "deviceModel" not in bare.to_dict(),
        "stored_fields": [f.name for f in attrs.fields(StoredObservation)],
        "include_total_default": param.default,
        "include_total_wire": kwargs["params"].get("includeTotal"),
    }))
    """
)


def run_with(regenerated: Path, code: str, cwd: Path) -> dict[str, Any]:
    """Run ``code`` with the regenerated package first on the path; its last line is JSON."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOMCORE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(regenerated), str(ROOT)])
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def test_regenerated_models_carry_the_new_fields(regenerated: Path, tmp_path: Path) -> None:
    package = regenerated / "genomcore_ts_api"
    assert (package / "py.typed").exists()
    assert not (package / ".ruff_cache").exists()
    out = run_with(regenerated, INTROSPECT, tmp_path)
    assert out["file"].startswith(str(package))
    # the new optional meta field is a typed attribute, optional, and named on the wire
    assert out["meta_fields"] == [
        "user_id",
        "source",
        "metric",
        "external_id",
        "batch",
        "device_model",
    ]
    assert out["device_model"] == "GT3X"
    assert out["device_model_wire"] == "GT3X"
    assert out["bare_is_unset"] is True
    assert "received_at" in out["stored_fields"]
    # the new query parameter is a keyword of the operation, sent as includeTotal
    assert out["include_total_default"] is True
    assert out["include_total_wire"] is False
    # nothing else moved: the operations and models the facade imports are all still there
    committed = ROOT / "generated" / "genomcore_ts_api"
    for folder in ("models", "api/time_series", "api/auth"):
        assert sorted(p.name for p in (package / folder).glob("*.py")) == sorted(
            p.name for p in (committed / folder).glob("*.py")
        )


def test_facade_round_trip_on_the_regenerated_client(regenerated: Path, tmp_path: Path) -> None:
    out = run_with(regenerated, ROUND_TRIP, tmp_path)
    assert out["generated"].startswith(str(regenerated))
    assert out["facade"].startswith(str(ROOT / "genomcore_sdk"))
    assert out["stored"] == 3
    # the new optional field went up (as a dict key and as a model attribute) and came back
    assert out["devices"] == ["Actiwatch Spectrum", "GT3X", None]
    assert out["values"] == [3, 4, 5]
    # the new response field is on the model: parsed when served, UNSET when not
    assert set(out["received_at_types"]) <= {"Unset", "datetime"}
    assert out["received_at_parsed"] == "2024-04-01T00:00:05+00:00"
    # the new query parameter reaches the wire through BaseClient.call
    assert "includeTotal=true" in out["with_param_url"]
    assert out["with_param_total"] == 3
    assert out["deleted"] == 3
    assert out["left"] == 0
