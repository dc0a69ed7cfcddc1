"""Client-side validation: every bad input names its row, field, value and fix; nothing is sent."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from genomcore_ts_api.models import Observation, ObservationMeta, ObservationPoint

from genomcore_sdk import (
    ConfigurationError,
    GenomcoreApiClient,
    InputFormatError,
    ObservationValidationError,
)
from genomcore_sdk.emulator import Emulator
from genomcore_sdk.validation import ObservationEncoder, RowProblem
from tests.helpers import observation

Mutation = Callable[[dict[str, Any]], None]


def _set(group: str, key: str, value: Any) -> Mutation:
    def mutate(obs: dict[str, Any]) -> None:
        obs[group][key] = value

    return mutate


def _delete(group: str, key: str) -> Mutation:
    def mutate(obs: dict[str, Any]) -> None:
        del obs[group][key]

    return mutate


def _rename(group: str, old: str, new: str) -> Mutation:
    def mutate(obs: dict[str, Any]) -> None:
        obs[group][new] = obs[group].pop(old)

    return mutate


def _top(key: str, value: Any) -> Mutation:
    def mutate(obs: dict[str, Any]) -> None:
        obs[key] = value

    return mutate


# (id, mutation, field, value, substrings of the message)
BAD_INPUTS: list[tuple[str, Mutation, str, Any, list[str]]] = [
    ("missing source", _delete("meta", "source"), "meta.source", None, ["meta.source is missing"]),
    (
        "missing point.value",
        _delete("point", "value"),
        "point.value",
        None,
        ["point.value is missing", "every observation needs ['start', 'end', 'value']"],
    ),
    (
        "misspelled userId",
        _rename("meta", "userId", "userid"),
        "meta.userId",
        None,
        ["meta.userId is missing", "'userid': a misspelling of 'userId'?"],
    ),
    (
        "extra meta field",
        _set("meta", "unit", "counts"),
        "meta.unit",
        "counts",
        ["meta.unit is not a field of the API", "remove it or fix its name"],
    ),
    (
        "extra top-level field",
        _top("id", 5),
        "id",
        5,
        ["id is not a field of the API (allowed here: ['meta', 'point'])"],
    ),
    (
        "userId as string",
        _set("meta", "userId", "1"),
        "meta.userId",
        "1",
        ["meta.userId must be an integer, got the string '1'; pass int('1')"],
    ),
    (
        "userId as float",
        _set("meta", "userId", 1.0),
        "meta.userId",
        1.0,
        ["meta.userId must be an integer, got the float 1.0", "never rounds or truncates"],
    ),
    (
        "userId as bool",
        _set("meta", "userId", True),
        "meta.userId",
        True,
        ["meta.userId must be an integer, not a boolean"],
    ),
    (
        "value 12.5",
        _set("point", "value", 12.5),
        "point.value",
        12.5,
        ["point.value must be an integer, got the float 12.5", "never rounds or truncates"],
    ),
    (
        "value '12.5'",
        _set("point", "value", "12.5"),
        "point.value",
        "12.5",
        ["point.value must be an integer, got the string '12.5'; pass an int"],
    ),
    (
        "value beyond int64",
        _set("point", "value", 2**63),
        "point.value",
        2**63,
        ["point.value is outside the 64-bit integer range"],
    ),
    (
        "empty source",
        _set("meta", "source", ""),
        "meta.source",
        "",
        ["meta.source is an empty string; it must be a non-empty string"],
    ),
    (
        "empty metric",
        _set("meta", "metric", ""),
        "meta.metric",
        "",
        ["meta.metric is an empty string"],
    ),
    (
        "empty externalId",
        _set("meta", "externalId", ""),
        "meta.externalId",
        "",
        ["meta.externalId is an empty string"],
    ),
    (
        "batch None",
        _set("meta", "batch", None),
        "meta.batch",
        None,
        ["meta.batch is None: batch must be a non-empty string naming this group"],
    ),
    (
        "batch empty",
        _set("meta", "batch", ""),
        "meta.batch",
        "",
        ["meta.batch is an empty string: batch must be a non-empty string"],
    ),
    (
        "source not a string",
        _set("meta", "source", 7),
        "meta.source",
        7,
        ["meta.source must be a string, got int"],
    ),
    (
        "unparseable start",
        _set("point", "start", "yesterday"),
        "point.start",
        "yesterday",
        ["point.start is not a date-time", "RFC 3339 with a UTC offset"],
    ),
    (
        "start without offset",
        _set("point", "start", "2024-04-01T00:00:00"),
        "point.start",
        "2024-04-01T00:00:00",
        ["point.start has no UTC offset", "assume_timezone="],
    ),
    (
        "naive datetime object",
        _set("point", "end", datetime.datetime(2024, 4, 1, 0, 0, 30)),
        "point.end",
        datetime.datetime(2024, 4, 1, 0, 0, 30),
        ["point.end has no UTC offset"],
    ),
    (
        "date without time",
        _set("point", "start", "2024-04-01"),
        "point.start",
        "2024-04-01",
        ["point.start is a date without a time", "'2024-04-01T00:00:00Z'"],
    ),
    (
        "nanoseconds",
        _set("point", "start", "2024-04-01T00:00:00.1234567Z"),
        "point.start",
        "2024-04-01T00:00:00.1234567Z",
        ["more than microsecond precision", "will not truncate"],
    ),
    (
        "offset with seconds",
        _set("point", "start", "2024-04-01T00:00:00+01:00:30"),
        "point.start",
        "2024-04-01T00:00:00+01:00:30",
        ["UTC offset with seconds"],
    ),
    (
        "end before start",
        _set("point", "end", "2024-03-31T23:59:59Z"),
        "point.end",
        "2024-03-31T23:59:59Z",  # as written, not re-formatted
        ["point.end (2024-03-31T23:59:59Z) is before point.start (2024-04-01T00:", "swap"],
    ),
    (
        "meta not an object",
        _top("meta", [1, 2]),
        "meta",
        [1, 2],
        ["meta must be an object with the fields ['userId', 'source'"],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "field", "value", "messages"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUTS],
)
def test_bad_input_is_refused_with_row_field_value_and_fix(
    client: GenomcoreApiClient,
    emulator: Emulator,
    mutate: Mutation,
    field: str,
    value: Any,
    messages: list[str],
) -> None:
    rows = [observation(i) for i in range(10)]
    mutate(rows[7])
    with pytest.raises(ObservationValidationError) as caught:
        client.time_series.create_time_series(body=rows, chunksize=3)
    problem = caught.value.problems[0]
    assert len(caught.value.problems) == 1
    assert problem.index == 7
    assert problem.line is None
    assert problem.field == field
    assert problem.value == value
    for text in messages:
        assert text in problem.message
    assert str(caught.value).startswith(f"Invalid observation: row 7, field {field!r}, value ")
    assert str(caught.value).endswith("Nothing was sent.")
    # stop at the first invalid row: not one request reached the server
    assert emulator.state.status_counts == {}
    assert emulator.state.store.count() == 0


def test_invalid_last_row_of_a_generator_sends_nothing(
    client: GenomcoreApiClient, emulator: Emulator
) -> None:
    def rows() -> Any:
        for i in range(2500):
            row = observation(i)
            if i == 2499:
                row["point"]["value"] = 1.5
            yield row

    with pytest.raises(ObservationValidationError) as caught:
        client.time_series.create_time_series(body=rows(), chunksize=100)
    assert caught.value.problems[0].index == 2499
    assert emulator.state.status_counts == {}
    assert emulator.state.store.count() == 0


def test_item_that_is_not_an_observation(client: GenomcoreApiClient, emulator: Emulator) -> None:
    with pytest.raises(ObservationValidationError) as caught:
        client.time_series.create_time_series(body=[observation(0), "hello"])
    problem = caught.value.problems[0]
    assert (problem.index, problem.field, problem.value) == (1, "", "hello")
    assert "each observation must be a dict like" in problem.message
    assert "got str" in problem.message
    assert emulator.state.status_counts == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (observation(0), "got a single dict; wrap it in a list"),
        (b"meta.userId", "got bytes"),
        (42, "got int"),
    ],
)
def test_body_of_the_wrong_shape(client: GenomcoreApiClient, body: Any, message: str) -> None:
    with pytest.raises(InputFormatError, match=message):
        client.time_series.create_time_series(body=body)


def test_generated_models_are_accepted_and_naive_model_datetimes_refused(
    client: GenomcoreApiClient, emulator: Emulator
) -> None:
    aware = Observation.from_dict(observation(0))
    naive = Observation(
        meta=ObservationMeta(
            user_id=1, source="watch", metric="steps", external_id="W-1", batch="batch-1"
        ),
        point=ObservationPoint(
            start=datetime.datetime(2024, 4, 1, 0, 1),
            end=datetime.datetime(2024, 4, 1, 0, 2),
            value=3,
        ),
    )
    with pytest.raises(ObservationValidationError) as caught:
        client.time_series.create_time_series(body=[aware, naive])
    assert (caught.value.problems[0].index, caught.value.problems[0].field) == (1, "point.start")
    assert emulator.state.status_counts == {}
    report = client.time_series.create_time_series(
        body=[aware, naive], assume_timezone="Europe/Madrid"
    )
    assert report.stored == 2
    stored = client.time_series.query_time_series(body={"sort": {"timestamp": 1}}).data
    # 00:01 in Madrid on 1 April 2024 (CEST, +02:00) is 22:01 UTC the day before
    assert [o.point.start.isoformat() for o in stored] == [
        "2024-03-31T22:01:00+00:00",
        "2024-04-01T00:00:00+00:00",
    ]


# ---------------------------------------------------------------- time zones


@pytest.fixture
def madrid() -> ObservationEncoder:
    return ObservationEncoder(assume_timezone="Europe/Madrid")


def _with_start(text: str, end: str | None = None) -> dict[str, Any]:
    obs = observation(0)
    obs["point"]["start"] = text
    obs["point"]["end"] = end or text
    return obs


def test_assume_timezone_gives_the_local_offset(madrid: ObservationEncoder) -> None:
    winter = orjson.loads(madrid.encode(_with_start("2024-01-15T10:00:00")))
    summer = orjson.loads(madrid.encode(_with_start("2024-07-15T10:00:00.250000")))
    assert winter["point"]["start"] == "2024-01-15T10:00:00+01:00"
    assert summer["point"]["start"] == "2024-07-15T10:00:00.250000+02:00"
    # a date-time with its own offset is kept as given
    given = orjson.loads(madrid.encode(_with_start("2024-07-15T10:00:00-05:00")))
    assert given["point"]["start"] == "2024-07-15T10:00:00-05:00"


def test_nonexistent_local_time_is_refused(madrid: ObservationEncoder) -> None:
    # 31 March 2024: Madrid clocks jump from 02:00 to 03:00
    with pytest.raises(RowProblem) as caught:
        madrid.encode(_with_start("2024-03-31T02:30:00"))
    assert caught.value.field == "point.start"
    assert caught.value.value == "2024-03-31T02:30:00"
    assert "does not exist in Europe/Madrid (the clocks jumped forward over it)" in str(
        caught.value
    )


def test_ambiguous_local_time_is_refused_with_both_offsets(madrid: ObservationEncoder) -> None:
    # 27 October 2024: Madrid clocks go back from 03:00 to 02:00; 02:30 happens twice
    with pytest.raises(RowProblem) as caught:
        madrid.encode(_with_start("2024-10-27T02:30:00"))
    message = str(caught.value)
    assert "ambiguous local time in Europe/Madrid" in message
    assert "'2024-10-27T02:30:00+02:00' or '2024-10-27T02:30:00+01:00'" in message


def test_unknown_time_zone_is_a_configuration_error(client: GenomcoreApiClient) -> None:
    with pytest.raises(ConfigurationError, match="'Mars/Olympus' is not a known IANA time zone"):
        client.time_series.create_time_series(body=[observation(0)], assume_timezone="Mars/Olympus")


# ---------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("2024-04-01T09:45:00+01:00", "2024-04-01T09:45:00+01:00"),
        ("2024-04-01T09:45:00Z", "2024-04-01T09:45:00Z"),  # RFC 3339 already: as given
        ("2024-04-01 09:45:00Z", "2024-04-01T09:45:00+00:00"),
        ("2024-04-01T09:45Z", "2024-04-01T09:45:00+00:00"),
        ("20240401T094500+0100", "2024-04-01T09:45:00+01:00"),
        ("2024-04-01T09:45:00.5-03:30", "2024-04-01T09:45:00.500000-03:30"),
        ("2024-04-01T09:45:00.123456000Z", "2024-04-01T09:45:00.123456+00:00"),
    ],
)
def test_date_times_are_sent_as_rfc3339_with_offset(given: str, sent: str) -> None:
    encoded = orjson.loads(ObservationEncoder().encode(_with_start(given)))
    assert encoded["point"]["start"] == sent
    # the generated model sends the same instant with the same offset
    reference = Observation.from_dict(_with_start(given)).to_dict()["point"]["start"]
    assert datetime.datetime.fromisoformat(reference) == datetime.datetime.fromisoformat(sent)
    assert (
        datetime.datetime.fromisoformat(reference).utcoffset()
        == datetime.datetime.fromisoformat(sent).utcoffset()
    )


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("12.5", "the API stores integers only and the SDK never rounds or truncates"),
        ("1e3", "the API stores integers only"),
        (
            "012",
            "write it as plain digits with an optional leading minus and no plus sign, "
            "leading zeros or -0, e.g. 12 or -12",
        ),
        ("05", "no plus sign, leading zeros or -0"),
        ("-0", "no plus sign, leading zeros or -0"),
        ("+12", "write it as plain digits"),
        (" 12", "write it as plain digits"),
        ("1_000", "write it as plain digits"),
        ("twelve", "write it as plain digits"),
        ("9223372036854775808", "outside the 64-bit integer range"),
    ],
)
def test_csv_integer_cells_must_be_canonical(cell: str, message: str) -> None:
    header = ["meta.userId", "meta.source", "meta.metric", "meta.externalId", "meta.batch"]
    header += ["point.start", "point.end", "point.value"]
    encoder = ObservationEncoder().csv_row_encoder(header)
    row = ["1", "s", "m", "e", "b", "2024-04-01T00:00:00Z", "2024-04-01T00:00:00Z", cell]
    with pytest.raises(RowProblem) as caught:
        encoder.encode(row)
    assert caught.value.field == "point.value"
    assert caught.value.value == cell
    if "range" not in message:
        assert f"point.value must be an integer, got {cell!r}; " in str(caught.value)
    assert message in str(caught.value)
    for good, value in (("-12", -12), ("0", 0), ("12", 12)):
        assert orjson.loads(encoder.encode([*row[:7], good]))["point"]["value"] == value


CSV_HEADER = list(ObservationEncoder().schema.columns())  # the layout is tested in test_sources.py


def test_csv_end_before_start_shows_the_cells_as_written() -> None:
    encoder = ObservationEncoder().csv_row_encoder(CSV_HEADER)
    row = ["1", "s", "m", "e", "b", "2024-04-01T02:00:00+01:00", "2024-04-01T00:01:00Z", "3"]
    with pytest.raises(RowProblem) as caught:
        encoder.encode(row)
    assert (caught.value.field, caught.value.value) == ("point.end", "2024-04-01T00:01:00Z")
    assert str(caught.value) == (
        "point.end (2024-04-01T00:01:00Z) is before point.start (2024-04-01T02:00:00+01:00); "
        "swap them or fix the value"
    )


@pytest.mark.parametrize(
    ("width", "field", "detail"),
    [
        (7, "point.value", "no cell for point.value)"),
        (5, "point.start", "no cell for point.start onwards)"),
        (10, "point.value", "2 more after point.value)"),
    ],
)
def test_csv_row_of_the_wrong_width_names_a_column(width: int, field: str, detail: str) -> None:
    encoder = ObservationEncoder().csv_row_encoder(CSV_HEADER)
    cells = ["1", "s", "m", "e", "b", "2024-04-01T00:00:00Z", "2024-04-01T00:01:00Z", "3", "x", "y"]
    with pytest.raises(RowProblem) as caught:
        encoder.encode(cells[:width])
    assert caught.value.field == field
    assert caught.value.value == cells[:width]
    assert f"the row has {width} cells but the header has 8 columns ({detail}" in str(caught.value)


def test_csv_header_errors_name_the_columns() -> None:
    encoder = ObservationEncoder()
    with pytest.raises(InputFormatError) as caught:
        encoder.csv_row_encoder(["meta.userId", "meta.source", "point.value", "note", "note"])
    message = str(caught.value)
    assert (
        "missing column(s) ['meta.metric', 'meta.externalId', 'meta.batch', 'point.start', "
        "'point.end']" in message
    )
    assert "unknown column(s) ['note', 'note']" in message
    assert "repeated column(s) ['note']" in message
    assert message.endswith("Nothing was sent.")
