"""The base clients: transport, the generated client, authentication and error translation.

:class:`ClientCore` holds everything the sync and the async client share
(configuration, :class:`~genomcore_sdk.auth.TokenAuth`, repr, request
description, answer parsing and error translation); :class:`BaseClient`
(``httpx.Client``) and :class:`AsyncBaseClient` (``httpx.AsyncClient``) add
only the sending. Resources (``client.time_series``) stay thin: they call the
generated operations through ``call`` (models in, model out, errors raised)
or, for the bulk upload path, ``send_encoded``, which uses the generated
operation's own request description (method, URL, headers) and response
parsing but sends a body that is already JSON bytes.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType, TracebackType
from typing import Any, Generic, Self, TypeVar

import httpx
from genomcore_ts_api import Client as GeneratedClient
from genomcore_ts_api.types import Response as GeneratedResponse

from .auth import RefreshedTokens, TokenAuth
from .errors import (
    RETRIES_ON,
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    AuthenticationError,
    BadRequestError,
    PayloadTooLargeError,
    RateLimitError,
    ServerError,
    UnprocessableEntityError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "AsyncBaseClient",
    "BaseClient",
    "ClientCore",
    "api_error_from_response",
]

logger = logging.getLogger("genomcore_sdk.client")

DEFAULT_BASE_URL = "https://api.genomcore.com"
"""Production API, used when neither ``base_url`` nor ``GENOMCORE_BASE_URL`` is set."""

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
"""60 s per request (10 s to connect): a 5000-observation chunk or a large delete fits."""


def resolve_base_url(base_url: str | None) -> str:
    """``base_url``, else ``$GENOMCORE_BASE_URL``, else :data:`DEFAULT_BASE_URL`."""
    url = base_url or os.environ.get("GENOMCORE_BASE_URL") or DEFAULT_BASE_URL
    return url.rstrip("/")


def _retry_after(headers: Any) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date (RFC 9110)."""
    raw = headers.get("retry-after") if headers is not None else None
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None  # neither form: ignored, the usual backoff applies
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def api_error_from_response(status_code: int, content: bytes, headers: Any = None) -> ApiError:
    """Translate an error answer into the matching :class:`ApiError` subclass."""
    code: str | None = None
    message = ""
    request_id: str | None = headers.get("x-request-id") if headers is not None else None
    details: list[dict[str, Any]] = []
    text = content.decode("utf-8", errors="replace")
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = body.get("code") if isinstance(body.get("code"), str) else None
        message = str(body.get("message") or "")
        request_id = body.get("requestId") or request_id
        raw_details = body.get("details")
        if isinstance(raw_details, list):
            details = [d for d in raw_details if isinstance(d, dict)]
    if not message:
        message = text[:200] or "no error body"
    kwargs: dict[str, Any] = {
        "code": code,
        "request_id": request_id,
        "details": details,
        "body": text,
    }
    if status_code == 400:
        return BadRequestError(
            status_code, message, hint="Fix the request; retrying will not help.", **kwargs
        )
    if status_code == 401:
        return AuthenticationError(
            status_code,
            message,
            hint="Check the token and refresh_token, or get new credentials.",
            **kwargs,
        )
    if status_code == 413:
        return PayloadTooLargeError(
            status_code, message, hint="Send fewer observations per request.", **kwargs
        )
    if status_code == 422:
        return UnprocessableEntityError(
            status_code, message, hint="Fix the listed fields; nothing was stored.", **kwargs
        )
    if status_code == 429:
        return RateLimitError(
            status_code,
            message,
            retry_after=_retry_after(headers),
            hint=f"Slow down; the SDK retries this when {RETRIES_ON}.",
            **kwargs,
        )
    if status_code >= 500:
        return ServerError(
            status_code,
            message,
            retry_after=_retry_after(headers),
            hint=f"A server-side failure; retrying ({RETRIES_ON}) is safe.",
            **kwargs,
        )
    if status_code == 408:
        hint = f"The server timed out reading the request; retrying ({RETRIES_ON}) is safe."
    elif status_code == 403:
        hint = "The token is valid but not allowed to do this; check its permissions."
    elif status_code == 404:
        hint = "Check the base URL (it should be the API root, e.g. https://api.genomcore.com)."
    else:
        hint = "The request was refused as sent; check it against the API (it is not retried)."
    return ApiError(status_code, message, hint=hint, **kwargs)


