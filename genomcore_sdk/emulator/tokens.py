"""The emulator's tokens: which access tokens are valid, and the refresh operation."""

from __future__ import annotations

import secrets
import threading
import time

__all__ = ["RefreshRefused", "TokenIssuer"]


class RefreshRefused(Exception):
    """The refresh token is unknown, revoked or already used."""


class TokenIssuer:
    """Accepts the configured access token and those it issued; serves refresh.

    Args:
        token: an access token that is always valid (the one users start with).
        refresh_token: the refresh token users start with.
        token_ttl: lifetime in seconds of the access tokens that refresh issues.
    """

    def __init__(self, token: str, refresh_token: str, *, token_ttl: float = 3600.0) -> None:
        self._lock = threading.Lock()
        self._static_token = token
        self._refresh_tokens = {refresh_token}
        self._issued: dict[str, float] = {}
        self.token_ttl = token_ttl
        self.refresh_calls = 0

    def is_valid(self, access_token: str) -> bool:
        """Whether ``access_token`` may be used now."""
        if secrets.compare_digest(access_token, self._static_token):
            return True
        with self._lock:
            expires = self._issued.get(access_token)
        return expires is not None and expires > time.time()

    def refresh(self, refresh_token: str) -> tuple[str, str | None, int]:
        """Exchange a refresh token: (new access token, rotated refresh token or None, ttl)."""
        with self._lock:
            self.refresh_calls += 1
            if refresh_token not in self._refresh_tokens:
                raise RefreshRefused()
            access = "emu-" + secrets.token_urlsafe(24)
            self._issued[access] = time.time() + self.token_ttl
            return access, None, int(self.token_ttl)

    def revoke_refresh_tokens(self) -> None:
        """Make every refresh token invalid (to test what clients do then)."""
        with self._lock:
            self._refresh_tokens.clear()
