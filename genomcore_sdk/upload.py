"""Bulk upload that loses nothing: input -> validate/encode -> chunks -> send -> report.

The flow is one way:

1. **Read and validate** (:mod:`genomcore_sdk.sources`, :mod:`genomcore_sdk.validation`,
   :mod:`genomcore_sdk.prepare`): every row is checked before anything is sent;
   pass two reads (or, for one-shot iterators, a spool replays) the rows again,
   encoded straight to JSON bytes, one chunk at a time.
2. **Plan** (:class:`UploadCore`, sans-I/O): hands out one chunk at a time, only
   when the driver has a free slot, skipping chunks the journal lists as stored;
   gives each chunk an ``Idempotency-Key`` that stays the same across its
   retries (and across reruns with a journal); splits a chunk the server
   refused as too large (413) in two; records outcomes, the journal, the
   failed-rows file and progress events; builds the report.
3. **Send** (:class:`ThreadedSender`): up to ``max_concurrency`` chunks in flight
   on the client's one ``httpx.Client``, each retried under
   :class:`~genomcore_sdk.retry.RetryPolicy`.

:class:`UploadCore` does no network I/O and is not thread-aware: every call
comes from one thread (the driver's), which is what lets an asyncio driver
(``AsyncGenomcoreApiClient``) reuse it unchanged:
:class:`~genomcore_sdk.async_upload.AsyncSender` runs the same loop with
``asyncio`` tasks, sends with the async client and ``RetryPolicy.async_retrying``,
and hands its outcomes to the core (:func:`deliver`) from the event loop.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

import attrs
import httpx
import orjson
import tenacity
from genomcore_ts_api.api.time_series import create_time_series as create_op
from genomcore_ts_api.models import CreateResult
from genomcore_ts_api.types import Response as GeneratedResponse

from .errors import (
    ApiConnectionError,
    ApiTimeoutError,
    AuthenticationError,
    ConfigurationError,
    DeadlineExceededError,
    GenomcoreError,
    PayloadTooLargeError,
    TransportError,
    UploadError,
)
from .journal import UploadJournal
from .prepare import PlannedChunk, PreparedInput, content_hash, prepare_input
from .retry import RetryPolicy
from .sources import (
    CsvFileSource,
    LayoutCsvWriter,
    failed_rows_writer,
    open_source,
    to_cells,
)
from .validation import ObservationEncoder
from .wire_schema import observation_schema

if TYPE_CHECKING:
    import datetime

    from .base_client import BaseClient

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "MAX_CHUNKSIZE",
    "ChunkJob",
    "ChunkResult",
    "ChunkStatus",
    "ThreadedSender",
    "UploadCore",
    "UploadEvent",
    "UploadOptions",
    "UploadReport",
    "answered",
    "deliver",
    "sending_what",
    "upload",
    "upload_session",
]

logger = logging.getLogger("genomcore_sdk.upload")

MAX_CHUNKSIZE = 5000
"""The server's limit of observations per create request (``openapi.yaml``)."""

DEFAULT_MAX_CONCURRENCY = 4
"""Chunks in flight by default: enough to keep the server busy while the client encodes."""

MAX_CONCURRENCY = 32
"""The most chunks in flight the SDK allows (the client's connection pool holds 64)."""

ChunkStatus = Literal["stored", "failed", "unknown", "skipped"]
EventKind = Literal["chunk_done", "chunk_retry", "chunk_failed"]


# ---------------------------------------------------------------------- public results


@attrs.frozen
class ChunkResult:
    """What happened to one chunk (or, after a 413 split, to one part of it).

    Attributes:
        index: the chunk's number, from 0, in input order.
        first_row: the input row number (0-based) of its first observation.
        last_row: the input row number of its last observation.
        size: how many observations it holds.
        status: ``"stored"``; ``"failed"`` (certainly not stored: an error answer,
            or never sent); ``"unknown"`` (sent, but the answer was lost: it may be
            stored); ``"skipped"`` (the journal lists it as stored by an earlier run).
        attempts: requests made for it (0 when not sent).
        error: the last error, when not stored.
        inserted: observations the server reported stored.
        part: ``""``, or which half after 413 splits (``"0"``, ``"1"``, ``"10"``, ...).
        idempotency_key: the ``Idempotency-Key`` it was sent with.
    """

    index: int
    first_row: int
    last_row: int
    size: int
    status: ChunkStatus
    attempts: int = 0
    error: BaseException | None = None
    inserted: int = 0
    part: str = ""
    idempotency_key: str = ""
    first_json: bytes = attrs.field(default=b"", repr=False)
    last_json: bytes = attrs.field(default=b"", repr=False)

    @property
    def first_observation(self) -> dict[str, Any] | None:
        """Its first observation, as sent."""
        return orjson.loads(self.first_json) if self.first_json else None

    @property
    def last_observation(self) -> dict[str, Any] | None:
        """Its last observation, as sent."""
        return orjson.loads(self.last_json) if self.last_json else None

    def describe(self) -> str:
        """E.g. ``chunk 3 (rows 3000-3999, 1000 observations)``."""
        part = f" part {self.part}" if self.part else ""
        return (
            f"chunk {self.index}{part} (rows {self.first_row}-{self.last_row}, "
            f"{self.size} observations)"
        )


