"""Pass one in several processes gives exactly what one process gives, or leaves it to one process.

The thresholds are lowered so that small generated files are cut into parts,
and the single-thread check is bypassed (other tests leave emulator threads
behind; the workers fork, read a file and exit, touching no lock). Every
comparison is against the same ``prepare_input`` with ``MAX_PROCESSES = 1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genomcore_sdk import prepare_workers, sources
from genomcore_sdk.errors import InputFormatError, ObservationValidationError
from genomcore_sdk.prepare import PreparedInput, prepare_input
from genomcore_sdk.sources import CsvFileSource
from genomcore_sdk.validation import ObservationEncoder

HEADER = "meta.userId,meta.source,meta.metric,meta.externalId,meta.batch,point.start,point.end,point.value"
ENCODER = ObservationEncoder()
ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "data" / "actigraphy_week.csv"
REAL_SINGLE_THREADED = prepare_workers._single_threaded


def row(number: int) -> str:
    minute, second = divmod(number, 2)
    return (
        f"{number % 7 + 1},wrist,steps,ext-{number},b{number % 3},"
        f"2024-04-01T{minute // 60 % 24:02d}:{minute % 60:02d}:{second * 30:02d}Z,"
        f"2024-04-01T{minute // 60 % 24:02d}:{minute % 60:02d}:{second * 30 + 29:02d}Z,"
        f"{number * 37 % 1000}"
    )


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Parts of 200 bytes, up to 3 processes; returns the part counts of parallel readings."""
    monkeypatch.setattr(prepare_workers, "PART_MIN_BYTES", 200)
    monkeypatch.setattr(prepare_workers, "MAX_PROCESSES", 3)
    monkeypatch.setattr(prepare_workers, "_usable_cpus", lambda: 3)
    monkeypatch.setattr(prepare_workers, "_single_threaded", lambda: True)
    used: list[int] = []
    real = prepare_workers._read_in_processes

    def spy(reading: Any, parts: list[Any], *args: Any) -> bool:
        done = real(reading, parts, *args)
        if done:
            used.append(len(parts))
        return done

    monkeypatch.setattr(prepare_workers, "_read_in_processes", spy)
    return used


def outcome(
    path: Path,
    processes: int,
    *,
    chunksize: int,
    hash_chunks: bool = False,
    on_invalid: str = "stop",
    rejects: Path | None = None,
) -> tuple[Any, ...]:
    """Everything pass one decides: the chunks (all fields), row counts, or the error."""
    saved = prepare_workers.MAX_PROCESSES
    prepare_workers.MAX_PROCESSES = processes
    try:
        prepared: PreparedInput = prepare_input(
            CsvFileSource(path),
            ENCODER,
            chunksize=chunksize,
            on_invalid=on_invalid,
            rejects_path=rejects,
            hash_chunks=hash_chunks,
        )
    except (ObservationValidationError, InputFormatError) as exc:
        return ("error", type(exc).__name__, str(exc))
    finally:
        prepare_workers.MAX_PROCESSES = saved
    try:
        chunks = [
            (c.index, c.body, list(c.rows), c.content_hash, c.first_json, c.last_json)
            for c in prepared.chunks()
        ]
        rejected = rejects.read_bytes() if rejects is not None and rejects.exists() else None
        return (
            type(prepared).__name__,
            prepared.rows,
            prepared.rejected,
            prepared.chunk_hashes,
            chunks,
            rejected,
        )
    finally:
        prepared.close()


def write(path: Path, lines: list[str], *, newline: str = "\n", end: bool = True) -> Path:
    path.write_bytes((newline.join([HEADER, *lines]) + (newline if end else "")).encode())
    return path


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.integers(min_value=1, max_value=120),
    chunksize=st.integers(min_value=1, max_value=40),
    newline=st.sampled_from(["\n", "\r\n"]),
    end=st.booleans(),
    hash_chunks=st.booleans(),
    read_twice=st.booleans(),
)
def test_valid_files_give_the_same_chunks_in_parts(
    tmp_path: Path,
    parallel: list[int],
    monkeypatch: pytest.MonkeyPatch,
    rows: int,
    chunksize: int,
    newline: str,
    end: bool,
    hash_chunks: bool,
    read_twice: bool,
) -> None:
    if read_twice:  # a file larger than READ_ONCE_FILE_BYTES: pass one counts (and hashes)
        monkeypatch.setattr(sources, "READ_ONCE_FILE_BYTES", 0)
    path = write(tmp_path / "in.csv", [row(n) for n in range(rows)], newline=newline, end=end)
    parallel.clear()
    one = outcome(path, 1, chunksize=chunksize, hash_chunks=hash_chunks)
    assert parallel == []
    several = outcome(path, 3, chunksize=chunksize, hash_chunks=hash_chunks)
    assert several == one
    assert one[1] == rows
    size = path.stat().st_size - len(HEADER) - len(newline)
    if size >= 2 * 200 and rows > chunksize:  # room for two parts of whole chunks
        assert parallel and parallel[0] >= 2


