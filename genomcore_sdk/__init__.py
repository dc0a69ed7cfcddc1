"""genomcore-sdk: the Python SDK of the Genomcore Time Series API.

Examples:
    >>> import os
    >>> from genomcore_sdk import GenomcoreApiClient
    >>> api = GenomcoreApiClient(token=os.getenv("TOKEN"), refresh_token=os.getenv("REFRESH_TOKEN"))
    >>> observations = [
    ...     {"meta": {"userId": 1, "source": "watch", "metric": "steps", "externalId": "W-1",
    ...               "batch": "b1"},
    ...      "point": {"start": "2024-04-01T00:00:00Z", "end": "2024-04-01T00:01:00Z",
    ...                "value": 12}}]
    >>> api.time_series.create_time_series(body=observations, chunksize=300)
    UploadReport(sent=1, stored=1, rejected=0, chunks=1, retries=0, skipped_chunks=0, duration=...)
"""

import logging as _logging

from .client import AsyncGenomcoreApiClient, GenomcoreApiClient
from .deletion import DeleteReport
from .errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DeadlineExceededError,
    DeleteUnverifiedError,
    GenomcoreError,
    InputFormatError,
    InvalidInputError,
    InvalidObservation,
    JournalError,
    ObservationValidationError,
    PaginationError,
    PayloadTooLargeError,
    QueryValidationError,
    RateLimitError,
    ServerError,
    TransportError,
    UnprocessableEntityError,
    UploadError,
)
from .query import TimeSeriesQuery
from .upload import ChunkResult, UploadEvent, UploadReport

__version__ = "0.1.0"

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "ApiTimeoutError",
    "AsyncGenomcoreApiClient",
    "AuthenticationError",
    "BadRequestError",
    "ChunkResult",
    "ConfigurationError",
    "DeadlineExceededError",
    "DeleteReport",
    "DeleteUnverifiedError",
    "GenomcoreApiClient",
    "GenomcoreError",
    "InputFormatError",
    "InvalidInputError",
    "InvalidObservation",
    "JournalError",
    "ObservationValidationError",
    "PaginationError",
    "PayloadTooLargeError",
    "QueryValidationError",
    "RateLimitError",
    "ServerError",
    "TimeSeriesQuery",
    "TransportError",
    "UnprocessableEntityError",
    "UploadError",
    "UploadEvent",
    "UploadReport",
    "__version__",
]

# A library adds no handler but this one (logging HOWTO, "Configuring Logging for a
# Library"): without it Python's last-resort handler would print the SDK's warnings on
# stderr of every script that did not configure logging. Configure logging to see them.
_logging.getLogger("genomcore_sdk").addHandler(_logging.NullHandler())
