"""The emulator's create operation over real sockets: 4xx answers, atomicity, idempotency, restart."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from genomcore_sdk.emulator import Emulator
from genomcore_sdk.emulator.store import ObservationStore
from tests.conftest import REFRESH, TOKEN
from tests.helpers import observation

CREATE = "/v1/time-series"
QUERY = "/v1/time-series/query"


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as client:
        yield client


def query_all(http: httpx.Client, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = http.post(QUERY, params={"pageSize": 5000}, json=body or {})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_422_lists_every_problem_by_item_and_field(http: httpx.Client, emulator: Emulator) -> None:
    good = observation(0)
    bad_types = observation(1)
    bad_types["meta"]["userId"] = "12"
    bad_types["point"]["value"] = 12.5
    missing_and_extra = observation(2)
    del missing_and_extra["meta"]["batch"]
    missing_and_extra["meta"]["colour"] = "red"
    backwards = observation(3)
    backwards["point"]["end"] = "2024-04-01T00:02:59Z"
    naive = observation(4)
    naive["point"]["start"] = "2024-04-01T00:04:00"
    empty_source = observation(5)
    empty_source["meta"]["source"] = ""
    items = [good, bad_types, missing_and_extra, backwards, naive, empty_source, "oops"]

    answer = http.post(CREATE, json=items)

    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "validation_error"
    assert body["message"] == "8 problem(s) in the observations; nothing was stored."
    assert body["requestId"] == answer.headers["X-Request-Id"]
    assert body["details"] == [
        {
            "index": 1,
            "field": "meta.userId",
            "message": "must be an integer from -9223372036854775808 to "
            "9223372036854775807, got '12'",
        },
        {
            "index": 1,
            "field": "point.value",
            "message": "must be an integer from -9223372036854775808 to "
            "9223372036854775807, got 12.5",
        },
        {
            "index": 2,
            "field": "meta.colour",
            "message": "is not a field of meta (allowed: userId, source, metric, externalId, batch)",
        },
        {"index": 2, "field": "meta.batch", "message": "is required"},
        {
            "index": 3,
            "field": "point.end",
            "message": "must not be before point.start ('2024-04-01T00:03:00Z'), "
            "got '2024-04-01T00:02:59Z'",
        },
        {
            "index": 4,
            "field": "point.start",
            "message": "must be an RFC 3339 date-time with a UTC offset "
            "(e.g. 2024-04-01T00:00:00Z), got '2024-04-01T00:04:00'",
        },
        {"index": 5, "field": "meta.source", "message": "must be a non-empty string, got ''"},
        {"index": 6, "message": "must be an object with meta and point, got 'oops'"},
    ]
    assert emulator.state.store.count() == 0


def test_one_bad_observation_stores_nothing(http: httpx.Client, emulator: Emulator) -> None:
    items = [observation(i) for i in range(1000)]
    items[999]["point"]["value"] = "7"
    refused = http.post(CREATE, json=items)
    assert refused.status_code == 422
    assert [d["index"] for d in refused.json()["details"]] == [999]
    assert emulator.state.store.count() == 0

    items[999]["point"]["value"] = 7
    stored = http.post(CREATE, json=items)
    assert stored.status_code == 201
    assert stored.json() == {"inserted": 1000}
    assert query_all(http)["total"] == 1000


def test_413_on_item_count(http: httpx.Client, emulator: Emulator) -> None:
    answer = http.post(CREATE, json=[observation(i) for i in range(5001)])
    assert answer.status_code == 413
    assert answer.json()["code"] == "payload_too_large"
    assert answer.json()["message"] == (
        "5001 observations in one request; the limit is 5000. Split it."
    )
    assert emulator.state.store.count() == 0
    assert http.post(CREATE, json=[observation(i) for i in range(5000)]).status_code == 201


def test_413_on_body_size_with_and_without_content_length(
    http: httpx.Client, emulator: Emulator
) -> None:
    limit = 16 * 1024 * 1024
    body = b"[" + b" " * (limit - 1) + b"]"  # 16 MiB + 1 byte of valid JSON
    sized = http.post(CREATE, content=body, headers={"Content-Type": "application/json"})
    assert sized.status_code == 413
    assert (
        sized.json()["message"] == f"The body is {limit + 1} bytes; the limit is {limit}. Split it."
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield b"["
        for _ in range(16):
            yield b" " * (1024 * 1024)
        yield b"]"

    streamed = http.post(CREATE, content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "payload_too_large"
    assert emulator.state.store.count() == 0


def test_400_on_malformed_json_and_422_on_wrong_shapes(http: httpx.Client) -> None:
    malformed = http.post(
        CREATE, content=b'[{"meta": ', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "invalid_json"
    not_array = http.post(CREATE, json={"meta": {}})
    assert not_array.status_code == 422
    assert not_array.json()["message"] == (
        "The body must be a JSON array of observations, got dict."
    )
    empty = http.post(CREATE, json=[])
    assert empty.status_code == 422
    assert empty.json()["message"] == "The array is empty; send at least one observation."


def test_idempotency_replay_and_conflict(http: httpx.Client, emulator: Emulator) -> None:
    items = [observation(i) for i in range(10)]
    body = json.dumps(items).encode()
    headers = {"Idempotency-Key": "chunk-0", "Content-Type": "application/json"}

    first = http.post(CREATE, content=body, headers=headers)
    assert first.status_code == 201
    assert first.json() == {"inserted": 10}
    assert "Idempotent-Replayed" not in first.headers

    again = http.post(CREATE, content=body, headers=headers)
    assert again.status_code == 201
    assert again.json() == {"inserted": 10}
    assert again.headers["Idempotent-Replayed"] == "true"
    assert emulator.state.store.count() == 10

    other = json.dumps([observation(i) for i in range(10, 20)]).encode()
    conflict = http.post(CREATE, content=other, headers=headers)
    assert conflict.status_code == 422
    assert conflict.json()["code"] == "idempotency_conflict"
    assert emulator.state.store.count() == 10

    too_long = http.post(CREATE, content=other, headers={"Idempotency-Key": "k" * 256})
    assert too_long.status_code == 400
    assert too_long.json()["code"] == "invalid_idempotency_key"


def test_data_and_idempotency_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "ts.sqlite3"
    items = [observation(i, batch="b-restart", metric=m) for m in ("steps", "hr") for i in range(3)]
    body = json.dumps(items).encode()
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Idempotency-Key": "restart-1",
        "Content-Type": "application/json",
    }
    with Emulator(token=TOKEN, refresh_token=REFRESH, db=db, in_process=False) as emu:
        created = httpx.post(emu.base_url + CREATE, content=body, headers=headers)
        assert created.status_code == 201
        before = httpx.post(emu.base_url + QUERY, json={}, headers=headers).json()
    assert before["total"] == 6

    with Emulator(token=TOKEN, refresh_token=REFRESH, db=db) as emu:
        after = httpx.post(emu.base_url + QUERY, json={}, headers=headers).json()
        replay = httpx.post(emu.base_url + CREATE, content=body, headers=headers)
        assert replay.status_code == 201
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert emu.state.store.count() == 6
    assert after == before


def test_query_results_round_trip_what_was_sent(http: httpx.Client) -> None:
    sent = observation(0)
    sent["point"]["start"] = "2024-04-01T02:00:00.1234567+02:00"  # fraction cut to µs
    sent["point"]["end"] = "2024-04-01T00:00:30z"
    assert http.post(CREATE, json=[sent]).status_code == 201
    (stored,) = query_all(http)["data"]
    assert stored["timestamp"] == "2024-04-01T00:00:00.123456Z"
    assert stored["meta"] == sent["meta"]
    assert stored["point"] == {
        "start": "2024-04-01T00:00:00.123456Z",
        "end": "2024-04-01T00:00:30Z",
        "value": 0,
    }


def test_time_window_without_filter_spans_series_and_skips_others(http: httpx.Client) -> None:
    april = [
        observation(i, batch="april", metric=m) for m in ("a", "b") for i in range(0, 1440, 60)
    ]
    may = [observation(i, batch="may") for i in range(10)]
    for item in may:
        item["point"]["start"] = item["point"]["start"].replace("2024-04", "2024-05")
        item["point"]["end"] = item["point"]["end"].replace("2024-04", "2024-05")
    assert http.post(CREATE, json=april + may).status_code == 201

    window = query_all(
        http, {"beforeDate": "2024-04-01T06:00:00Z", "afterDate": "2024-04-01T12:00:00+00:00"}
    )
    assert window["total"] == 12  # hours 6..11 of two metrics
    assert {o["meta"]["batch"] for o in window["data"]} == {"april"}
    stamps = [o["timestamp"] for o in window["data"]]
    assert stamps == sorted(stamps)
    assert query_all(http, {"beforeDate": "2024-05-01"})["total"] == 10
    assert query_all(http, {"afterDate": "2024-04-01T00:00:00Z"})["total"] == 0

    deleted = http.request("DELETE", CREATE, json={"userId": 1, "batch": "april", "metric": "a"})
    assert deleted.json() == {"deleted": 24}
    assert query_all(http, {"beforeDate": "2024-04-01", "afterDate": "2024-04-02"})["total"] == 24


def test_a_database_of_the_single_table_layout_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "v1.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            """
            CREATE TABLE observations (
                id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, source TEXT NOT NULL,
                metric TEXT NOT NULL, external_id TEXT NOT NULL, batch TEXT NOT NULL,
                ts INTEGER NOT NULL, end_ts INTEGER NOT NULL, value INTEGER NOT NULL);
            CREATE INDEX ix_observations_ts ON observations (ts);
            INSERT INTO observations VALUES (7, 1, 'w', 'steps', 'W-1', 'b1', 0, 30000000, 5);
            INSERT INTO observations VALUES (9, 1, 'w', 'steps', 'W-1', 'b1', 60000000, 90000000, 6);
            INSERT INTO observations VALUES (8, 2, 'w', 'hr', 'W-2', 'b1', 0, 30000000, 70);
            """
        )
    conn.close()
    store = ObservationStore(str(db))
    try:
        data, total = store.query("1", [], "ts ASC, id ASC", 10, 0)
        assert total == 3
        assert [(d["id"], d["meta"]["metric"], d["point"]["value"]) for d in data] == [
            ("7", "steps", 5),
            ("8", "hr", 70),
            ("9", "steps", 6),
        ]
        assert data[2]["point"] == {
            "start": "1970-01-01T00:01:00Z",
            "end": "1970-01-01T00:01:30Z",
            "value": 6,
        }
        assert store.delete(1, "b1", "steps") == 2
        assert store.count() == 1
    finally:
        store.close()
