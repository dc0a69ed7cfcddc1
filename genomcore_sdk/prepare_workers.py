"""Pass one of a large CSV file in several processes at once.

Pass one (:mod:`genomcore_sdk.prepare`) is CPU work: the network and the
server wait until every row has been checked. For a UTF-8 CSV file of at least
two parts of :data:`PART_MIN_BYTES`, on Linux, the file's rows are cut into
parts, one per CPU this process may use (its affinity, within a container's
CPU quota; at most :data:`MAX_PROCESSES`), and each part is read,
checked and encoded by a process of its own (forked: nothing is imported or
pickled to start it), this process reading the first part meanwhile. The
result is exactly what one process would produce (the same chunks, bodies,
row numbers and content hashes, so a journal written either way resumes
either way):

* Parts start at a line whose number is a multiple of ``chunksize``, found by
  counting line ends, so every part but the last holds whole chunks.
* A part is read on its own only while it is *regular*: no quote, no lone
  CR, no blank line, no row of another width, no invalid row. Anything else
  (and any error in a worker) abandons the parallel reading, and the file is
  read from its start by this process alone, which words each problem with
  its row and line as usual (so an invalid file costs up to one more partial
  read, never a different result). A worker silent for far longer than this
  process took for its own part is stopped, with the same fallback.

Processes are forked only from a process running a single thread (forking a
multi-threaded process can leave the child waiting forever on a lock another
thread held); otherwise, and on other systems, pass one runs in this process.
The asyncio client's pass one runs in a worker thread, so it is always
read by one process.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import IO, Any

import attrs

from .prepare import (
    PreparedInput,
    SpooledInput,
    _assemble,
    _count_valid,
    content_hash,
    write_spool_record,
)
from .sources import NotSplittable, Reading, _CsvReading
from .validation import RowProblem

__all__ = ["MAX_PROCESSES", "PART_MIN_BYTES", "prepare_in_processes"]

logger = logging.getLogger("genomcore_sdk.prepare_workers")

PART_MIN_BYTES = 4 * 1024 * 1024
"""The smallest part of a file worth a process of its own (a file of rows under
twice this is read by one process)."""

MAX_PROCESSES = 4
"""The most processes reading one file (fewer when fewer CPUs are available to
this process). 1 turns parallel reading off."""


class _Irregular(Exception):
    """A part holds a row that only the sequential reading words properly."""


@attrs.frozen
class _Part:
    start: int  # file offset of its first line
    stop: int  # file offset after its last line
    first_row: int  # rows before it (its first row's number)


@attrs.frozen
class _PartResult:
    rows: int
    chunks: int
    hashes: list[str] | None


Emit = Callable[[bytes, Sequence[int], bytes, bytes], None]


def _irregular(index: int, line: int | None, payload: Any, problem: RowProblem) -> None:
    raise _Irregular(f"row {index}: {problem.message}")


def _read_part(reading: _CsvReading, part: _Part, chunksize: int, emit: Emit | None) -> int:
    """Check (and with ``emit``, encode) one part; return its rows."""
    with reading.range_reading(part.start, part.stop, 1 + part.first_row) as piece:
        if emit is None:
            return _count_valid(piece, chunksize, _irregular)
        rows = 0
        for body, numbers, first, last in _assemble(piece, chunksize, _irregular, part.first_row):
            emit(body, numbers, first, last)
            rows += len(numbers)
        return rows


def _work(
    connection: Connection,
    reading: _CsvReading,
    part: _Part,
    chunksize: int,
    spool_path: str | None,
    hash_chunks: bool,
) -> None:
    """A worker process: read one part, send its :class:`_PartResult` (None when irregular)."""
    result: _PartResult | None = None
    try:
        hashes: list[str] | None = [] if hash_chunks else None
        chunks = 0
        with open(spool_path, "wb") if spool_path else contextlib.nullcontext() as out:

            def emit(body: bytes, numbers: Sequence[int], first: bytes, last: bytes) -> None:
                nonlocal chunks
                if out is not None:
                    write_spool_record(out, body, numbers, first, last)
                if hashes is not None:
                    hashes.append(content_hash(body))
                chunks += 1

            needed = out is not None or hashes is not None
            rows = _read_part(reading, part, chunksize, emit if needed else None)
        result = _PartResult(rows, chunks if needed else -(-rows // chunksize), hashes)
    except BaseException:  # whatever it was (irregular, an error, ^C): the parent reads it all
        result = None
    with contextlib.suppress(BaseException):
        connection.send(result)
        connection.close()
    # Out at once: a normal exit would flush copies of the parent's buffered output
    # (sys.stdout and any open file) and run its exit handlers a second time.
    os._exit(0)


def _usable_cpus() -> int:
    """The CPUs this process may run on, within a container's CPU quota (cgroup v1 or v2)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cpus, int(quota))) if quota is not None else cpus


