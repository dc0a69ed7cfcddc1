"""``client.time_series``: create, query and delete time-series observations.

The three methods keep the vendor SDK's names, parameters and defaults, so a
script written against ``genomcore.client`` runs unchanged.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from genomcore_ts_api.api.time_series import delete_time_series as delete_op
from genomcore_ts_api.api.time_series import query_time_series as query_op
from genomcore_ts_api.models import DeleteRequest, DeleteResult, QueryPage, QueryRequest

from .errors import QueryValidationError
from .upload import DEFAULT_MAX_CONCURRENCY, UploadEvent, UploadOptions, UploadReport, upload

if TYPE_CHECKING:
    from .base_client import BaseClient

__all__ = ["DEFAULT_CHUNKSIZE", "TimeSeries"]

logger = logging.getLogger("genomcore_sdk.time_series")

DEFAULT_CHUNKSIZE = 1000
"""Observations per create request when ``chunksize`` is not given."""


class TimeSeries:
    """The Time Series API: ``client.time_series``.

    Example:
        >>> from genomcore_sdk import GenomcoreApiClient
        >>> api = GenomcoreApiClient(token="t", refresh_token="r", base_url=emulator_url)
        >>> api.time_series.query_time_series(page=0, pageSize=10, body={}).total
        0
    """

    def __init__(self, client: BaseClient) -> None:
        self._client = client

    def create_time_series(
        self,
        body: Any,
        chunksize: int = DEFAULT_CHUNKSIZE,
        max_retries: int = 0,
        chunk_details: bool = False,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        assume_timezone: str | datetime.tzinfo | None = None,
        on_invalid: Literal["stop", "skip"] = "stop",
        rejects_path: str | os.PathLike[str] | None = None,
        failed_rows_path: str | os.PathLike[str] | None = None,
        journal: str | os.PathLike[str] | None = None,
        deadline: float | None = None,
        progress: Callable[[UploadEvent], None] | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
    ) -> UploadReport:
        """Store observations, in chunks of ``chunksize``, losing nothing.

        Every row is read and validated first (see :mod:`genomcore_sdk.validation`),
        so nothing is sent if any row is invalid (``on_invalid="stop"``); then
        the input is read again (files, lists, DataFrames) or replayed from a
        temporary spool (iterators, generators), encoded one chunk at a time, so
        memory stays flat for inputs of any size. Up to ``max_concurrency``
        chunks are sent at a time, each with an ``Idempotency-Key`` that stays
        the same across its retries, so a retried chunk is never stored twice.

        Args:
            body: the observations: a list (or any iterable, generator included)
                of dicts ``{"meta": {...}, "point": {...}}`` or generated
                ``Observation`` models; a CSV file path in the vendor's flattened
                layout (``meta.userId``, ..., ``point.value``; UTF-8 with or
                without BOM, ``,`` ``;`` or tab delimited); or a pandas DataFrame
                with those columns.
            chunksize: observations per request (1 to 5000, the server's limit).
            max_retries: retries of a failed chunk (connection errors, timeouts,
                408, 429 and 5xx only; never 400/401/413/422); 0 disables
                retrying, as in the vendor SDK.
            chunk_details: log (INFO) the first and last observation of each chunk.
            max_concurrency: chunks in flight at once (1 to 32); 1 sends strictly
                one after the other.
            assume_timezone: the IANA zone (e.g. ``"Europe/Madrid"``) of date-times
                written without a UTC offset; without it they are refused.
                Local times that do not exist or are ambiguous in that zone (DST
                changes) are refused too.
            on_invalid: ``"stop"``: refuse the whole upload at the first invalid
                row (nothing sent); ``"skip"``: send the valid rows, write the
                invalid ones to ``rejects_path``.
            rejects_path: the CSV for skipped rows (their original cells, then
                ``row, line, field, reason``); a temporary file when None
                (``report.rejects_path`` names it).
            failed_rows_path: the CSV (vendor layout, ready to re-upload) for the
                rows of chunks that were finally not stored; a temporary file
                when None (the ``UploadError`` names it).
            journal: a resume file: chunks are recorded as they are stored, and
                rerunning the same call skips them (and settles chunks whose
                answer was lost without duplicating them); refused if the input,
                chunksize or server changed.
            deadline: seconds for the whole upload: no chunk and no retry starts
                after it; what is not sent is reported as failed.
            progress: called (in this thread) with an :class:`UploadEvent` for
                each chunk done, retried or failed; its exceptions are logged
                and ignored.
            backoff_initial: the first retry's maximum wait in seconds; it doubles
                per retry (full jitter), up to ``backoff_max``.
            backoff_max: the largest wait between two attempts, unless the server
                asks for longer with ``Retry-After``.

        Returns:
            An :class:`UploadReport`: the list of per-chunk ``CreateResult``
            responses, with ``sent``, ``stored``, ``rejected``, ``rejects_path``,
            ``chunks``, ``retries``, ``duration``, ``skipped_chunks`` and
            ``chunk_results``.

        Raises:
            ObservationValidationError: an observation is invalid (with
                ``on_invalid="stop"``): its row, CSV line, field, value and the
                fix; nothing was sent.
            InputFormatError: the input cannot be read (e.g. a CSV header without
                the vendor's columns); nothing was sent.
            JournalError: the journal belongs to another upload; nothing was sent.
            UploadError: some chunks are not stored after their retries (or
                were not sent after an authentication failure or the deadline):
                it lists the succeeded, failed and unknown chunks and names the
                failed-rows file to re-upload.
            ValueError: a parameter is out of range (e.g. ``chunksize=6000``).

        Example:
            >>> rows = [{"meta": {"userId": 1, "source": "watch", "metric": "steps",
            ...                   "externalId": "W-1", "batch": "b1"},
            ...          "point": {"start": "2024-04-01T00:00:00Z",
            ...                    "end": "2024-04-01T00:01:00Z", "value": 12}}]
            >>> report = api.time_series.create_time_series(body=rows, chunksize=300)
            >>> report.stored
            1
            >>> report = api.time_series.create_time_series(  # doctest: +SKIP
            ...     "week.csv", max_retries=5, journal="week.journal",
            ...     on_invalid="skip", rejects_path="week.rejects.csv")
        """
        options = UploadOptions(
            chunksize=chunksize,
            max_retries=max_retries,
            chunk_details=chunk_details,
            max_concurrency=max_concurrency,
            assume_timezone=assume_timezone,
            on_invalid=on_invalid,
            rejects_path=rejects_path,
            failed_rows_path=failed_rows_path,
            journal=journal,
            deadline=deadline,
            progress=progress,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
        )
        return upload(self._client, body, options)

    def query_time_series(
        self,
        page: int = 0,
        pageSize: int = 500,
        body: Mapping[str, Any] | QueryRequest | None = None,
    ) -> QueryPage:
        """Read one page of observations.

        Args:
            page: the page number, from 0.
            pageSize: observations per page (1 to 5000).
            body: ``{"filter": {...}, "sort": {...}, "beforeDate": ..., "afterDate": ...}``;
                the window is ``beforeDate <= timestamp < afterDate`` (a bare date
                means 00:00 UTC).

        Returns:
            The generated ``QueryPage``: ``data``, ``page``, ``pageSize``, ``total``, ``has_more``.

        Example:
            >>> page = api.time_series.query_time_series(page=0, pageSize=500, body={
            ...     "filter": {"meta.userId": {"$in": [1]}, "meta.batch": {"$in": ["b1"]}},
            ...     "sort": {"timestamp": -1},
            ...     "beforeDate": "2024-04-01", "afterDate": "2024-04-08"})
            >>> [obs.point.value for obs in page.data]
            [12]
        """
        request = (
            body if isinstance(body, QueryRequest) else QueryRequest.from_dict(dict(body or {}))
        )
        result: QueryPage = self._client.call(
            query_op, "Querying time series", body=request, page=page, page_size=pageSize
        )
        return result

    def delete_time_series(self, body: Mapping[str, Any] | DeleteRequest) -> DeleteResult:
        """Delete the observations of one ``userId``, ``batch`` and ``metric``.

        Args:
            body: ``{"userId": 1, "batch": "TestBatch", "metric": "TestMetric"}``;
                no other key is allowed.

        Returns:
            The generated ``DeleteResult`` (``deleted``: how many were deleted).

        Example:
            >>> api.time_series.delete_time_series(
            ...     body={"userId": 1, "batch": "b1", "metric": "steps"}).deleted
            1
        """
        if isinstance(body, DeleteRequest):
            request = body
        else:
            extra = set(body) - {"userId", "batch", "metric"}
            missing = {"userId", "batch", "metric"} - set(body)
            if extra or missing:
                raise QueryValidationError(
                    "delete_time_series takes exactly userId, batch and metric"
                    + (f"; unknown key(s) {sorted(extra)}" if extra else "")
                    + (f"; missing {sorted(missing)}" if missing else "")
                    + ". Nothing was sent."
                )
            request = DeleteRequest.from_dict(body)
        result: DeleteResult = self._client.call(delete_op, "Deleting time series", body=request)
        return result
