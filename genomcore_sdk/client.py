"""The client: ``GenomcoreApiClient(token=..., refresh_token=...)``.

Mirrors the vendor's ``genomcore.client`` module, so ``from
genomcore_sdk.client import GenomcoreApiClient`` is the only line a vendor
script needs to change.
"""

from __future__ import annotations

from typing import Any

import httpx

from .base_client import DEFAULT_BASE_URL, BaseClient
from .time_series import TimeSeries

__all__ = ["DEFAULT_BASE_URL", "GenomcoreApiClient"]


class GenomcoreApiClient(BaseClient):
    """Client of the Genomcore API.

    Args:
        token: the access token.
        refresh_token: the refresh token; the client renews the access token
            with it when the server refuses the old one.
        base_url: the API root. Default: the ``GENOMCORE_BASE_URL`` environment
            variable, else ``https://api.genomcore.com``.
        timeout: per-request timeout in seconds (default 60, 10 to connect).
        http_client: an ``httpx.Client`` of yours to send requests with.
        transport: an ``httpx.BaseTransport`` for the client the SDK creates.
        verify: TLS verification (True, False, CA bundle path or SSLContext).
        proxy: a proxy URL.

    Attributes:
        time_series: the :class:`~genomcore_sdk.time_series.TimeSeries` API.

    Examples:
        >>> import os
        >>> from genomcore_sdk import GenomcoreApiClient
        >>> api = GenomcoreApiClient(token=os.getenv("TOKEN"), refresh_token=os.getenv("REFRESH_TOKEN"))
        >>> api
        GenomcoreApiClient(base_url='http://127.0.0.1:...')
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
        )
        self.time_series = TimeSeries(self)
