"""Bearer authentication that keeps itself valid: :class:`TokenAuth`, an ``httpx.Auth``.

One component serves the synchronous client and any ``httpx.AsyncClient``:

* **Bearer header** on every request, set again on every retry (the SDK's
  retries go back through httpx and so through this auth), so the current
  access token is always the one sent.
* **Refresh ahead of expiry.** When the access token is a JWT with an ``exp``
  claim (read without verifying the signature: the client only needs the
  time, the server does the checking), it is renewed shortly before it
  expires. The margin is ``min(30 s, a quarter of the token's lifetime)``:
  30 s for hour-long tokens, 0.5 s for 2-second test tokens. A token that is
  not a JWT, or has no ``exp``, is used until the server refuses it.
* **Refresh on 401.** A request refused with 401 triggers one refresh and one
  replay. If another request already replaced the token while this one was
  in flight, the new token is reused instead of refreshing again.
* **Single flight.** However many threads or asyncio tasks find the token
  expired at once, exactly one refresh request goes out; the others wait for
  its result (threads block on an event; tasks await a future, so the event
  loop never blocks). The internal lock is held only for a few assignments,
  never across I/O.
* **Rotation.** When the refresh answer carries a new refresh token the old
  one is dropped, and ``on_tokens_refreshed`` (if given) receives the new
  pair so a long-running service can persist it.
* **Failure.** A refused refresh raises :class:`~genomcore_sdk.errors.AuthenticationError`
  telling the user to get new credentials; the refresh token is then
  forgotten, so later requests fail the same way without asking the server
  again. A refresh that fails for a transient reason (429, 5xx) raises the
  matching :class:`~genomcore_sdk.errors.ApiError`, which the SDK's retries
  may retry.

How the refresh is sent: the flow *yields* the refresh request (built from the
generated ``refresh_token`` operation's ``_get_kwargs`` and parsed with its
``_build_response``) to the httpx client that is running the flow. So the
refresh uses that client's transport, proxy, TLS settings and the original
request's timeouts, works the same for ``httpx.Client`` and
``httpx.AsyncClient``, and never goes through this auth again (httpx sends
requests yielded by an auth flow as they are), so there is no recursion.

Tokens never appear in logs, reprs or exception messages.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

import attrs
import httpx
from genomcore_ts_api import Client as GeneratedClient
from genomcore_ts_api.api.auth import refresh_token as refresh_op
from genomcore_ts_api.models import RefreshRequest, TokenPair

from .errors import RETRIES_ON, ApiError, AuthenticationError, ConfigurationError

__all__ = [
    "MAX_REFRESH_MARGIN",
    "JwtTimes",
    "RefreshedTokens",
    "TokenAuth",
    "decode_jwt_claims",
    "jwt_times",
    "refresh_margin",
]

logger = logging.getLogger("genomcore_sdk.auth")

MAX_REFRESH_MARGIN = 30.0
"""Seconds before ``exp`` at which a long-lived JWT access token is renewed."""

REFUSED_STATUSES = frozenset({400, 401, 403})
"""Refresh answers meaning "this refresh token will never work": get new credentials."""

_B64URL = re.compile(r"[A-Za-z0-9_-]+")


# --------------------------------------------------------------------------- JWT times


def _b64url_json_object(segment: str) -> dict[str, Any] | None:
    if not _B64URL.fullmatch(segment):
        return None
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def decode_jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT (JWS compact form), read without verifying the signature.

    Returns ``None`` (the one documented "not a JWT" outcome) for anything
    that is not three base64url segments whose first two decode to JSON
    objects; it never raises.

    Examples:
        >>> decode_jwt_claims("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.c2ln")
        {'exp': 1700000000}
        >>> decode_jwt_claims("an-opaque-token") is None
        True
    """
    if not isinstance(token, str):
        return None
    parts = token.split(".")
    if len(parts) != 3 or _b64url_json_object(parts[0]) is None:
        return None
    return _b64url_json_object(parts[1])