def test_the_real_sample_in_parts_matches_one_process(tmp_path: Path, parallel: list[int]) -> None:
    """The real actigraphy week (CRLF or not as shipped), chunks of 1000, with and without hashes."""
    for hash_chunks in (False, True):
        parallel.clear()
        one = outcome(SAMPLE, 1, chunksize=1000, hash_chunks=hash_chunks)
        several = outcome(SAMPLE, 3, chunksize=1000, hash_chunks=hash_chunks)
        assert parallel == [3]
        assert several == one
        assert one[1] == 40316


IRREGULAR = {
    "invalid value": lambda n: row(n).rsplit(",", 1)[0] + ",12.5",
    "missing user": lambda n: "," + row(n).split(",", 1)[1],
    "blank line": lambda n: "",
    "quoted cell": lambda n: row(n).replace("wrist", '"wr,ist"'),
    "short row": lambda n: row(n).rsplit(",", 1)[0],
    "long row": lambda n: row(n) + ",extra",
    "multi-line quoted cell": lambda n: row(n).replace("wrist", '"wr\nist"'),
}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.integers(min_value=30, max_value=100),
    kind=st.sampled_from(sorted(IRREGULAR)),
    where=st.floats(min_value=0, max_value=1),
    chunksize=st.integers(min_value=1, max_value=20),
    on_invalid=st.sampled_from(["stop", "skip"]),
)
def test_an_irregular_row_anywhere_gives_what_one_process_gives(
    tmp_path: Path,
    parallel: list[int],
    rows: int,
    kind: str,
    where: float,
    chunksize: int,
    on_invalid: str,
) -> None:
    """Whatever part holds it, the result (error, rejects file, chunks) is one process's."""
    lines = [row(n) for n in range(rows)]
    at = min(rows - 1, int(where * rows))
    lines[at] = IRREGULAR[kind](at)
    path = write(tmp_path / "in.csv", lines)
    results = []
    for processes in (1, 3):
        rejects = tmp_path / f"rejects-{processes}.csv" if on_invalid == "skip" else None
        results.append(
            outcome(path, processes, chunksize=chunksize, on_invalid=on_invalid, rejects=rejects)
        )
    assert results[0] == results[1]
    if kind == "invalid value" and on_invalid == "stop":
        assert results[0][0] == "error" and f"line {at + 2}" in results[0][2]
    assert parallel == []  # never a parallel result: the file was read by one process


def test_lone_cr_files_are_read_by_one_process(tmp_path: Path, parallel: list[int]) -> None:
    path = write(tmp_path / "in.csv", [row(n) for n in range(60)], newline="\r")
    one = outcome(path, 1, chunksize=7)
    assert outcome(path, 3, chunksize=7) == one
    assert one[1] == 60
    assert parallel == []


