"""AsyncGenomcoreApiClient against the real emulator over loopback (asyncio.run in sync tests)."""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from pathlib import Path

import httpx
import pytest

from genomcore_sdk import (
    AsyncGenomcoreApiClient,
    GenomcoreApiClient,
    QueryValidationError,
    UploadError,
    UploadEvent,
)
from genomcore_sdk.async_time_series import AsyncTimeSeries
from genomcore_sdk.emulator import Emulator, FaultConfig
from genomcore_sdk.time_series import TimeSeries
from tests.conftest import REFRESH, TOKEN
from tests.helpers import observation

BATCH = "actiwatch-2015-07-04"
EXPECTED = {"activity_counts": 20_160, "sleep_wake": 20_156}


def make_client(emulator: Emulator, **kwargs: object) -> AsyncGenomcoreApiClient:
    return AsyncGenomcoreApiClient(
        token=TOKEN,
        refresh_token=REFRESH,
        base_url=emulator.base_url,
        **kwargs,  # type: ignore[arg-type]
    )


def test_real_file_round_trip_with_concurrency_8(emulator: Emulator, sample_csv: Path) -> None:
    events: list[UploadEvent] = []

    async def scenario() -> None:
        async with make_client(emulator) as api:
            report = await api.time_series.create_time_series(
                str(sample_csv), max_concurrency=8, progress=events.append
            )
            assert report.ok
            assert (report.sent, report.stored, report.chunks) == (40_316, 40_316, 41)
            assert emulator.state.store.count() == 40_316

            per_metric: Counter[str] = Counter()
            ids: set[str] = set()
            async for obs in api.time_series.iter_time_series(
                user_ids=1, batches=BATCH, page_size=5000
            ):
                per_metric[obs.meta.metric] += 1
                ids.add(obs.id)
            assert dict(per_metric) == EXPECTED
            assert len(ids) == 40_316  # no duplicate ids

            for metric, expected in EXPECTED.items():
                deleted = await api.time_series.delete_time_series(
                    {"userId": 1, "batch": BATCH, "metric": metric}
                )
                assert (deleted.deleted, deleted.status) == (expected, "deleted")
            assert await api.time_series.count_time_series(batches=BATCH) == 0

    asyncio.run(scenario())
    assert emulator.state.store.count() == 0
    done = [e for e in events if e.kind == "chunk_done"]
    assert len(done) == 41
    assert max(e.rows_done for e in done) == 40_316
    assert all(e.rows_total == 40_316 for e in done)


def test_upload_through_faults_stores_each_observation_once(
    emulator: Emulator, sample_csv: Path
) -> None:
    # seeded: the first 41 draws (one per chunk, at least) hold every kind of
    # fault, so the assertions below cannot depend on luck
    emulator.set_faults(
        FaultConfig(fail_rate=0.2, throttle_rate=0.1, drop_rate=0.1, retry_after=0, seed=1)
    )

    async def scenario() -> tuple[int, int, int, int]:
        async with make_client(emulator) as api:
            report = await api.time_series.create_time_series(
                sample_csv,
                max_concurrency=8,
                max_retries=40,
                backoff_initial=0.01,
                backoff_max=0.05,
            )
            emulator.set_faults(FaultConfig())
            counts = [await api.time_series.count_time_series(metrics=m) for m in EXPECTED]
            return report.stored, report.retries, counts[0], counts[1]

    stored, retries, activity, sleep = asyncio.run(scenario())
    injected = emulator.state.faults.injected
    assert injected["drop_after"] > 0 and injected["throttle"] > 0
    assert retries >= sum(injected.values())
    assert (activity, sleep) == (20_160, 20_156)
    assert emulator.state.store.count() == 40_316  # nothing stored twice
    # chunks committed before their answer was dropped are answered from their
    # idempotency record on retry, so the server's inserted counts add up exactly
    assert stored == 40_316


