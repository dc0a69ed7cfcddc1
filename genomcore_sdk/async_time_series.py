"""``client.time_series`` of :class:`~genomcore_sdk.client.AsyncGenomcoreApiClient`: awaitable.

The same methods, parameters, defaults and results as
:class:`~genomcore_sdk.time_series.TimeSeries`, with ``await`` (and ``async for``
for :meth:`AsyncTimeSeries.iter_time_series`). Only the I/O differs: checks,
query building, page walking (:class:`~genomcore_sdk.query.PageWalker`), retry
decisions, upload planning and delete verification are the sync client's own code.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
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

from .async_upload import async_upload
from .deletion import DeleteReport, async_delete_and_verify, check_delete_body, remaining_query
from .errors import QueryValidationError
from .query import (
    Instant,
    PageWalker,
    QueryBody,
    SortOrder,
    Strings,
    UserIds,
    check_page_size,
    observations_to_dataframe,
)
from .retry import RetryPolicy
from .time_series import DEFAULT_CHUNKSIZE, query_request_from
from .upload import DEFAULT_MAX_CONCURRENCY, UploadEvent, UploadOptions, UploadReport

if TYPE_CHECKING:
    import pandas as pd

    from .base_client import AsyncBaseClient

__all__ = ["AsyncTimeSeries"]

logger = logging.getLogger("genomcore_sdk.async_time_series")


class AsyncTimeSeries:
    """The Time Series API of the async client: ``async_client.time_series``.

    Every method is the awaitable twin of the :class:`~genomcore_sdk.time_series.TimeSeries`
    method of the same name (see it for the full description of each argument).

    Examples:
        >>> import asyncio, os
        >>> from genomcore_sdk import AsyncGenomcoreApiClient
        >>> async def main() -> int:
        ...     async with AsyncGenomcoreApiClient(token=os.getenv("TOKEN"),
        ...                                        refresh_token=os.getenv("REFRESH_TOKEN"),
        ...                                        base_url=emulator_url) as api:
        ...         return await api.time_series.count_time_series(batches="b1")
        >>> asyncio.run(main())
        0
    """

    def __init__(self, client: AsyncBaseClient) -> None:
        self._client = client

    async def create_time_series(
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
        """Store observations, in chunks of ``chunksize``, losing nothing (awaitable).

        The same arguments, report and errors as the sync
        :meth:`~genomcore_sdk.time_series.TimeSeries.create_time_series`: every
        row is validated first (in a worker thread, so the event loop is not
        blocked), then up to ``max_concurrency`` chunks are sent at once as
        asyncio tasks, each with an ``Idempotency-Key`` that stays the same
        across its retries. ``progress`` is called on the event loop.

        Raises:
            ObservationValidationError: an observation is invalid; nothing was sent.
            InputFormatError: the input cannot be read; nothing was sent.
            JournalError: the journal belongs to another upload; nothing was sent.
            UploadError: some chunks are not stored after their retries.
            ValueError: a parameter is out of range.

        Examples:
            >>> report = await api.time_series.create_time_series(  # doctest: +SKIP
            ...     "week.csv", max_concurrency=8, max_retries=5, journal="week.journal")
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
        return await async_upload(self._client, body, options)

    async def query_time_series(
        self,
        page: int = 0,
        pageSize: int = 500,
        body: QueryBody | None = None,
    ) -> QueryPage:
        """Read one page of observations (see the sync ``query_time_series``).

        Raises:
            QueryValidationError: an invalid body or page; nothing was sent.
        """
        if isinstance(page, bool) or not isinstance(page, int) or page < 0:
            raise QueryValidationError(
                f"page must be an integer from 0, got {page!r}. Nothing was sent."
            )
        return await self._fetch_page(page, check_page_size(pageSize), query_request_from(body))

    async def _fetch_page(self, page: int, page_size: int, request: QueryRequest) -> QueryPage:
        result: QueryPage = await self._client.call(
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
    ) -> AsyncIterator[StoredObservation]:
        """Every matching observation, as an async iterator reading pages lazily.

        Not a coroutine: the query is checked when this is called (raising
        :class:`~genomcore_sdk.errors.QueryValidationError` at once), and pages
        are read as ``async for`` goes (see the sync ``iter_time_series``).

        Examples:
            >>> async def values(api) -> list[int]:  # doctest: +SKIP
            ...     return [obs.point.value async for obs in api.time_series.iter_time_series(
            ...         user_ids=1, metrics="steps", start="2024-04-02", end="2024-04-04")]
        """
        request = query_request_from(
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
        return self._walk(PageWalker(request, size), RetryPolicy(max_retries=max_retries))

    async def _walk(
        self, walker: PageWalker, policy: RetryPolicy
    ) -> AsyncIterator[StoredObservation]:
        while (want := walker.next_request()) is not None:
            async for attempt in policy.async_retrying():
                with attempt:
                    page = await self._fetch_page(want.page, want.page_size, want.body)
            for observation in walker.accept(page):
                yield observation

    async def query_all(
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
        """Every matching observation as a list (see :meth:`iter_time_series`)."""
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
        return [observation async for observation in observations]

    async def to_dataframe(
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
        """Every matching observation as a pandas DataFrame (see the sync ``to_dataframe``)."""
        observations = await self.query_all(
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

    async def count_time_series(
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
        """How many observations match (see the sync ``count_time_series``)."""
        request = query_request_from(
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
        return (await self._fetch_page(0, 1, request)).total

    async def delete_time_series(
        self,
        body: Mapping[str, Any] | DeleteRequest,
        *,
        verify_timeout: float = 0.0,
        verify_interval: float = 1.0,
    ) -> DeleteReport:
        """Delete one ``userId``/``batch``/``metric``, verifying when the answer is lost.

        See the sync ``delete_time_series``: when no answer arrives, a query
        counts what remains and the :class:`~genomcore_sdk.deletion.DeleteReport`
        says ``"verified_deleted"`` or ``"still_present"``.

        Raises:
            QueryValidationError: a bad body; nothing was sent.
            DeleteUnverifiedError: no answer, and the check failed too.
            ApiError: the server refused or failed the delete.
        """
        request = check_delete_body(body)
        return await async_delete_and_verify(
            request,
            self._send_delete,
            self._count_matching,
            verify_timeout=verify_timeout,
            verify_interval=verify_interval,
        )

    async def _send_delete(self, request: DeleteRequest) -> DeleteResult:
        result: DeleteResult = await self._client.call(
            delete_op, "Deleting time series", body=request
        )
        return result

    async def _count_matching(self, request: DeleteRequest) -> int:
        return (await self._fetch_page(0, 1, remaining_query(request))).total
