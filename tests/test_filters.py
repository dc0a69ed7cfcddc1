"""The filter engine's deliberate choices, each checked on its own (see filter_spec's docstring)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from genomcore_sdk.emulator.filters import compile_filter, compile_sort
from genomcore_sdk.emulator.store import ObservationStore
from genomcore_sdk.filter_spec import FilterSpecError, check_sort, parse_filter, parse_instant

T0 = parse_instant("2015-07-04T12:00:00Z")
MICRO = 1_000_000

ROWS = [
    # user, source, metric, externalId, batch, start (µs), end (µs), value
    (1, "actiwatch", "steps", "E-1", "b1", 0, 30 * MICRO, 1),
    (1, "Actiwatch", "sleep_wake", "E-1", "b1", 30 * MICRO, 60 * MICRO, 0),
    (2, "phone", "steps", "E-2", "b2", 60 * MICRO, 90 * MICRO, 2**63 - 1),
    (3, "phone", "heart\nrate", "E-3", "b2", 90 * MICRO, 90 * MICRO, -(2**63)),
]


@pytest.fixture
def store() -> Iterator[ObservationStore]:
    store = ObservationStore(":memory:")
    base = int(T0.timestamp()) * MICRO
    store.insert_rows([(*r[:5], r[5] + base, r[6] + base, r[7]) for r in ROWS])
    yield store
    store.close()


def ids(
    store: ObservationStore, spec: dict[str, Any], sort: dict[str, int] | None = None
) -> list[int]:
    where, params = compile_filter(spec)
    data, total = store.query(where, params, compile_sort(sort), 100, 0)
    assert total == len(data)
    return [int(d["id"]) for d in data]


def test_equality_and_membership(store: ObservationStore) -> None:
    assert ids(store, {"meta.metric": "steps"}) == [1, 3]
    assert ids(store, {"meta.userId": {"$in": [1, 3]}}) == [1, 2, 4]
    assert ids(store, {"meta.userId": {"$nin": [1, 3]}}) == [3]
    assert ids(store, {"meta.userId": 1.0}) == [1, 2]  # numbers compare as numbers
    assert ids(store, {"point.value": {"$gt": 0.5, "$lt": 2}}) == [1]


def test_booleans_are_not_numbers(store: ObservationStore) -> None:
    assert ids(store, {"point.value": True}) == []
    assert ids(store, {"point.value": {"$in": [True, False]}}) == []
    assert ids(store, {"point.value": {"$ne": True}}) == [1, 2, 3, 4]


def test_type_bracketing_never_matches_other_types(store: ObservationStore) -> None:
    assert ids(store, {"meta.userId": "1"}) == []
    assert ids(store, {"meta.userId": {"$ne": "1"}}) == [1, 2, 3, 4]
    assert ids(store, {"meta.userId": {"$gt": "0"}}) == []
    assert ids(store, {"meta.source": {"$lt": 5}}) == []
    assert ids(store, {"timestamp": {"$gte": 0}}) == []
    assert ids(store, {"meta.source": None}) == []
    assert ids(store, {"meta.source": {"$ne": None}}) == [1, 2, 3, 4]
    assert ids(store, {"point.value": {"$regex": "1"}}) == []


def test_integers_beyond_64_bits_compare_without_overflow(store: ObservationStore) -> None:
    assert ids(store, {"point.value": {"$lt": 2**64}}) == [1, 2, 3, 4]
    assert ids(store, {"point.value": {"$gte": 2**63}}) == []
    assert ids(store, {"point.value": {"$gt": -(2**63) - 1}}) == [1, 2, 3, 4]
    assert ids(store, {"point.value": {"$in": [2**64, 1]}}) == [1]
    assert ids(store, {"point.value": 2**63 - 1}) == [3]
    assert ids(store, {"point.value": {"$lte": -(2**63)}}) == [4]


def test_logical_operators(store: ObservationStore) -> None:
    assert ids(store, {"$or": [{"meta.userId": 2}, {"meta.batch": "b1"}]}) == [1, 2, 3]
    assert ids(store, {"$nor": [{"meta.userId": 2}, {"meta.batch": "b1"}]}) == [4]
    assert ids(store, {"$and": [{"meta.batch": "b2"}, {"meta.metric": "steps"}]}) == [3]
    assert ids(store, {"meta.userId": {"$not": {"$in": [1, 2]}}}) == [4]
    assert ids(store, {"meta.userId": {"$not": {"$exists": False}}}) == [1, 2, 3, 4]
    assert ids(store, {"meta.userId": {"$exists": False}}) == []


def test_regex_with_options(store: ObservationStore) -> None:
    assert ids(store, {"meta.source": {"$regex": "^act"}}) == [1]
    assert ids(store, {"meta.source": {"$regex": "^act", "$options": "i"}}) == [1, 2]
    assert ids(store, {"meta.metric": {"$regex": "^rate$"}}) == []
    assert ids(store, {"meta.metric": {"$regex": "^rate$", "$options": "m"}}) == [4]
    assert ids(store, {"meta.source": {"$not": {"$regex": "^act", "$options": "i"}}}) == [3, 4]


def test_date_times_compare_as_instants(store: ObservationStore) -> None:
    assert ids(store, {"timestamp": "2015-07-04T13:00:30+01:00"}) == [2]
    assert ids(store, {"point.start": {"$gte": "2015-07-04T12:01:00Z"}}) == [3, 4]
    assert ids(store, {"point.end": {"$lt": "2015-07-04T12:00:30.000001Z"}}) == [1]
    # fractions beyond microseconds are truncated
    assert ids(store, {"timestamp": "2015-07-04T12:00:00.0000009Z"}) == [1]


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({"foo": 1}, "unknown field 'foo'"),
        ({"foo": {"$exists": False}}, "unknown field 'foo'"),
        ({"meta": {"userId": 1}}, "use dotted names"),
        ({"point.value": {"$mod": [2, 0]}}, "unsupported operator '$mod'"),
        ({"$where": "1"}, "unsupported operator '$where'"),
        ({"$not": {"meta.userId": 1}}, "$not goes inside a field"),
        ({"meta.userId": [1, 2]}, "use {'$in': [...]}"),
        ({"meta.userId": {"$ne": [1]}}, "use {'$in': [...]}"),
        ({"meta.userId": {"a": 1}}, "cannot equal an object"),
        ({"meta.userId": {"$in": 1}}, "$in needs a list"),
        ({"meta.userId": {"$in": [{"$regex": "a"}]}}, "items must be single values"),
        ({"meta.source": {"$not": "^a"}}, "$not needs an operator object"),
        ({"meta.source": {"$regex": "("}}, "invalid $regex"),
        ({"meta.source": {"$regex": "a", "$options": "u"}}, "$options must use only"),
        ({"meta.source": {"$options": "i"}}, "$options without $regex"),
        ({"meta.source": {"$exists": "yes"}}, "$exists takes true or false"),
        ({"timestamp": {"$gt": "yesterday"}}, "not an RFC 3339 date-time"),
        ({"timestamp": "2015-07-04"}, "not an RFC 3339 date-time"),
        ({"$or": []}, "needs a non-empty list"),
        ({"$and": [1]}, "must be an object"),
    ],
)
def test_refused_filters_name_the_problem(spec: dict[str, Any], named: str) -> None:
    with pytest.raises(FilterSpecError) as caught:
        compile_filter(spec)
    assert named in str(caught.value)


def test_unknown_field_message_lists_the_fields() -> None:
    with pytest.raises(FilterSpecError) as caught:
        parse_filter({"meta.user": 1})
    message = str(caught.value)
    for field in ("meta.userId", "meta.batch", "point.value", "timestamp"):
        assert field in message
    assert caught.value.path == "filter.meta.user"


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({"meta.userId": "1"}, "meta.userId holds integers, so the str '1' can never match"),
        ({"meta.batch": None}, "fields are never null"),
        ({"point.value": True}, "the bool True can never match"),
        ({"timestamp": {"$gt": 5}}, "timestamp holds RFC 3339 date-times"),
        ({"meta.userId": {"$in": [1, "2"]}}, "filter.meta.userId.$in[1]"),
        ({"point.value": {"$regex": "1"}}, "$regex works on string fields"),
        ({"meta.userId": {"$exists": 1}}, "$exists takes true or false"),
    ],
)
def test_strict_check_refuses_what_can_never_match(spec: dict[str, Any], named: str) -> None:
    parse_filter(spec, strict=False)  # the API accepts it, matching nothing
    with pytest.raises(FilterSpecError) as caught:
        parse_filter(spec, strict=True)
    assert named in str(caught.value)


def test_sort_tie_breaker_follows_the_first_key(store: ObservationStore) -> None:
    assert compile_sort(None) == "ts ASC, id ASC"
    assert compile_sort({"timestamp": -1}) == "ts DESC, id DESC"
    assert compile_sort({"meta.userId": 1, "timestamp": -1}) == "user_id ASC, ts DESC, id ASC"
    assert ids(store, {}, {"meta.batch": -1}) == [4, 3, 2, 1]
    assert ids(store, {}, {"meta.batch": 1}) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("sort", "named"),
    [
        ({"value": 1}, "unknown field 'value'"),
        ({"timestamp": True}, "must be 1 (ascending) or -1"),
        ({"timestamp": "desc"}, "must be 1 (ascending) or -1"),
        ([["timestamp", 1]], "sort must be an object"),
    ],
)
def test_bad_sorts_are_refused(sort: Any, named: str) -> None:
    with pytest.raises(FilterSpecError) as caught:
        check_sort(sort)
    assert named in str(caught.value)
