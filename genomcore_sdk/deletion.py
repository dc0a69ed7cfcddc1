"""Deleting one user's batch of one metric, and knowing afterwards whether it happened.

The vendor warns that a large deletion may close the connection before the
answer while the server still completes it. :func:`delete_and_verify` turns
that case into an answer: when no answer arrives (the connection closes or
the request times out), it queries how many matching observations remain and
reports it in a :class:`DeleteReport` instead of raising a bare transport error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import attrs
from genomcore_ts_api.models import DeleteRequest, DeleteResult, QueryRequest

from .errors import DeleteUnverifiedError, GenomcoreError, QueryValidationError, TransportError
from .query import TimeSeriesQuery

__all__ = [
    "DELETE_KEYS",
    "DeleteReport",
    "LostAnswerCheck",
    "async_delete_and_verify",
    "check_delete_body",
    "delete_and_verify",
    "remaining_query",
]

logger = logging.getLogger("genomcore_sdk.deletion")

DELETE_KEYS = ("userId", "batch", "metric")
"""The only keys a delete body takes."""

DeleteStatus = Literal["deleted", "verified_deleted", "still_present"]


@attrs.frozen
class DeleteReport:
    """What a delete did.

    Attributes:
        user_id: the ``userId`` deleted.
        batch: the ``batch`` deleted.
        metric: the ``metric`` deleted.
        deleted: how many observations the server deleted, from its answer;
            ``None`` when the answer was lost (``connection_lost``).
        remaining: how many matching observations remain: 0 when the server
            answered (it answers once the deletion is done), else what the
            follow-up query counted.
        connection_lost: no answer arrived (the connection closed or the
            request timed out), so the SDK checked with a query.
        error: the transport failure, when ``connection_lost``.

    ``verified`` tells whether none remain (by the server's answer or by the
    check), ``status`` names the three cases: ``"deleted"`` (answered),
    ``"verified_deleted"`` (no answer, none remain), ``"still_present"``
    (no answer, ``remaining`` observations are still stored; the delete can
    be sent again, it is idempotent).

    Examples:
        >>> report = api.time_series.delete_time_series(
        ...     body={"userId": 1, "batch": "b1", "metric": "steps"})
        >>> report.deleted, report.verified, report.status  # nothing was stored
        (0, True, 'deleted')
    """

    user_id: int
    batch: str
    metric: str
    deleted: int | None
    remaining: int = 0
    connection_lost: bool = False
    error: str | None = None

    @property
    def verified(self) -> bool:
        """Whether it is confirmed that no matching observation remains."""
        return self.remaining == 0

    @property
    def status(self) -> DeleteStatus:
        """``"deleted"``, ``"verified_deleted"`` or ``"still_present"``."""
        if not self.connection_lost:
            return "deleted"
        return "verified_deleted" if self.remaining == 0 else "still_present"

    def to_result(self) -> DeleteResult:
        """The generated ``DeleteResult`` (only when the server's count is known)."""
        if self.deleted is None:
            raise ValueError("the server's answer was lost, so its deleted count is unknown")
        return DeleteResult(deleted=self.deleted)

    def __str__(self) -> str:
        what = f"userId={self.user_id}, batch={self.batch!r}, metric={self.metric!r}"
        if self.status == "deleted":
            return f"deleted {self.deleted} observation(s) of {what}"
        if self.status == "verified_deleted":
            return (
                f"the delete of {what} got no answer ({self.error}); a query found none "
                "remaining: verified deleted"
            )
        return (
            f"the delete of {what} got no answer ({self.error}); {self.remaining} "
            "observation(s) still present: send the delete again (it is idempotent)"
        )


def check_delete_body(body: Mapping[str, Any] | DeleteRequest) -> DeleteRequest:
    """Check a delete body (exactly ``userId``, ``batch``, ``metric``) before sending.

    Raises:
        QueryValidationError: naming the missing or unknown keys, or the bad value.
    """
    if isinstance(body, DeleteRequest):
        body = body.to_dict()
    if not isinstance(body, Mapping):
        raise QueryValidationError(
            "delete_time_series takes a dict {'userId': 1, 'batch': '...', 'metric': '...'}, "
            f"got {type(body).__name__}. Nothing was sent."
        )
    extra = sorted(str(k) for k in body if k not in DELETE_KEYS)
    missing = [k for k in DELETE_KEYS if k not in body]
    if extra or missing:
        raise QueryValidationError(
            "delete_time_series takes exactly userId, batch and metric (the only fields a "
            "delete can select on)"
            + (f"; unknown key(s) {extra}" if extra else "")
            + (f"; missing {missing}" if missing else "")
            + ". Nothing was sent."
        )
    user_id, batch, metric = body["userId"], body["batch"], body["metric"]
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        raise QueryValidationError(
            f"delete_time_series: userId must be an integer, got {type(user_id).__name__} "
            f"{user_id!r}. Nothing was sent."
        )
    for name, value in (("batch", batch), ("metric", metric)):
        if not isinstance(value, str) or not value:
            raise QueryValidationError(
                f"delete_time_series: {name} must be a non-empty string, got {value!r}. "
                "Nothing was sent."
            )
    return DeleteRequest(user_id=user_id, batch=batch, metric=metric)


class LostAnswerCheck:
    """The decisions after a delete got no answer, shared by the sync and async drivers (no I/O).

    It knows the error text to report, when to count again (while observations
    remain and ``verify_timeout`` allows another count), and builds the
    :class:`DeleteReport` or the :class:`~genomcore_sdk.errors.DeleteUnverifiedError`.
    """

    def __init__(
        self,
        request: DeleteRequest,
        lost: TransportError,
        *,
        verify_timeout: float,
        verify_interval: float,
    ) -> None:
        self.request = request
        self.interval = verify_interval
        self.error = str(lost).split(". ")[0].rstrip(".")
        self.where = f"userId={request.user_id}, batch={request.batch!r}, metric={request.metric!r}"
        self._deadline = time.monotonic() + max(0.0, verify_timeout)
        logger.warning(
            "delete of %s got no answer (%s); checking what remains", self.where, self.error
        )

    def count_again(self, remaining: int) -> bool:
        """Whether to wait ``verify_interval`` and count again."""
        return bool(remaining) and time.monotonic() + self.interval <= self._deadline

    def unverified(self, check: GenomcoreError) -> DeleteUnverifiedError:
        """The error to raise when the counting query failed too."""
        return DeleteUnverifiedError(
            f"The delete of {self.where} got no answer ({self.error}), and the query checking "
            f"what remains failed too ({check}). The deletion may or may not have happened: "
            "query again (or send the delete again; it is idempotent) once the API is "
            "reachable."
        )

    def report(self, remaining: int) -> DeleteReport:
        """The report once ``remaining`` observations were counted."""
        request = self.request
        report = DeleteReport(
            request.user_id,
            request.batch,
            request.metric,
            deleted=None,
            remaining=remaining,
            connection_lost=True,
            error=self.error,
        )
        logger.log(logging.WARNING if remaining else logging.INFO, "%s", report)
        return report


def answered(request: DeleteRequest, result: DeleteResult) -> DeleteReport:
    """The report of a delete the server answered."""
    return DeleteReport(request.user_id, request.batch, request.metric, deleted=result.deleted)


def delete_and_verify(
    request: DeleteRequest,
    send: Callable[[DeleteRequest], DeleteResult],
    count_remaining: Callable[[DeleteRequest], int],
    *,
    verify_timeout: float = 0.0,
    verify_interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DeleteReport:
    """Send a delete; if no answer arrives, count what remains and report it.

    Args:
        request: the checked delete body.
        send: sends the delete and returns the server's answer.
        count_remaining: counts the observations still matching ``request``.
        verify_timeout: after a lost answer, keep re-counting every
            ``verify_interval`` seconds for up to this many seconds while
            observations remain (the server may still be deleting); 0 counts once.
        verify_interval: seconds between counts.
        sleep: the waiting function (tests pass a fake).
    """
    try:
        result = send(request)
    except TransportError as exc:
        check = LostAnswerCheck(
            request, exc, verify_timeout=verify_timeout, verify_interval=verify_interval
        )
        try:
            remaining = count_remaining(request)
            while check.count_again(remaining):
                sleep(verify_interval)
                remaining = count_remaining(request)
        except GenomcoreError as failure:
            raise check.unverified(failure) from failure
        return check.report(remaining)
    return answered(request, result)


async def async_delete_and_verify(
    request: DeleteRequest,
    send: Callable[[DeleteRequest], Awaitable[DeleteResult]],
    count_remaining: Callable[[DeleteRequest], Awaitable[int]],
    *,
    verify_timeout: float = 0.0,
    verify_interval: float = 1.0,
) -> DeleteReport:
    """The asyncio twin of :func:`delete_and_verify` (the same decisions, awaited I/O)."""
    try:
        result = await send(request)
    except TransportError as exc:
        check = LostAnswerCheck(
            request, exc, verify_timeout=verify_timeout, verify_interval=verify_interval
        )
        try:
            remaining = await count_remaining(request)
            while check.count_again(remaining):
                await asyncio.sleep(verify_interval)
                remaining = await count_remaining(request)
        except GenomcoreError as failure:
            raise check.unverified(failure) from failure
        return check.report(remaining)
    return answered(request, result)


def remaining_query(request: DeleteRequest) -> QueryRequest:
    """The query counting what a delete of ``request`` leaves."""
    return TimeSeriesQuery(
        user_ids=request.user_id, batches=request.batch, metrics=request.metric
    ).to_request()
