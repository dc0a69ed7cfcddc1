"""The upload against the real loopback emulator: skip mode, report, progress, failures, 413."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from genomcore_sdk import (
    AuthenticationError,
    DeadlineExceededError,
    GenomcoreApiClient,
    InputFormatError,
    PayloadTooLargeError,
    ServerError,
    UploadError,
    UploadEvent,
)
from genomcore_sdk.emulator import Emulator
from tests.conftest import REFRESH, TOKEN
from tests.helpers import observation
from tests.test_sources import HEADER, row, write_csv

FAST = {"backoff_initial": 0.01, "backoff_max": 0.02}


def stored_rows(emulator: Emulator) -> list[tuple[Any, ...]]:
    """Everything stored, without ids, in a stable order."""
    conn = emulator.state.store._conn
    return conn.execute(
        "SELECT user_id, source, metric, external_id, batch, ts, end_ts, value FROM observations"
        " ORDER BY metric, ts, value"
    ).fetchall()


def read_csv(path: str | Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


# ---------------------------------------------------------------- skip mode


def test_skip_mode_stores_valid_rows_and_writes_rejects_from_a_csv(
    tmp_path: Path, client: GenomcoreApiClient, emulator: Emulator
) -> None:
    rows = [row(i) for i in range(12)]
    rows[3][7] = "12.5"
    rows[8][4] = ""
    rows[10][5] = "2024-04-01T00:10:00"
    path = write_csv(tmp_path / "in.csv", rows, delimiter=";")
    rejects = tmp_path / "rejects.csv"
    report = client.time_series.create_time_series(
        str(path), chunksize=5, on_invalid="skip", rejects_path=rejects
    )
    assert report.stored == report.sent == 9
    assert report.rejected == 3
    assert report.rejects_path == str(rejects)
    assert [r.inserted for r in report] == [5, 4]
    assert [(c.first_row, c.last_row, c.size) for c in report.chunk_results] == [
        (0, 5, 5),
        (6, 11, 4),
    ]
    assert emulator.state.store.count() == 9
    written = read_csv(rejects)
    assert written[0] == [*HEADER, "row", "line", "field", "reason", "extra_cells"]
    assert [r[: len(HEADER)] for r in written[1:]] == [rows[3], rows[8], rows[10]]
    assert [r[len(HEADER) : len(HEADER) + 3] for r in written[1:]] == [
        ["3", "5", "point.value"],
        ["8", "10", "meta.batch"],
        ["10", "12", "point.start"],
    ]
    assert "point.value must be an integer, got '12.5'" in written[1][-2]
    assert "meta.batch is empty" in written[2][-2]
    assert "has no UTC offset" in written[3][-2]
    assert [r[-1] for r in written[1:]] == ["", "", ""]


def test_skip_mode_with_dicts_and_a_temporary_rejects_file(
    client: GenomcoreApiClient, emulator: Emulator
) -> None:
    rows = [observation(i) for i in range(6)]
    rows[2]["point"]["value"] = "7"
    rows[4]["meta"]["extra"] = "x"
    report = client.time_series.create_time_series(rows, on_invalid="skip")
    assert (report.stored, report.rejected) == (4, 2)
    assert report.rejects_path is not None
    try:
        written = read_csv(report.rejects_path)
    finally:
        Path(report.rejects_path).unlink()
    assert written[1][: len(HEADER)] == [
        "1",
        "watch",
        "steps",
        "W-1",
        "batch-1",
        "2024-04-01T00:02:00Z",
        "2024-04-01T00:02:30Z",
        "7",
    ]
    assert written[1][len(HEADER) :][:3] == ["2", "", "point.value"]
    assert written[2][len(HEADER) :][:3] == ["4", "", "meta.extra"]


def test_skip_mode_without_rejects_writes_no_file(client: GenomcoreApiClient) -> None:
    report = client.time_series.create_time_series([observation(0)], on_invalid="skip")
    assert (report.stored, report.rejected, report.rejects_path) == (1, 0, None)


# ---------------------------------------------------------------- report and progress


def test_report_and_progress_events(client: GenomcoreApiClient) -> None:
    events: list[UploadEvent] = []
    rows = [observation(i) for i in range(25)]
    report = client.time_series.create_time_series(
        rows, chunksize=10, max_concurrency=1, progress=events.append
    )
    assert [r.inserted for r in report] == [10, 10, 5]
    assert (report.sent, report.stored, report.chunks, report.retries) == (25, 25, 3, 0)
    assert report.rejected == 0 and report.skipped_chunks == 0 and report.duration > 0
    assert report.ok
    assert [
        (c.index, c.first_row, c.last_row, c.status, c.attempts) for c in report.chunk_results
    ] == [
        (0, 0, 9, "stored", 1),
        (1, 10, 19, "stored", 1),
        (2, 20, 24, "stored", 1),
    ]
    # the observation as sent: already RFC 3339, so exactly as given
    assert report.chunk_results[2].first_observation == rows[20]
    assert [e.kind for e in events] == ["chunk_done"] * 3
    assert [(e.rows_done, e.rows_total, e.chunks_done) for e in events] == [
        (10, 25, 1),
        (20, 25, 2),
        (25, 25, 3),
    ]


def test_a_raising_progress_callback_never_breaks_the_upload(
    client: GenomcoreApiClient, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def explode(event: UploadEvent) -> None:
        calls.append(event.chunks_done)
        raise RuntimeError("drawing failed")

    with caplog.at_level(logging.WARNING, logger="genomcore_sdk"):
        report = client.time_series.create_time_series(
            [observation(i) for i in range(9)], chunksize=3, progress=explode
        )
    assert report.stored == 9 and emulator.state.store.count() == 9
    assert sorted(calls) == [1, 2, 3]
    warnings = [r for r in caplog.records if "progress callback raised" in r.getMessage()]
    assert len(warnings) == 3
    assert warnings[0].exc_info is not None


def test_retry_events_and_warnings_never_show_tokens(
    client: GenomcoreApiClient, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.set_faults(fail_rate=0.5, seed=11)
    events: list[UploadEvent] = []
    with caplog.at_level(logging.DEBUG, logger="genomcore_sdk"):
        report = client.time_series.create_time_series(
            [observation(i) for i in range(40)],
            chunksize=4,
            max_retries=30,
            progress=events.append,
            **FAST,
        )
    retries = [e for e in events if e.kind == "chunk_retry"]
    assert report.retries == len(retries) == sum(emulator.state.faults.injected.values()) > 0
    assert all(isinstance(e.error, ServerError) and e.wait >= 0 for e in retries)
    assert all(e.chunk.attempts == e.attempt for e in retries)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == len(retries)
    assert all("attempt" in w and "retrying in" in w for w in warnings)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in text and REFRESH not in text
    assert emulator.state.store.count() == 40


def test_concurrency_1_and_8_store_the_same(tmp_path: Path, sample_csv: Path) -> None:
    results = []
    for concurrency in (1, 8):
        with Emulator(token=TOKEN, refresh_token=REFRESH) as emu:
            api = GenomcoreApiClient(token=TOKEN, refresh_token=REFRESH, base_url=emu.base_url)
            report = api.time_series.create_time_series(
                sample_csv, chunksize=500, max_concurrency=concurrency
            )
            assert [c.index for c in report.chunk_results] == list(range(81))
            assert [r.inserted for r in report] == [500] * 80 + [316]
            results.append(stored_rows(emu))
            api.close()
    assert len(results[0]) == 40_316
    assert results[0] == results[1]


def test_idempotency_key_is_the_same_across_retries_and_unique_per_chunk(
    emulator: Emulator,
) -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path == "/v1/time-series":
            seen.append(request.headers["idempotency-key"])

    http = httpx.Client(event_hooks={"request": [record]})
    api = GenomcoreApiClient(
        token=TOKEN, refresh_token=REFRESH, base_url=emulator.base_url, http_client=http
    )
    emulator.set_faults(fail_rate=0.3, drop_rate=0.3, seed=5)
    report = api.time_series.create_time_series(
        [observation(i) for i in range(50)], chunksize=5, max_retries=40, **FAST
    )
    keys = [c.idempotency_key for c in report.chunk_results]
    assert len(set(keys)) == 10
    assert sorted(seen) == sorted(
        k for c in report.chunk_results for k in [c.idempotency_key] * c.attempts
    )
    assert len(seen) == 10 + report.retries > 10
    assert emulator.state.store.count() == 50
    http.close()


# ---------------------------------------------------------------- failures


def switch_faults(
    emulator: Emulator, plan: dict[int, dict[str, Any]]
) -> Callable[[UploadEvent], None]:
    """A progress callback that sets the faults for chunk i+1 once chunk i is finished."""

    def on_event(event: UploadEvent) -> None:
        if event.kind != "chunk_retry":
            emulator.set_faults(**plan.get(event.chunk.index + 1, {}))

    emulator.set_faults(**plan.get(0, {}))
    return on_event


def test_failed_and_unknown_chunks_raise_upload_error(
    tmp_path: Path, client: GenomcoreApiClient, emulator: Emulator
) -> None:
    rows = [observation(i) for i in range(50)]
    failed_rows = tmp_path / "failed.csv"
    plan = {2: {"fail_rate": 1.0}, 3: {"drop_rate": 1.0}, 5: {"fail_rate": 1.0}}
    with pytest.raises(UploadError) as caught:
        client.time_series.create_time_series(
            rows,
            chunksize=10,
            max_retries=2,
            max_concurrency=1,
            failed_rows_path=failed_rows,
            progress=switch_faults(emulator, plan),
            **FAST,
        )
    error = caught.value
    assert [c.index for c in error.succeeded] == [0, 1, 4]
    assert [c.index for c in error.failed] == [2]
    assert [c.index for c in error.unknown] == [3]
    assert [(c.first_row, c.last_row, c.attempts) for c in error.failed] == [(20, 29, 3)]
    assert isinstance(error.failed[0].error, ServerError)
    assert error.failed[0].first_observation is not None
    assert error.failed[0].first_observation["point"]["value"] == 20
    assert error.failed[0].last_observation is not None
    assert error.failed[0].last_observation["point"]["value"] == 29
    assert error.unknown[0].attempts == 3
    assert error.failed_rows_path == str(failed_rows)
    message = str(error)
    assert "3 chunk(s) stored (30 observations)" in message
    assert "1 chunk(s) FAILED, not stored (10 observations): chunk 2 (rows 20-29" in message
    assert (
        f"re-upload that file (create_time_series({str(failed_rows)!r}), or genomcore ts "
        f"upload {failed_rows}) once the cause is fixed"
    ) in message
    assert "1 chunk(s) UNKNOWN (10 observations)" in message
    assert "chunk 3 (rows 30-39, 10 observations): 3 attempt(s), at least one without" in message
    # the unknown chunk was committed before its connection dropped (drop after commit)
    assert emulator.state.store.count() == 40
    assert error.report.stored == 30 and not error.report.ok

    written = read_csv(failed_rows)
    assert written[0] == HEADER
    assert [int(r[7]) for r in written[1:]] == list(range(20, 30))
    emulator.set_faults()
    again = client.time_series.create_time_series(str(failed_rows))
    assert again.stored == 10
    assert emulator.state.store.count() == 50
    assert len(set(stored_rows(emulator))) == 50


def test_authentication_failure_stops_the_upload(emulator: Emulator, tmp_path: Path) -> None:
    api = GenomcoreApiClient(token="wrong", refresh_token="also-wrong", base_url=emulator.base_url)
    with pytest.raises(UploadError) as caught:
        api.time_series.create_time_series(
            [observation(i) for i in range(30)],
            chunksize=10,
            max_retries=3,
            max_concurrency=1,
            failed_rows_path=tmp_path / "failed.csv",
        )
    error = caught.value
    assert error.succeeded == [] and error.unknown == []
    assert [(c.index, c.attempts) for c in error.failed] == [(0, 1), (1, 0), (2, 0)]
    assert all(isinstance(c.error, AuthenticationError) for c in error.failed)
    assert "the upload stopped early" in str(error)
    assert "chunk 1 (rows 10-19, 10 observations): not sent" in str(error)
    assert len(read_csv(tmp_path / "failed.csv")) == 31
    assert emulator.state.status_counts == {401: 2}  # one create, one refresh
    assert "wrong" not in str(error)


def test_deadline_stops_new_chunks(emulator: Emulator, client: GenomcoreApiClient) -> None:
    emulator.set_faults(delay_ms=300)
    with pytest.raises(UploadError) as caught:
        client.time_series.create_time_series(
            [observation(i) for i in range(10)], chunksize=1, max_concurrency=1, deadline=0.5
        )
    error = caught.value
    assert error.failed, "chunks after the deadline must not be sent"
    assert all(c.attempts == 0 for c in error.failed)
    assert all(isinstance(c.error, DeadlineExceededError) for c in error.failed)
    assert len(error.succeeded) + len(error.failed) == 10
    assert emulator.state.store.count() == len(error.succeeded)


def test_deadline_stops_retries(emulator: Emulator, client: GenomcoreApiClient) -> None:
    emulator.set_faults(fail_rate=1.0)
    with pytest.raises(UploadError) as caught:
        client.time_series.create_time_series(
            [observation(0)], max_retries=1000, deadline=0.3, backoff_initial=0.02, backoff_max=0.05
        )
    (chunk,) = caught.value.failed
    assert isinstance(chunk.error, ServerError)
    assert 1 < chunk.attempts < 1001


def test_failed_status_needs_retries_on_the_vendor_default(
    client: GenomcoreApiClient, emulator: Emulator
) -> None:
    emulator.set_faults(fail_rate=1.0, seed=3)
    with pytest.raises(UploadError) as caught:
        client.time_series.create_time_series(body=[observation()], chunksize=10)
    (chunk,) = caught.value.failed
    assert chunk.attempts == 1  # max_retries=0, as in the vendor SDK
    assert isinstance(chunk.error, ServerError) and chunk.error.status_code in (500, 503)
    assert emulator.state.store.count() == 0
    path = caught.value.failed_rows_path
    assert path is not None and Path(path).exists()
    Path(path).unlink()


# ---------------------------------------------------------------- 413


def test_payload_too_large_splits_the_chunk(client: GenomcoreApiClient, emulator: Emulator) -> None:
    rows = [observation(i) for i in range(1000)]
    emulator.state.max_body_bytes = 40_000  # about 200 observations per request
    report = client.time_series.create_time_series(rows, chunksize=1000, max_concurrency=2)
    assert report.stored == 1000 and emulator.state.store.count() == 1000
    assert emulator.state.status_counts[413] == 7  # 1000 -> 2x500 -> 4x250 -> 8x125
    assert report.chunks == 8 and len(report) == 8
    assert [(c.index, c.part, c.first_row, c.last_row) for c in report.chunk_results] == [
        (0, f"{a}{b}{c}", start, start + 124)
        for (a, b, c), start in zip(
            [(a, b, c) for a in "01" for b in "01" for c in "01"], range(0, 1000, 125), strict=True
        )
    ]
    assert len({c.idempotency_key for c in report.chunk_results}) == 8
    assert len(set(stored_rows(emulator))) == 1000


def test_a_single_observation_too_large_fails(
    client: GenomcoreApiClient, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.state.max_body_bytes = 100
    with pytest.raises(UploadError) as caught:
        client.time_series.create_time_series(
            [observation(0), observation(1)], failed_rows_path=tmp_path / "f.csv"
        )
    assert [(c.part, c.status) for c in caught.value.failed] == [("0", "failed"), ("1", "failed")]
    assert all(isinstance(c.error, PayloadTooLargeError) for c in caught.value.failed)
    assert len(read_csv(tmp_path / "f.csv")) == 3


def _generator(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield observation(i)


def test_a_generator_is_consumed_lazily_and_fully(
    client: GenomcoreApiClient, emulator: Emulator
) -> None:
    events: list[UploadEvent] = []
    report = client.time_series.create_time_series(
        _generator(2345), chunksize=500, progress=events.append
    )
    assert report.stored == 2345
    assert {e.rows_total for e in events} == {2345}
    assert emulator.state.store.count() == 2345


def test_generator_in_skip_mode_keeps_row_numbers(
    client: GenomcoreApiClient, emulator: Emulator
) -> None:
    def rows() -> Iterator[dict[str, Any]]:
        for i in range(25):
            row = observation(i)
            if i in (3, 4, 11):
                row["meta"]["batch"] = ""
            yield row

    report = client.time_series.create_time_series(
        rows(), chunksize=10, on_invalid="skip", max_concurrency=1
    )
    assert (report.stored, report.rejected) == (22, 3)
    assert [(c.first_row, c.last_row, c.size) for c in report.chunk_results] == [
        (0, 12, 10),
        (13, 22, 10),
        (23, 24, 2),
    ]
    assert report.rejects_path is not None
    assert [r[8] for r in read_csv(report.rejects_path)[1:]] == ["3", "4", "11"]
    Path(report.rejects_path).unlink()
    values = sorted(o.point.value for o in client.time_series.query_time_series().data)
    assert values == [i for i in range(25) if i not in (3, 4, 11)]


def test_input_changed_during_the_upload_stops_it(
    client: GenomcoreApiClient, emulator: Emulator, tmp_path: Path
) -> None:
    rows = [observation(i) for i in range(40)]

    def spoil(event: UploadEvent) -> None:
        rows[25]["point"]["value"] = 1.5

    with pytest.raises(InputFormatError, match="changed while it was being uploaded: row 25"):
        client.time_series.create_time_series(rows, chunksize=10, max_concurrency=1, progress=spoil)
    rows = [observation(i) for i in range(40)]

    def alter(event: UploadEvent) -> None:
        rows[25]["point"]["value"] = 1000

    with pytest.raises(InputFormatError, match=r"\(chunk 2 differs from what was validated\)"):
        client.time_series.create_time_series(
            rows, chunksize=10, max_concurrency=1, progress=alter, journal=tmp_path / "j"
        )


def test_a_csv_file_read_once_or_twice_sends_the_same_chunks(
    emulator: Emulator, sample_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small files are spooled in one read, large ones read twice: the same bytes either way."""
    import genomcore_sdk.sources as sources

    class Recording(httpx.HTTPTransport):
        def __init__(self) -> None:
            super().__init__()
            self.bodies: list[bytes] = []

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and request.url.path == "/v1/time-series":
                self.bodies.append(request.read())
            return super().handle_request(request)

    bodies: dict[str, list[bytes]] = {}
    for way, limit in (("once", sources.READ_ONCE_FILE_BYTES), ("twice", 0)):
        monkeypatch.setattr(sources, "READ_ONCE_FILE_BYTES", limit)
        assert sources.CsvFileSource(sample_csv).read_once is (way == "once")
        transport = Recording()
        with GenomcoreApiClient(
            token=TOKEN, refresh_token=REFRESH, base_url=emulator.base_url, transport=transport
        ) as api:
            report = api.time_series.create_time_series(sample_csv, max_concurrency=1)
            assert report.stored == 40_316
            for metric in ("activity_counts", "sleep_wake"):
                api.time_series.delete_time_series(
                    {"userId": 1, "batch": "actiwatch-2015-07-04", "metric": metric}
                )
        bodies[way] = transport.bodies
    assert len(bodies["once"]) == 41
    assert bodies["once"] == bodies["twice"]


