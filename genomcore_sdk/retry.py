"""When and how long to wait before retrying a request.

Only failures worth retrying are retried: no answer at all (connection
errors, timeouts), 408, 429 and 5xx. A 400, 401, 413 or 422 is never
retried: sending the same request again cannot succeed. Waits grow
exponentially with full jitter (a random wait between 0 and the cap of the
attempt) and honour the server's ``Retry-After``. The retry loop itself is
tenacity's.
"""

from __future__ import annotations

import logging
import random
import time

import attrs
import tenacity

from .errors import ApiError, RateLimitError, ServerError, TransportError

__all__ = ["RetryPolicy"]

logger = logging.getLogger("genomcore_sdk.retry")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@attrs.frozen
class RetryPolicy:
    """How many times to retry and how long to wait.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        backoff_initial: the wait cap, in seconds, of the first retry.
        backoff_max: the largest wait cap, in seconds.
        deadline: monotonic time (``time.monotonic()``) after which no retry starts.

    Examples:
        >>> policy = RetryPolicy(max_retries=3)
        >>> policy.is_retryable(ServerError(503, "busy"))
        True
    """

    max_retries: int = 0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    deadline: float | None = None

    def is_retryable(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a failure that a retry may fix."""
        if isinstance(exc, TransportError):
            return True
        if isinstance(exc, ApiError):
            return exc.status_code in RETRYABLE_STATUSES or exc.status_code >= 500
        return False

    def wait_seconds(self, retry_number: int, exc: BaseException | None) -> float:
        """The wait before retry number ``retry_number`` (1-based) after ``exc``."""
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(exc, RateLimitError | ServerError) and retry_after is not None:
            return float(retry_after)
        cap = min(self.backoff_max, self.backoff_initial * (2 ** (retry_number - 1)))
        return random.uniform(0, cap)

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number > self.max_retries:
            return True
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        seconds = self.wait_seconds(state.attempt_number, exc)
        if self.deadline is not None:
            seconds = max(0.0, min(seconds, self.deadline - time.monotonic()))
        return seconds

    def _log(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        logger.warning(
            "attempt %d failed (%s); retrying in %.2f s", state.attempt_number, exc, wait
        )

    def retrying(self) -> tenacity.Retrying:
        """A tenacity ``Retrying`` applying this policy (re-raising the last error)."""
        return tenacity.Retrying(
            stop=self._stop,
            wait=self._wait,
            retry=tenacity.retry_if_exception(self.is_retryable),
            before_sleep=self._log,
            reraise=True,
        )

    def async_retrying(self) -> tenacity.AsyncRetrying:
        """The asyncio twin of :meth:`retrying`."""
        return tenacity.AsyncRetrying(
            stop=self._stop,
            wait=self._wait,
            retry=tenacity.retry_if_exception(self.is_retryable),
            before_sleep=self._log,
            reraise=True,
        )