@contextmanager
def translate_transport_errors(what: str) -> Iterator[None]:
    """Turn httpx's transport exceptions into :class:`TransportError` subclasses."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ApiTimeoutError(
            f"{what} timed out ({type(exc).__name__}); the server may still have processed it. "
            "Raise the timeout or retry."
        ) from exc
    except httpx.TransportError as exc:
        raise ApiConnectionError(
            f"{what} failed: {type(exc).__name__}: {str(exc).rstrip('.')}. Check the base URL and network; "
            "the server may have processed the request if the connection closed after sending."
        ) from exc


HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)
TransportT = TypeVar("TransportT", httpx.BaseTransport, httpx.AsyncBaseTransport)

_CONNECTION_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=32)
"""One pool per client: 64 connections (32 kept alive), enough for 32 chunks in flight."""


class ClientCore(Generic[HttpT, TransportT]):
    """What the sync and the async client share, none of it I/O.

    Configuration (base URL, timeout, TLS, proxy, connection limits), the
    :class:`~genomcore_sdk.auth.TokenAuth` (whose single-flight refresh serves
    threads and tasks alike), the repr (never a token), how a generated
    operation's request is described, and how an answer becomes a parsed model
    or an :class:`~genomcore_sdk.errors.ApiError`. :class:`BaseClient` and
    :class:`AsyncBaseClient` add only the sending; both take these arguments.

    Args:
        token: the access token.
        refresh_token: the refresh token used to renew the access token.
        base_url: the API root; defaults to ``$GENOMCORE_BASE_URL``, then
            :data:`DEFAULT_BASE_URL`.
        timeout: seconds (or an ``httpx.Timeout``) for each request.
        http_client: an ``httpx.Client`` (sync) or ``httpx.AsyncClient`` (async)
            to send with (its base URL is replaced); the SDK never closes a
            client it was given.
        transport: an ``httpx.BaseTransport`` (sync) or ``httpx.AsyncBaseTransport``
            (async) for the client the SDK creates.
        verify: TLS verification: True, False, a CA bundle path or an SSLContext.
        proxy: a proxy URL for every request.
        on_tokens_refreshed: called with :class:`~genomcore_sdk.auth.RefreshedTokens`
            after each token refresh (see :class:`~genomcore_sdk.auth.TokenAuth`).
    """

    _api: GeneratedClient

    def __init__(
        self,
        token: str | None = None,
        refresh_token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        http_client: HttpT | None = None,
        transport: TransportT | None = None,
        verify: Any = True,
        proxy: str | None = None,
        on_tokens_refreshed: Callable[[RefreshedTokens], object] | None = None,
    ) -> None:
        self.base_url = resolve_base_url(base_url)
        self._timeout = DEFAULT_TIMEOUT if timeout is None else httpx.Timeout(timeout)
        self._auth = TokenAuth(
            token, refresh_token, base_url=self.base_url, on_tokens_refreshed=on_tokens_refreshed
        )
        self._owns_http = http_client is None
        if http_client is None:
            http_client = self._new_http_client(
                auth=self._auth,  # so `client.generated` calls are authenticated too
                timeout=self._timeout,
                transport=transport,
                verify=verify,
                proxy=proxy,
                limits=_CONNECTION_LIMITS,
            )
        http_client.base_url = httpx.URL(self.base_url)
        self._http: HttpT = http_client
        self._api = self._generated_client(http_client)

    def _new_http_client(self, **options: Any) -> HttpT:
        """A new httpx client (sync or async) with the SDK's options."""
        raise NotImplementedError

    def _generated_client(self, http_client: HttpT) -> GeneratedClient:
        """The generated client, sending with ``http_client``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    @property
    def generated(self) -> GeneratedClient:
        """The generated low-level client, sharing this client's connections.

        Its calls are authenticated (with :attr:`auth`) when the SDK created the
        httpx client; with your own ``http_client``, set ``http_client.auth =
        client.auth`` first.
        """
        return self._api

    @property
    def auth(self) -> TokenAuth:
        """The client's :class:`~genomcore_sdk.auth.TokenAuth` (shared token state).

        Hand it to other httpx clients to share one token and one refresh
        flight with this client.
        """
        return self._auth

    @staticmethod
    def _encoded_request(
        operation: ModuleType, content: bytes, placeholder: Any, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        request_kwargs: dict[str, Any] = operation._get_kwargs(body=placeholder, **kwargs)
        request_kwargs.pop("json", None)
        request_kwargs["content"] = content
        return request_kwargs

    def _checked(self, operation: ModuleType, raw: httpx.Response) -> GeneratedResponse[Any]:
        if raw.status_code >= 400:
            raise api_error_from_response(raw.status_code, raw.content, raw.headers)
        response: GeneratedResponse[Any] = operation._build_response(client=self._api, response=raw)
        return response


class BaseClient(ClientCore[httpx.Client, httpx.BaseTransport]):
    """Transport, authentication and error handling shared by every resource (blocking I/O).

    Takes the arguments listed in :class:`ClientCore`, with an ``httpx.Client``
    and an ``httpx.BaseTransport``.
    """

    def _new_http_client(self, **options: Any) -> httpx.Client:
        return httpx.Client(**options)

    def _generated_client(self, http_client: httpx.Client) -> GeneratedClient:
        return GeneratedClient(base_url=self.base_url).set_httpx_client(http_client)

    def close(self) -> None:
        """Close the connection pool (only if the SDK created it)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def call(self, operation: ModuleType, what: str, **kwargs: Any) -> Any:
        """Call a generated operation with auth; return the parsed 2xx model.

        Raises the matching :class:`ApiError` for an error status and a
        :class:`TransportError` when no answer arrived.
        """
        return self._send(operation, what, operation._get_kwargs(**kwargs)).parsed

    def send_encoded(
        self, operation: ModuleType, what: str, content: bytes, *, placeholder: Any, **kwargs: Any
    ) -> GeneratedResponse[Any]:
        """Send ``content`` (JSON bytes) as the body of a generated operation.

        The operation's ``_get_kwargs`` gives method, URL, parameters and
        headers (``placeholder`` stands in for the body it would encode), and
        its ``_build_response`` parses the answer into the generated models.
        """
        request = self._encoded_request(operation, content, placeholder, kwargs)
        return self._send(operation, what, request)

    def _send(
        self, operation: ModuleType, what: str, request_kwargs: dict[str, Any]
    ) -> GeneratedResponse[Any]:
        with translate_transport_errors(what):
            raw = self._http.request(**request_kwargs, auth=self._auth)
        return self._checked(operation, raw)


