"""Fault injection in the emulator, and an upload that survives it without loss or duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from genomcore_sdk import (
    GenomcoreApiClient,
    RateLimitError,
    ServerError,
    UploadError,
    UploadEvent,
)
from genomcore_sdk.emulator import Emulator, FaultConfig
from tests.conftest import REFRESH, TOKEN
from tests.helpers import observation, read_vendor_csv


def test_fault_config_rejects_bad_rates() -> None:
    with pytest.raises(ValueError, match="fail_rate"):
        FaultConfig(fail_rate=1.5)
    with pytest.raises(ValueError, match="more than 1"):
        FaultConfig(fail_rate=0.6, drop_rate=0.6)
    with pytest.raises(ValueError, match="unknown operation"):
        FaultConfig(operations={"nope"})


def test_every_request_failing_is_an_error_without_retries(
    client: GenomcoreApiClient, emulator: Emulator
) -> None:
    emulator.set_faults(fail_rate=1.0, seed=3)
    with pytest.raises(UploadError) as caught:
        client.time_series.create_time_series(body=[observation()], chunksize=10)
    (chunk,) = caught.value.failed
    assert isinstance(chunk.error, ServerError)
    assert chunk.error.status_code in (500, 503)
    assert chunk.attempts == 1
    assert emulator.state.store.count() == 0
    assert caught.value.failed_rows_path is not None
    Path(caught.value.failed_rows_path).unlink()


# Why this used to take ~70 s: chunks went one at a time and the backoff cap doubled with
# every attempt of a chunk (0.5, 1, 2, ... up to 30 s), counting the attempts answered with
# `Retry-After: 0`, so an unlucky chunk with 7 or 8 faults in a row waited 30-60 s while
# nothing else moved. Now 4 chunks are in flight (one chunk's backoff no longer stalls the
# rest) and the test caps the backoff at 0.2 s; the faults and the checks are unchanged.
@pytest.mark.parametrize("as_path", [True, False], ids=["csv-path", "list-of-dicts"])
def test_real_week_survives_faults_exactly_once(sample_csv: Path, as_path: bool) -> None:
    faults = FaultConfig(fail_rate=0.2, throttle_rate=0.1, drop_rate=0.1, retry_after=1, seed=7)
    with Emulator(token=TOKEN, refresh_token=REFRESH, faults=faults) as emu:
        api = GenomcoreApiClient(token=TOKEN, refresh_token=REFRESH, base_url=emu.base_url)
        body = sample_csv if as_path else read_vendor_csv(sample_csv)
        events: list[UploadEvent] = []
        report = api.time_series.create_time_series(
            body=body,
            chunksize=1000,
            max_retries=25,
            backoff_max=0.2,
            progress=events.append,
        )
        injected = emu.state.faults.injected
        assert injected["drop_after"] > 0 and injected["throttle"] > 0
        assert injected["fail_500"] + injected["fail_503"] > 0
        assert report.retries == sum(injected.values())
        # 429 answers carry Retry-After: 1, and the SDK waited exactly that
        throttled = [e for e in events if isinstance(e.error, RateLimitError)]
        assert len(throttled) == injected["throttle"]
        assert {e.wait for e in throttled} == {1.0}
        # chunks whose answer was lost after commit were answered from the idempotency record
        assert 0 < report.replayed <= injected["drop_after"]
        # no loss, no duplicate: the store holds each input observation exactly once
        assert emu.state.store.count() == 40_316
        assert report.stored == report.sent == 40_316
        distinct = emu.state.store.count(
            "id IN (SELECT MIN(id) FROM observations GROUP BY metric, ts)"
        )
        assert distinct == 40_316
        api.close()
