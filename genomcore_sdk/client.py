"""The clients: ``GenomcoreApiClient(token=..., refresh_token=...)`` and its asyncio twin.

Mirrors the vendor's ``genomcore.client`` module, so ``from
genomcore_sdk.client import GenomcoreApiClient`` is the only line a vendor
script needs to change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import httpx

from .async_time_series import AsyncTimeSeries
from .auth import RefreshedTokens
from .base_client import DEFAULT_BASE_URL, AsyncBaseClient, BaseClient
from .time_series import TimeSeries

__all__ = ["DEFAULT_BASE_URL", "AsyncGenomcoreApiClient", "GenomcoreApiClient"]


class GenomcoreApiClient(BaseClient):
    """Client of the Genomcore API.

    Args:
        token: the access token. Required (or at least ``refresh_token``): a
            client without either raises ``ConfigurationError`` at once.
        refresh_token: the refresh token. The client renews the access token
            with it shortly before a JWT access token expires and whenever the
            server answers 401, once for all threads and tasks sharing the
            client; when the server rotates refresh tokens the new one
            replaces the old.
        base_url: the API root. Default: the ``GENOMCORE_BASE_URL`` environment
            variable, else ``https://api.genomcore.com``.
        timeout: per-request timeout in seconds (default 60, 10 to connect).
        http_client: an ``httpx.Client`` of yours to send requests with.
        transport: an ``httpx.BaseTransport`` for the client the SDK creates.
        verify: TLS verification (True, False, CA bundle path or SSLContext).
        proxy: a proxy URL.
        on_tokens_refreshed: called with a
            :class:`~genomcore_sdk.auth.RefreshedTokens` (``access_token``,
            ``refresh_token``, ``rotated``, ``expires_in``) after every refresh,
            so a long-running service can persist the newest pair. An exception
            it raises is logged (without tokens) and does not fail the request.

    Attributes:
        time_series: the :class:`~genomcore_sdk.time_series.TimeSeries` API.

    Lifecycle: the client holds one pool of keep-alive connections (up to 64),
    reused by every call; create it once and share it. ``with
    GenomcoreApiClient(...) as api:`` (or ``api.close()``) closes the pool. An
    ``http_client`` you pass is yours: the SDK uses it but never closes it.

    Thread safety: one client may be shared by any number of threads. httpx's
    connection pool is thread-safe, the token state is behind a lock and a
    refresh is made once for all threads waiting on it, and each call (an
    upload included) keeps its state to itself. For asyncio code use
    :class:`AsyncGenomcoreApiClient`.

    Examples:
        >>> import os
        >>> from genomcore_sdk import GenomcoreApiClient
        >>> api = GenomcoreApiClient(token=os.getenv("TOKEN"), refresh_token=os.getenv("REFRESH_TOKEN"))
        >>> api
        GenomcoreApiClient(base_url='http://127.0.0.1:...')

        A service that must survive refresh-token rotation across restarts::

            def save(tokens):
                vault.write(token=tokens.access_token, refresh_token=tokens.refresh_token)

            api = GenomcoreApiClient(token=..., refresh_token=..., on_tokens_refreshed=save)
    """

    def __init__(
        self,
        token: str | None = None,
        refresh_token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: Any = True,
        proxy: str | None = None,
        on_tokens_refreshed: Callable[[RefreshedTokens], object] | None = None,
    ) -> None:
        super().__init__(
            token,
            refresh_token,
            base_url=base_url,
            timeout=timeout,
            http_client=http_client,
            transport=transport,
            verify=verify,
            proxy=proxy,
            on_tokens_refreshed=on_tokens_refreshed,
        )
        self.time_series = TimeSeries(self)


class AsyncGenomcoreApiClient(AsyncBaseClient):
    """The asyncio client of the Genomcore API: the same constructor and methods, awaitable.

    Takes the arguments of :class:`GenomcoreApiClient`, except that
    ``http_client`` is an ``httpx.AsyncClient`` and ``transport`` an
    ``httpx.AsyncBaseTransport``. ``client.time_series`` has the same methods
    (:class:`~genomcore_sdk.async_time_series.AsyncTimeSeries`), each awaited,
    and ``iter_time_series`` is used with ``async for``.

    Lifecycle (the openai-python convention): ``async with
    AsyncGenomcoreApiClient(...) as api:`` or ``await api.close()`` closes the
    connection pool (``await api.aclose()`` does the same). An ``http_client``
    you pass is never closed by the SDK. Create the client once per event loop
    and share it between tasks: its pool, token state and single-flight
    refresh serve them all. It is not meant to be used from several event
    loops or threads at once.

    Examples:
        >>> import asyncio, os
        >>> from genomcore_sdk import AsyncGenomcoreApiClient
        >>> rows = [{"meta": {"userId": 1, "source": "watch", "metric": "steps",
        ...                   "externalId": "W-1", "batch": "b1"},
        ...          "point": {"start": "2024-04-01T00:00:00Z",
        ...                    "end": "2024-04-01T00:01:00Z", "value": 12}}]
        >>> async def main() -> list[int]:
        ...     async with AsyncGenomcoreApiClient(
        ...             token=os.getenv("TOKEN"), refresh_token=os.getenv("REFRESH_TOKEN")) as api:
        ...         report = await api.time_series.create_time_series(rows, max_concurrency=8)
        ...         assert report.stored == 1
        ...         return [obs.point.value async for obs in
        ...                 api.time_series.iter_time_series(batches="b1")]
        >>> asyncio.run(main())
        [12]
    """

    @functools.cached_property
    def time_series(self) -> AsyncTimeSeries:
        """The :class:`~genomcore_sdk.async_time_series.AsyncTimeSeries` API."""
        return AsyncTimeSeries(self)
