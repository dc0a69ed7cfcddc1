"""genomcore-sdk: the Python SDK of the Genomcore Time Series API.

Example:
    >>> from genomcore_sdk import GenomcoreApiClient
    >>> api = GenomcoreApiClient(token="...", refresh_token="...")  # doctest: +SKIP
    >>> api.time_series.create_time_series(body=observations, chunksize=300)  # doctest: +SKIP
"""

from .client import GenomcoreApiClient
from .deletion import DeleteReport
from .errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DeleteUnverifiedError,
    GenomcoreError,
    InvalidObservation,
    ObservationValidationError,
    PaginationError,
    PayloadTooLargeError,
    QueryValidationError,
    RateLimitError,
    ServerError,
    TransportError,
    UnprocessableEntityError,
)
from .query import TimeSeriesQuery
from .upload import UploadReport

__version__ = "0.1.0"

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "ApiTimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "DeleteReport",
    "DeleteUnverifiedError",
    "GenomcoreApiClient",
    "GenomcoreError",
    "InvalidObservation",
    "ObservationValidationError",
    "PaginationError",
    "PayloadTooLargeError",
    "QueryValidationError",
    "RateLimitError",
    "ServerError",
    "TimeSeriesQuery",
    "TransportError",
    "UnprocessableEntityError",
    "UploadReport",
    "__version__",
]
