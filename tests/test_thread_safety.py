"""One sync client shared by many threads: every batch is stored exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from genomcore_sdk import GenomcoreApiClient
from genomcore_sdk.emulator import Emulator
from tests.helpers import observation

THREADS = 16
ROWS_PER_BATCH = 450


def test_sixteen_threads_share_one_client(client: GenomcoreApiClient, emulator: Emulator) -> None:
    def upload(worker: int) -> int:
        rows = [
            observation(i, batch=f"thread-{worker}", value=worker * 10_000 + i)
            for i in range(ROWS_PER_BATCH)
        ]
        report = client.time_series.create_time_series(body=rows, chunksize=100, max_retries=3)
        return report.stored

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        stored = list(pool.map(upload, range(THREADS)))
    assert stored == [ROWS_PER_BATCH] * THREADS
    assert emulator.state.store.count() == THREADS * ROWS_PER_BATCH
    for worker in range(THREADS):
        page = client.time_series.query_time_series(
            page=0, pageSize=1000, body={"filter": {"meta.batch": f"thread-{worker}"}}
        )
        values = sorted(o.point.value for o in page.data)
        assert values == [worker * 10_000 + i for i in range(ROWS_PER_BATCH)]
