"""The wire schema is learned from the generated models, so a new optional field needs no edit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from genomcore_sdk.wire_schema import Kind, observation_schema
from tests.conftest import ROOT


def test_schema_learned_from_the_generated_models() -> None:
    schema = observation_schema()
    assert [(f.json_name, f.attr, f.kind) for f in schema.fields] == [
        ("meta", "meta", Kind.OBJECT),
        ("point", "point", Kind.OBJECT),
    ]
    assert [(f.path, f.attr, f.kind, f.required) for f in schema.leaves()] == [
        ("meta.userId", "user_id", Kind.INT, True),
        ("meta.source", "source", Kind.STR, True),
        ("meta.metric", "metric", Kind.STR, True),
        ("meta.externalId", "external_id", Kind.STR, True),
        ("meta.batch", "batch", Kind.STR, True),
        ("point.start", "start", Kind.DATETIME, True),
        ("point.end", "end", Kind.DATETIME, True),
        ("point.value", "value", Kind.INT, True),
    ]


EXTRA_FIELDS = """        unit:
          type: string
          description: The unit of the value.
        quality:
          type: integer
          description: A quality score.
"""

PROBE = r"""
import json, sys
import orjson
import genomcore_ts_api
from genomcore_ts_api.models import Observation
from genomcore_sdk.sources import failed_rows_writer
from genomcore_sdk.validation import ObservationEncoder, RowProblem
from genomcore_sdk.wire_schema import observation_schema

schema = observation_schema()
encoder = ObservationEncoder()
base = ["1", "watch", "steps", "W-1", "b1", "2024-04-01T00:00:00Z", "2024-04-01T00:01:00Z", "5"]
columns = list(schema.columns())
with_unit = encoder.csv_row_encoder(columns)
without = encoder.csv_row_encoder(columns[:8])
obs = {"meta": {"userId": 1, "source": "watch", "metric": "steps", "externalId": "W-1",
                "batch": "b1"},
       "point": {"start": "2024-04-01T00:00:00+00:00", "end": "2024-04-01T00:01:00+00:00",
                 "value": 5, "unit": "counts", "quality": 3}}
try:
    with_unit.encode([*base, "counts", "high"])
    bad = None
except RowProblem as problem:
    bad = [problem.field, problem.message]
print(json.dumps({
    "package": genomcore_ts_api.__file__,
    "columns": columns,
    "required": [f.path for f in schema.leaves() if f.required],
    "csv_full": orjson.loads(with_unit.encode([*base, "counts", "3"])),
    "csv_empty_optional": orjson.loads(with_unit.encode([*base, "", ""])),
    "csv_without_columns": orjson.loads(without.encode(base)),
    "dict": orjson.loads(encoder.encode(obs)),
    "model": Observation.from_dict(obs).to_dict(),
    "bad": bad,
    "failed_rows_header": failed_rows_writer(None).header,
}))
"""


@pytest.mark.skipif(
    shutil.which("openapi-python-client", path=str(Path(sys.executable).parent)) is None,
    reason="generator not installed",
)
def test_a_new_optional_field_is_accepted_after_regeneration(tmp_path: Path) -> None:
    spec = (ROOT / "openapi.yaml").read_text()
    anchor = "          description: The measured value, an integer.\n"
    assert spec.count(anchor) == 1
    (tmp_path / "openapi.yaml").write_text(spec.replace(anchor, anchor + EXTRA_FIELDS))
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    out = tmp_path / "gen"
    subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(tmp_path / "openapi.yaml"),
            "--config",
            str(ROOT / "generator-config.yaml"),
            "--meta",
            "none",
            "--output-path",
            str(out / "genomcore_ts_api"),
        ],
        check=True,
        env=env,
        cwd=tmp_path,
        capture_output=True,
    )
    env["PYTHONPATH"] = str(out)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], check=True, env=env, cwd=ROOT, capture_output=True, text=True
    )
    found = json.loads(probe.stdout)
    assert found["package"].startswith(str(out))  # the regenerated client was used
    assert found["columns"][-2:] == ["point.unit", "point.quality"]
    assert "point.unit" not in found["required"] and "point.value" in found["required"]
    assert found["csv_full"]["point"] == {
        "start": "2024-04-01T00:00:00Z",
        "end": "2024-04-01T00:01:00Z",
        "value": 5,
        "unit": "counts",
        "quality": 3,
    }
    assert found["csv_empty_optional"]["point"] == {
        "start": "2024-04-01T00:00:00Z",
        "end": "2024-04-01T00:01:00Z",
        "value": 5,
    }
    assert found["csv_without_columns"] == found["csv_empty_optional"]
    assert found["dict"] == found["model"]
    assert found["bad"][0] == "point.quality"
    assert "must be an integer, got 'high'" in found["bad"][1]
    assert found["failed_rows_header"][-2:] == ["point.unit", "point.quality"]
