"""Property tests: the bulk encoder means exactly what the generated models would send.

For every observation the encoder accepts, its JSON has the same fields and
values as ``Observation.from_dict(obs).to_dict()``, the same instants and UTC
offsets, and the emulator's server-side validation accepts it. Whatever it
refuses, it refuses with a RowProblem naming a field, never another exception.
"""

from __future__ import annotations

import datetime
from typing import Any

import orjson
from genomcore_ts_api.models import Observation, ObservationMeta, ObservationPoint
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from genomcore_sdk.emulator.app import parse_observations
from genomcore_sdk.sources import to_cells
from genomcore_sdk.validation import INT64_MAX, INT64_MIN, ObservationEncoder, RowProblem
from genomcore_sdk.wire_schema import Kind, observation_schema

SCHEMA = observation_schema()
ENCODER = ObservationEncoder()
CSV_ENCODER = ENCODER.csv_row_encoder(SCHEMA.columns())
DATETIME_PATHS = {f.path for f in SCHEMA.leaves() if f.kind is Kind.DATETIME}
PATHS = set(SCHEMA.columns()) | {"meta", "point", ""}

int64 = st.integers(min_value=INT64_MIN, max_value=INT64_MAX)
names = st.text(min_size=1, max_size=12)
fixed_offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: datetime.timezone(datetime.timedelta(minutes=minutes))
)
zones = st.one_of(st.just(datetime.UTC), fixed_offsets, st.timezones())
aware = st.datetimes(
    min_value=datetime.datetime(1900, 1, 2),
    max_value=datetime.datetime(2200, 1, 1),
    timezones=zones,
    allow_imaginary=False,
)


def _whole_minute_offset(moment: datetime.datetime) -> bool:
    offset = moment.utcoffset()
    return offset is not None and offset.seconds % 60 == 0 and offset.microseconds == 0


def _text(moment: datetime.datetime, style: int) -> str:
    if style == 1:
        text = moment.isoformat(sep=" ")
    elif style == 2:
        text = moment.isoformat(timespec="microseconds")
    else:
        text = moment.isoformat()
    if style == 3 and moment.utcoffset() == datetime.timedelta(0):
        text = text[:-6] + "Z"
    return text


@st.composite
def intervals(draw: st.DrawFn) -> tuple[datetime.datetime, datetime.datetime]:
    start = draw(aware)
    length = draw(
        st.timedeltas(min_value=datetime.timedelta(0), max_value=datetime.timedelta(days=3))
    )
    # add in UTC: wall-clock arithmetic across a DST change could go backwards in time
    end = (start.astimezone(datetime.UTC) + length).astimezone(draw(zones))
    assume(_whole_minute_offset(start) and _whole_minute_offset(end))
    return start, end


@st.composite
def valid_observations(draw: st.DrawFn) -> dict[str, Any]:
    start, end = draw(intervals())
    return {
        "meta": {
            "userId": draw(int64),
            "source": draw(names),
            "metric": draw(names),
            "externalId": draw(names),
            "batch": draw(names),
        },
        "point": {
            "start": _text(start, draw(st.integers(0, 3))),
            "end": _text(end, draw(st.integers(0, 3))),
            "value": draw(int64),
        },
    }


def assert_same_meaning(sent: dict[str, Any], reference: dict[str, Any]) -> None:
    """Same fields, same values (and types), same instants and offsets."""
    assert sent.keys() == reference.keys()
    for group in sent:
        assert sent[group].keys() == reference[group].keys()
        for key, value in sent[group].items():
            path = f"{group}.{key}"
            if path in DATETIME_PATHS:
                mine = datetime.datetime.fromisoformat(value)
                theirs = datetime.datetime.fromisoformat(reference[group][key])
                assert mine == theirs
                assert mine.utcoffset() == theirs.utcoffset()
            else:
                assert type(value) is type(reference[group][key])
                assert value == reference[group][key]


