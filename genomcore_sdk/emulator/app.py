"""The emulator's HTTP API: a Starlette app implementing every operation of ``openapi.yaml``."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .faults import FaultInjector
from .filters import FilterError, compile_filter, compile_sort, parse_instant
from .ingest import INT64_MAX, INT64_MIN, BodyRejected, ObservationParser
from .store import IdempotencyConflict, ObservationStore
from .tokens import RefreshRefused, TokenIssuer

__all__ = ["MAX_BODY_BYTES", "MAX_ITEMS", "MAX_PAGE_SIZE", "EmulatorState", "build_app"]

logger = logging.getLogger("genomcore_sdk.emulator")

MAX_ITEMS = 5000
MAX_PAGE_SIZE = 5000
MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass
class EmulatorState:
    """Everything the app serves from: storage, tokens, limits and counters."""

    store: ObservationStore
    tokens: TokenIssuer
    parser: ObservationParser = field(
        default_factory=lambda: ObservationParser(max_items=MAX_ITEMS)
    )
    max_body_bytes: int = MAX_BODY_BYTES
    faults: FaultInjector = field(default_factory=FaultInjector)
    status_counts: dict[int, int] = field(default_factory=dict)
    # uvicorn's live connections (set by the server), used to drop a connection on purpose
    connections: set[Any] | None = None

    def drop_connection(self, request: Request) -> bool:
        """Close the client connection of ``request`` without answering."""
        client = request.scope.get("client")
        for protocol in list(self.connections or ()):
            if getattr(protocol, "client", None) == client and client is not None:
                protocol.transport.close()
                return True
        return False


class _HttpError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        msgspec.json.encode(body),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


Handler = Callable[[Request, EmulatorState], Awaitable[Response]]


def _endpoint(
    handler: Handler, state: EmulatorState, operation: str, *, secured: bool = True
) -> Any:
    async def endpoint(request: Request) -> Response:
        request_id = uuid.uuid4().hex[:16]
        fault = state.faults.draw(operation)
        try:
            if state.faults.config.delay_ms:
                await asyncio.sleep(state.faults.config.delay_ms / 1000)
            if fault == "drop_before" and state.drop_connection(request):
                return Response(status_code=204)  # never reaches the closed connection
            if fault.startswith("fail_"):
                status = int(fault[-3:])
                raise _HttpError(
                    status,
                    "internal_error" if status == 500 else "unavailable",
                    "Injected failure: the server failed before doing anything. Retry.",
                    headers={"Retry-After": "0"} if status == 503 else None,
                )
            if fault == "throttle":
                after = str(state.faults.config.retry_after)
                raise _HttpError(
                    429,
                    "rate_limited",
                    f"Too many requests; retry after {after} s.",
                    headers={"Retry-After": after},
                )
            if secured:
                _check_bearer(request, state.tokens)
            response = await handler(request, state)
            if fault == "drop_after" and state.drop_connection(request):
                return response  # committed, but the client never hears of it
        except _HttpError as exc:
            body: dict[str, Any] = {
                "code": exc.code,
                "message": exc.message,
                "requestId": request_id,
            }
            if exc.details:
                body["details"] = exc.details
            response = _json(exc.status, body, exc.headers)
        if secured:  # the 401 ledger tests read (cheap unless a 401 is pending)
            await state.tokens.note_response(request, response.status_code)
        response.headers["X-Request-Id"] = request_id
        state.status_counts[response.status_code] = (
            state.status_counts.get(response.status_code, 0) + 1
        )
        return response

    return endpoint


def _check_bearer(request: Request, tokens: TokenIssuer) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _HttpError(401, "unauthorized", "Missing bearer token in the Authorization header.")
    if not tokens.is_valid(token.strip()):
        raise _HttpError(401, "unauthorized", "The access token is invalid or expired.")


async def _read_json(request: Request, state: EmulatorState) -> Any:
    body = await _read_body(request, state.max_body_bytes)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _HttpError(400, "invalid_json", f"The body is not valid JSON: {exc}") from None


def _int64(value: Any) -> bool:
    return type(value) is int and INT64_MIN <= value <= INT64_MAX


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body; 413 once it passes ``limit`` bytes (the rest is read and dropped)."""
    declared = request.headers.get("content-length", "")
    size = int(declared) if declared.isdigit() else -1
    if 0 <= size <= limit:
        return await request.body()
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total <= limit:
            chunks.append(chunk)
    if total > limit:
        raise _HttpError(
            413,
            "payload_too_large",
            f"The body is {total} bytes; the limit is {limit}. Split it.",
        )
    return b"".join(chunks)


async def create_time_series(request: Request, state: EmulatorState) -> Response:
    """POST /v1/time-series: validate every observation, then store all of them or none.

    The body is checked by :class:`~.ingest.ObservationParser` (a msgspec fast
    pass; on any problem a precise pass that lists each one for the 422
    ``details``) and stored in one SQLite transaction, which also settles the
    ``Idempotency-Key`` (replay or conflict).
    """
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 255:
        raise _HttpError(
            400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 characters."
        )
    raw = await _read_body(request, state.max_body_bytes)
    try:
        rows = state.parser.parse(raw)
    except BodyRejected as exc:
        raise _HttpError(exc.status, exc.code, exc.message, exc.details) from None
    body_hash = hashlib.sha256(raw).hexdigest() if key is not None else ""
    try:
        inserted, replayed = state.store.insert(
            rows, idempotency_key=key, body_hash=body_hash, now=time.time()
        )
    except IdempotencyConflict:
        raise _HttpError(
            422,
            "idempotency_conflict",
            "This Idempotency-Key was already used with a different body; use a new key.",
        ) from None
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return _json(201, {"inserted": inserted}, headers)