def test_a_csv_file_changed_between_its_two_reads_stops_the_upload(
    client: GenomcoreApiClient,
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import genomcore_sdk.sources as sources

    monkeypatch.setattr(sources, "READ_ONCE_FILE_BYTES", 0)  # read twice
    rows = [
        [
            "1",
            "watch",
            "steps",
            "W-1",
            "b1",
            f"2024-04-01T00:00:{i % 60:02d}Z",
            "2024-04-02T00:00:00Z",
            str(i),
        ]
        for i in range(5000)
    ]
    path = write_csv(tmp_path / "obs.csv", rows)
    spoiled: list[int] = []

    def spoil(event: UploadEvent) -> None:
        if not spoiled:  # the reader holds only the first few kB: change what comes later
            text = path.read_text()
            path.write_text(text.replace(",4500\n", ",45.5\n"))
            spoiled.append(1)

    # the file's modification time tells at the next chunk, before the changed row is read
    with pytest.raises(
        InputFormatError,
        match=r"changed while it was being uploaded \(modified since it was validated\); "
        "chunk 0 was sent",
    ):
        client.time_series.create_time_series(path, max_concurrency=1, progress=spoil)
    assert emulator.state.store.count() == 1000


def test_output_files_appear_only_with_rows_and_old_ones_are_emptied(
    client: GenomcoreApiClient, emulator: Emulator, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "obs.csv", [row(i) for i in range(5)])
    rejects, failed = tmp_path / "rejects.csv", tmp_path / "failed.csv"
    report = client.time_series.create_time_series(
        path, on_invalid="skip", rejects_path=rejects, failed_rows_path=failed
    )
    assert (report.stored, report.rejected, report.rejects_path) == (5, 0, None)
    assert not rejects.exists() and not failed.exists()
    # files left by an earlier run are emptied to their header: no stale row is mistaken
    rejects.write_text("old,rows\n1,2\n")
    failed.write_text("old,rows\n1,2\n")
    report = client.time_series.create_time_series(
        path, on_invalid="skip", rejects_path=rejects, failed_rows_path=failed
    )
    assert report.rejects_path == str(rejects)
    assert read_csv(rejects) == [[*HEADER, "row", "line", "field", "reason", "extra_cells"]]
    assert read_csv(failed) == [HEADER]


def _prepared_twice(body: Any, **options: Any) -> Any:
    from genomcore_sdk.prepare import prepare_input
    from genomcore_sdk.sources import open_source
    from genomcore_sdk.validation import ObservationEncoder

    return prepare_input(open_source(body), ObservationEncoder(), **options)


@pytest.mark.parametrize(
    ("change", "stopped_at"),
    [
        ("newly invalid", 2),  # skip mode: it would have been left out of the rejects file
        ("newly valid", 0),  # skip mode: it is in the rejects file, it must not also be sent
    ],
)
def test_skip_mode_stops_when_a_row_changes_validity_between_the_passes(
    change: str, stopped_at: int
) -> None:
    rows: list[Any] = [observation(i) for i in range(40)]
    rows[3]["point"]["value"] = 1.5  # rejected by pass one
    prepared = _prepared_twice(rows, chunksize=10, on_invalid="skip")
    assert (prepared.rows, prepared.rejected, prepared.rejected_rows) == (39, 1, [3])
    if change == "newly invalid":
        rows[25]["point"]["value"] = "x"
    else:
        rows[3]["point"]["value"] = 3
    chunks = prepared.chunks()
    sent = []
    with pytest.raises(InputFormatError, match=f"chunk {stopped_at} holds other rows") as caught:
        sent.extend(chunk.index for chunk in chunks)
    assert sent == list(range(stopped_at))
    assert "Do not modify the input during an upload" in str(caught.value)
    prepared.close()


def test_a_list_that_shrinks_between_the_passes_is_refused_before_sending() -> None:
    rows = [observation(i) for i in range(40)]
    prepared = _prepared_twice(rows, chunksize=10)
    del rows[-1]
    with pytest.raises(InputFormatError, match=r"modified since it was validated\); nothing was"):
        next(prepared.chunks())


@pytest.mark.parametrize("edit", ["append", "remove", "value"])
def test_a_file_read_twice_and_edited_between_the_passes_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: str
) -> None:
    """Without a journal too: the file's size or modification time tells."""
    import os

    from genomcore_sdk import sources

    monkeypatch.setattr(sources, "READ_ONCE_FILE_BYTES", 0)  # read twice
    path = write_csv(tmp_path / "obs.csv", [row(i) for i in range(30)])
    prepared = _prepared_twice(path, chunksize=10)
    assert prepared.rows == 30
    lines = path.read_text().splitlines(keepends=True)
    if edit == "append":
        lines.append(lines[-1])
    elif edit == "remove":
        del lines[5]
    else:
        lines[5] = lines[5].replace("W-1", "W-2")  # same size: only the time tells
    stat = path.stat()
    path.write_text("".join(lines))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a coarse clock
    with pytest.raises(InputFormatError, match="modified since it was validated"):
        next(prepared.chunks())
    prepared.close()
