"""Bearer authentication with token refresh, as an ``httpx.Auth``.

:class:`TokenAuth` adds ``Authorization: Bearer <access token>`` to every
request (again on every retry, so a refreshed token is always used). When the
server answers 401 it refreshes the access token once, through the API's
refresh operation, and replays the request.

Tokens never appear in logs, reprs or exception messages.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator

import httpx

from .errors import AuthenticationError, ConfigurationError

__all__ = ["RefreshedTokens", "TokenAuth"]

logger = logging.getLogger("genomcore_sdk.auth")


class RefreshedTokens:
    """The result of one refresh: the new access token and, if rotated, the new refresh token."""

    __slots__ = ("access_token", "expires_in", "refresh_token")

    def __init__(
        self, access_token: str, refresh_token: str | None, expires_in: int | None
    ) -> None:
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.expires_in = expires_in

    def __repr__(self) -> str:
        return f"RefreshedTokens(expires_in={self.expires_in!r}, rotated={self.refresh_token is not None})"


Refresher = Callable[[str], RefreshedTokens]


class TokenAuth(httpx.Auth):
    """Bearer token authentication that refreshes the access token on 401.

    Args:
        token: the access token (may be None when a refresh token is given).
        refresh_token: the refresh token, or None to disable refreshing.
        refresher: performs the refresh call: takes the refresh token and returns
            :class:`RefreshedTokens` or raises :class:`AuthenticationError`.
    """

    def __init__(self, token: str | None, refresh_token: str | None, refresher: Refresher) -> None:
        if not token and not refresh_token:
            raise ConfigurationError(
                "No access token: pass token=... (and refresh_token=...) to GenomcoreApiClient, "
                "e.g. token=os.getenv('TOKEN'); is the TOKEN environment variable set?"
            )
        self._token = token or None
        self._refresh_token = refresh_token or None
        self._refresher = refresher
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "TokenAuth(<tokens hidden>)"

    def _current_token(self) -> str:
        if self._token is None:
            self._refresh(stale=None)
        assert self._token is not None
        return self._token

    def _refresh(self, stale: str | None) -> None:
        with self._lock:
            if self._token is not None and self._token != stale:
                return  # another request refreshed meanwhile
            if self._refresh_token is None:
                raise AuthenticationError(
                    401,
                    "The access token was refused and no refresh_token was given",
                    code="unauthorized",
                    hint="Create the client with a valid token, or with refresh_token=... "
                    "so the SDK can renew it.",
                )
            logger.debug("refreshing the access token")
            result = self._refresher(self._refresh_token)
            self._token = result.access_token
            if result.refresh_token:
                self._refresh_token = result.refresh_token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the bearer header; on 401, refresh once and replay the request."""
        used = self._current_token()
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code != 401 or self._refresh_token is None:
            return
        self._refresh(stale=used)
        request.headers["Authorization"] = f"Bearer {self._current_token()}"
        yield request
