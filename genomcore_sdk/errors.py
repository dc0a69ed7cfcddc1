"""The SDK's exceptions: one hierarchy rooted at :class:`GenomcoreError`.

Every message says what happened and what to do about it. No message, repr or
attribute of an exception ever holds an access or refresh token.

Hierarchy::

    GenomcoreError
    ├── ConfigurationError          the client was set up wrongly (no token, bad URL)
    ├── InvalidInputError           the upload's input cannot be sent (nothing was sent)
    │   ├── ObservationValidationError  client-side validation refused an observation
    │   ├── InputFormatError        the input cannot be read (CSV header, body type)
    │   └── JournalError            the resume journal does not match this upload
    ├── QueryValidationError        a query or delete body the API would refuse (nothing sent)
    ├── PaginationError             the matches changed while reading pages
    ├── TransportError              no HTTP answer at all
    │   ├── ApiConnectionError      connection refused, reset or closed
    │   ├── ApiTimeoutError         the request timed out
    │   └── DeleteUnverifiedError   a delete got no answer and checking what remains failed
    ├── ApiError                    the server answered with an error status
    │   ├── BadRequestError         400
    │   ├── AuthenticationError     401, or a refused token refresh
    │   ├── PayloadTooLargeError    413
    │   ├── UnprocessableEntityError 422
    │   ├── RateLimitError          429
    │   └── ServerError             5xx
    ├── DeadlineExceededError       the upload's deadline passed before every chunk was sent
    └── UploadError                 some chunks of an upload were not stored
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .upload import ChunkResult, UploadReport

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "ApiTimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "DeadlineExceededError",
    "DeleteUnverifiedError",
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
    "TransportError",
    "UnprocessableEntityError",
    "UploadError",
]

RETRIES_ON = "max_retries > 0, or --max-retries N on the command line"
"""How an error's hint names switching retries on, for Python callers and the CLI alike."""


class GenomcoreError(Exception):
    """Base class of every exception this SDK raises on purpose."""


class ConfigurationError(GenomcoreError):
    """The client was set up in a way that cannot work (for example, no token at all)."""


@attrs.frozen
class InvalidObservation:
    """One problem with one input observation.

    Attributes:
        index: 0-based position of the observation in the input.
        line: 1-based line number in the CSV file it was read from, when read from a file.
        field: dotted field name, e.g. ``point.value``.
        value: the offending value as given (``None`` when the field is missing).
        message: what is wrong and how to fix it.
    """

    index: int
    field: str
    value: Any
    message: str
    line: int | None = None

    def describe(self) -> str:
        """One line naming the row, the field, the value and the fix."""
        where = f"row {self.index}"
        if self.line is not None:
            where += f" (line {self.line})"
        return f"{where}, field {self.field!r}, value {self.value!r}: {self.message}"


class InvalidInputError(GenomcoreError, ValueError):
    """The upload's input cannot be sent as it is; nothing was sent.

    The command line answers these with exit status 2.
    """


class InputFormatError(InvalidInputError):
    """The input cannot be read; nothing was sent.

    For example a CSV header without the vendor's columns, an unreadable file,
    or a ``body`` of a type the upload does not take.
    """


class JournalError(InvalidInputError):
    """The resume journal does not belong to this upload, or is damaged; nothing was sent.

    Another input, chunksize or server than the journal's, or a damaged file.
    """


class ObservationValidationError(InvalidInputError):
    """Client-side validation refused one or more observations; nothing was sent.

    Attributes:
        problems: every :class:`InvalidObservation` found (at least one).
    """

    def __init__(self, problems: Sequence[InvalidObservation]) -> None:
        self.problems: list[InvalidObservation] = list(problems)
        first = self.problems[0].describe() if self.problems else "no detail"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"Invalid observation: {first}{more}. Nothing was sent.")


class QueryValidationError(GenomcoreError, ValueError):
    """A query or delete request the API would refuse; it was not sent."""


class PaginationError(GenomcoreError):
    """Reading every page could skip or repeat observations, so it stopped.

    Raised when the number of matches changes between pages or a page repeats
    observations of the page before it: the data changed while it was read.
    Read again once uploads and deletes of the queried data are over.
    """


