"""genomcore-sdk: the Python SDK of the Genomcore Time Series API.

Example:
    >>> from genomcore_sdk import GenomcoreApiClient
    >>> api = GenomcoreApiClient(token="...", refresh_token="...")  # doctest: +SKIP
    >>> api.time_series.create_time_series(body=observations, chunksize=300)  # doctest: +SKIP
"""

from .client import GenomcoreApiClient
from .errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DeadlineExceededError,
    GenomcoreError,
    InputFormatError,
    InvalidInputError,
    InvalidObservation,
    JournalError,
    ObservationValidationError,
    PayloadTooLargeError,
    QueryValidationError,
    RateLimitError,
    ServerError,
    TransportError,
    UnprocessableEntityError,
    UploadError,
)
from .upload import ChunkResult, UploadEvent, UploadReport

__version__ = "0.1.0"

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "ApiTimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ChunkResult",
    "ConfigurationError",
    "DeadlineExceededError",
    "GenomcoreApiClient",
    "GenomcoreError",
    "InputFormatError",
    "InvalidInputError",
    "InvalidObservation",
    "JournalError",
    "ObservationValidationError",
    "PayloadTooLargeError",
    "QueryValidationError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "UnprocessableEntityError",
    "UploadError",
    "UploadEvent",
    "UploadReport",
    "__version__",
]
