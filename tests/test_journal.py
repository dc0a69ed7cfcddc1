"""The resume journal: unit behaviour, reruns, and an upload killed halfway then resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from genomcore_sdk import GenomcoreApiClient, JournalError, UploadError
from genomcore_sdk.emulator import Emulator
from genomcore_sdk.journal import UploadJournal
from tests.conftest import REFRESH, ROOT, TOKEN
from tests.helpers import observation

URL = "http://127.0.0.1:1"


def test_journal_records_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    with UploadJournal.open(path, chunksize=100, base_url=URL) as journal:
        upload_id = journal.upload_id
        journal.record(0, "aa", 100, 100)
        journal.record(2, "cc", 100, 100)
    header = orjson.loads(path.read_bytes().split(b"\n")[0])
    assert header["format"] == "genomcore-upload-journal"
    assert (header["uploadId"], header["chunksize"], header["baseUrl"]) == (upload_id, 100, URL)
    with UploadJournal.open(path, chunksize=100, base_url=URL) as again:
        assert again.upload_id == upload_id
        assert sorted(again.entries) == [0, 2]
        assert again.is_stored(2, "cc") and not again.is_stored(2, "xx")
        assert not again.is_stored(1, "bb")


def test_journal_refuses_another_chunksize_or_server(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    UploadJournal.open(path, chunksize=100, base_url=URL).close()
    with pytest.raises(
        JournalError,
        match=r"chunksize=100, not 200.*Rerun with chunksize=100 \(--chunksize 100 on the command",
    ):
        UploadJournal.open(path, chunksize=200, base_url=URL)
    with pytest.raises(JournalError, match=r"records an upload to 'http://127\.0\.0\.1:1'"):
        UploadJournal.open(path, chunksize=100, base_url="http://elsewhere")


def test_a_file_that_is_not_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("meta.userId,meta.source\n1,x\n")
    with pytest.raises(JournalError, match="is not an upload journal"):
        UploadJournal.open(path, chunksize=100, base_url=URL)
    assert path.read_text() == "meta.userId,meta.source\n1,x\n"


def test_a_torn_last_line_is_ignored_and_a_damaged_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    with UploadJournal.open(path, chunksize=10, base_url=URL) as journal:
        journal.record(0, "aa", 10, 10)
    with path.open("ab") as handle:
        handle.write(b'{"chunk": 1, "hash": "b')  # killed in the middle of a write
    with UploadJournal.open(path, chunksize=10, base_url=URL) as journal:
        assert sorted(journal.entries) == [0]
        journal.record(1, "bb", 10, 10)
    with UploadJournal.open(path, chunksize=10, base_url=URL) as journal:
        assert sorted(journal.entries) == [0, 1]
    lines = path.read_bytes().split(b"\n")
    lines.insert(1, b"garbage")
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalError, match="is damaged at line 2"):
        UploadJournal.open(path, chunksize=10, base_url=URL)


def test_verify_refuses_a_changed_input(tmp_path: Path) -> None:
    with UploadJournal.open(tmp_path / "j", chunksize=10, base_url=URL) as journal:
        journal.record(1, "bb", 10, 10)
        journal.verify(["aa", "bb", "cc"])
        with pytest.raises(JournalError, match=r"chunk 1 \(rows 10-19\) with other contents"):
            journal.verify(["aa", "XX"])
        with pytest.raises(JournalError, match="the input now makes only 1 chunks"):
            journal.verify(["aa"])


def test_rerun_after_success_sends_nothing(
    tmp_path: Path, client: GenomcoreApiClient, emulator: Emulator
) -> None:
    rows = [observation(i) for i in range(35)]
    journal = tmp_path / "up.journal"
    first = client.time_series.create_time_series(rows, chunksize=10, journal=journal)
    assert first.stored == 35 and first.skipped_chunks == 0
    assert emulator.state.status_counts == {201: 4}
    again = client.time_series.create_time_series(rows, chunksize=10, journal=journal)
    assert (again.stored, again.sent, again.skipped_chunks, len(again)) == (0, 0, 4, 0)
    assert [c.status for c in again.chunk_results] == ["skipped"] * 4
    assert [c.inserted for c in again.chunk_results] == [10, 10, 10, 5]
    assert emulator.state.status_counts == {201: 4}
    assert again.upload_id == first.upload_id


def test_a_changed_input_is_refused_before_sending(
    tmp_path: Path, client: GenomcoreApiClient, emulator: Emulator
) -> None:
    rows = [observation(i) for i in range(30)]
    journal = tmp_path / "up.journal"
    client.time_series.create_time_series(rows, chunksize=10, journal=journal)
    rows[15]["point"]["value"] = 999
    with pytest.raises(JournalError, match=r"records chunk 1 .* other contents"):
        client.time_series.create_time_series(rows, chunksize=10, journal=journal)
    with pytest.raises(JournalError, match="chunksize=10, not 5"):
        client.time_series.create_time_series(rows, chunksize=5, journal=journal)
    assert emulator.state.status_counts == {201: 3}


def test_rerun_after_upload_error_sends_only_what_is_missing(
    tmp_path: Path, client: GenomcoreApiClient, emulator: Emulator
) -> None:
    rows = [observation(i) for i in range(60)]
    journal = tmp_path / "up.journal"

    def break_after_two(event: object) -> None:
        if getattr(event, "chunks_done", 0) == 2:
            emulator.set_faults(fail_rate=0.5, drop_rate=0.5, seed=1)

    with pytest.raises(UploadError) as caught:
        client.time_series.create_time_series(
            rows,
            chunksize=10,
            journal=journal,
            max_concurrency=1,
            progress=break_after_two,
        )
    done = len(caught.value.succeeded)
    assert done >= 2 and caught.value.failed + caught.value.unknown
    assert f"journal={str(journal)!r} (or the same command with --journal {journal})" in str(
        caught.value
    )
    emulator.set_faults()
    before = emulator.state.status_counts.get(201, 0)
    report = client.time_series.create_time_series(
        rows, chunksize=10, journal=journal, max_concurrency=1
    )
    assert report.skipped_chunks == done
    assert emulator.state.status_counts[201] - before == 6 - done
    assert report.replayed == len(caught.value.unknown)
    assert emulator.state.store.count() == 60


KILLABLE = """
import sys
from genomcore_sdk import GenomcoreApiClient
base_url, csv_path, journal, token, refresh = sys.argv[1:6]
api = GenomcoreApiClient(token=token, refresh_token=refresh, base_url=base_url)
api.time_series.create_time_series(csv_path, chunksize=500, journal=journal, max_concurrency=2)
print("finished")
"""


def _records(journal: Path) -> int:
    if not journal.exists():
        return 0
    return sum(1 for line in journal.read_bytes().split(b"\n")[1:] if line.endswith(b"}"))


def test_upload_killed_halfway_resumes_without_loss_or_duplicates(
    tmp_path: Path, sample_csv: Path
) -> None:
    journal = tmp_path / "week.journal"
    with Emulator(token=TOKEN, refresh_token=REFRESH) as emu:
        emu.set_faults(delay_ms=80)
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                KILLABLE,
                emu.base_url,
                str(sample_csv),
                str(journal),
                TOKEN,
                REFRESH,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while _records(journal) < 30:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the upload did not progress"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL
        recorded = _records(journal)
        assert 30 <= recorded < 81, "killed halfway, not at the end"
        emu.set_faults()
        time.sleep(0.3)  # let requests of the killed process that were in flight finish
        sent_before = emu.state.status_counts.get(201, 0)
        stored_before = emu.state.store.count()
        assert stored_before < 40_316

        api = GenomcoreApiClient(token=TOKEN, refresh_token=REFRESH, base_url=emu.base_url)
        report = api.time_series.create_time_series(
            sample_csv, chunksize=500, journal=journal, max_concurrency=2
        )
        # only the chunks the journal does not list were sent again
        assert report.skipped_chunks == recorded
        assert emu.state.status_counts[201] - sent_before == 81 - recorded
        assert report.chunks == 81 - recorded
        # chunks stored but not journaled when the process died were replayed, not duplicated
        assert report.replayed == (stored_before - recorded * 500) // 500
        assert emu.state.store.count() == 40_316
        distinct = emu.state.store.count(
            "id IN (SELECT MIN(id) FROM observations GROUP BY metric, ts)"
        )
        assert distinct == 40_316
        assert _records(journal) == 81
        api.close()
