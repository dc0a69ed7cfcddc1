"""Every public call of both clients, fully typed: `mypy --strict` checks it in `make typecheck`.

It is also run against a local emulator by tests/test_typed_usage.py, so it cannot rot:

    python examples/typed_usage.py

`assert_type` lines are checked by mypy (what an IDE infers for user code) and
are no-ops at run time.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import assert_type

import pandas as pd
from genomcore_ts_api.models import QueryPage, StoredObservation

from genomcore_sdk import (
    ApiError,
    AsyncGenomcoreApiClient,
    AuthenticationError,
    ChunkResult,
    DeleteReport,
    DeleteUnverifiedError,
    GenomcoreApiClient,
    GenomcoreError,
    ObservationValidationError,
    QueryValidationError,
    TimeSeriesQuery,
    TransportError,
    UploadError,
    UploadEvent,
    UploadReport,
)
from genomcore_sdk.auth import RefreshedTokens
from genomcore_sdk.emulator import Emulator, FaultConfig

TOKEN = "typed-token"
REFRESH = "typed-refresh"


def rows(batch: str, count: int = 30) -> list[dict[str, object]]:
    return [
        {
            "meta": {
                "userId": 7,
                "source": "watch",
                "metric": "steps",
                "externalId": "W-7",
                "batch": batch,
            },
            "point": {
                "start": f"2024-04-01T00:{minute:02d}:00Z",
                "end": f"2024-04-01T00:{minute:02d}:30Z",
                "value": minute,
            },
        }
        for minute in range(count)
    ]


def show_progress(event: UploadEvent) -> None:
    kind: str = event.kind
    done: int = event.rows_done
    total: int | None = event.rows_total
    if kind == "chunk_failed":
        print(f"chunk {event.chunk.index} failed after {event.attempt} attempt(s): {event.error}")
    del done, total


def save_tokens(tokens: RefreshedTokens) -> None:
    access: str = tokens.access_token
    refresh: str | None = tokens.refresh_token
    del access, refresh


def describe(report: UploadReport) -> str:
    results: list[ChunkResult] = report.chunk_results
    first: ChunkResult = results[0]
    return (
        f"sent={report.sent} stored={report.stored} rejected={report.rejected} "
        f"chunks={report.chunks} retries={report.retries} replayed={report.replayed} "
        f"skipped={report.skipped_chunks} ok={report.ok} id={report.upload_id!r} "
        f"duration={report.duration:.2f}s first={first.describe()} status={first.status} "
        f"key={first.idempotency_key[:3]} rejects={report.rejects_path is not None}"
    )


def check_delete(report: DeleteReport, expected: int) -> None:
    deleted: int | None = report.deleted
    assert deleted == expected, report
    assert report.status == "deleted" and report.verified and not report.connection_lost
    assert report.remaining == 0 and report.error is None


def sync_usage(emulator: Emulator, work: Path) -> None:
    with GenomcoreApiClient(
        token=TOKEN,
        refresh_token=REFRESH,
        base_url=emulator.base_url,
        timeout=30.0,
        on_tokens_refreshed=save_tokens,
    ) as api:
        report = api.time_series.create_time_series(
            rows("sync"),
            chunksize=10,
            max_retries=3,
            chunk_details=False,
            max_concurrency=4,
            assume_timezone="UTC",
            on_invalid="skip",
            rejects_path=work / "rejects.csv",
            failed_rows_path=work / "failed.csv",
            journal=work / "sync.journal",
            deadline=60.0,
            progress=show_progress,
            backoff_initial=0.1,
            backoff_max=1.0,
        )
        assert_type(report, UploadReport)
        assert report.stored == 30, describe(report)
        print("sync upload:", describe(report))

        page = api.time_series.query_time_series(
            page=0, pageSize=500, body={"filter": {"meta.batch": "sync"}, "sort": {"timestamp": -1}}
        )
        assert_type(page, QueryPage)
        assert (page.total, page.has_more, page.data[0].point.value) == (30, False, 29)

        values = [obs.point.value for obs in api.time_series.iter_time_series(batches="sync")]
        assert values == list(range(30))
        everything = api.time_series.query_all(
            TimeSeriesQuery(user_ids=7, metrics="steps", start="2024-04-01", end="2024-04-02")
        )
        assert_type(everything, list[StoredObservation])
        frame = api.time_series.to_dataframe(batches="sync", sort="desc")
        assert_type(frame, pd.DataFrame)
        count = api.time_series.count_time_series(batches="sync")
        assert_type(count, int)
        assert (len(everything), len(frame), count) == (30, 30, 30)

        try:
            api.time_series.create_time_series([{"meta": {}, "point": {}}])
        except ObservationValidationError as invalid:
            assert invalid.problems[0].field.startswith("meta")
        else:
            raise AssertionError("an invalid observation was accepted")
        try:
            api.time_series.query_time_series(body={"filter": {"meta.nope": 1}})
        except QueryValidationError as refused:
            assert "meta.nope" in str(refused)
        else:
            raise AssertionError("an unknown filter field was accepted")

        emulator.set_faults(FaultConfig(fail_rate=1.0, operations={"createTimeSeries"}))
        try:
            api.time_series.create_time_series(rows("doomed", 5), failed_rows_path=work / "f.csv")
        except UploadError as error:
            failed: Sequence[ChunkResult] = error.failed
            cause = failed[0].error
            assert isinstance(cause, ApiError) and cause.status_code >= 500
            assert error.failed_rows_path is not None and error.unknown == []
            assert error.report.stored == 0
        else:
            raise AssertionError("an upload through a failing server succeeded")
        emulator.set_faults(FaultConfig())

        deleted = api.time_series.delete_time_series(
            {"userId": 7, "batch": "sync", "metric": "steps"}, verify_timeout=0.0
        )
        assert_type(deleted, DeleteReport)
        check_delete(deleted, 30)


async def async_usage(emulator: Emulator, work: Path) -> None:
    async with AsyncGenomcoreApiClient(
        token=TOKEN,
        refresh_token=REFRESH,
        base_url=emulator.base_url,
        timeout=30.0,
        on_tokens_refreshed=save_tokens,
    ) as api:
        report = await api.time_series.create_time_series(
            rows("async"),
            chunksize=10,
            max_retries=3,
            chunk_details=False,
            max_concurrency=8,
            assume_timezone="UTC",
            on_invalid="stop",
            rejects_path=None,
            failed_rows_path=work / "async-failed.csv",
            journal=work / "async.journal",
            deadline=60.0,
            progress=show_progress,
            backoff_initial=0.1,
            backoff_max=1.0,
        )
        assert_type(report, UploadReport)
        assert report.stored == 30, describe(report)
        print("async upload:", describe(report))

        page = await api.time_series.query_time_series(page=0, pageSize=10, body=None)
        assert_type(page, QueryPage)
        assert (page.total, len(page.data), page.has_more) == (30, 10, True)

        values: list[int] = []
        async for obs in api.time_series.iter_time_series(batches="async", page_size=7):
            assert_type(obs, StoredObservation)
            values.append(obs.point.value)
        assert values == list(range(30))
        everything = await api.time_series.query_all(user_ids=7, sort="desc")
        assert_type(everything, list[StoredObservation])
        frame = await api.time_series.to_dataframe(batches="async")
        assert_type(frame, pd.DataFrame)
        count = await api.time_series.count_time_series(batches="async")
        assert_type(count, int)
        assert (len(everything), len(frame), count) == (30, 30, 30)

        emulator.set_faults(FaultConfig(drop_before_commit_rate=1.0))
        try:
            await api.time_series.delete_time_series(
                {"userId": 7, "batch": "async", "metric": "steps"}
            )
        except DeleteUnverifiedError as unverified:
            assert isinstance(unverified, TransportError)
        else:
            raise AssertionError("a delete without any answer was reported verified")
        emulator.set_faults(FaultConfig())

        deleted = await api.time_series.delete_time_series(
            {"userId": 7, "batch": "async", "metric": "steps"}
        )
        assert_type(deleted, DeleteReport)
        check_delete(deleted, 30)

    try:
        async with AsyncGenomcoreApiClient(token="wrong", base_url=emulator.base_url) as bad:
            await bad.time_series.count_time_series()
    except AuthenticationError as denied:
        assert denied.status_code == 401
    except GenomcoreError as other:
        raise AssertionError(f"expected an AuthenticationError, got {other!r}") from other
    else:
        raise AssertionError("a wrong token was accepted")


def main() -> None:
    with (
        Emulator(token=TOKEN, refresh_token=REFRESH) as emulator,
        tempfile.TemporaryDirectory() as folder,
    ):
        work = Path(folder)
        sync_usage(emulator, work)
        asyncio.run(async_usage(emulator, work))
    print("typed_usage: ok")


if __name__ == "__main__":
    main()