@attrs.frozen
class UploadEvent:
    """A progress event, passed to ``create_time_series(progress=...)``.

    Attributes:
        kind: ``"chunk_done"`` (stored, or skipped thanks to the journal),
            ``"chunk_retry"`` (an attempt failed; another follows after ``wait`` s)
            or ``"chunk_failed"`` (not stored after its retries, or not sent).
        chunk: the chunk concerned (for ``chunk_retry``, its state so far).
        attempt: the attempt this event is about (1 = the first request).
        error: the failure, for ``chunk_retry`` and ``chunk_failed``.
        wait: seconds until the next attempt (``chunk_retry`` only).
        rows_done: observations of finished chunks so far (stored, skipped or failed).
        rows_total: observations to upload (known once the input is validated).
        chunks_done: chunks finished so far.
        retries: retries so far in the whole upload.

    Examples:
        >>> def show(event: UploadEvent) -> None:
        ...     if event.kind == "chunk_done":
        ...         print(f"{event.rows_done}/{event.rows_total}")
        >>> api.time_series.create_time_series("week.csv", progress=show)  # doctest: +SKIP
    """

    kind: EventKind
    chunk: ChunkResult
    attempt: int
    error: BaseException | None
    rows_done: int
    rows_total: int | None
    chunks_done: int
    retries: int
    wait: float = 0.0


class UploadReport(list[CreateResult]):
    """The per-chunk responses of an upload (as the vendor SDK returns), plus totals.

    It *is* the list of :class:`CreateResult` responses, one per stored chunk
    in chunk order, so ``responses = api.time_series.create_time_series(...)``
    keeps working as documented; the attributes tell the whole story.

    Attributes:
        sent: observations sent to the server (in chunks sent at least once).
        stored: observations the server confirmed as stored in this run (the sum of the
            ``inserted`` answers): inserted now, or by an earlier attempt whose answer
            was lost, which the server answers from its idempotency record (those
            chunks are counted in ``replayed``). Never more than the input holds.
        rejected: rows skipped as invalid (``on_invalid="skip"``).
        rejects_path: the CSV holding the rejected rows and why, if any.
        chunks: requests that stored a chunk (or part of a split chunk).
        retries: retries made in all.
        replayed: chunks the server answered from its idempotency record
            (sent before, e.g. by a run that was killed).
        duration: seconds from the call to its end.
        skipped_chunks: chunks not sent because the journal lists them as stored.
        chunk_results: one :class:`ChunkResult` per chunk (or part), in chunk order.
        upload_id: the id in every chunk's ``Idempotency-Key`` (the journal's, with one).

    Examples:
        >>> report = api.time_series.create_time_series("week.csv")  # doctest: +SKIP
        >>> report.stored, report.chunks, report.retries  # doctest: +SKIP
        (40316, 41, 0)
    """

    def __init__(self, responses: Iterable[CreateResult] = ()) -> None:
        super().__init__(responses)
        self.sent = 0
        self.stored = 0
        self.rejected = 0
        self.rejects_path: str | None = None
        self.chunks = 0
        self.retries = 0
        self.replayed = 0
        self.duration = 0.0
        self.skipped_chunks = 0
        self.chunk_results: list[ChunkResult] = []
        self.upload_id = ""

    def __repr__(self) -> str:
        return (
            f"UploadReport(sent={self.sent}, stored={self.stored}, rejected={self.rejected}, "
            f"chunks={self.chunks}, retries={self.retries}, skipped_chunks={self.skipped_chunks}, "
            + (f"replayed={self.replayed}, " if self.replayed else "")
            + f"duration={self.duration:.2f})"
        )

    @property
    def ok(self) -> bool:
        """Whether every chunk is stored (now or by an earlier run)."""
        return all(r.status in ("stored", "skipped") for r in self.chunk_results)


