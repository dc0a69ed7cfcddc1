"""Reading the real actigraphy week back: every page, typed helpers, DataFrame (over loopback)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from genomcore_sdk import GenomcoreApiClient, TimeSeriesQuery
from genomcore_sdk.emulator import Emulator
from tests.conftest import REFRESH, SAMPLE_CSV, TOKEN
from tests.helpers import read_vendor_csv

BATCH = "actiwatch-2015-07-04"


def csv_rows() -> list[dict[str, str]]:
    with SAMPLE_CSV.open(newline="") as handle:
        return list(csv.DictReader(handle))


ROWS = csv_rows()


def utc_start(row: dict[str, str]) -> datetime:
    return datetime.fromisoformat(row["point.start"]).astimezone(UTC)


def expected_count(
    metric: str | None = None,
    low: datetime | None = None,
    high: datetime | None = None,
    value_above: int | None = None,
) -> int:
    """Counted straight from the CSV, independently of the SDK and the emulator."""
    return sum(
        1
        for row in ROWS
        if (metric is None or row["meta.metric"] == metric)
        and (low is None or utc_start(row) >= low)
        and (high is None or utc_start(row) < high)
        and (value_above is None or int(row["point.value"]) > value_above)
    )


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[Emulator, GenomcoreApiClient]]:
    """One emulator holding the real week, shared by the read-only tests of this module."""
    with (
        Emulator(token=TOKEN, refresh_token=REFRESH) as emu,
        GenomcoreApiClient(token=TOKEN, refresh_token=REFRESH, base_url=emu.base_url) as api,
    ):
        report = api.time_series.create_time_series(
            body=read_vendor_csv(SAMPLE_CSV), chunksize=5000
        )
        assert report.stored == 40_316
        yield emu, api


@pytest.fixture
def api(loaded: tuple[Emulator, GenomcoreApiClient]) -> GenomcoreApiClient:
    return loaded[1]


def test_iterating_activity_counts_yields_every_observation_once_in_order(
    loaded: tuple[Emulator, GenomcoreApiClient],
) -> None:
    emu, api = loaded
    before = emu.state.status_counts.get(200, 0)
    up = list(api.time_series.iter_time_series(metrics="activity_counts", page_size=500))
    assert len(up) == 20_160
    assert len({o.id for o in up}) == 20_160
    assert all(o.meta.metric == "activity_counts" for o in up)
    stamps = [o.timestamp for o in up]
    assert stamps == sorted(stamps)
    assert stamps[0] == datetime(2015, 7, 4, 8, 45, tzinfo=UTC)  # 09:45+01:00 in the file
    # 20,160 / 500 = 40.3: 41 pages, not one request more
    assert emu.state.status_counts[200] - before == 41

    down = list(
        api.time_series.iter_time_series(metrics="activity_counts", sort="desc", pageSize=500)
    )
    assert [o.id for o in down] == [o.id for o in reversed(up)]


def test_vendor_body_iterates_the_same(api: GenomcoreApiClient) -> None:
    body = {
        "filter": {"meta.userId": {"$in": [1]}, "meta.batch": {"$in": [BATCH]}},
        "sort": {"timestamp": -1},
        "beforeDate": "2015-07-05",
        "afterDate": "2015-07-06",
    }
    rows = api.time_series.query_all(body, page_size=1000)
    assert len(rows) == expected_count(
        low=datetime(2015, 7, 5, tzinfo=UTC), high=datetime(2015, 7, 6, tzinfo=UTC)
    )
    assert [o.timestamp for o in rows] == sorted((o.timestamp for o in rows), reverse=True)


def test_to_dataframe_matches_the_file(api: GenomcoreApiClient) -> None:
    frame = api.time_series.to_dataframe(metrics="activity_counts", page_size=500)
    assert len(frame) == 20_160
    file_sum = sum(int(r["point.value"]) for r in ROWS if r["meta.metric"] == "activity_counts")
    assert file_sum > 0
    assert int(frame["point.value"].sum()) == file_sum
    assert list(frame.columns) == [
        "id",
        "timestamp",
        "meta.userId",
        "meta.source",
        "meta.metric",
        "meta.externalId",
        "meta.batch",
        "point.start",
        "point.end",
        "point.value",
    ]
    for column in ("timestamp", "point.start", "point.end"):
        assert isinstance(frame[column].dtype, pd.DatetimeTZDtype)
        assert str(frame[column].dt.tz) == "UTC"
    assert frame["point.value"].dtype == "int64"
    assert frame["meta.userId"].dtype == "int64"
    assert frame["timestamp"].is_monotonic_increasing
    assert frame["id"].is_unique
    assert (frame["timestamp"] == frame["point.start"]).all()
    assert (frame["point.end"] - frame["point.start"] == pd.Timedelta(seconds=30)).all()
    first = ROWS[0]
    assert frame.loc[0, "timestamp"] == pd.Timestamp(first["point.start"])
    assert frame.loc[0, "meta.externalId"] == first["meta.externalId"]


def test_to_dataframe_of_nothing_keeps_the_columns_and_types(api: GenomcoreApiClient) -> None:
    frame = api.time_series.to_dataframe(batches="no-such-batch")
    assert len(frame) == 0
    assert isinstance(frame["timestamp"].dtype, pd.DatetimeTZDtype)
    assert frame["point.value"].dtype == "int64"


@pytest.mark.parametrize("metric", ["activity_counts", "sleep_wake"])
def test_one_day_window_per_metric(api: GenomcoreApiClient, metric: str) -> None:
    low, high = datetime(2015, 7, 5, tzinfo=UTC), datetime(2015, 7, 6, tzinfo=UTC)
    expected = expected_count(metric, low, high)
    assert expected == 2_880
    by_strings = api.time_series.query_all(
        metrics=metric, start="2015-07-05", end="2015-07-06", page_size=5000
    )
    assert len(by_strings) == expected
    assert min(o.timestamp for o in by_strings) == low
    assert max(o.timestamp for o in by_strings) == high - timedelta(seconds=30)
    by_dates = api.time_series.count_time_series(
        metrics=metric, start=date(2015, 7, 5), end=date(2015, 7, 6)
    )
    assert by_dates == expected


def test_window_in_another_time_zone(api: GenomcoreApiClient) -> None:
    london = timezone(timedelta(hours=1))
    start = datetime(2015, 7, 5, 0, 0, tzinfo=london)  # 2015-07-04T23:00Z
    end = datetime(2015, 7, 5, 12, 0, tzinfo=london)
    got = api.time_series.count_time_series(start=start, end=end, metrics="sleep_wake")
    assert got == expected_count("sleep_wake", start, end)
    assert got == 12 * 120  # 12 hours of 30-second epochs
    as_text = api.time_series.count_time_series(
        start="2015-07-05T00:00:00+01:00", end="2015-07-05T12:00:00+01:00", metrics="sleep_wake"
    )
    assert as_text == got


def test_helpers_select_exactly(api: GenomcoreApiClient) -> None:
    count = api.time_series.count_time_series
    assert count(user_ids=1) == 40_316
    assert count(user_ids=[1, 2]) == 40_316
    assert count(user_ids=2) == 0
    assert count(batches=BATCH) == 40_316
    assert count(batches=[BATCH, "other"], metrics="sleep_wake") == 20_156
    assert count(metrics=["activity_counts", "sleep_wake"]) == 40_316
    assert count(sources="actiwatch-spectrum", external_ids="TEST_SAMPLE_UK") == 40_316
    assert count(sources="phone") == 0
    assert count(metrics="activity_counts", filter={"point.value": {"$gt": 0}}) == (
        expected_count("activity_counts", value_above=0)
    )
    query = TimeSeriesQuery(
        user_ids=1,
        batches=BATCH,
        metrics="activity_counts",
        start=datetime(2015, 7, 6, tzinfo=UTC),
        end=datetime(2015, 7, 8, tzinfo=UTC),
        filter={"$or": [{"point.value": 0}, {"point.value": {"$gte": 500}}]},
    )
    rows = api.time_series.query_all(query, page_size=777)
    expected = [
        r
        for r in ROWS
        if r["meta.metric"] == "activity_counts"
        and datetime(2015, 7, 6, tzinfo=UTC) <= utc_start(r) < datetime(2015, 7, 8, tzinfo=UTC)
        and (int(r["point.value"]) == 0 or int(r["point.value"]) >= 500)
    ]
    assert len(rows) == len(expected) > 0
    assert sorted(o.point.value for o in rows) == sorted(int(r["point.value"]) for r in expected)


def test_raw_filter_with_datetimes(api: GenomcoreApiClient) -> None:
    low = datetime(2015, 7, 5, 6, tzinfo=UTC)
    high = datetime(2015, 7, 5, 7, tzinfo=UTC)
    rows = api.time_series.query_all(
        filter={"timestamp": {"$gte": low, "$lt": high}, "meta.metric": "activity_counts"}
    )
    assert len(rows) == expected_count("activity_counts", low, high) == 120


def test_query_time_series_keeps_the_vendor_shape(api: GenomcoreApiClient) -> None:
    page = api.time_series.query_time_series(
        page=2, pageSize=500, body={"filter": {"meta.metric": "sleep_wake"}}
    )
    assert page.page == 2
    assert page.page_size == 500
    assert page.total == 20_156
    assert page.has_more is True
    assert len(page.data) == 500
    last = api.time_series.query_time_series(
        page=40, pageSize=500, body={"filter": {"meta.metric": "sleep_wake"}}
    )
    assert len(last.data) == 20_156 - 40 * 500
    assert last.has_more is False


def _sleep_wake(api: GenomcoreApiClient, **kwargs: Any) -> list[Any]:
    return api.time_series.query_all(metrics="sleep_wake", **kwargs)


def test_page_size_does_not_change_the_result(api: GenomcoreApiClient) -> None:
    small = [o.id for o in _sleep_wake(api, start="2015-07-06", end="2015-07-07", page_size=97)]
    large = [o.id for o in _sleep_wake(api, start="2015-07-06", end="2015-07-07", page_size=5000)]
    assert len(small) == 2_880
    assert small == large


def test_sample_is_the_expected_file() -> None:
    assert Path(SAMPLE_CSV).name == "actigraphy_week.csv"
    assert len(ROWS) == 40_316
