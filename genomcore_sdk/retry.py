"""When and how long to wait before retrying a request.

Only failures worth retrying are retried: no answer at all (connection
errors, timeouts), 408, 429 and 5xx. A 400, 401, 413 or 422 is never
retried: sending the same request again cannot succeed. Waits grow
exponentially with full jitter (a random wait between 0 and the cap of the
attempt, the cap doubling from ``backoff_initial`` up to ``backoff_max``) and
honour the server's ``Retry-After`` (up to ``retry_after_max``). With a
``deadline``, no retry starts after it: a retry whose wait would end past the
deadline is not made.

The decisions (:meth:`RetryPolicy.is_retryable`, :meth:`RetryPolicy.wait_seconds`,
:meth:`RetryPolicy.gives_up`) are pure functions, shared by the threaded and
the asyncio upload drivers; the retry loop itself is tenacity's
(:meth:`RetryPolicy.retrying` and :meth:`RetryPolicy.async_retrying`), kept
because it already provides both loops, the hooks and the statistics.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import tenacity

from .errors import ApiError, TransportError

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy"]

logger = logging.getLogger("genomcore_sdk.retry")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

BeforeSleep = Callable[[tenacity.RetryCallState], None]


@attrs.frozen
class RetryPolicy:
    """How many times to retry and how long to wait.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        backoff_initial: the wait cap, in seconds, of the first retry.
        backoff_max: the largest wait cap, in seconds.
        retry_after_max: the longest ``Retry-After`` honoured as given, in seconds;
            a longer one is cut to this.
        deadline: monotonic time (``time.monotonic()``) after which no retry starts.

    Examples:
        >>> from genomcore_sdk.errors import ServerError
        >>> policy = RetryPolicy(max_retries=3)
        >>> policy.is_retryable(ServerError(503, "busy"))
        True
        >>> 0 <= policy.wait_seconds(2, ServerError(500, "boom")) <= 1.0
        True
    """

    max_retries: int = 0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    deadline: float | None = None

    def is_retryable(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a failure that a retry may fix."""
        if isinstance(exc, TransportError):
            return True
        if isinstance(exc, ApiError):
            return exc.status_code in RETRYABLE_STATUSES or exc.status_code >= 500
        return False

    def wait_seconds(self, retry_number: int, exc: BaseException | None) -> float:
        """The wait before retry number ``retry_number`` (1-based) after ``exc``.

        ``Retry-After`` when the server sent one (capped at ``retry_after_max``),
        else a random wait from 0 to ``min(backoff_max, backoff_initial * 2 ** (n - 1))``.
        """
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(exc, ApiError) and retry_after is not None:
            return min(float(retry_after), self.retry_after_max)
        exponent = min(retry_number - 1, 62)
        cap = min(self.backoff_max, self.backoff_initial * (2**exponent))
        return random.uniform(0, cap)

    def gives_up(self, attempts: int, next_wait: float, now: float) -> bool:
        """Whether to stop after ``attempts`` attempts, given the wait the next would need."""
        if attempts > self.max_retries:
            return True
        return self.deadline is not None and now + next_wait >= self.deadline

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return self.wait_seconds(state.attempt_number, exc)

    def _stopper(self, should_stop: Callable[[], bool] | None) -> Callable[..., bool]:
        def stop(state: tenacity.RetryCallState) -> bool:
            if should_stop is not None and should_stop():
                return True
            return self.gives_up(state.attempt_number, state.upcoming_sleep, time.monotonic())

        return stop

    @staticmethod
    def _log(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        logger.warning(
            "attempt %d failed (%s); retrying in %.2f s",
            state.attempt_number,
            exc,
            state.upcoming_sleep,
        )

    def retrying(
        self,
        *,
        before_sleep: BeforeSleep | None = None,
        sleep: Callable[[float], Any] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> tenacity.Retrying:
        """A tenacity ``Retrying`` applying this policy (re-raising the last error).

        Args:
            before_sleep: called before each wait (default: log a warning).
            sleep: the sleep function (e.g. ``threading.Event().wait`` to be cancellable).
            should_stop: checked before each retry; True gives up.
        """
        return tenacity.Retrying(
            stop=self._stopper(should_stop),
            wait=self._wait,
            retry=tenacity.retry_if_exception(self.is_retryable),
            before_sleep=before_sleep or self._log,
            sleep=sleep or time.sleep,
            reraise=True,
        )

    def async_retrying(
        self,
        *,
        before_sleep: BeforeSleep | None = None,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> tenacity.AsyncRetrying:
        """The asyncio twin of :meth:`retrying`."""
        kwargs: dict[str, Any] = {}
        if sleep is not None:
            kwargs["sleep"] = sleep
        return tenacity.AsyncRetrying(
            stop=self._stopper(should_stop),
            wait=self._wait,
            retry=tenacity.retry_if_exception(self.is_retryable),
            before_sleep=before_sleep or self._log,
            reraise=True,
            **kwargs,
        )