def test_async_upload_failure_raises_upload_error_with_failed_rows(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.set_faults(FaultConfig(fail_rate=1.0, operations={"createTimeSeries"}))
    rows = [observation(i) for i in range(250)]
    failed_path = tmp_path / "failed.csv"

    async def scenario() -> None:
        async with make_client(emulator) as api:
            await api.time_series.create_time_series(
                rows, chunksize=100, max_concurrency=3, failed_rows_path=failed_path
            )

    with pytest.raises(UploadError) as caught:
        asyncio.run(scenario())
    error = caught.value
    assert [c.size for c in error.failed] == [100, 100, 50]
    assert error.succeeded == [] and error.unknown == []
    assert error.failed_rows_path == str(failed_path)
    assert len(failed_path.read_text().splitlines()) == 251  # header + every row
    assert "re-upload that file" in str(error)
    assert emulator.state.store.count() == 0


def seed(emulator: Emulator) -> None:
    rows = [observation(i) for i in range(120)] + [
        observation(i, metric="sleep") for i in range(30)
    ]
    with GenomcoreApiClient(token=TOKEN, refresh_token=REFRESH, base_url=emulator.base_url) as api:
        assert api.time_series.create_time_series(rows).stored == 150


BODY = {"userId": 1, "batch": "batch-1", "metric": "steps"}


def test_async_delete_dropped_after_commit_is_verified_deleted(emulator: Emulator) -> None:
    seed(emulator)
    emulator.set_faults(FaultConfig(drop_rate=1.0, operations={"deleteTimeSeries"}))

    async def scenario() -> None:
        async with make_client(emulator) as api:
            report = await api.time_series.delete_time_series(BODY)
            assert report.connection_lost is True
            assert (report.status, report.remaining, report.deleted) == (
                "verified_deleted",
                0,
                None,
            )

    asyncio.run(scenario())
    assert emulator.state.faults.injected["drop_after"] == 1
    assert emulator.state.store.count() == 30


def test_async_delete_dropped_before_commit_is_still_present(emulator: Emulator) -> None:
    seed(emulator)
    emulator.set_faults(FaultConfig(drop_before_commit_rate=1.0, operations={"deleteTimeSeries"}))

    async def scenario() -> None:
        async with make_client(emulator) as api:
            report = await api.time_series.delete_time_series(BODY)
            assert (report.status, report.remaining, report.verified) == (
                "still_present",
                120,
                False,
            )
            assert "send the delete again" in str(report)
            emulator.set_faults(FaultConfig())
            again = await api.time_series.delete_time_series(BODY)
            assert (again.deleted, again.status) == (120, "deleted")

    asyncio.run(scenario())
    assert emulator.state.faults.injected["drop_before"] == 1
    assert emulator.state.store.count() == 30


def test_query_helpers_and_one_page(emulator: Emulator) -> None:
    seed(emulator)

    async def scenario() -> None:
        async with make_client(emulator) as api:
            page = await api.time_series.query_time_series(
                page=1, pageSize=50, body={"filter": {"meta.metric": "steps"}}
            )
            assert (page.page, page.total, len(page.data), page.has_more) == (1, 120, 50, True)
            values = [o.point.value for o in await api.time_series.query_all(metrics="steps")]
            assert values == list(range(120))
            frame = await api.time_series.to_dataframe(metrics="sleep", sort="desc")
            assert len(frame) == 30 and int(frame["point.value"].iloc[0]) == 29
            assert str(frame["timestamp"].dt.tz) == "UTC"
            assert await api.time_series.count_time_series(metrics="sleep") == 30
            # checked when called, before any request or iteration
            with pytest.raises(QueryValidationError, match="not both"):
                api.time_series.iter_time_series({"filter": {}}, metrics="steps")
            with pytest.raises(QueryValidationError, match="page size"):
                await api.time_series.query_all(page_size=0)

    asyncio.run(scenario())


def test_same_methods_and_parameters_as_the_sync_client() -> None:
    public = sorted(n for n in vars(TimeSeries) if not n.startswith("_"))
    assert public == sorted(n for n in vars(AsyncTimeSeries) if not n.startswith("_"))
    for name in public:
        sync_params = inspect.signature(getattr(TimeSeries, name)).parameters
        async_params = inspect.signature(getattr(AsyncTimeSeries, name)).parameters
        assert [(p.name, p.kind, p.default) for p in sync_params.values()] == [
            (p.name, p.kind, p.default) for p in async_params.values()
        ], name
    sync_init = inspect.signature(GenomcoreApiClient.__init__).parameters
    async_init = inspect.signature(AsyncGenomcoreApiClient.__init__).parameters
    assert list(sync_init) == list(async_init)


def test_lifecycle_owned_and_user_supplied_clients(emulator: Emulator) -> None:
    async def scenario() -> None:
        async with make_client(emulator) as owned:
            assert await owned.time_series.count_time_series() == 0
        assert owned._http.is_closed

        mine = httpx.AsyncClient()
        async with make_client(emulator, http_client=mine) as api:
            mine.auth = api.auth
            assert await api.time_series.count_time_series() == 0
        assert not mine.is_closed  # the SDK never closes a client it was given
        assert await api.time_series.count_time_series() == 0
        await mine.aclose()

        other = make_client(emulator, timeout=5.0)
        assert other._http.timeout.read == 5.0
        await other.close()
        await other.aclose()  # closing twice is harmless
        assert other._http.is_closed
        assert TOKEN not in repr(other) and REFRESH not in repr(other)

    asyncio.run(scenario())

    with GenomcoreApiClient(token=TOKEN, refresh_token=REFRESH, base_url=emulator.base_url) as sync:
        assert sync.time_series.count_time_series() == 0
    assert sync._http.is_closed
    mine_sync = httpx.Client()
    with GenomcoreApiClient(token=TOKEN, base_url=emulator.base_url, http_client=mine_sync):
        pass
    assert not mine_sync.is_closed
    mine_sync.close()


def test_async_transport_is_used_and_errors_are_translated() -> None:
    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(
            503,
            json={"code": "unavailable", "message": "busy", "requestId": "r-1"},
            headers={"retry-after": "0"},
        )

    async def scenario() -> None:
        async with AsyncGenomcoreApiClient(
            token="t-1", base_url="http://api.test", transport=httpx.MockTransport(handler)
        ) as api:
            from genomcore_sdk import ServerError

            with pytest.raises(ServerError) as caught:
                await api.time_series.count_time_series()
            assert caught.value.status_code == 503
            assert caught.value.request_id == "r-1"
            assert "retrying" in str(caught.value)

    asyncio.run(scenario())
    assert seen == ["Bearer t-1"]


def test_cancelling_an_upload_cancels_its_requests(emulator: Emulator) -> None:
    emulator.set_faults(FaultConfig(delay_ms=3000))
    rows = [observation(i) for i in range(300)]

    async def scenario() -> None:
        async with make_client(emulator) as api:
            upload = asyncio.create_task(
                api.time_series.create_time_series(rows, chunksize=100, max_concurrency=3)
            )
            await asyncio.sleep(0.5)  # pass one is done; three requests wait on the server
            assert not upload.done()
            upload.cancel()
            with pytest.raises(asyncio.CancelledError):
                await upload
            left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            assert left == []  # no request task outlives the cancelled upload

    asyncio.run(scenario())