class AsyncBaseClient(ClientCore[httpx.AsyncClient, httpx.AsyncBaseTransport]):
    """The asyncio twin of :class:`BaseClient`: the same configuration, awaitable sends.

    Takes the arguments listed in :class:`ClientCore`, with an
    ``httpx.AsyncClient`` and an ``httpx.AsyncBaseTransport``. The generated
    operations describe each request (``_get_kwargs``) and parse each answer
    (``_build_response``), as for the sync client.
    """

    def _new_http_client(self, **options: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(**options)

    def _generated_client(self, http_client: httpx.AsyncClient) -> GeneratedClient:
        return GeneratedClient(base_url=self.base_url).set_async_httpx_client(http_client)

    async def close(self) -> None:
        """Close the connection pool (only if the SDK created it): ``await client.close()``.

        As in openai-python's ``AsyncOpenAI``, ``close`` is a coroutine;
        :meth:`aclose` does the same, for ``contextlib.aclosing`` and httpx habits.
        """
        if self._owns_http:
            await self._http.aclose()

    async def aclose(self) -> None:
        """The same as :meth:`close`."""
        await self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def call(self, operation: ModuleType, what: str, **kwargs: Any) -> Any:
        """Await a generated operation with auth; return the parsed 2xx model.

        Raises the matching :class:`ApiError` for an error status and a
        :class:`TransportError` when no answer arrived.
        """
        return (await self._send(operation, what, operation._get_kwargs(**kwargs))).parsed

    async def send_encoded(
        self, operation: ModuleType, what: str, content: bytes, *, placeholder: Any, **kwargs: Any
    ) -> GeneratedResponse[Any]:
        """Send ``content`` (JSON bytes) as the body of a generated operation (see the sync one)."""
        request = self._encoded_request(operation, content, placeholder, kwargs)
        return await self._send(operation, what, request)

    async def _send(
        self, operation: ModuleType, what: str, request_kwargs: dict[str, Any]
    ) -> GeneratedResponse[Any]:
        with translate_transport_errors(what):
            raw = await self._http.request(**request_kwargs, auth=self._auth)
        return self._checked(operation, raw)