def assert_server_accepts(sent: dict[str, Any]) -> None:
    rows, problems = parse_observations([sent])
    assert problems == []
    assert len(rows) == 1


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(valid_observations())
def test_encoder_means_what_the_generated_model_sends(obs: dict[str, Any]) -> None:
    sent = orjson.loads(ENCODER.encode(obs))
    reference = Observation.from_dict(obs).to_dict()
    assert_same_meaning(sent, reference)
    assert_server_accepts(sent)
    # the generated fast path and the precise path agree
    assert_same_meaning(orjson.loads(ENCODER.encode_checked(obs)), sent)
    assert ENCODER.encode_item(obs) == ENCODER.encode(obs) + b","


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(valid_observations())
def test_csv_row_encoder_means_what_the_generated_model_sends(obs: dict[str, Any]) -> None:
    cells = to_cells(SCHEMA, obs)
    sent = orjson.loads(CSV_ENCODER.encode(cells))
    reference = Observation.from_dict(obs).to_dict()
    assert_same_meaning(sent, reference)
    assert_server_accepts(sent)


@settings(max_examples=200)
@given(intervals(), int64, int64)
def test_aware_datetime_objects_mean_what_the_model_sends(
    interval: tuple[datetime.datetime, datetime.datetime], user: int, value: int
) -> None:
    start, end = interval
    model = Observation(
        meta=ObservationMeta(user_id=user, source="s", metric="m", external_id="e", batch="b"),
        point=ObservationPoint(start=start, end=end, value=value),
    )
    obs = {
        "meta": {"userId": user, "source": "s", "metric": "m", "externalId": "e", "batch": "b"},
        "point": {"start": start, "end": end, "value": value},
    }
    sent = orjson.loads(ENCODER.encode(obs))
    assert_same_meaning(sent, model.to_dict())
    assert orjson.loads(ENCODER.encode(model)) == sent
    assert_server_accepts(sent)


anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.datetimes(),
    st.datetimes(timezones=zones),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(
    valid_observations(),
    st.lists(
        st.tuples(st.sampled_from(sorted(SCHEMA.columns())), anything), min_size=1, max_size=3
    ),
    st.lists(st.sampled_from(sorted(SCHEMA.columns())), max_size=1),
    st.dictionaries(st.sampled_from(["meta", "point", ""]), st.text(max_size=6), max_size=1),
)
def test_validator_accepts_only_what_the_server_accepts(
    obs: dict[str, Any],
    replacements: list[tuple[str, Any]],
    deletions: list[str],
    additions: dict[str, str],
) -> None:
    for path, value in replacements:
        group, key = path.split(".")
        obs[group][key] = value
    for path in deletions:
        group, key = path.split(".")
        obs[group].pop(key, None)
    for group, key in additions.items():
        (obs[group] if group else obs)[key or "_"] = 1
    try:
        encoded = ENCODER.encode(obs)
    except RowProblem as problem:
        assert problem.message
        top = problem.field.split(".")[0]
        assert problem.field in PATHS or top in ("meta", "point", "_") or problem.field in obs
        return
    assert_server_accepts(orjson.loads(encoded))
    assert_same_meaning(orjson.loads(ENCODER.encode_checked(obs)), orjson.loads(encoded))


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(valid_observations(), st.sampled_from(sorted(SCHEMA.columns())), st.text(max_size=40))
def test_csv_cells_accepted_only_when_the_server_accepts(
    obs: dict[str, Any], column: str, cell: str
) -> None:
    cells = to_cells(SCHEMA, obs)
    position = SCHEMA.columns().index(column)
    cells[position] = cell
    try:
        encoded = CSV_ENCODER.encode(cells)
    except RowProblem as problem:
        assert problem.field == column
        assert problem.message.startswith(column)
        return
    sent = orjson.loads(encoded)
    assert_server_accepts(sent)
    group, key = column.split(".")
    if column not in DATETIME_PATHS:
        assert str(sent[group][key]) == cell  # integers and strings arrive exactly as written


@settings(max_examples=300)
@given(st.integers())
def test_any_integer_text_round_trips_or_is_refused(number: int) -> None:
    cells = to_cells(
        SCHEMA,
        {
            "meta": {"userId": 1, "source": "s", "metric": "m", "externalId": "e", "batch": "b"},
            "point": {
                "start": "2024-01-01T00:00:00Z",
                "end": "2024-01-01T00:00:00Z",
                "value": number,
            },
        },
    )
    if INT64_MIN <= number <= INT64_MAX:
        assert orjson.loads(CSV_ENCODER.encode(cells))["point"]["value"] == number
    else:
        try:
            CSV_ENCODER.encode(cells)
        except RowProblem as problem:
            assert "64-bit" in problem.message
        else:
            raise AssertionError("an integer beyond int64 was accepted")