def _window_bound(body: dict[str, Any], name: str) -> int | None:
    text = body.get(name)
    if text is None:
        return None
    if not isinstance(text, str):
        raise _HttpError(
            400, "invalid_query", f"{name} must be a string date or date-time, got {text!r}"
        )
    try:
        return parse_instant(text, allow_date=True)
    except FilterError as exc:
        raise _HttpError(400, "invalid_query", f"{name}: {exc}") from None


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _HttpError(400, "invalid_query", f"{name} must be an integer, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        limit = f"{low} to {high}" if high is not None else f"at least {low}"
        raise _HttpError(400, "invalid_query", f"{name} must be {limit}, got {value}")
    return value


async def query_time_series(request: Request, state: EmulatorState) -> Response:
    """POST /v1/time-series/query."""
    page = _int_param(request, "page", 0, 0, INT64_MAX)  # answered back, so it must fit JSON int64
    page_size = _int_param(request, "pageSize", 500, 1, MAX_PAGE_SIZE)
    body = await _read_json(request, state)
    if not isinstance(body, dict):
        raise _HttpError(400, "invalid_query", "The body must be a JSON object.")
    unknown = set(body) - {"filter", "sort", "beforeDate", "afterDate"}
    if unknown:
        raise _HttpError(
            400,
            "invalid_query",
            f"Unknown body field(s) {sorted(unknown)}; allowed: filter, sort, beforeDate, afterDate.",
        )
    try:
        where, params = compile_filter(body.get("filter"))
        sort = body.get("sort")
        if sort is not None and not isinstance(sort, dict):
            raise FilterError('sort must be an object such as {"timestamp": -1}')
        order_by = compile_sort(sort)
    except FilterError as exc:
        raise _HttpError(400, "invalid_query", str(exc)) from None
    low = _window_bound(body, "beforeDate")
    high = _window_bound(body, "afterDate")
    # The series_*_ts conditions never change the result (each series' span covers all of
    # its points); they let SQLite skip whole series and reach the rest by (series, time).
    if low is not None:
        where += " AND ts >= ? AND series_max_ts >= ?"
        params += [low, low]
    if high is not None:
        where += " AND ts < ? AND series_min_ts < ?"
        params += [high, high]
    offset = min(page * page_size, INT64_MAX)  # SQLite cannot bind more; such a page is empty
    data, total = state.store.query(where, params, order_by, page_size, offset)
    return _json(
        200,
        {
            "data": data,
            "page": page,
            "pageSize": page_size,
            "total": total,
            "hasMore": (page + 1) * page_size < total,
        },
    )


async def delete_time_series(request: Request, state: EmulatorState) -> Response:
    """DELETE /v1/time-series."""
    body = await _read_json(request, state)
    if not isinstance(body, dict):
        raise _HttpError(422, "validation_error", "The body must be a JSON object.")
    extra = set(body) - {"userId", "batch", "metric"}
    missing = {"userId", "batch", "metric"} - set(body)
    if extra or missing:
        raise _HttpError(
            422,
            "validation_error",
            "Delete takes exactly userId, batch and metric"
            + (f"; unknown: {sorted(extra)}" if extra else "")
            + (f"; missing: {sorted(missing)}" if missing else ""),
        )
    user_id, batch, metric = body["userId"], body["batch"], body["metric"]
    if not _int64(user_id):
        raise _HttpError(422, "validation_error", f"userId must be an integer, got {user_id!r}")
    for name, text in (("batch", batch), ("metric", metric)):
        if not isinstance(text, str) or not text:
            raise _HttpError(
                422, "validation_error", f"{name} must be a non-empty string, got {text!r}"
            )
    deleted = state.store.delete(user_id, batch, metric)
    return _json(200, {"deleted": deleted})


async def refresh_token(request: Request, state: EmulatorState) -> Response:
    """POST /v1/auth/refresh."""
    body = await _read_json(request, state)
    token = body.get("refreshToken") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise _HttpError(400, "invalid_request", 'The body must be {"refreshToken": "..."}.')
    try:
        access, rotated, ttl = state.tokens.refresh(token)
    except RefreshRefused:
        raise _HttpError(
            401, "invalid_refresh_token", "The refresh token is invalid, revoked or already used."
        ) from None
    answer: dict[str, Any] = {"accessToken": access, "tokenType": "Bearer", "expiresIn": ttl}
    if rotated is not None:
        answer["refreshToken"] = rotated
    return _json(200, answer)


def build_app(state: EmulatorState) -> Starlette:
    """The ASGI application serving ``state``."""
    routes = [
        Route(
            "/v1/time-series",
            _endpoint(create_time_series, state, "createTimeSeries"),
            methods=["POST"],
        ),
        Route(
            "/v1/time-series",
            _endpoint(delete_time_series, state, "deleteTimeSeries"),
            methods=["DELETE"],
        ),
        Route(
            "/v1/time-series/query",
            _endpoint(query_time_series, state, "queryTimeSeries"),
            methods=["POST"],
        ),
        Route(
            "/v1/auth/refresh",
            _endpoint(refresh_token, state, "refreshToken", secured=False),
            methods=["POST"],
        ),
    ]
    return Starlette(routes=routes)
