"""Fault injection in the emulator, and an upload that survives it without loss or duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from genomcore_sdk import GenomcoreApiClient, ServerError
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
    with pytest.raises(ServerError) as caught:
        client.time_series.create_time_series(body=[observation()], chunksize=10)
    assert caught.value.status_code in (500, 503)
    assert emulator.state.store.count() == 0


def test_real_week_survives_faults_exactly_once(sample_csv: Path) -> None:
    faults = FaultConfig(fail_rate=0.2, throttle_rate=0.1, drop_rate=0.1, retry_after=0, seed=7)
    with Emulator(token=TOKEN, refresh_token=REFRESH, faults=faults) as emu:
        api = GenomcoreApiClient(token=TOKEN, refresh_token=REFRESH, base_url=emu.base_url)
        rows = read_vendor_csv(sample_csv)
        report = api.time_series.create_time_series(body=rows, chunksize=1000, max_retries=25)
        injected = emu.state.faults.injected
        assert injected["drop_after"] > 0 and injected["throttle"] > 0
        assert injected["fail_500"] + injected["fail_503"] > 0
        assert report.retries == sum(injected.values())
        # no loss, no duplicate: the store holds each input observation exactly once
        assert emu.state.store.count() == len(rows) == 40_316
        assert report.stored == 40_316
        distinct = emu.state.store.count(
            "id IN (SELECT MIN(id) FROM observations GROUP BY metric, ts)"
        )
        assert distinct == 40_316