class TransportError(GenomcoreError):
    """The request got no HTTP answer (connection failed, was closed, or timed out)."""


class ApiConnectionError(TransportError):
    """The connection could not be made, or was closed before an answer arrived."""


class ApiTimeoutError(TransportError):
    """The request timed out before an answer arrived."""


class DeleteUnverifiedError(TransportError):
    """A delete got no answer, and the query to check what remains failed too.

    The deletion may or may not have happened; query the observations (or
    send the delete again: it is idempotent) once the API is reachable.
    """


class ApiError(GenomcoreError):
    """The API answered with an error status.

    Attributes:
        status_code: the HTTP status.
        code: the API's machine-readable error code (``Error.code``), if any.
        message: the API's message, if any.
        request_id: the server's request id, to quote in support requests.
        details: the API's per-problem details (``Error.details``) as dicts.
        body: the raw response body, decoded as text.
    """

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        details: Sequence[Mapping[str, Any]] = (),
        body: str = "",
        hint: str = "",
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details = [dict(d) for d in details]
        self.body = body
        text = f"HTTP {status_code}"
        if code:
            text += f" {code}"
        text += f": {message}"
        if self.details:
            shown = "; ".join(_detail_text(d) for d in self.details[:5])
            more = f" (+{len(self.details) - 5} more)" if len(self.details) > 5 else ""
            text += f" [{shown}{more}]"
        if request_id:
            text += f" (request id {request_id})"
        if hint:
            text += f". {hint}"
        super().__init__(text)


def _detail_text(detail: Mapping[str, Any]) -> str:
    parts = []
    if "index" in detail:
        parts.append(f"item {detail['index']}")
    if "field" in detail:
        parts.append(str(detail["field"]))
    head = " ".join(parts)
    return f"{head}: {detail.get('message', '')}" if head else str(detail.get("message", ""))


class BadRequestError(ApiError):
    """400: the request is malformed (e.g. an unsupported filter operator)."""


class AuthenticationError(ApiError):
    """401, or a refused token refresh: the credentials are not (or no longer) valid."""


class PayloadTooLargeError(ApiError):
    """413: the request body is too large; split it."""


class UnprocessableEntityError(ApiError):
    """422: the body breaks the API's schema; ``details`` lists each problem."""


class RateLimitError(ApiError):
    """429: too many requests.

    Attributes:
        retry_after: seconds the server asked to wait, if it said.
    """

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)


class ServerError(ApiError):
    """5xx: the server failed; retrying later (with the same idempotency key) is safe."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)


class DeadlineExceededError(GenomcoreError, TimeoutError):
    """The upload's ``deadline`` passed: no new chunk and no retry was started after it."""


class UploadError(GenomcoreError):
    """Some chunks of an upload were not stored after their retries.

    Everything else was still tried: the exception is raised at the end, and
    tells exactly what happened to every chunk.

    Attributes:
        report: the :class:`~genomcore_sdk.upload.UploadReport` of the whole upload.
        succeeded: the chunks the server stored (``ChunkResult``, with row ranges).
        failed: the chunks that were certainly not stored (an error answer, or not
            sent at all); their rows are in ``failed_rows_path``.
        unknown: the chunks sent whose answer was lost (connection closed or timed
            out): they may or may not be stored. Rerunning with the same
            ``journal`` settles them without duplicates.
        failed_rows_path: the CSV (vendor layout) holding the rows of ``failed``,
            ready to re-upload; None when no chunk failed.
    """

    def __init__(
        self,
        message: str,
        *,
        report: UploadReport,
        succeeded: Sequence[ChunkResult],
        failed: Sequence[ChunkResult],
        unknown: Sequence[ChunkResult],
        failed_rows_path: str | None,
    ) -> None:
        super().__init__(message)
        self.report = report
        self.succeeded = list(succeeded)
        self.failed = list(failed)
        self.unknown = list(unknown)
        self.failed_rows_path = failed_rows_path
