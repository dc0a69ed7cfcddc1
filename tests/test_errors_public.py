"""The public exception hierarchy (issue 6, item 4): exported, rooted, and every message actionable."""

from __future__ import annotations

import httpx
import pytest

import genomcore_sdk
from genomcore_sdk import errors
from genomcore_sdk.base_client import api_error_from_response, translate_transport_errors


def test_every_public_exception_is_exported_from_the_package() -> None:
    exceptions = [
        name
        for name in errors.__all__
        if isinstance(getattr(errors, name), type)
        and issubclass(getattr(errors, name), BaseException)
    ]
    assert len(exceptions) >= 20
    for name in exceptions:
        assert name in genomcore_sdk.__all__, name
        assert getattr(genomcore_sdk, name) is getattr(errors, name)
        assert issubclass(getattr(errors, name), errors.GenomcoreError), name


def test_the_hierarchy_has_the_issue_s_branches() -> None:
    e = errors
    assert issubclass(e.ObservationValidationError, e.InvalidInputError)
    assert issubclass(e.QueryValidationError, ValueError)
    for api in (e.AuthenticationError, e.RateLimitError, e.ServerError, e.BadRequestError):
        assert issubclass(api, e.ApiError)
    for transport in (e.ApiConnectionError, e.ApiTimeoutError):
        assert issubclass(transport, e.TransportError)
    assert issubclass(e.UploadError, e.GenomcoreError)
    assert issubclass(e.DeleteUnverifiedError, e.TransportError)


@pytest.mark.parametrize(
    ("status", "kind", "advice"),
    [
        (400, errors.BadRequestError, "retrying will not help"),
        (401, errors.AuthenticationError, "new credentials"),
        (403, errors.ApiError, "permissions"),
        (404, errors.ApiError, "base URL"),
        (408, errors.ApiError, "retrying"),
        (409, errors.ApiError, "check it against the API"),
        (413, errors.PayloadTooLargeError, "fewer observations"),
        (422, errors.UnprocessableEntityError, "Fix the listed fields"),
        (429, errors.RateLimitError, "Slow down"),
        (503, errors.ServerError, "retrying"),
    ],
)
def test_api_errors_carry_status_body_request_id_and_advice(
    status: int, kind: type[errors.ApiError], advice: str
) -> None:
    body = b'{"code": "c", "message": "nope", "requestId": "req-9"}'
    error = api_error_from_response(status, body, httpx.Headers({"retry-after": "2"}))
    assert type(error) is kind
    assert (error.status_code, error.code, error.request_id) == (status, "c", "req-9")
    assert error.body == body.decode()
    assert f"HTTP {status} c: nope" in str(error) and "req-9" in str(error)
    assert advice in str(error)


def test_transport_errors_say_what_to_do() -> None:
    request = httpx.Request("GET", "http://x")
    with (
        pytest.raises(errors.ApiTimeoutError, match="Raise the timeout or retry"),
        translate_transport_errors("Querying"),
    ):
        raise httpx.ReadTimeout("slow", request=request)
    with (
        pytest.raises(errors.ApiConnectionError, match="Check the base URL"),
        translate_transport_errors("Querying"),
    ):
        raise httpx.ConnectError("refused", request=request)
