"""Edge cases the contract run found in the emulator's query path, kept as regression tests."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from genomcore_sdk import GenomcoreApiClient
from genomcore_sdk.emulator import Emulator
from tests.conftest import TOKEN


def test_page_far_beyond_the_data_is_an_empty_page(emulator: Emulator) -> None:
    def ask(page: int) -> httpx.Response:
        return httpx.post(
            f"{emulator.base_url}/v1/time-series/query",
            params={"page": str(page), "pageSize": "689"},
            json={},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )

    # page * pageSize is beyond what SQLite can take as an offset
    response = ask(2**63 - 1)
    assert response.status_code == 200
    assert response.json() == {
        "data": [],
        "page": 2**63 - 1,
        "pageSize": 689,
        "total": 0,
        "hasMore": False,
    }
    # a page number that cannot even be answered back as a 64-bit integer
    refused = ask(10**22)
    assert refused.status_code == 400
    assert "page must be 0 to 9223372036854775807" in refused.json()["message"]


def test_years_before_1000_round_trip_with_four_digits(client: GenomcoreApiClient) -> None:
    row = {
        "meta": {"userId": 1, "source": "s", "metric": "m", "externalId": "e", "batch": "old"},
        "point": {"start": "0001-01-01T01:01:04Z", "end": "0999-12-31T00:00:00+00:00", "value": 3},
    }
    client.time_series.create_time_series(body=[row])
    [stored] = client.time_series.query_all(batches="old")
    assert stored.timestamp == datetime(1, 1, 1, 1, 1, 4, tzinfo=UTC)
    assert stored.point.end == datetime(999, 12, 31, tzinfo=UTC)
    assert client.time_series.count_time_series(end=datetime(2, 1, 1, tzinfo=UTC)) == 1


def test_instant_outside_the_utc_range_is_refused_not_a_server_error(
    client: GenomcoreApiClient, emulator: Emulator
) -> None:
    response = httpx.post(
        f"{emulator.base_url}/v1/time-series/query",
        json={"filter": {"timestamp": {"$gt": "0001-01-01T00:00:00+01:00"}}},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 400
    assert "out of range" in response.json()["message"]
