"""Chunk boundaries and the vendor's batch check, against the emulator."""

from __future__ import annotations

import pytest

from genomcore_sdk import GenomcoreApiClient, ObservationValidationError
from genomcore_sdk.emulator import Emulator
from tests.helpers import observation

CHUNK = 7


@pytest.mark.parametrize(
    ("count", "sizes"),
    [
        (0, []),
        (1, [1]),
        (CHUNK - 1, [CHUNK - 1]),
        (CHUNK, [CHUNK]),
        (CHUNK + 1, [CHUNK, 1]),
        (3 * CHUNK + 2, [CHUNK, CHUNK, CHUNK, 2]),
    ],
)
@pytest.mark.parametrize("concurrency", [1, 8])
def test_chunk_boundaries(
    client: GenomcoreApiClient, emulator: Emulator, count: int, sizes: list[int], concurrency: int
) -> None:
    rows = [observation(i) for i in range(count)]
    report = client.time_series.create_time_series(
        body=rows, chunksize=CHUNK, max_concurrency=concurrency
    )
    assert [r.inserted for r in report] == sizes
    assert [(c.first_row, c.size) for c in report.chunk_results] == [
        (i * CHUNK, size) for i, size in enumerate(sizes)
    ]
    assert report.chunks == len(sizes)
    assert report.sent == report.stored == count
    assert emulator.state.store.count() == count
    assert emulator.state.status_counts.get(201, 0) == len(sizes)


@pytest.mark.parametrize("bad_batch", [None, ""])
@pytest.mark.parametrize("position", [0, 5, 9])
def test_missing_batch_is_refused_before_sending(
    client: GenomcoreApiClient, emulator: Emulator, bad_batch: str | None, position: int
) -> None:
    rows = [observation(i) for i in range(10)]
    rows[position]["meta"]["batch"] = bad_batch
    with pytest.raises(ObservationValidationError) as caught:
        client.time_series.create_time_series(body=rows, chunksize=3)
    problem = caught.value.problems[0]
    assert problem.index == position
    assert problem.field == "meta.batch"
    assert problem.value == bad_batch
    assert f"row {position}" in str(caught.value)
    assert "batch" in str(caught.value)
    assert emulator.state.store.count() == 0
    assert emulator.state.status_counts == {}


def test_chunksize_above_server_limit_is_refused(client: GenomcoreApiClient) -> None:
    with pytest.raises(ValueError, match="5000"):
        client.time_series.create_time_series(body=[observation()], chunksize=5001)


def test_chunk_details_logs_first_and_last(
    client: GenomcoreApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [observation(i, value=100 + i) for i in range(5)]
    with caplog.at_level("INFO", logger="genomcore_sdk"):
        client.time_series.create_time_series(body=rows, chunksize=3, chunk_details=True)
    chunk_lines = [r.getMessage() for r in caplog.records if "chunk" in r.getMessage()]
    assert len(chunk_lines) == 2
    assert "'value': 100" in chunk_lines[0] and "'value': 102" in chunk_lines[0]
    assert "'value': 103" in chunk_lines[1] and "'value': 104" in chunk_lines[1]
