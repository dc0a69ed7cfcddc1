"""Retry decisions: what is retried, how long to wait, when to give up; what 'unknown' means."""

from __future__ import annotations

import datetime
import email.utils

import httpx
import pytest

from genomcore_sdk.base_client import api_error_from_response
from genomcore_sdk.errors import (
    ApiConnectionError,
    ApiTimeoutError,
    RateLimitError,
    ServerError,
)
from genomcore_sdk.retry import RetryPolicy
from genomcore_sdk.upload import UploadOptions, may_have_been_processed


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (400, False),
        (401, False),
        (404, False),
        (408, True),
        (413, False),
        (422, False),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (599, True),
    ],
)
def test_only_transient_statuses_are_retried(status: int, retried: bool) -> None:
    error = api_error_from_response(status, b'{"code": "x", "message": "m"}')
    assert RetryPolicy(max_retries=3).is_retryable(error) is retried


def test_transport_errors_are_retried() -> None:
    policy = RetryPolicy(max_retries=1)
    assert policy.is_retryable(ApiConnectionError("closed"))
    assert policy.is_retryable(ApiTimeoutError("slow"))
    assert not policy.is_retryable(ValueError("bug"))


def test_backoff_is_full_jitter_under_a_doubling_cap() -> None:
    policy = RetryPolicy(max_retries=10, backoff_initial=0.5, backoff_max=4.0)
    error = ServerError(500, "boom")
    for retry, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0), (200, 4.0)]:
        waits = [policy.wait_seconds(retry, error) for _ in range(300)]
        assert all(0 <= w <= cap for w in waits)
        assert max(waits) > cap * 0.7  # jitter spans the range
        assert min(waits) < cap * 0.3


def test_retry_after_is_honoured_up_to_a_limit() -> None:
    policy = RetryPolicy(max_retries=3, backoff_max=0.1, retry_after_max=60)
    assert policy.wait_seconds(1, RateLimitError(429, "slow", retry_after=7)) == 7.0
    assert policy.wait_seconds(5, ServerError(503, "busy", retry_after=0)) == 0.0
    assert policy.wait_seconds(1, RateLimitError(429, "slow", retry_after=3600)) == 60.0
    headers = httpx.Headers({"Retry-After": "2"})
    assert policy.wait_seconds(1, api_error_from_response(429, b"{}", headers)) == 2.0


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    policy = RetryPolicy(max_retries=3, retry_after_max=60)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    headers = httpx.Headers({"Retry-After": email.utils.format_datetime(later, usegmt=True)})
    wait = policy.wait_seconds(1, api_error_from_response(503, b"{}", headers))
    assert 28.0 <= wait <= 30.0  # HTTP-dates have whole seconds
    past = httpx.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert api_error_from_response(429, b"{}", past).retry_after == 0.0  # type: ignore[attr-defined]
    garbage = httpx.Headers({"Retry-After": "soon"})
    assert api_error_from_response(429, b"{}", garbage).retry_after is None  # type: ignore[attr-defined]


def test_giving_up() -> None:
    policy = RetryPolicy(max_retries=2, deadline=100.0)
    assert not policy.gives_up(attempts=1, next_wait=1.0, now=10.0)
    assert not policy.gives_up(attempts=2, next_wait=1.0, now=10.0)
    assert policy.gives_up(attempts=3, next_wait=0.0, now=10.0)
    # no retry would start after the deadline
    assert policy.gives_up(attempts=1, next_wait=5.0, now=96.0)
    assert not RetryPolicy(max_retries=2).gives_up(attempts=1, next_wait=1e9, now=1e9)


def _caused(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause
    return error


def test_what_may_have_been_processed() -> None:
    request = httpx.Request("POST", "http://x")
    never_sent = [
        _caused(ApiConnectionError("refused"), httpx.ConnectError("refused", request=request)),
        _caused(ApiTimeoutError("connect"), httpx.ConnectTimeout("slow", request=request)),
        _caused(ApiTimeoutError("pool"), httpx.PoolTimeout("busy", request=request)),
        ServerError(503, "busy"),
        RateLimitError(429, "slow"),
    ]
    maybe = [
        _caused(
            ApiConnectionError("closed"),
            httpx.RemoteProtocolError("Server disconnected", request=request),
        ),
        _caused(ApiTimeoutError("read"), httpx.ReadTimeout("slow", request=request)),
        _caused(ApiConnectionError("reset"), httpx.ReadError("reset", request=request)),
    ]
    assert [may_have_been_processed(e) for e in never_sent] == [False] * 5
    assert [may_have_been_processed(e) for e in maybe] == [True] * 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunksize": 0}, "chunksize must be an integer from 1 to 5000"),
        ({"chunksize": 5001}, "chunksize must be an integer from 1 to 5000"),
        ({"chunksize": True}, "chunksize must be an integer from 1 to 5000"),
        ({"max_retries": -1}, "max_retries must be an integer >= 0"),
        ({"max_concurrency": 0}, "max_concurrency must be an integer from 1 to 32"),
        ({"on_invalid": "ignore"}, "on_invalid must be 'stop' or 'skip'"),
        ({"deadline": 0}, "deadline must be a number of seconds > 0"),
        ({"progress": 3}, "progress must be a callable"),
        ({"backoff_max": -1}, "backoff_max must be a number of seconds >= 0"),
    ],
)
def test_options_are_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        UploadOptions(**kwargs)  # type: ignore[arg-type]
