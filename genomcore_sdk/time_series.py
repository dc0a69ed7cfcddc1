"""``client.time_series``: create, query and delete time-series observations.

The three methods keep the vendor SDK's names, parameters and defaults, so a
script written against ``genomcore.client`` runs unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from genomcore_ts_api.api.time_series import delete_time_series as delete_op
from genomcore_ts_api.api.time_series import query_time_series as query_op
from genomcore_ts_api.models import DeleteRequest, DeleteResult, QueryPage, QueryRequest

from .errors import QueryValidationError
from .upload import UploadReport, upload

if TYPE_CHECKING:
    from .base_client import BaseClient

__all__ = ["DEFAULT_CHUNKSIZE", "TimeSeries"]

logger = logging.getLogger("genomcore_sdk.time_series")

DEFAULT_CHUNKSIZE = 1000
"""Observations per create request when ``chunksize`` is not given."""


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
    """

    def __init__(self, client: BaseClient) -> None:
        self._client = client

    def create_time_series(
        self,
        body: Iterable[Any],
        chunksize: int = DEFAULT_CHUNKSIZE,
        max_retries: int = 0,
        chunk_details: bool = False,
    ) -> UploadReport:
        """Store observations, in chunks of ``chunksize``.

        Args:
            body: the observations: dicts ``{"meta": {...}, "point": {...}}`` or
                generated ``Observation`` models.
            chunksize: observations per request (1 to 5000).
            max_retries: retries of a failed chunk (connection errors, timeouts,
                408, 429 and 5xx only); 0 disables retrying, as in the vendor SDK.
            chunk_details: log (INFO) the first and last observation of each chunk.

        Returns:
            An :class:`UploadReport`: the list of per-chunk ``CreateResult``
            responses, with totals (``sent``, ``stored``, ``chunks``, ...).

        Raises:
            ObservationValidationError: an observation has no batch (None or
                empty); nothing was sent.
            ApiError, TransportError: a chunk failed after its retries.

        Examples:
            >>> rows = [{"meta": {"userId": 1, "source": "watch", "metric": "steps",
            ...                   "externalId": "W-1", "batch": "b1"},
            ...          "point": {"start": "2024-04-01T00:00:00Z",
            ...                    "end": "2024-04-01T00:01:00Z", "value": 12}}]
            >>> report = api.time_series.create_time_series(body=rows, chunksize=300)
            >>> report.stored
            1
        """
        return upload(
            self._client,
            body,
            chunksize=chunksize,
            max_retries=max_retries,
            chunk_details=chunk_details,
        )

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

        Examples:
            >>> rows = [{"meta": {"userId": 1, "source": "watch", "metric": "steps",
            ...                   "externalId": "W-1", "batch": "b1"},
            ...          "point": {"start": "2024-04-01T00:00:00Z",
            ...                    "end": "2024-04-01T00:01:00Z", "value": 12}}]
            >>> api.time_series.create_time_series(body=rows).stored
            1
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