# ---------------------------------------------------------------------- options


def _chunksize(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_CHUNKSIZE:
        raise ValueError(
            f"chunksize must be an integer from 1 to {MAX_CHUNKSIZE} (the server's limit), "
            f"got {value!r}"
        )


def _non_negative_int(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{attribute.name} must be an integer >= 0, got {value!r}")


def _concurrency(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_CONCURRENCY:
        raise ValueError(
            f"max_concurrency must be an integer from 1 to {MAX_CONCURRENCY}, got {value!r}"
        )


def _on_invalid(instance: Any, attribute: Any, value: Any) -> None:
    if value not in ("stop", "skip"):
        raise ValueError(f"on_invalid must be 'stop' or 'skip', got {value!r}")


def _positive_or_none(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not value > 0):
        raise ValueError(f"{attribute.name} must be a number of seconds > 0, got {value!r}")


def _backoff(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{attribute.name} must be a number of seconds >= 0, got {value!r}")


def _callable_or_none(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and not callable(value):
        raise ValueError(f"progress must be a callable taking an UploadEvent, got {value!r}")


@attrs.frozen
class UploadOptions:
    """Every knob of one upload (see ``TimeSeries.create_time_series`` for their meaning)."""

    chunksize: int = attrs.field(default=1000, validator=_chunksize)
    max_retries: int = attrs.field(default=0, validator=_non_negative_int)
    chunk_details: bool = False
    max_concurrency: int = attrs.field(default=DEFAULT_MAX_CONCURRENCY, validator=_concurrency)
    assume_timezone: str | datetime.tzinfo | None = None
    on_invalid: Literal["stop", "skip"] = attrs.field(default="stop", validator=_on_invalid)
    rejects_path: str | os.PathLike[str] | None = None
    failed_rows_path: str | os.PathLike[str] | None = None
    journal: str | os.PathLike[str] | None = None
    deadline: float | None = attrs.field(default=None, validator=_positive_or_none)
    progress: Callable[[UploadEvent], None] | None = attrs.field(
        default=None, validator=_callable_or_none
    )
    backoff_initial: float = attrs.field(default=0.5, validator=_backoff)
    backoff_max: float = attrs.field(default=30.0, validator=_backoff)


# ---------------------------------------------------------------------- the sans-I/O core


@attrs.frozen
class ChunkJob:
    """One request to make: a chunk (or part of one) with its body and idempotency key."""

    index: int
    part: str
    body: bytes = attrs.field(repr=False)
    rows: Sequence[int] = attrs.field(repr=False)
    key: str
    first_json: bytes = attrs.field(repr=False)
    last_json: bytes = attrs.field(repr=False)

    @property
    def size(self) -> int:
        """Observations in this request."""
        return len(self.rows)

    def observations(self) -> list[Any]:
        """Its observations as sent (decoded from the body)."""
        items: list[Any] = orjson.loads(self.body)
        return items

    def describe(self) -> str:
        """E.g. ``chunk 3 (rows 3000-3999)``."""
        part = f" part {self.part}" if self.part else ""
        return f"chunk {self.index}{part} (rows {self.rows[0]}-{self.rows[-1]})"


@attrs.define
class _OpenChunk:
    content_hash: str
    size: int
    parts_open: int = 1
    inserted: int = 0
    all_stored: bool = True


def may_have_been_processed(exc: BaseException) -> bool:
    """Whether a request that ended in ``exc`` may have reached the server and been processed.

    Failing to connect (or to get a pooled connection) means the request was
    never sent; any other transport failure (connection closed, read timeout)
    may come after the server committed. An HTTP error answer means the server
    did not store the chunk (the API stores all of a request or none of it).
    """
    if isinstance(exc, ApiConnectionError | ApiTimeoutError):
        cause = exc.__cause__
        return not isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return isinstance(exc, TransportError)


def _server_unreachable(exc: BaseException) -> bool:
    return isinstance(exc, TransportError) and not may_have_been_processed(exc)


class UploadCore:
    """The sans-I/O state machine of one upload's send phase (see the module docstring).

    Every method must be called from one thread (the driver's). The driver
    loops: take :meth:`next_job` while it has a free slot, send it (retrying
    under ``policy``), and report with :meth:`on_retry`,
    :meth:`on_stored` or :meth:`on_failed`; at the end :meth:`finish` returns
    the report or raises :class:`~genomcore_sdk.errors.UploadError`.
    """

    def __init__(
        self,
        prepared: PreparedInput,
        options: UploadOptions,
        *,
        journal: UploadJournal | None = None,
        started: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.prepared = prepared
        self.journal = journal
        self.clock = clock
        self.started = clock() if started is None else started
        self.deadline = None if options.deadline is None else self.started + options.deadline
        self.upload_id = journal.upload_id if journal is not None else uuid.uuid4().hex
        self.policy = RetryPolicy(
            max_retries=options.max_retries,
            backoff_initial=options.backoff_initial,
            backoff_max=options.backoff_max,
            deadline=self.deadline,
        )
        self.rows_total: int | None = prepared.rows
        self._planned: Iterator[PlannedChunk] = prepared.chunks()
        self._pending: collections.deque[ChunkJob] = collections.deque()
        self._open: dict[int, _OpenChunk] = {}
        self._results: list[ChunkResult] = []
        self._responses: dict[tuple[int, str], CreateResult] = {}
        self._failed_rows: LayoutCsvWriter | None = None
        self._schema = observation_schema()
        self.aborted: BaseException | None = None
        self.rows_done = 0
        self.chunks_done = 0
        self.retries = 0
        self.replayed = 0
        self.sent = 0
        self.stored = 0
        self.skipped = 0

    # -- planning -----------------------------------------------------------------

    def key_for(self, index: int, part: str, digest: str) -> str:
        """The ``Idempotency-Key`` of a chunk: the same on every retry and journal rerun."""
        return f"gc-{self.upload_id}-{index}-{part or 'all'}-{digest}"

    def next_job(self) -> ChunkJob | None:
        """The next request to make, or None when there is nothing (more) to send now."""
        if self.aborted is not None:
            return None
        if self.deadline is not None and self.clock() >= self.deadline:
            self.abort(
                DeadlineExceededError(
                    f"The upload's deadline ({self.options.deadline} s) passed; "
                    "chunks not yet sent were not sent."
                )
            )
            return None
        if self._pending:
            return self._pending.popleft()
        for planned in self._planned:
            if self.journal is not None and self.journal.is_stored(
                planned.index, planned.content_hash
            ):
                self._skip(planned)
                continue
            job = self._job_of(planned)
            if self.options.chunk_details:
                logger.info(
                    "chunk %d: rows %d-%d, first %s, last %s",
                    planned.index,
                    planned.rows[0],
                    planned.rows[-1],
                    orjson.loads(planned.first_json),
                    orjson.loads(planned.last_json),
                )
            return job
        return None

    def _job_of(self, planned: PlannedChunk) -> ChunkJob:
        self._open[planned.index] = _OpenChunk(planned.content_hash, planned.size)
        return ChunkJob(
            planned.index,
            "",
            planned.body,
            planned.rows,
            self.key_for(planned.index, "", planned.content_hash),
            planned.first_json,
            planned.last_json,
        )

    def _skip(self, planned: PlannedChunk) -> None:
        entry = self.journal.entries[planned.index] if self.journal is not None else None
        result = ChunkResult(
            index=planned.index,
            first_row=planned.rows[0],
            last_row=planned.rows[-1],
            size=planned.size,
            status="skipped",
            inserted=entry.inserted if entry is not None else 0,
            idempotency_key=self.key_for(planned.index, "", planned.content_hash),
            first_json=planned.first_json,
            last_json=planned.last_json,
        )
        self.skipped += 1
        self._record(result)
        self._emit("chunk_done", result, 0, None)

    def abort(self, cause: BaseException) -> None:
        """Stop handing out jobs; what is not sent yet is reported as failed (not sent)."""
        if self.aborted is None:
            self.aborted = cause
            logger.warning("upload stopped: %s; chunks not sent yet will not be sent", cause)

    # -- outcomes -----------------------------------------------------------------

    def on_retry(self, job: ChunkJob, attempt: int, error: BaseException, wait: float) -> None:
        """Attempt ``attempt`` of ``job`` failed with ``error``; the next follows in ``wait`` s."""
        self.retries += 1
        logger.warning(
            "%s: attempt %d failed (%s); retrying in %.2f s",
            job.describe(),
            attempt,
            error,
            wait,
        )
        self._emit("chunk_retry", self._result(job, "failed", attempt, error), attempt, error, wait)

    def on_stored(
        self, job: ChunkJob, result: CreateResult, attempts: int, *, replayed: bool = False
    ) -> None:
        """The server stored ``job`` (``replayed``: answered from its idempotency record)."""
        if replayed:
            self.replayed += 1
        chunk = self._result(job, "stored", attempts, None, inserted=result.inserted)
        self._responses[(job.index, job.part)] = result
        self.sent += job.size
        self.stored += result.inserted
        self._record(chunk)
        self._close_part(job, chunk)
        self._emit("chunk_done", chunk, attempts, None)

    def on_failed(
        self, job: ChunkJob, error: BaseException, attempts: int, *, maybe_processed: bool
    ) -> None:
        """``job`` is not stored after ``attempts`` attempts; the last failed with ``error``.

        ``maybe_processed``: some attempt may have reached the server (see
        :func:`may_have_been_processed`), so the chunk's fate is unknown.
        A 413 on a chunk of more than one observation splits it in two new jobs.
        """
        if isinstance(error, PayloadTooLargeError) and job.size > 1 and not maybe_processed:
            self._split(job)
            return
        if attempts:
            self.sent += job.size
        status: ChunkStatus = "unknown" if maybe_processed else "failed"
        chunk = self._result(job, status, attempts, error)
        if status == "failed":
            self._write_failed(job)
        self._record(chunk)
        self._close_part(job, chunk)
        self._emit("chunk_failed", chunk, attempts, error)
        if isinstance(error, AuthenticationError) or _server_unreachable(error):
            self.abort(error)

    def _split(self, job: ChunkJob) -> None:
        items = job.observations()
        half = len(items) // 2
        parts = []
        for suffix, chosen, rows in (
            ("0", items[:half], job.rows[:half]),
            ("1", items[half:], job.rows[half:]),
        ):
            body = orjson.dumps(chosen)
            part = job.part + suffix
            parts.append(
                ChunkJob(
                    job.index,
                    part,
                    body,
                    rows,
                    self.key_for(job.index, part, content_hash(body)),
                    orjson.dumps(chosen[0]),
                    orjson.dumps(chosen[-1]),
                )
            )
        logger.info(
            "%s was too large for the server (413); splitting it into %d + %d observations",
            job.describe(),
            parts[0].size,
            parts[1].size,
        )
        self._open[job.index].parts_open += 1
        self._pending.extendleft(reversed(parts))

    def _result(
        self,
        job: ChunkJob,
        status: ChunkStatus,
        attempts: int,
        error: BaseException | None,
        *,
        inserted: int = 0,
    ) -> ChunkResult:
        return ChunkResult(
            index=job.index,
            first_row=job.rows[0],
            last_row=job.rows[-1],
            size=job.size,
            status=status,
            attempts=attempts,
            error=error,
            inserted=inserted,
            part=job.part,
            idempotency_key=job.key,
            first_json=job.first_json,
            last_json=job.last_json,
        )

    def _record(self, chunk: ChunkResult) -> None:
        self._results.append(chunk)
        self.rows_done += chunk.size
        self.chunks_done += 1

    def _close_part(self, job: ChunkJob, chunk: ChunkResult) -> None:
        state = self._open.get(job.index)
        if state is None:
            return
        state.parts_open -= 1
        state.inserted += chunk.inserted
        state.all_stored = state.all_stored and chunk.status == "stored"
        if state.parts_open == 0:
            del self._open[job.index]
            if state.all_stored and self.journal is not None:
                self.journal.record(job.index, state.content_hash, state.size, state.inserted)

    def _write_failed(self, job: ChunkJob) -> None:
        if self._failed_rows is None:
            self._failed_rows = failed_rows_writer(self.options.failed_rows_path)
        for observation in job.observations():
            self._failed_rows.write(to_cells(self._schema, observation))
        self._failed_rows.flush()

    def _emit(
        self,
        kind: EventKind,
        chunk: ChunkResult,
        attempt: int,
        error: BaseException | None,
        wait: float = 0.0,
    ) -> None:
        callback = self.options.progress
        if callback is None:
            return
        event = UploadEvent(
            kind=kind,
            chunk=chunk,
            attempt=attempt,
            error=error,
            rows_done=self.rows_done,
            rows_total=self.rows_total,
            chunks_done=self.chunks_done,
            retries=self.retries,
            wait=wait,
        )
        try:
            callback(event)
        except Exception:
            logger.warning(
                "the progress callback raised on a %s event (ignored; the upload goes on)",
                kind,
                exc_info=True,
            )

    # -- the end ------------------------------------------------------------------

    def close(self) -> None:
        """Close the failed-rows file, if open (``finish`` does it; this is for crashes)."""
        if self._failed_rows is not None:
            self._failed_rows.close()

    def _drain_unsent(self) -> None:
        cause = self.aborted
        unsent: list[ChunkJob] = list(self._pending)
        self._pending.clear()
        for job in unsent:
            self._unsent(job, cause)
        for planned in self._planned:
            if self.journal is not None and self.journal.is_stored(
                planned.index, planned.content_hash
            ):
                self._skip(planned)
                continue
            self._unsent(self._job_of(planned), cause)

    def _unsent(self, job: ChunkJob, cause: BaseException | None) -> None:
        chunk = self._result(job, "failed", 0, cause)
        self._write_failed(job)
        self._record(chunk)
        self._close_part(job, chunk)
        self._emit("chunk_failed", chunk, 0, cause)

    def finish(self) -> UploadReport:
        """The report of the whole upload.

        Raises:
            UploadError: some chunks are not stored (failed, unknown or not sent).
        """
        if self.aborted is not None:
            self._drain_unsent()
        failed_path: str | None = None
        if self._failed_rows is not None:
            self._failed_rows.close()
            failed_path = self._failed_rows.path
        elif self.options.failed_rows_path is not None:
            writer = failed_rows_writer(self.options.failed_rows_path)
            writer.clear_stale()  # an old file must not be mistaken for this run's failures
            writer.close()
        results = sorted(self._results, key=lambda r: (r.index, r.part))
        report = UploadReport(
            self._responses[(r.index, r.part)] for r in results if r.status == "stored"
        )
        report.sent = self.sent
        report.stored = self.stored
        report.rejected = self.prepared.rejected
        report.rejects_path = self.prepared.rejects_path
        report.chunks = len(report)
        report.retries = self.retries
        report.replayed = self.replayed
        report.skipped_chunks = self.skipped
        report.chunk_results = results
        report.upload_id = self.upload_id
        report.duration = self.clock() - self.started
        logger.debug("upload finished: %r", report)
        failed = [r for r in results if r.status == "failed"]
        unknown = [r for r in results if r.status == "unknown"]
        if failed or unknown:
            succeeded = [r for r in results if r.status in ("stored", "skipped")]
            raise UploadError(
                self._failure_message(report, failed, unknown, failed_path),
                report=report,
                succeeded=succeeded,
                failed=failed,
                unknown=unknown,
                failed_rows_path=failed_path,
            )
        return report

    def _failure_message(
        self,
        report: UploadReport,
        failed: Sequence[ChunkResult],
        unknown: Sequence[ChunkResult],
        failed_path: str | None,
    ) -> str:
        def listing(chunks: Sequence[ChunkResult]) -> str:
            shown = []
            for r in chunks[:3]:
                error = str(r.error).rstrip(".")  # the listing adds its own punctuation
                why = f": {error}" if r.error is not None and r.attempts else ""
                if r.status == "unknown" and r.error is not None:
                    # the lost answer came earlier; the error shown is the last attempt's
                    why = (
                        f": {r.attempts} attempt(s), at least one without an answer; "
                        f"the last ended with: {error}"
                    )
                if not r.attempts:
                    why = ": not sent"
                shown.append(f"{r.describe()}{why}")
            more = f"; and {len(chunks) - 3} more" if len(chunks) > 3 else ""
            return "; ".join(shown) + more

        same_run = None  # how to rerun with the journal, from Python and from the CLI
        if self.journal is not None:
            path = self.journal.path
            same_run = (
                f"the same call with journal={path!r} (or the same command with --journal {path})"
            )
        stored_rows = sum(r.size for r in report.chunk_results if r.status in ("stored", "skipped"))
        text = (
            f"Upload incomplete: {len(report.chunk_results) - len(failed) - len(unknown)} "
            f"chunk(s) stored ({stored_rows} observations)"
        )
        if self.aborted is not None:
            text += f"; the upload stopped early ({self.aborted})"
        if failed:
            rows = sum(r.size for r in failed)
            text += (
                f". {len(failed)} chunk(s) FAILED, not stored ({rows} observations): "
                f"{listing(failed)}. Their rows are in {failed_path!r}: re-upload that file "
                f"(create_time_series({failed_path!r}), or genomcore ts upload {failed_path}) once "
                "the cause is fixed"
            )
        if unknown:
            rows = sum(r.size for r in unknown)
            text += (
                f". {len(unknown)} chunk(s) UNKNOWN ({rows} observations): sent, but the "
                f"answer was lost, so they may or may not be stored: {listing(unknown)}"
            )
            if same_run is not None:
                text += (
                    f". Rerun {same_run}: it sends only "
                    "what is missing and the server answers already-stored chunks from their "
                    "idempotency keys, without duplicates"
                )
            else:
                text += (
                    ". Query their rows (e.g. by meta.batch and time) before sending them "
                    "again, or use journal=PATH (--journal PATH) next time so a rerun settles them "
                    "safely"
                )
        elif same_run is not None:
            text += f". Or rerun {same_run}"
        return text + "."


# ---------------------------------------------------------------------- the threaded driver


@attrs.frozen
class _Retry:
    job: ChunkJob
    attempt: int
    error: BaseException
    wait: float


@attrs.frozen
class _Stored:
    job: ChunkJob
    result: CreateResult
    attempts: int
    replayed: bool


@attrs.frozen
class _Failed:
    job: ChunkJob
    error: BaseException
    attempts: int
    maybe_processed: bool


@attrs.frozen
class _Crashed:
    job: ChunkJob
    error: BaseException


_Message = _Retry | _Stored | _Failed | _Crashed


class ThreadedSender:
    """Sends an :class:`UploadCore`'s jobs from a pool of threads.

    Worker threads only send (with retries) and post messages; the calling
    thread does all the bookkeeping (core, journal, files, progress callbacks),
    so callbacks run in the caller's thread. A job is taken from the core only
    when fewer than ``max_concurrency`` are in flight, so the input is read
    chunk by chunk as the upload progresses.
    """

    def __init__(self, client: BaseClient, core: UploadCore, max_concurrency: int) -> None:
        self.client = client
        self.core = core
        self.max_concurrency = max_concurrency
        self._cancel = threading.Event()

    def run(self) -> None:
        """Send every job; return when the core has none left and none is in flight."""
        if self.max_concurrency == 1:
            while (job := self.core.next_job()) is not None:
                self._handle(self._send(job, self._handle))
            return
        messages: queue.SimpleQueue[_Message] = queue.SimpleQueue()
        in_flight = 0
        with ThreadPoolExecutor(
            self.max_concurrency, thread_name_prefix="genomcore-upload"
        ) as pool:
            try:
                while True:
                    while in_flight < self.max_concurrency:
                        job = self.core.next_job()
                        if job is None:
                            break
                        pool.submit(self._work, job, messages.put)
                        in_flight += 1
                    if in_flight == 0:
                        return
                    message = messages.get()
                    if not isinstance(message, _Retry):
                        in_flight -= 1
                    self._handle(message)
            except BaseException:
                # Ctrl-C or a bug: stop retrying, let requests in flight end, record them
                self._cancel.set()
                while in_flight:
                    message = messages.get()
                    if not isinstance(message, _Retry):
                        in_flight -= 1
                        if not isinstance(message, _Crashed):
                            try:
                                self._handle(message)
                            except Exception:  # pragma: no cover - already failing
                                logger.debug("ignored while stopping", exc_info=True)
                raise

    def _handle(self, message: _Message) -> bool:
        """Give one message to the core (re-raising a worker's crash); True when it ends a job."""
        return deliver(self.core, message)

    def _work(self, job: ChunkJob, post: Callable[[_Message], Any]) -> None:
        try:
            outcome = self._send(job, post)
        except BaseException as exc:
            outcome = _Crashed(job, exc)
        post(outcome)

    def _send(self, job: ChunkJob, post: Callable[[_Message], Any]) -> _Message:
        attempts = 0
        maybe_processed = False

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            assert error is not None
            post(_Retry(job, state.attempt_number, error, state.upcoming_sleep))

        retrying = self.core.policy.retrying(
            before_sleep=before_sleep, sleep=self._cancel.wait, should_stop=self._cancel.is_set
        )
        what = sending_what(job)
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    try:
                        response = self.client.send_encoded(
                            create_op,
                            what,
                            job.body,
                            placeholder=[],
                            idempotency_key=job.key,
                        )
                    except TransportError as exc:
                        maybe_processed = maybe_processed or may_have_been_processed(exc)
                        raise
        except GenomcoreError as exc:
            return _Failed(job, exc, attempts, maybe_processed)
        return answered(job, response, attempts, maybe_processed)


def deliver(core: UploadCore, message: _Message) -> bool:
    """Give a driver's message to ``core`` (re-raising a crash); True when it ends a job.

    Shared by :class:`ThreadedSender` and the asyncio driver.
    """
    if isinstance(message, _Retry):
        core.on_retry(message.job, message.attempt, message.error, message.wait)
        return False
    if isinstance(message, _Stored):
        core.on_stored(message.job, message.result, message.attempts, replayed=message.replayed)
    elif isinstance(message, _Failed):
        core.on_failed(
            message.job,
            message.error,
            message.attempts,
            maybe_processed=message.maybe_processed,
        )
    else:
        raise message.error
    return True


def sending_what(job: ChunkJob) -> str:
    """How errors about sending ``job`` start, e.g. ``Uploading chunk 3 (rows 3000-3999)``."""
    return f"Uploading {job.describe()}"


def answered(
    job: ChunkJob, response: GeneratedResponse[Any], attempts: int, maybe_processed: bool
) -> _Stored | _Failed:
    """The message for a 2xx answer to ``job`` (stored; replayed from the idempotency record)."""
    result = response.parsed
    if not isinstance(result, CreateResult):  # pragma: no cover - the contract says 201
        return _Failed(
            job,
            GenomcoreError(f"unexpected answer {response.status_code} to {sending_what(job)}"),
            attempts,
            maybe_processed,
        )
    replayed = response.headers.get("idempotent-replayed", "").lower() == "true"
    return _Stored(job, result, attempts, replayed)


# ---------------------------------------------------------------------- entry point


def _same_file(first: str, second: str) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:  # one does not exist yet
        return os.path.realpath(first) == os.path.realpath(second)


def _check_distinct_files(**paths: str | os.PathLike[str] | None) -> None:
    """Refuse an output file that is the input file or another output (before opening any)."""
    given = [(name, os.fspath(path)) for name, path in paths.items() if path is not None]
    for number, (name, path) in enumerate(given):
        for other_name, other in given[number + 1 :]:
            if _same_file(path, other):
                what = "the CSV file being uploaded" if name == "input" else name
                raise ConfigurationError(
                    f"{other_name}={other!r} is {what} ({path!r}): writing it would destroy "
                    f"{'the input' if name == 'input' else 'the other file'}. Give "
                    f"{other_name} a path of its own. Nothing was sent."
                )


@contextlib.contextmanager
def upload_session(body: Any, options: UploadOptions, *, base_url: str) -> Iterator[UploadCore]:
    """Read and validate ``body`` (pass one), open the journal; yield the core ready to send.

    All of it is file and CPU work, no network: the sync :func:`upload` runs it
    inline, the asyncio driver in a worker thread. Leaving the block closes
    the input and the journal.
    """
    started = time.monotonic()
    encoder = ObservationEncoder(assume_timezone=options.assume_timezone)
    source = open_source(body)
    _check_distinct_files(
        input=source.path if isinstance(source, CsvFileSource) else None,
        rejects_path=options.rejects_path,
        failed_rows_path=options.failed_rows_path,
        journal=options.journal,
    )
    prepared = prepare_input(
        source,
        encoder,
        chunksize=options.chunksize,
        on_invalid=options.on_invalid,
        rejects_path=options.rejects_path,
        hash_chunks=options.journal is not None,
    )
    try:
        # opened only once the input is known valid: a refused input leaves no journal behind
        journal = (
            UploadJournal.open(options.journal, chunksize=options.chunksize, base_url=base_url)
            if options.journal is not None
            else None
        )
        try:
            if journal is not None:
                assert prepared.chunk_hashes is not None
                journal.verify(prepared.chunk_hashes)
            core = UploadCore(prepared, options, journal=journal, started=started)
            try:
                yield core
            finally:
                core.close()  # the failed-rows file, if a crash left it open
        finally:
            if journal is not None:
                journal.close()
    finally:
        prepared.close()


def upload(client: BaseClient, body: Any, options: UploadOptions) -> UploadReport:
    """Validate, chunk and send ``body``; return the report (see ``create_time_series``)."""
    with upload_session(body, options, base_url=client.base_url) as core:
        ThreadedSender(client, core, options.max_concurrency).run()
        return core.finish()
