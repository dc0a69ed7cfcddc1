"""Delete: the vendor call, and a verified answer when the connection closes first (loopback)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from genomcore_ts_api.models import DeleteRequest, DeleteResult

from genomcore_sdk import (
    ApiConnectionError,
    DeleteReport,
    DeleteUnverifiedError,
    GenomcoreApiClient,
)
from genomcore_sdk.deletion import delete_and_verify
from genomcore_sdk.emulator import Emulator, FaultConfig
from tests.conftest import REFRESH, TOKEN
from tests.helpers import observation

BODY = {"userId": 1, "batch": "batch-1", "metric": "steps"}


def seed(api: GenomcoreApiClient) -> None:
    rows = [observation(i) for i in range(120)]
    rows += [observation(i, metric="sleep") for i in range(30)]  # same user and batch
    rows += [observation(i, batch="batch-2") for i in range(10)]
    assert api.time_series.create_time_series(body=rows, chunksize=500).stored == 160


@pytest.fixture
def pair() -> Iterator[tuple[Emulator, GenomcoreApiClient]]:
    with (
        Emulator(token=TOKEN, refresh_token=REFRESH) as emu,
        GenomcoreApiClient(token=TOKEN, refresh_token=REFRESH, base_url=emu.base_url) as api,
    ):
        seed(api)
        yield emu, api


def test_delete_answers_the_count(pair: tuple[Emulator, GenomcoreApiClient]) -> None:
    emu, api = pair
    report = api.time_series.delete_time_series(body=BODY)
    assert isinstance(report, DeleteReport)
    assert report.deleted == 120
    assert report.status == "deleted"
    assert report.verified is True
    assert report.connection_lost is False
    assert report.remaining == 0
    assert report.to_result() == DeleteResult(deleted=120)
    assert emu.state.store.count() == 40  # the other metric and batch stay
    again = api.time_series.delete_time_series(
        DeleteRequest(user_id=1, batch="batch-1", metric="steps")
    )
    assert again.deleted == 0


def test_connection_dropped_after_commit_is_verified_deleted(
    pair: tuple[Emulator, GenomcoreApiClient], caplog: pytest.LogCaptureFixture
) -> None:
    emu, api = pair
    emu.set_faults(FaultConfig(drop_rate=1.0, operations={"deleteTimeSeries"}))
    with caplog.at_level(logging.INFO, logger="genomcore_sdk"):
        report = api.time_series.delete_time_series(body=BODY)
    assert emu.state.faults.injected["drop_after"] == 1
    assert report.connection_lost is True
    assert report.status == "verified_deleted"
    assert report.verified is True
    assert report.remaining == 0
    assert report.deleted is None  # the server's count was in the lost answer
    assert report.error is not None and "Deleting time series failed" in report.error
    assert "verified deleted" in str(report)
    assert emu.state.store.count() == 40
    assert TOKEN not in caplog.text
    with pytest.raises(ValueError, match="unknown"):
        report.to_result()


def test_connection_dropped_before_commit_is_still_present(
    pair: tuple[Emulator, GenomcoreApiClient], caplog: pytest.LogCaptureFixture
) -> None:
    emu, api = pair
    emu.set_faults(FaultConfig(drop_before_commit_rate=1.0, operations={"deleteTimeSeries"}))
    with caplog.at_level(logging.WARNING, logger="genomcore_sdk"):
        report = api.time_series.delete_time_series(body=BODY)
    assert emu.state.faults.injected["drop_before"] == 1
    assert report.connection_lost is True
    assert report.status == "still_present"
    assert report.verified is False
    assert report.remaining == 120
    assert report.deleted is None
    assert "120 observation(s) still present" in str(report)
    assert "120 observation(s) still present" in caplog.text
    assert emu.state.store.count() == 160

    emu.set_faults(FaultConfig())  # the network recovers: the delete is idempotent, send it again
    assert api.time_series.delete_time_series(body=BODY).deleted == 120


def test_check_failing_too_raises_delete_unverified(
    pair: tuple[Emulator, GenomcoreApiClient],
) -> None:
    emu, api = pair
    emu.set_faults(FaultConfig(drop_before_commit_rate=1.0))  # every operation
    with pytest.raises(DeleteUnverifiedError) as caught:
        api.time_series.delete_time_series(body=BODY)
    assert "may or may not have happened" in str(caught.value)
    assert isinstance(caught.value.__cause__, ApiConnectionError)


def test_timeout_is_treated_as_a_lost_answer() -> None:
    asked: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            raise httpx.ReadTimeout("timed out", request=request)
        asked.append(json.loads(request.content))
        return httpx.Response(
            200, json={"data": [], "page": 0, "pageSize": 1, "total": 0, "hasMore": False}
        )

    with GenomcoreApiClient(
        token="t",
        refresh_token="r",
        base_url="http://sdk.test",
        transport=httpx.MockTransport(handler),
    ) as api:
        report = api.time_series.delete_time_series(body=BODY)
    assert report.connection_lost is True
    assert "timed out" in (report.error or "")
    assert report.status == "verified_deleted"
    assert asked == [
        {"filter": {"meta.userId": 1, "meta.metric": "steps", "meta.batch": "batch-1"}}
    ]


def test_verify_timeout_keeps_checking_while_the_server_deletes() -> None:
    counts = iter([90, 40, 0])
    waits: list[float] = []

    def send(_: DeleteRequest) -> DeleteResult:
        raise ApiConnectionError("Deleting time series failed: RemoteProtocolError. Retry.")

    report = delete_and_verify(
        DeleteRequest(user_id=1, batch="b", metric="m"),
        send,
        lambda _: next(counts),
        verify_timeout=60,
        verify_interval=0.5,
        sleep=waits.append,
    )
    assert report.status == "verified_deleted"
    assert waits == [0.5, 0.5]


def test_verify_timeout_zero_checks_once() -> None:
    checks: list[int] = []

    def count(_: DeleteRequest) -> int:
        checks.append(1)
        return 7

    def send(_: DeleteRequest) -> DeleteResult:
        raise ApiConnectionError("closed")

    report = delete_and_verify(DeleteRequest(user_id=1, batch="b", metric="m"), send, count)
    assert report.remaining == 7
    assert checks == [1]
