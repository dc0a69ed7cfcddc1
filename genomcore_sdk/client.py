"""The client: ``GenomcoreApiClient(token=..., refresh_token=...)``.

Mirrors the vendor's ``genomcore.client`` module, so ``from
genomcore_sdk.client import GenomcoreApiClient`` is the only line a vendor
script needs to change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from .auth import RefreshedTokens
from .base_client import DEFAULT_BASE_URL, BaseClient
from .time_series import TimeSeries

__all__ = ["DEFAULT_BASE_URL", "GenomcoreApiClient"]


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
