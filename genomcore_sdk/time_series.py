"""``client.time_series``: create, query and delete time-series observations.

The three methods keep the vendor SDK's names, parameters and defaults, so a
script written against ``genomcore.client`` runs unchanged.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from genomcore_ts_api.api.time_series import delete_time_series as delete_op
from genomcore_ts_api.api.time_series import query_time_series as query_op
from genomcore_ts_api.models import (
    DeleteRequest,
    DeleteResult,
    QueryPage,
    QueryRequest,
    StoredObservation,
)

from .deletion import DeleteReport, check_delete_body, delete_and_verify, remaining_query
from .errors import QueryValidationError
from .query import (
    Instant,
    PageWalker,
    QueryBody,
    SortOrder,
    Strings,
    TimeSeriesQuery,
    UserIds,
    check_page_size,
    observations_to_dataframe,
    prepare_query,
)
from .retry import RetryPolicy
from .upload import DEFAULT_MAX_CONCURRENCY, UploadEvent, UploadOptions, UploadReport, upload

if TYPE_CHECKING:
    import pandas as pd

    from .base_client import BaseClient


__all__ = ["DEFAULT_CHUNKSIZE", "TimeSeries", "query_request_from"]

logger = logging.getLogger("genomcore_sdk.time_series")

DEFAULT_CHUNKSIZE = 1000
"""Observations per create request when ``chunksize`` is not given."""


def query_request_from(body: QueryBody | None, **criteria: Any) -> QueryRequest:
    """The checked ``QueryRequest`` of a body or of keyword criteria (not both).

    Shared by the sync and async ``time_series`` query methods.

    Raises:
        QueryValidationError: both a body and criteria, or an invalid query.
    """
    given = {name: value for name, value in criteria.items() if value is not None}
    if body is not None and given:
        raise QueryValidationError(
            f"give the query either as body or as keyword arguments, not both (got body "
            f"and {sorted(given)}); TimeSeriesQuery(..., filter=...) combines a raw filter "
            "with the keyword criteria. Nothing was sent."
        )
    if body is None:
        return TimeSeriesQuery(**given).to_request()
    return prepare_query(body)


class TimeSeries:
    """The Time Series API: ``client.time_series``.

    Examples:
        >>> import os
        >>> from genomcore_sdk import GenomcoreApiClient
        >>> api = GenomcoreApiClient(token=os.getenv("TOKEN"),
        ...                          refresh_token=os.getenv("REFRESH_TOKEN"),
        ...                          base_url=emulator_url)
        >>> api.time_series.query_time_series(page=0, pageSize=10, body={}).total
        0
        >>> df = api.time_series.to_dataframe(metrics="activity_counts", start="2015-07-05",
        ...                                   end="2015-07-06")
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
                ``row, line, field, reason, extra_cells``); a temporary file when None
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

        Examples:
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
        body: QueryBody | None = None,
    ) -> QueryPage:
        """Read one page of observations (the vendor call).

        The body is checked before sending (see :func:`~genomcore_sdk.query.prepare_query`).
        To read every page, use :meth:`iter_time_series`, :meth:`query_all` or
        :meth:`to_dataframe`.

        Args:
            page: the page number, from 0.
            pageSize: observations per page (1 to 5000).
            body: ``{"filter": {...}, "sort": {...}, "beforeDate": ..., "afterDate": ...}``;
                the window is ``beforeDate <= timestamp < afterDate`` (a bare date
                means 00:00 UTC). A ``QueryRequest`` or a :class:`TimeSeriesQuery` works too.

        Returns:
            The generated ``QueryPage``: ``data``, ``page``, ``page_size``, ``total``, ``has_more``.

        Raises:
            QueryValidationError: the body uses an unsupported operator or an
                unknown field, a value that can never match, or a bad page; nothing was sent.

        Examples:
            >>> rows = [{"meta": {"userId": 1, "source": "watch", "metric": "steps",
            ...                   "externalId": "W-1", "batch": "b1"},
            ...          "point": {"start": "2024-04-01T00:00:00Z",
            ...                    "end": "2024-04-01T00:01:00Z", "value": 12}}]
            >>> api.time_series.create_time_series(body=rows).stored
            1
            >>> page = api.time_series.query_time_series(page=0, pageSize=500, body={
            ...     "filter": {"meta.userId": {"$in": [1]}, "meta.batch": {"$in": ["b1"]}},
            ...     "sort": {"timestamp": -1},
            ...     "beforeDate": "2024-04-01", "afterDate": "2024-04-08"})
            >>> [obs.point.value for obs in page.data]
            [12]
        """
        if isinstance(page, bool) or not isinstance(page, int) or page < 0:
            raise QueryValidationError(
                f"page must be an integer from 0, got {page!r}. Nothing was sent."
            )
        return self._fetch_page(page, check_page_size(pageSize), prepare_query(body))

    def _fetch_page(self, page: int, page_size: int, request: QueryRequest) -> QueryPage:
        result: QueryPage = self._client.call(
            query_op, "Querying time series", body=request, page=page, page_size=page_size
        )
        return result

    def iter_time_series(
        self,
        body: QueryBody | None = None,
        *,
        user_ids: UserIds | None = None,
        batches: Strings | None = None,
        metrics: Strings | None = None,
        sources: Strings | None = None,
        external_ids: Strings | None = None,
        start: Instant | None = None,
        end: Instant | None = None,
        sort: SortOrder | None = None,
        filter: Mapping[str, Any] | None = None,
        page_size: int = 500,
        pageSize: int | None = None,
        max_retries: int = 0,
    ) -> Iterator[StoredObservation]:
        """Every matching observation, reading pages lazily as the iteration goes.

        Describe the query either with ``body`` (a vendor body dict, a
        ``QueryRequest`` or a :class:`TimeSeriesQuery`) or with the keyword
        arguments (see :class:`TimeSeriesQuery`), not both. Everything is
        checked now, before the first request.

        Pages are read one after another (page 0, 1, ...) in the API's total,
        stable order (``sort``, ties broken by ``id``), so each match comes
        exactly once; iteration stops after the last page (``hasMore`` false
        or an empty page). If the matches change while reading (an upload or
        delete of the same data meanwhile), :class:`~genomcore_sdk.errors.PaginationError`
        is raised rather than skipping or repeating observations.

        Args:
            body: the query as a body; or use the keyword arguments.
            user_ids: ``meta.userId`` value(s).
            batches: ``meta.batch`` value(s).
            metrics: ``meta.metric`` value(s).
            sources: ``meta.source`` value(s).
            external_ids: ``meta.externalId`` value(s).
            start: inclusive lower bound on ``timestamp`` (sent as ``beforeDate``).
            end: exclusive upper bound on ``timestamp`` (sent as ``afterDate``).
            sort: ``"asc"`` (the API's default) or ``"desc"`` (or 1 / -1) on ``timestamp``,
                or a sort object.
            filter: a raw MongoDB-style filter, ANDed with the rest.
            page_size: observations per request (1 to 5000); ``pageSize`` is
                accepted too, as in :meth:`query_time_series`.
            pageSize: the vendor spelling of ``page_size``.
            max_retries: retries of a failed page read (connection errors,
                timeouts, 408, 429, 5xx); reading is idempotent.

        Yields:
            Generated ``StoredObservation`` models.

        Examples:
            >>> rows = [{"meta": {"userId": 1, "source": "watch", "metric": "steps",
            ...                   "externalId": "W-1", "batch": "b1"},
            ...          "point": {"start": f"2024-04-0{day}T00:00:00Z",
            ...                    "end": f"2024-04-0{day}T00:01:00Z", "value": day * 10}}
            ...         for day in range(1, 6)]
            >>> api.time_series.create_time_series(body=rows).stored
            5
            >>> for obs in api.time_series.iter_time_series(
            ...         user_ids=1, metrics="steps", start="2024-04-02", end="2024-04-04", page_size=1):
            ...     print(obs.timestamp.isoformat(), obs.point.value)
            2024-04-02T00:00:00+00:00 20
            2024-04-03T00:00:00+00:00 30
        """
        request = self._request_from(
            body,
            user_ids=user_ids,
            batches=batches,
            metrics=metrics,
            sources=sources,
            external_ids=external_ids,
            start=start,
            end=end,
            sort=sort,
            filter=filter,
        )
        size = check_page_size(pageSize if pageSize is not None else page_size)
        walker = PageWalker(request, size)
        policy = RetryPolicy(max_retries=max_retries)
        return self._walk(walker, policy)

    def _walk(self, walker: PageWalker, policy: RetryPolicy) -> Iterator[StoredObservation]:
        while (want := walker.next_request()) is not None:
            for attempt in policy.retrying():
                with attempt:
                    page = self._fetch_page(want.page, want.page_size, want.body)
            yield from walker.accept(page)

    _request_from = staticmethod(query_request_from)

    def query_all(
        self,
        body: QueryBody | None = None,
        *,
        user_ids: UserIds | None = None,
        batches: Strings | None = None,
        metrics: Strings | None = None,
        sources: Strings | None = None,
        external_ids: Strings | None = None,
        start: Instant | None = None,
        end: Instant | None = None,
        sort: SortOrder | None = None,
        filter: Mapping[str, Any] | None = None,
        page_size: int = 500,
        pageSize: int | None = None,
        max_retries: int = 0,
    ) -> list[StoredObservation]:
        """Every matching observation as a list (see :meth:`iter_time_series` for the arguments).

        Examples:
            >>> rows = [{"meta": {"userId": 1, "source": "watch", "metric": "steps",
            ...                   "externalId": "W-1", "batch": "b1"},
            ...          "point": {"start": f"2024-04-0{day}T00:00:00Z",
            ...                    "end": f"2024-04-0{day}T00:01:00Z", "value": day * 10}}
            ...         for day in range(1, 6)]
            >>> api.time_series.create_time_series(body=rows).stored
            5
            >>> [obs.point.value for obs in api.time_series.query_all(batches="b1", sort="desc")]
            [50, 40, 30, 20, 10]
        """
        return list(
            self.iter_time_series(
                body,
                user_ids=user_ids,
                batches=batches,
                metrics=metrics,
                sources=sources,
                external_ids=external_ids,
                start=start,
                end=end,
                sort=sort,
                filter=filter,
                page_size=page_size,
                pageSize=pageSize,
                max_retries=max_retries,
            )
        )

    def to_dataframe(
        self,
        body: QueryBody | None = None,
        *,
        user_ids: UserIds | None = None,
        batches: Strings | None = None,
        metrics: Strings | None = None,
        sources: Strings | None = None,
        external_ids: Strings | None = None,
        start: Instant | None = None,
        end: Instant | None = None,
        sort: SortOrder | None = None,
        filter: Mapping[str, Any] | None = None,
        page_size: int = 500,
        pageSize: int | None = None,
        max_retries: int = 0,
    ) -> pd.DataFrame:
        """Every matching observation as a pandas DataFrame (needs ``genomcore-sdk[pandas]``).

        One row per observation, columns ``id``, ``timestamp`` and the vendor
        CSV layout (``meta.userId`` ... ``point.value``); ``timestamp``,
        ``point.start`` and ``point.end`` are timezone-aware (UTC) datetime
        columns. See :meth:`iter_time_series` for the arguments and
        :func:`~genomcore_sdk.query.observations_to_dataframe` for the columns.

        Examples:
            >>> rows = [{"meta": {"userId": 1, "source": "watch", "metric": "steps",
            ...                   "externalId": "W-1", "batch": "b1"},
            ...          "point": {"start": f"2024-04-0{day}T00:00:00Z",
            ...                    "end": f"2024-04-0{day}T00:01:00Z", "value": day * 10}}
            ...         for day in range(1, 6)]
            >>> api.time_series.create_time_series(body=rows).stored
            5
            >>> df = api.time_series.to_dataframe(metrics="steps", sort="asc")
            >>> int(df["point.value"].sum()), str(df["timestamp"].dt.tz), len(df)
            (150, 'UTC', 5)
        """
        observations = self.iter_time_series(
            body,
            user_ids=user_ids,
            batches=batches,
            metrics=metrics,
            sources=sources,
            external_ids=external_ids,
            start=start,
            end=end,
            sort=sort,
            filter=filter,
            page_size=page_size,
            pageSize=pageSize,
            max_retries=max_retries,
        )
        return observations_to_dataframe(observations)

    def count_time_series(
        self,
        body: QueryBody | None = None,
        *,
        user_ids: UserIds | None = None,
        batches: Strings | None = None,
        metrics: Strings | None = None,
        sources: Strings | None = None,
        external_ids: Strings | None = None,
        start: Instant | None = None,
        end: Instant | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> int:
        """How many observations match (one request for one observation; uses its ``total``).

        Takes the same query as :meth:`iter_time_series` (a body or keyword criteria).

        Examples:
            >>> rows = [{"meta": {"userId": 1, "source": "watch", "metric": "steps",
            ...                   "externalId": "W-1", "batch": "b1"},
            ...          "point": {"start": f"2024-04-0{day}T00:00:00Z",
            ...                    "end": f"2024-04-0{day}T00:01:00Z", "value": day * 10}}
            ...         for day in range(1, 6)]
            >>> api.time_series.create_time_series(body=rows).stored
            5
            >>> api.time_series.count_time_series(metrics="steps", start="2024-04-02", end="2024-04-04")
            2
        """
        request = self._request_from(
            body,
            user_ids=user_ids,
            batches=batches,
            metrics=metrics,
            sources=sources,
            external_ids=external_ids,
            start=start,
            end=end,
            filter=filter,
        )
        return self._fetch_page(0, 1, request).total

    def delete_time_series(
        self,
        body: Mapping[str, Any] | DeleteRequest,
        *,
        verify_timeout: float = 0.0,
        verify_interval: float = 1.0,
    ) -> DeleteReport:
        """Delete the observations of one ``userId``, ``batch`` and ``metric`` (the vendor call).

        If no answer arrives (the connection closes or the request times out,
        which the vendor warns can happen with a large deletion that still
        succeeds on the server), the SDK counts with a query the observations
        that still match and reports it, instead of raising a transport error.

        Args:
            body: ``{"userId": 1, "batch": "TestBatch", "metric": "TestMetric"}``;
                no other key is allowed (checked before sending).
            verify_timeout: after a lost answer, keep re-counting for up to this
                many seconds while observations remain (the server may still be
                deleting); 0 (default) counts once.
            verify_interval: seconds between those counts.

        Returns:
            A :class:`~genomcore_sdk.deletion.DeleteReport`: ``deleted`` (the
            server's count, as in the generated ``DeleteResult``; None when the
            answer was lost), ``remaining``, ``connection_lost``, ``verified``
            (none remain) and ``status`` (``"deleted"``, ``"verified_deleted"``
            or ``"still_present"``).

        Raises:
            QueryValidationError: a key other than userId, batch and metric, a
                missing key or a bad value; nothing was sent.
            DeleteUnverifiedError: no answer, and the check failed too.
            ApiError: the server refused or failed the delete.

        Examples:
            >>> rows = [{"meta": {"userId": 1, "source": "watch", "metric": "steps",
            ...                   "externalId": "W-1", "batch": "b1"},
            ...          "point": {"start": "2024-04-01T00:00:00Z",
            ...                    "end": "2024-04-01T00:01:00Z", "value": 12}}]
            >>> api.time_series.create_time_series(body=rows).stored
            1
            >>> report = api.time_series.delete_time_series(
            ...     body={"userId": 1, "batch": "b1", "metric": "steps"})
            >>> report.deleted, report.status
            (1, 'deleted')
        """
        request = check_delete_body(body)
        return delete_and_verify(
            request,
            self._send_delete,
            self._count_matching,
            verify_timeout=verify_timeout,
            verify_interval=verify_interval,
        )

    def _send_delete(self, request: DeleteRequest) -> DeleteResult:
        result: DeleteResult = self._client.call(delete_op, "Deleting time series", body=request)
        return result

    def _count_matching(self, request: DeleteRequest) -> int:
        return self._fetch_page(0, 1, remaining_query(request)).total