_CGROUP_V2_CPU_MAX = "/sys/fs/cgroup/cpu.max"
_CGROUP_V1_CPU = "/sys/fs/cgroup/cpu"


def _cgroup_cpu_quota() -> float | None:
    """CPUs' worth of time a container may use (``docker --cpus``), or None when unlimited."""
    try:
        with open(_CGROUP_V2_CPU_MAX, encoding="ascii") as v2:
            quota, period = v2.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open(f"{_CGROUP_V1_CPU}/cpu.cfs_quota_us", encoding="ascii") as v1_quota:
            quota_us = int(v1_quota.read())
        with open(f"{_CGROUP_V1_CPU}/cpu.cfs_period_us", encoding="ascii") as v1_period:
            period_us = int(v1_period.read())
        return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None


def _single_threaded() -> bool:
    """Whether this process runs one thread (C threads included): then forking is safe."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _can_fork() -> bool:
    return (
        sys.platform.startswith("linux")
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon  # a daemon may not start processes
        and _single_threaded()
    )


_PLAN_BLOCK_BYTES = 1024 * 1024


def _plan(path: str, data_start: int, chunksize: int, processes: int) -> list[_Part]:
    """Cut the rows of ``path`` into up to ``processes`` parts of whole chunks (but the last).

    Reads the file once up to the last cut, a block at a time, counting line ends
    (the file is not mapped: its pages would count in this process's memory).
    """
    size = os.path.getsize(path)
    parts: list[_Part] = []
    with open(path, "rb", buffering=0) as handle:
        handle.seek(data_start)
        position, lines = data_start, 0  # where the handle is; line ends before it
        start, rows_before = data_start, 0
        for number in range(1, processes):
            target = data_start + (size - data_start) * number // processes
            while position < target:
                block = handle.read(min(_PLAN_BLOCK_BYTES, target - position))
                if not block:
                    break
                lines += block.count(b"\n")
                position += len(block)
            # the first cut after a line end whose count is a multiple of chunksize
            wanted = (lines // chunksize + 1) * chunksize
            cut = None
            while cut is None:
                block = handle.read(_PLAN_BLOCK_BYTES)
                if not block:
                    break
                found = block.count(b"\n")
                if lines + found < wanted:
                    lines += found
                    position += len(block)
                    continue
                at = -1
                for _ in range(wanted - lines):
                    at = block.index(b"\n", at + 1)
                cut = position + at + 1
                handle.seek(cut)
                position, lines = cut, wanted
            if cut is None or cut >= size:
                break
            parts.append(_Part(start, cut, rows_before))
            start, rows_before = cut, lines
        parts.append(_Part(start, size, rows_before))
    return parts


def prepare_in_processes(
    reading: Reading,
    *,
    chunksize: int,
    hash_chunks: bool,
    make: Callable[[], PreparedInput],
) -> PreparedInput | None:
    """Pass one of ``reading``'s file by several processes (see the module docstring).

    Args:
        reading: the open input, not read yet (left so: the caller reads it
            when this returns None).
        chunksize: observations per chunk.
        hash_chunks: whether every chunk's content hash is needed now.
        make: a new empty :class:`PreparedInput` to fill (a
            :class:`~genomcore_sdk.prepare.SpooledInput` is filled with the
            encoded chunks; any other is given its row count and hashes).

    Returns:
        The filled input, or None when the file is not read in parallel (too
        small, irregular, or processes cannot be used): the caller then reads it.
    """
    if not isinstance(reading, _CsvReading) or reading.data_start is None:
        return None
    try:
        size = os.path.getsize(reading.path)
    except OSError:
        return None
    processes = min(MAX_PROCESSES, _usable_cpus(), (size - reading.data_start) // PART_MIN_BYTES)
    if processes < 2 or not _can_fork():
        return None
    parts = _plan(reading.path, reading.data_start, chunksize, processes)
    if len(parts) < 2:
        return None
    prepared = make()
    try:
        if _read_in_processes(reading, parts, chunksize, hash_chunks, prepared):
            logger.debug("pass one read %s in %d processes", reading.path, len(parts))
            return prepared
    except BaseException:
        prepared.close()
        raise
    prepared.close()
    return None


_PATIENCE_SECONDS = 30.0


def _result(process: Any, receiving: Connection, deadline: float) -> _PartResult | None:
    """A worker's result; None if it ended without one or is still silent at ``deadline``."""
    while not receiving.poll(min(1.0, max(0.0, deadline - time.monotonic()))):
        if not process.is_alive() and not receiving.poll():
            return None  # ended without a word
        if time.monotonic() >= deadline:
            logger.warning("a pass-one worker gave no answer in time; reading the file alone")
            return None
    try:
        result: _PartResult | None = receiving.recv()
    except (EOFError, OSError):  # it died while writing
        return None
    return result


def _read_in_processes(
    reading: _CsvReading,
    parts: list[_Part],
    chunksize: int,
    hash_chunks: bool,
    prepared: PreparedInput,
) -> bool:
    """Fill ``prepared`` from ``parts`` (the first read here); False when a part is irregular."""
    spooled = isinstance(prepared, SpooledInput)
    context = multiprocessing.get_context("fork")
    folder = tempfile.mkdtemp(prefix="genomcore-pass-one-")
    workers: list[tuple[Any, Connection, str | None]] = []
    try:
        for number, part in enumerate(parts[1:], 1):
            receiving, sending = context.Pipe(duplex=False)
            path = os.path.join(folder, f"part-{number}.spool") if spooled else None
            process = context.Process(
                target=_work,
                args=(sending, reading, part, chunksize, path, hash_chunks),
                name=f"genomcore-pass-one-{number}",
                daemon=True,
            )
            process.start()
            sending.close()
            workers.append((process, receiving, path))

        hashes: list[str] | None = [] if hash_chunks and not spooled else None
        emit: Emit | None = None
        if isinstance(prepared, SpooledInput):
            emit = prepared.add
        elif hashes is not None:
            keep = hashes

            def emit(body: bytes, numbers: Sequence[int], first: bytes, last: bytes) -> None:
                keep.append(content_hash(body))

        started = time.monotonic()
        try:
            rows = _read_part(reading, parts[0], chunksize, emit)
        except (_Irregular, NotSplittable, OSError):
            return False  # the reading from the start words it
        if not spooled:
            prepared.rows = rows
        if rows != parts[1].first_row:
            return False

        # A worker's part is about as large as this process's: one that takes far longer
        # is stuck (it should not be, but an upload must not hang on it).
        patience = max(_PATIENCE_SECONDS, 5 * (time.monotonic() - started))
        deadline = time.monotonic() + patience
        for (process, receiving, path), part, following in zip(
            workers, parts[1:], [*parts[2:], None], strict=True
        ):
            result = _result(process, receiving, deadline)
            if result is None:
                return False
            if following is not None and part.first_row + result.rows != following.first_row:
                return False
            if isinstance(prepared, SpooledInput):
                assert path is not None
                spool: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by prepared.close()
                prepared.add_spool(spool, result.chunks, result.rows, result.hashes)
            else:
                prepared.rows += result.rows
                if hashes is not None and result.hashes is not None:
                    hashes.extend(result.hashes)
        if hashes is not None:
            prepared.chunk_hashes = hashes
        return True
    finally:
        for process, receiving, _path in workers:
            if process.is_alive():
                process.terminate()
            process.join()
            receiving.close()
        shutil.rmtree(folder, ignore_errors=True)