def _numeric_date(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@attrs.frozen
class JwtTimes:
    """The times of a JWT access token, in seconds since the epoch.

    Attributes:
        expires_at: the ``exp`` claim.
        issued_at: the ``iat`` claim, when present and numeric.
    """

    expires_at: float
    issued_at: float | None = None


def jwt_times(token: str) -> JwtTimes | None:
    """``exp`` (and ``iat``) of a JWT access token, or ``None`` if it is not a JWT with a numeric ``exp``.

    Never raises.

    Examples:
        >>> jwt_times("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.c2ln")
        JwtTimes(expires_at=1700000000.0, issued_at=None)
    """
    claims = decode_jwt_claims(token)
    if claims is None:
        return None
    expires_at = _numeric_date(claims.get("exp"))
    if expires_at is None:
        return None
    return JwtTimes(expires_at, _numeric_date(claims.get("iat")))


def refresh_margin(lifetime: float) -> float:
    """Seconds before expiry at which a token of ``lifetime`` seconds is renewed.

    ``min(30 s, lifetime / 4)``: an hour-long token is renewed 30 s early, a
    2-second token 0.5 s early, so short test tokens still get most of their
    life used and long ones never expire mid-request.

    Examples:
        >>> refresh_margin(3600), refresh_margin(2)
        (30.0, 0.5)
    """
    return min(MAX_REFRESH_MARGIN, max(0.0, lifetime) / 4)


# --------------------------------------------------------------------------- tokens


@attrs.frozen
class RefreshedTokens:
    """The credentials in use after a refresh, as given to ``on_tokens_refreshed``.

    Attributes:
        access_token: the new access token.
        refresh_token: the refresh token to use next time: the rotated one if
            the server rotated it, else the one used for this refresh.
        rotated: whether the server issued a new refresh token (the old one is then dead).
        expires_in: the access token's lifetime in seconds, as the server said.

    The repr hides both tokens.
    """

    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    rotated: bool
    expires_in: int | None = None


TokensCallback = Callable[[RefreshedTokens], object]


def _refresh_at(token: str | None, now: float, *, fresh: bool, lifetime: float | None) -> float:
    """Wall-clock time from which ``token`` should be renewed before use (``inf``: never)."""
    if token is None:
        return -math.inf  # only a refresh token was given: refresh before the first request
    times = jwt_times(token)
    if times is None:
        return math.inf  # not a JWT: use it until the server refuses it
    if times.issued_at is not None and times.expires_at > times.issued_at:
        lifetime = times.expires_at - times.issued_at
    elif lifetime is None:
        lifetime = times.expires_at - now
    at = times.expires_at - refresh_margin(lifetime)
    if fresh and at <= now:
        # The server just issued this token and it already looks due: the local
        # clock is off (or the lifetime is tiny). Renewing ahead would loop;
        # rely on 401 answers instead.
        logger.warning(
            "a freshly issued access token already looks expired by this machine's clock; "
            "renewing on 401 answers only (check the system clock)"
        )
        return math.inf
    return at


class _Flight:
    """One refresh in progress; requests that need its result wait on it."""

    __slots__ = ("_async_waiters", "done", "error", "event")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.done = False
        self.error: Callable[[], Exception] | None = None
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def add_async_waiter(
        self, lock: threading.Lock, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Future[None] | None:
        future: asyncio.Future[None] = loop.create_future()
        with lock:
            if self.done:
                return None
            self._async_waiters.append((loop, future))
        return future

    def finish(self, lock: threading.Lock) -> None:
        with lock:
            self.done = True
            waiters, self._async_waiters = self._async_waiters, []
        self.event.set()
        for loop, future in waiters:
            # RuntimeError: that event loop is closed, so nobody waits there any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _redacted(text: str, secrets: tuple[str | None, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text


# --------------------------------------------------------------------------- the auth


class TokenAuth(httpx.Auth):
    """Bearer authentication that renews the access token by itself; see the module docs.

    Args:
        token: the access token; may be None when ``refresh_token`` is given (the
            first request then refreshes first).
        refresh_token: the refresh token, or None to never refresh (a 401 is then final).
        base_url: the API root the refresh operation's path is joined to. Default:
            the scheme, host and port of the request being authorised.
        on_tokens_refreshed: called with :class:`RefreshedTokens` after every
            successful refresh, before any waiting request goes on, so calls
            never overlap and the last call always holds the newest pair. Keep
            it quick (in an asyncio program it runs on the event loop). An
            exception it raises is logged (without tokens) and otherwise ignored.

    Raises:
        ConfigurationError: neither a token nor a refresh token was given.

    Examples:
        Hand the same auth to an async client::

            from genomcore_sdk.auth import TokenAuth

            auth = TokenAuth(token, refresh_token, base_url="https://api.genomcore.com")
            async with httpx.AsyncClient(auth=auth, base_url="https://api.genomcore.com") as http:
                ...
    """

    def __init__(
        self,
        token: str | None,
        refresh_token: str | None = None,
        *,
        base_url: str | httpx.URL | None = None,
        on_tokens_refreshed: TokensCallback | None = None,
    ) -> None:
        if not token and not refresh_token:
            raise ConfigurationError(
                "No access token: pass token=... (and refresh_token=...) to GenomcoreApiClient, "
                "e.g. token=os.getenv('TOKEN'); is the TOKEN environment variable set?"
            )
        self._lock = threading.Lock()
        self._token: str | None = token or None
        self._refresh_token: str | None = refresh_token or None
        self._refresh_at = _refresh_at(self._token, time.time(), fresh=False, lifetime=None)
        self._generation = 0  # bumped by every successful refresh
        self._flight: _Flight | None = None
        self._refused: Callable[[], Exception] | None = None
        self._base_url = httpx.URL(str(base_url).rstrip("/")) if base_url is not None else None
        self._on_tokens_refreshed = on_tokens_refreshed
        self._parser = GeneratedClient(base_url=str(base_url or ""))

    def __repr__(self) -> str:
        return "TokenAuth(<tokens hidden>)"

    __str__ = __repr__

    @property
    def generation(self) -> int:
        """How many refreshes have succeeded so far (0 while the first token is in use)."""
        return self._generation

    # -- the two httpx entry points: thin drivers around one flow -------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """The flow for ``httpx.Client``: threads waiting for a refresh block on an event."""
        request.read()  # a replay must be able to send the body again
        flow = self._flow(request)
        try:
            step = next(flow)
            while True:
                if isinstance(step, _Flight):
                    step.event.wait()
                    step = flow.send(None)
                    continue
                response = yield step
                if step is not request:
                    response.read()  # the refresh answer
                step = flow.send(response)
        except StopIteration:
            return
        finally:
            flow.close()

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The flow for ``httpx.AsyncClient``: tasks waiting for a refresh await a future."""
        await request.aread()
        flow = self._flow(request)
        try:
            step = next(flow)
            while True:
                if isinstance(step, _Flight):
                    future = step.add_async_waiter(self._lock, asyncio.get_running_loop())
                    if future is not None:
                        await future
                    step = flow.send(None)
                    continue
                response = yield step
                if step is not request:
                    await response.aread()
                step = flow.send(response)
        except StopIteration:
            return
        finally:
            flow.close()

    # -- the flow itself: yields requests to send, or a _Flight to wait for ----------------

    def _flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request | _Flight, httpx.Response | None, None]:
        token, generation = yield from self._token_to_send(request)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        assert response is not None
        if response.status_code != 401:
            return
        with self._lock:
            refused, can_refresh = self._refused, self._refresh_token is not None
        if refused is not None:
            raise refused()
        if not can_refresh:
            return  # nothing to renew with: the caller gets the 401
        logger.debug("access token refused (401); renewing it and replaying the request")
        token, _ = yield from self._token_newer_than(generation, request)
        request.headers["Authorization"] = f"Bearer {token}"
        yield request  # the replay: whatever it answers is the answer

    def _token_to_send(
        self, request: httpx.Request
    ) -> Generator[httpx.Request | _Flight, httpx.Response | None, tuple[str, int]]:
        with self._lock:
            token, generation = self._token, self._generation
            due = self._refresh_token is not None and time.time() >= self._refresh_at
        if token is not None and not due:
            return token, generation
        if token is not None:
            logger.debug("access token expires soon; renewing it before sending")
        return (yield from self._token_newer_than(generation, request))

    def _token_newer_than(
        self, generation: int, request: httpx.Request
    ) -> Generator[httpx.Request | _Flight, httpx.Response | None, tuple[str, int]]:
        """A token from a refresh later than ``generation``: reuse one, wait for one, or get one.

        Returns the token and its generation.
        """
        while True:
            with self._lock:
                if self._generation > generation and self._token is not None:
                    return self._token, self._generation
                if self._refused is not None:
                    raise self._refused()
                refresh_token = self._refresh_token
                if refresh_token is None:
                    raise AuthenticationError(
                        401,
                        "The access token is missing or expired and no refresh_token was given",
                        code="unauthorized",
                        hint="Create the client with a valid token, or with refresh_token=... "
                        "so the SDK can renew it.",
                    )
                flight = self._flight
                leading = flight is None
                if flight is None:
                    flight = self._flight = _Flight()
            if not leading:
                yield flight
                if flight.error is not None:
                    raise flight.error()
                continue
            try:
                answer = yield self._refresh_request(request, refresh_token)
                assert answer is not None
                self._take_answer(flight, answer, refresh_token)
            finally:
                with self._lock:
                    self._flight = None
                flight.finish(self._lock)
            if flight.error is not None:
                raise flight.error()

    def _refresh_request(self, request: httpx.Request, refresh_token: str) -> httpx.Request:
        kwargs = refresh_op._get_kwargs(body=RefreshRequest(refresh_token=refresh_token))
        base = self._base_url or request.url.copy_with(raw_path=b"/", fragment=None)
        url = httpx.URL(str(base).rstrip("/") + kwargs["url"])
        headers = dict(kwargs["headers"])
        if "user-agent" in request.headers:
            headers["User-Agent"] = request.headers["user-agent"]
        logger.debug("renewing the access token: POST %s", url)
        return httpx.Request(
            kwargs["method"].upper(),
            url,
            json=kwargs["json"],
            headers=headers,
            extensions={"timeout": request.extensions.get("timeout", {})},
        )

    def _take_answer(self, flight: _Flight, response: httpx.Response, used: str) -> None:
        """Install the refresh answer's tokens, or record why there are none."""
        parsed: Any = None
        try:
            parsed = refresh_op._build_response(client=self._parser, response=response).parsed
        except (KeyError, TypeError, ValueError):
            parsed = None
        if (
            response.status_code == 200
            and isinstance(parsed, TokenPair)
            and isinstance(parsed.access_token, str)
            and parsed.access_token
        ):
            self._install(parsed, used)
            return
        if response.status_code == 200:
            flight.error = lambda: ApiError(
                200,
                "The token refresh answer is not a token pair (accessToken, tokenType, expiresIn)",
                hint="The server does not speak this API version; check the base URL.",
            )
            return
        error = _refresh_error(response, used)
        flight.error = error
        if response.status_code in REFUSED_STATUSES:
            with self._lock:
                self._refused = error
                self._refresh_token = None
            logger.error(
                "the refresh token was refused (HTTP %d); new credentials are needed",
                response.status_code,
            )

    def _install(self, pair: TokenPair, used: str) -> None:
        rotated = isinstance(pair.refresh_token, str) and bool(pair.refresh_token)
        new_refresh = (
            pair.refresh_token if isinstance(pair.refresh_token, str) and rotated else used
        )
        expires_in = pair.expires_in if isinstance(pair.expires_in, int) else None
        now = time.time()
        with self._lock:
            self._token = pair.access_token
            self._refresh_token = new_refresh
            self._refresh_at = _refresh_at(
                pair.access_token,
                now,
                fresh=True,
                lifetime=float(expires_in) if expires_in is not None else None,
            )
            self._generation += 1
            generation = self._generation
        logger.debug(
            "access token renewed (renewal %d, expires in %s s, refresh token %s)",
            generation,
            expires_in,
            "rotated" if rotated else "unchanged",
        )
        callback = self._on_tokens_refreshed
        if callback is None:
            return
        tokens = RefreshedTokens(pair.access_token, new_refresh, rotated, expires_in)
        try:
            callback(tokens)
        except Exception as exc:
            logger.error(
                "on_tokens_refreshed raised %s: %s; the new tokens are in use but were not saved",
                type(exc).__name__,
                _redacted(str(exc), (pair.access_token, new_refresh, used)),
            )


def _refresh_error(response: httpx.Response, used: str) -> Callable[[], Exception]:
    """A factory of the exception a failed refresh answer means (fresh instance per raise).

    The server's message is kept, with the refresh token cut out should the
    server have echoed it; the raw body is not kept.
    """
    # Imported here: base_client imports this module.
    from .base_client import api_error_from_response

    error = api_error_from_response(response.status_code, response.content, response.headers)
    error.message = _redacted(error.message, (used,))
    if response.status_code in REFUSED_STATUSES:

        def refused() -> Exception:
            return AuthenticationError(
                error.status_code,
                f"Refreshing the access token was refused: {error.message}",
                code=error.code,
                request_id=error.request_id,
                hint="Get new credentials (token and refresh_token) and create the client again",
            )

        return refused

    transient = response.status_code in (408, 429) or response.status_code >= 500
    hint = (
        f"A temporary server-side failure; retrying later ({RETRIES_ON}) may work"
        if transient
        else "Check the base URL: the refresh operation is POST /v1/auth/refresh under it"
    )

    def failed() -> Exception:
        kwargs: dict[str, Any] = {"code": error.code, "request_id": error.request_id}
        if hasattr(error, "retry_after"):
            kwargs["retry_after"] = error.retry_after
        return type(error)(
            error.status_code,
            f"Refreshing the access token failed: {error.message}",
            hint=hint,
            **kwargs,
        )

    return failed
