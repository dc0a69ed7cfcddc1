"""The main job over a real loopback socket: upload the real week, page it back, delete it."""

from __future__ import annotations

from pathlib import Path

from genomcore_sdk import GenomcoreApiClient
from tests.helpers import read_vendor_csv

BATCH = "actiwatch-2015-07-04"


def page_all(api: GenomcoreApiClient, body: dict, page_size: int = 500) -> list:  # type: ignore[type-arg]
    found = []
    page = 0
    while True:
        result = api.time_series.query_time_series(page=page, pageSize=page_size, body=body)
        found.extend(result.data)
        if not result.has_more:
            assert len(found) == result.total
            return found
        page += 1


def test_real_week_upload_query_delete(client: GenomcoreApiClient, sample_csv: Path) -> None:
    observations = read_vendor_csv(sample_csv)
    assert len(observations) == 40_316

    report = client.time_series.create_time_series(body=observations, chunksize=300)
    assert report.stored == 40_316
    assert report.chunks == 135  # ceil(40316 / 300)
    assert [r.inserted for r in report] == [300] * 134 + [40_316 - 134 * 300]

    expected = {"activity_counts": 20_160, "sleep_wake": 20_156}
    for metric, count in expected.items():
        body = {
            "filter": {"meta.userId": 1, "meta.batch": BATCH, "meta.metric": metric},
            "sort": {"timestamp": 1},
        }
        rows = page_all(client, body)
        ids = [r.id for r in rows]
        assert len(rows) == count
        assert len(set(ids)) == count, "an observation was repeated across pages"
        stamps = [r.timestamp for r in rows]
        assert stamps == sorted(stamps)
        source_values = [o["point"]["value"] for o in observations if o["meta"]["metric"] == metric]
        assert sum(r.point.value for r in rows) == sum(source_values)

    window = client.time_series.query_time_series(
        page=0,
        pageSize=5000,
        body={
            "filter": {"meta.metric": "activity_counts"},
            "beforeDate": "2015-07-05",
            "afterDate": "2015-07-06",
        },
    )
    assert window.total == 2_880
    assert len(window.data) == 2_880
    assert min(o.timestamp for o in window.data).isoformat() == "2015-07-05T00:00:00+00:00"
    assert max(o.timestamp for o in window.data).isoformat() == "2015-07-05T23:59:30+00:00"

    deleted = {
        metric: client.time_series.delete_time_series(
            body={"userId": 1, "batch": BATCH, "metric": metric}
        ).deleted
        for metric in expected
    }
    assert deleted == expected
    left = client.time_series.query_time_series(
        page=0, pageSize=1, body={"filter": {"meta.batch": BATCH}}
    )
    assert left.total == 0
    assert left.data == []


def test_descending_sort_is_the_reverse(client: GenomcoreApiClient, sample_csv: Path) -> None:
    observations = read_vendor_csv(sample_csv)[:2000]
    client.time_series.create_time_series(body=observations, chunksize=1000)
    body = {"filter": {"meta.metric": "activity_counts"}}
    up = page_all(client, {**body, "sort": {"timestamp": 1}}, page_size=300)
    down = page_all(client, {**body, "sort": {"timestamp": -1}}, page_size=300)
    assert len(up) == 2000
    assert [o.id for o in down] == [o.id for o in reversed(up)]
