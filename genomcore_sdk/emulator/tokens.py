"""The emulator's tokens: which access tokens are valid, the refresh operation, and counters.

Two kinds of access token are accepted:

* **The fixed token** given with ``--token`` / ``Emulator(token=...)``: an
  opaque string valid for as long as the emulator runs. It is what the
  vendor's documented scripts put in ``TOKEN`` (``A_VALID_TOKEN``), so they
  work without ever refreshing. ``--token-ttl`` does not apply to it.
* **JWT access tokens** (HS256, signed with a key made at start-up, claims
  ``sub``, ``iat``, ``exp``, ``jti``) issued by the refresh operation with a
  lifetime of ``token_ttl`` seconds (``--token-ttl``), or minted directly by
  tests with :meth:`TokenIssuer.mint_access_token` (a negative ``ttl`` gives
  an already-expired token). ``iat``/``exp`` carry milliseconds, so a
  2-second token lives 2 seconds.

Refresh tokens rotate: each successful refresh spends the refresh token it
was given and answers a new one; a spent (or revoked, or unknown) refresh
token is refused with 401 ``invalid_refresh_token``, so a client that
refreshes twice with the same token shows up as a failure.

For tests the issuer counts refresh calls and refusals, and keeps a ledger of
401 answers: a 401 counts as *replayed* once the same request (method, path,
query, ``Idempotency-Key`` and body) later gets a 2xx answer;
:attr:`TokenIssuer.unreplayed_401s` is how many never did.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

import jwt

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["RefreshRefused", "TokenIssuer"]

_ALGORITHM = "HS256"


class RefreshRefused(Exception):
    """The refresh token is unknown, revoked or already used."""


class TokenIssuer:
    """Accepts the fixed access token and the JWTs it issued; serves refresh; counts.

    Args:
        token: an access token that is always valid (the one users start with).
        refresh_token: the refresh token users start with (spent on first use).
        token_ttl: lifetime in seconds of the access tokens that refresh issues.

    Attributes:
        token_ttl: lifetime in seconds of the access tokens that refresh issues
            (may be changed while running).
        refresh_calls: refresh requests received (successful or not).
        refresh_refused: refresh requests refused (unknown, revoked or spent token).
        refresh_reused: of those, how many presented an already-spent refresh token.
        unauthorized: 401 answers to API requests (bad, missing or expired access token).
        replayed_401s: of those, how many were followed by a 2xx answer to the same request.

    Examples:
        >>> issuer = TokenIssuer("fixed", "r0", token_ttl=2)
        >>> access, rotated, ttl = issuer.refresh("r0")
        >>> issuer.is_valid(access), ttl, rotated != "r0"
        (True, 2, True)
        >>> try:
        ...     issuer.refresh("r0")  # a spent refresh token
        ... except RefreshRefused:
        ...     print("refused")
        refused
    """

    def __init__(self, token: str, refresh_token: str, *, token_ttl: float = 3600.0) -> None:
        self._lock = threading.Lock()
        self._key = secrets.token_bytes(32)
        self._static_token = token
        self._live_refresh = {refresh_token}
        self._spent_refresh: set[str] = set()
        self._pending_401: dict[tuple[str, ...], int] = {}
        self.token_ttl = token_ttl
        self.refresh_calls = 0
        self.refresh_refused = 0
        self.refresh_reused = 0
        self.unauthorized = 0
        self.replayed_401s = 0

    def __repr__(self) -> str:
        return (
            f"TokenIssuer(token_ttl={self.token_ttl}, refresh_calls={self.refresh_calls}, "
            f"unauthorized={self.unauthorized})"
        )

    # -- access tokens -------------------------------------------------------------------

    def is_valid(self, access_token: str) -> bool:
        """Whether ``access_token`` may be used now."""
        if secrets.compare_digest(access_token.encode(), self._static_token.encode()):
            return True
        try:
            claims = jwt.decode(
                access_token, self._key, algorithms=[_ALGORITHM], options={"verify_exp": False}
            )
        except jwt.InvalidTokenError:
            return False
        expires = claims.get("exp")
        return isinstance(expires, int | float) and expires > time.time()

    def mint_access_token(self, ttl: float | None = None) -> str:
        """A signed JWT access token living ``ttl`` seconds (default ``token_ttl``; negative: expired)."""
        now = time.time()
        lifetime = self.token_ttl if ttl is None else ttl
        claims = {
            "sub": "emulator-user",
            "iat": round(now if lifetime > 0 else now + lifetime - 1, 3),
            "exp": round(now + lifetime, 3),
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    # -- refresh tokens ------------------------------------------------------------------

    def mint_refresh_token(self) -> str:
        """A new, unused refresh token (for tests that need a fresh one)."""
        token = "emu-rt-" + secrets.token_urlsafe(24)
        with self._lock:
            self._live_refresh.add(token)
        return token

    def refresh(self, refresh_token: str) -> tuple[str, str | None, int]:
        """Spend ``refresh_token``: (new access token, new refresh token, lifetime in seconds).

        Raises:
            RefreshRefused: the refresh token is unknown, revoked or already spent.
        """
        with self._lock:
            self.refresh_calls += 1
            if refresh_token not in self._live_refresh:
                self.refresh_refused += 1
                if refresh_token in self._spent_refresh:
                    self.refresh_reused += 1
                raise RefreshRefused()
            self._live_refresh.discard(refresh_token)
            self._spent_refresh.add(refresh_token)
            rotated = "emu-rt-" + secrets.token_urlsafe(24)
            self._live_refresh.add(rotated)
        return self.mint_access_token(), rotated, max(0, round(self.token_ttl))

    def revoke_refresh_tokens(self) -> None:
        """Make every refresh token invalid (to test what clients do then)."""
        with self._lock:
            self._live_refresh.clear()

    # -- the 401 ledger --------------------------------------------------------------------

    @property
    def unreplayed_401s(self) -> int:
        """401 answers not (yet) followed by a 2xx answer to the same request."""
        with self._lock:
            return sum(self._pending_401.values())

    async def note_response(self, request: Request, status: int) -> None:
        """Record the answer to a secured request (called by the app for every one).

        Cheap when there is nothing to record: only a 401, or a 2xx while some
        401 is still waiting for its replay, reads and hashes the request.
        """
        if status != 401 and not (200 <= status < 300 and self._pending_401):
            return
        body = await request.body()
        key = (
            request.method,
            request.url.path,
            request.url.query,
            request.headers.get("idempotency-key", ""),
            hashlib.sha256(body).hexdigest(),
        )
        with self._lock:
            if status == 401:
                self.unauthorized += 1
                self._pending_401[key] = self._pending_401.get(key, 0) + 1
                return
            replayed = self._pending_401.pop(key, 0)
            self.replayed_401s += replayed

    def counters(self) -> dict[str, Any]:
        """The counters as a dict (for test failure messages)."""
        with self._lock:
            return {
                "refresh_calls": self.refresh_calls,
                "refresh_refused": self.refresh_refused,
                "refresh_reused": self.refresh_reused,
                "unauthorized": self.unauthorized,
                "replayed_401s": self.replayed_401s,
                "unreplayed_401s": sum(self._pending_401.values()),
            }
