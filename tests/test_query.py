"""Query helpers, pre-send checks and page walking (narrow unit tests; no server needed)."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from genomcore_ts_api.models import QueryPage, QueryRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomcore_sdk import GenomcoreApiClient, PaginationError, QueryValidationError, TimeSeriesQuery
from genomcore_sdk.query import PageWalker, prepare_query

# --------------------------------------------------------------------------- TimeSeriesQuery


def test_plain_arguments_make_the_body() -> None:
    query = TimeSeriesQuery(
        user_ids=[1, 2, 2],
        batches="b1",
        metrics=("steps", "sleep"),
        sources="watch",
        external_ids=["E-1"],
        start=datetime(2024, 4, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))),
        end=date(2024, 4, 8),
        sort="desc",
    )
    assert query.to_body() == {
        "filter": {
            "meta.userId": {"$in": [1, 2]},
            "meta.source": "watch",
            "meta.metric": {"$in": ["steps", "sleep"]},
            "meta.externalId": "E-1",
            "meta.batch": "b1",
        },
        "sort": {"timestamp": -1},
        "beforeDate": "2024-04-01T00:00:00Z",
        "afterDate": "2024-04-08T00:00:00Z",
    }
    assert query.to_request().to_dict() == query.to_body()


def test_raw_filter_is_anded_with_the_helpers() -> None:
    query = TimeSeriesQuery(metrics="steps", filter={"point.value": {"$gte": 10}})
    assert query.to_body() == {
        "filter": {"$and": [{"meta.metric": "steps"}, {"point.value": {"$gte": 10}}]}
    }
    assert TimeSeriesQuery(filter={"point.value": 1}).to_body() == {"filter": {"point.value": 1}}
    assert TimeSeriesQuery().to_body() == {}


def test_window_strings_and_fractions() -> None:
    query = TimeSeriesQuery(start="2024-04-01", end="2024-04-01T10:00:00.250+02:00")
    assert query.start == datetime(2024, 4, 1, tzinfo=UTC)
    assert query.to_body()["afterDate"] == "2024-04-01T08:00:00.250000Z"


def test_sort_forms() -> None:
    assert TimeSeriesQuery(sort="asc").sort == {"timestamp": 1}
    assert TimeSeriesQuery(sort="DESC").sort == {"timestamp": -1}
    assert TimeSeriesQuery(sort={"meta.userId": 1, "timestamp": -1}).sort == {
        "meta.userId": 1,
        "timestamp": -1,
    }


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"start": datetime(2024, 4, 1)}, "start=datetime.datetime(2024, 4, 1, 0, 0) is a naive"),
        ({"end": "yesterday"}, "end: 'yesterday' is not a date (2024-04-01) or an RFC 3339"),
        ({"end": "2024-04-01T00:00:00"}, "with a UTC offset"),
        ({"start": 5}, "start must be a datetime with a time zone"),
        ({"start": "2024-04-02", "end": "2024-04-01"}, "is after end"),
        ({"user_ids": "1"}, "user_ids takes integers (one or a list), got str '1'"),
        ({"user_ids": [1, True]}, "got bool True"),
        ({"metrics": []}, "metrics is empty"),
        ({"batches": ["ok", ""]}, "batches takes non-empty strings"),
        ({"sources": 3}, "sources takes non-empty strings"),
        ({"sort": "newest"}, 'sort must be "asc", "desc", 1, -1 or a sort object'),
        ({"sort": {"timestamp": 0}}, "must be 1 (ascending) or -1"),
        ({"filter": {"meta.metric": {"$like": "a"}}}, "unsupported operator '$like'"),
        ({"filter": {"value": 1}}, "unknown field 'value'; filterable fields: meta.userId"),
        ({"filter": {"meta.userId": "1"}}, "meta.userId holds integers"),
        ({"filter": {"timestamp": {"$gt": datetime(2024, 1, 1)}}}, "is a naive datetime"),
        ({"filter": [("meta.userId", 1)]}, "filter must be a dict"),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(QueryValidationError) as caught:
        TimeSeriesQuery(**kwargs)
    assert named in str(caught.value)
    assert str(caught.value).endswith("Nothing was sent.")


def test_unsupported_operator_message_lists_the_supported_ones() -> None:
    with pytest.raises(QueryValidationError) as caught:
        prepare_query({"filter": {"point.value": {"$mod": [2, 0]}}})
    message = str(caught.value)
    assert "'$mod'" in message
    for op in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex"):
        assert op in message
    with pytest.raises(QueryValidationError) as caught:
        prepare_query({"filter": {"$text": {"$search": "a"}}})
    assert "'$text'" in str(caught.value)
    assert "$and, $or, $nor" in str(caught.value)


# --------------------------------------------------------------------------- prepare_query


def test_prepare_query_accepts_the_vendor_body_and_datetimes() -> None:
    request = prepare_query(
        {
            "filter": {
                "meta.userId": {"$in": [1]},
                "timestamp": {"$gte": datetime(2024, 4, 1, tzinfo=UTC)},
            },
            "sort": {"timestamp": -1},
            "beforeDate": "2024-04-01",
            "afterDate": datetime(2024, 4, 8, 1, tzinfo=timezone(timedelta(hours=1))),
        }
    )
    assert isinstance(request, QueryRequest)
    assert request.to_dict() == {
        "filter": {"meta.userId": {"$in": [1]}, "timestamp": {"$gte": "2024-04-01T00:00:00Z"}},
        "sort": {"timestamp": -1},
        "beforeDate": "2024-04-01",
        "afterDate": "2024-04-08T00:00:00Z",
    }
    assert prepare_query(None).to_dict() == {}
    assert prepare_query(request).to_dict() == request.to_dict()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"filters": {}}, "unknown query body key(s) ['filters']"),
        ({"beforeDate": "April"}, "beforeDate: 'April' is not a date"),
        ({"afterDate": 20240401}, "afterDate must be a date"),
        ({"sort": {"ts": 1}}, "cannot sort by unknown field 'ts'"),
        ({"filter": {"meta.batch": None}}, "fields are never null"),
        ("meta.userId=1", "body must be a dict"),
    ],
)
def test_prepare_query_refuses(body: Any, named: str) -> None:
    with pytest.raises(QueryValidationError) as caught:
        prepare_query(body)
    assert named in str(caught.value)


# --------------------------------------------------------------------------- nothing is sent


@pytest.fixture
def recording() -> tuple[GenomcoreApiClient, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500, json={"code": "x", "message": "should not be called"})

    api = GenomcoreApiClient(
        token="t",
        refresh_token="r",
        base_url="http://sdk.test",
        transport=httpx.MockTransport(handler),
    )
    return api, sent


def test_refused_queries_send_nothing(
    recording: tuple[GenomcoreApiClient, list[httpx.Request]],
) -> None:
    api, sent = recording
    ts = api.time_series
    with pytest.raises(QueryValidationError, match=r"\$where"):
        ts.query_time_series(page=0, pageSize=500, body={"filter": {"$where": "1"}})
    with pytest.raises(QueryValidationError, match="page size must be an integer from 1 to 5000"):
        ts.query_time_series(page=0, pageSize=5001, body={})
    with pytest.raises(QueryValidationError, match="page must be an integer from 0"):
        ts.query_time_series(page=-1, pageSize=5, body={})
    # iterators check everything when called, before the first page is asked for
    with pytest.raises(QueryValidationError, match=r"unknown field 'meta\.user'"):
        ts.iter_time_series(filter={"meta.user": 1})
    with pytest.raises(QueryValidationError, match="either as body or as keyword arguments"):
        ts.iter_time_series({"filter": {}}, metrics="steps")
    with pytest.raises(QueryValidationError, match="page size"):
        ts.query_all(metrics="steps", page_size=0)
    with pytest.raises(QueryValidationError, match="naive datetime"):
        ts.to_dataframe(start=datetime(2024, 1, 1))
    with pytest.raises(QueryValidationError, match=r"unknown key\(s\) \['source'\]"):
        ts.delete_time_series({"userId": 1, "batch": "b", "metric": "m", "source": "x"})
    with pytest.raises(QueryValidationError, match=r"missing \['metric'\]"):
        ts.delete_time_series({"userId": 1, "batch": "b"})
    with pytest.raises(QueryValidationError, match="userId must be an integer, got str '1'"):
        ts.delete_time_series({"userId": "1", "batch": "b", "metric": "m"})
    with pytest.raises(QueryValidationError, match="batch must be a non-empty string"):
        ts.delete_time_series({"userId": 1, "batch": "", "metric": "m"})
    assert sent == []


# --------------------------------------------------------------------------- page walking


def page(number: int, ids: list[int], total: int, has_more: bool) -> QueryPage:
    return QueryPage.from_dict(
        {
            "data": [
                {
                    "id": str(i),
                    "timestamp": "2024-04-01T00:00:00Z",
                    "meta": {
                        "userId": 1,
                        "source": "s",
                        "metric": "m",
                        "externalId": "e",
                        "batch": "b",
                    },
                    "point": {
                        "start": "2024-04-01T00:00:00Z",
                        "end": "2024-04-01T00:00:30Z",
                        "value": i,
                    },
                }
                for i in ids
            ],
            "page": number,
            "pageSize": 500,
            "total": total,
            "hasMore": has_more,
        }
    )


def walk_fake_server(items: int, page_size: int) -> tuple[list[int], list[int]]:
    """Walk a fake server holding ``items`` observations; return ids yielded and pages asked."""
    walker = PageWalker(QueryRequest(), page_size)
    asked: list[int] = []
    got: list[int] = []
    while (want := walker.next_request()) is not None:
        asked.append(want.page)
        first = want.page * want.page_size
        ids = list(range(first, min(first + want.page_size, items)))
        answer = page(want.page, ids, items, first + want.page_size < items)
        got.extend(int(o.id) for o in walker.accept(answer))
    return got, asked


@settings(max_examples=200, deadline=None)
@given(items=st.integers(0, 1200), page_size=st.integers(1, 400))
def test_walking_yields_each_observation_once_and_stops(items: int, page_size: int) -> None:
    got, asked = walk_fake_server(items, page_size)
    assert got == list(range(items))
    assert asked == list(range(max(1, math.ceil(items / page_size))))


def test_exact_multiple_needs_no_extra_request() -> None:
    got, asked = walk_fake_server(1000, 500)
    assert len(got) == 1000
    assert asked == [0, 1]


def test_empty_page_stops_even_if_has_more_says_otherwise() -> None:
    walker = PageWalker(QueryRequest(), 10)
    assert walker.accept(page(0, [], 0, True)) == []
    assert walker.done
    assert walker.next_request() is None


def test_changing_total_is_refused() -> None:
    walker = PageWalker(QueryRequest(), 2)
    walker.accept(page(0, [1, 2], 5, True))
    with pytest.raises(PaginationError, match="changed from 5 to 6"):
        walker.accept(page(1, [2, 3], 6, True))


def test_repeated_observation_across_pages_is_refused() -> None:
    walker = PageWalker(QueryRequest(), 2)
    walker.accept(page(0, [1, 2], 5, True))
    with pytest.raises(PaginationError, match="repeats 1 observation"):
        walker.accept(page(1, [2, 3], 5, True))


def test_wrong_page_number_is_refused() -> None:
    walker = PageWalker(QueryRequest(), 2)
    with pytest.raises(PaginationError, match="asked for page 0, the server answered page 3"):
        walker.accept(page(3, [1, 2], 5, True))


def test_walker_over_http_asks_for_consecutive_pages() -> None:
    asked: list[tuple[int, int, bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        size = int(request.url.params["pageSize"])
        asked.append((number, size, request.content))
        first = number * size
        ids = list(range(first, min(first + size, 7)))
        return httpx.Response(200, json=page(number, ids, 7, first + size < 7).to_dict())

    api = GenomcoreApiClient(
        token="t",
        refresh_token="r",
        base_url="http://sdk.test",
        transport=httpx.MockTransport(handler),
    )
    rows = api.time_series.query_all(metrics="m", sort="desc", pageSize=3)
    assert [int(o.id) for o in rows] == list(range(7))
    assert [(p, s) for p, s, _ in asked] == [(0, 3), (1, 3), (2, 3)]
    for _, _, body in asked:
        assert json.loads(body) == {"filter": {"meta.metric": "m"}, "sort": {"timestamp": -1}}