@pytest.mark.parametrize("failure", ["dies", "never answers"])
def test_a_failing_worker_leaves_the_file_to_one_process(
    tmp_path: Path, parallel: list[int], monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """A worker that ends without a result, or is stuck (stopped after the patience), costs
    time, never the result: the file is read by one process."""
    path = write(tmp_path / "in.csv", [row(n) for n in range(80)])
    one = outcome(path, 1, chunksize=5)
    monkeypatch.setattr(prepare_workers, "_PATIENCE_SECONDS", 0.5)
    if failure == "dies":
        monkeypatch.setattr(prepare_workers, "_work", lambda *args: os._exit(3))
    else:
        monkeypatch.setattr(prepare_workers, "_work", lambda *args: time.sleep(600))
    started = time.monotonic()
    assert outcome(path, 3, chunksize=5) == one
    assert time.monotonic() - started < 30
    assert parallel == []


@pytest.mark.parametrize(
    ("v2", "v1", "cpus"),
    [
        (None, None, 8),  # no cgroup files: the affinity's 8
        ("max 100000\n", None, 8),  # v2, unlimited
        ("150000 100000\n", None, 1),  # docker --cpus=1.5
        ("400000 100000\n", None, 4),
        ("50000 100000\n", None, 1),  # half a CPU: still one
        (None, ("-1", "100000"), 8),  # v1, unlimited
        (None, ("200000", "100000"), 2),
        ("garbage\n", ("300000", "100000"), 3),  # unreadable v2: v1
    ],
)
def test_cpus_within_a_container_quota(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    v2: str | None,
    v1: tuple[str, str] | None,
    cpus: int,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.setattr(prepare_workers, "_CGROUP_V2_CPU_MAX", str(tmp_path / "cpu.max"))
    monkeypatch.setattr(prepare_workers, "_CGROUP_V1_CPU", str(tmp_path / "v1"))
    if v2 is not None:
        (tmp_path / "cpu.max").write_text(v2)
    if v1 is not None:
        (tmp_path / "v1").mkdir()
        (tmp_path / "v1" / "cpu.cfs_quota_us").write_text(v1[0])
        (tmp_path / "v1" / "cpu.cfs_period_us").write_text(v1[1])
    assert prepare_workers._usable_cpus() == cpus


def test_no_processes_from_a_multi_threaded_process(tmp_path: Path, parallel: list[int]) -> None:
    """The real check: this test's process has the main thread and a running one."""
    import threading

    path = write(tmp_path / "in.csv", [row(n) for n in range(80)])
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        with pytest.MonkeyPatch.context() as patch:  # the real check, not the fixture's
            patch.setattr(prepare_workers, "_single_threaded", REAL_SINGLE_THREADED)
            assert not prepare_workers._can_fork()
            assert outcome(path, 3, chunksize=5)[1] == 80
    finally:
        stop.set()
        thread.join()
    assert parallel == []


def _parts(path: Path, chunksize: int, processes: int) -> Iterator[tuple[int, int, int]]:
    for part in prepare_workers._plan(str(path), len("a,b\n"), chunksize, processes):
        yield part.start, part.stop, part.first_row


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=200),
    chunksize=st.integers(min_value=1, max_value=30),
    processes=st.integers(min_value=2, max_value=5),
    end=st.booleans(),
)
def test_parts_cover_the_rows_and_start_at_whole_chunks(
    tmp_path_factory: pytest.TempPathFactory,
    lengths: list[int],
    chunksize: int,
    processes: int,
    end: bool,
) -> None:
    path = tmp_path_factory.mktemp("plan") / "in.csv"
    lines = ["x" * length for length in lengths]
    path.write_bytes(("\n".join(["a,b", *lines]) + ("\n" if end else "")).encode())
    parts = list(_parts(path, chunksize, processes))
    assert 1 <= len(parts) <= processes
    assert parts[0][0] == len("a,b\n") and parts[-1][1] == path.stat().st_size
    data = path.read_bytes()
    for (start, stop, first_row), following in zip(parts, [*parts[1:], None], strict=True):
        assert data[start - 1 : start] == b"\n"  # each part starts a line
        assert first_row % chunksize == 0
        assert data[len("a,b\n") : start].count(b"\n") == first_row
        if following is not None:
            assert stop == following[0] and following[2] > first_row


def test_a_fresh_process_uploads_a_large_file_in_parts(tmp_path: Path) -> None:
    """End to end: a new interpreter (one thread) uploads two copies of the real week (11 MB:
    two parts, as on a machine with two CPUs) to an emulator in its own process, with a
    journal; the rerun skips every chunk (the parts' hashes are those of one process)."""
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from genomcore_sdk import GenomcoreApiClient, prepare_workers
        from genomcore_sdk.emulator import Emulator

        rows = Path({str(SAMPLE)!r}).read_text(encoding="utf-8-sig").splitlines()
        path = Path({str(tmp_path)!r}) / "two-weeks.csv"
        copy = [line.replace(",actiwatch", ",copy-actiwatch") for line in rows[1:]]
        path.write_text("\\n".join([rows[0], *rows[1:], *copy]) + "\\n", encoding="utf-8")
        print("unflushed-", end="")  # still in the buffer when the workers fork
        seen = []
        real = prepare_workers._read_in_processes
        def spy(reading, parts, *args):
            done = real(reading, parts, *args)
            seen.append((len(parts), done))
            return done
        prepare_workers._read_in_processes = spy
        prepare_workers._usable_cpus = lambda: 2  # as on the project's 2-core machine
        with Emulator(token="t", in_process=False) as emu:
            with GenomcoreApiClient(token="t", base_url=emu.base_url) as api:
                report = api.time_series.create_time_series(body=path, journal=path.with_suffix(".journal"))
                again = api.time_series.create_time_series(body=path, journal=path.with_suffix(".journal"))
                total = api.time_series.count_time_series()
        print(report.stored, again.stored, again.skipped_chunks, total, seen)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("unflushed-") == 1  # the workers did not flush a copy of it
    out = done.stdout.removeprefix("unflushed-").split(maxsplit=4)
    assert out[:4] == ["80632", "0", "81", "80632"], out
    assert out[4].strip() == "[(2, True), (2, True)]"
