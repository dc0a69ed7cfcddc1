"""Unit tests of genomcore_sdk.auth: JWT time parsing, and the auth flow driven by hand.

The flow is driven the way httpx drives it (``next`` / ``send``), which makes
interleavings that threads only hit by chance (a 401 arriving after another
request already refreshed) deterministic. The integration tests in
``test_auth_emulator.py`` run the same flows over real sockets.
"""

from __future__ import annotations

import base64
import json
import logging
import math
from collections.abc import Generator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from genomcore_sdk import ApiError, AuthenticationError, ConfigurationError, ServerError
from genomcore_sdk.auth import (
    MAX_REFRESH_MARGIN,
    JwtTimes,
    RefreshedTokens,
    TokenAuth,
    decode_jwt_claims,
    jwt_times,
    refresh_margin,
)

BASE = "http://api.test"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


DEFAULT_HEADER = {"alg": "HS256", "typ": "JWT"}


def make_jwt(claims: Any, header: Any = DEFAULT_HEADER) -> str:
    head = header
    return ".".join(
        [b64url(json.dumps(head).encode()), b64url(json.dumps(claims).encode()), "c2lnbmF0dXJl"]
    )


# --------------------------------------------------------------------------- decoding

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.text())
def test_decoder_never_raises_on_any_text(text: str) -> None:
    claims = decode_jwt_claims(text)
    assert claims is None or isinstance(claims, dict)
    times = jwt_times(text)
    assert times is None or math.isfinite(times.expires_at)


@given(st.lists(st.text(alphabet="ABCxyz019-_=.+/ \x00é", max_size=30), min_size=1, max_size=6))
def test_decoder_never_raises_on_dotted_garbage(parts: list[str]) -> None:
    token = ".".join(parts)
    claims = decode_jwt_claims(token)
    assert claims is None or isinstance(claims, dict)


@given(st.binary(max_size=60), st.binary(max_size=60))
def test_decoder_never_raises_on_encoded_bytes(head: bytes, body: bytes) -> None:
    token = f"{b64url(head)}.{b64url(body)}.sig"
    claims = decode_jwt_claims(token)
    assert claims is None or isinstance(claims, dict)


@given(json_values)
def test_decoder_reads_any_json_payload(payload: Any) -> None:
    token = make_jwt(payload)
    claims = decode_jwt_claims(token)
    if isinstance(payload, dict):
        assert claims == payload
    else:
        assert claims is None  # a JWT's claims are a JSON object; anything else is "not a JWT"


@given(json_values)
def test_header_must_be_a_json_object(header: Any) -> None:
    claims = decode_jwt_claims(make_jwt({"exp": 5}, header=header))
    assert claims == ({"exp": 5} if isinstance(header, dict) else None)


@given(
    st.one_of(st.integers(-(2**60), 2**60), st.floats(-1e15, 1e15)),
    st.none() | st.integers(0, 2**40),
)
def test_exp_and_iat_are_read(exp: float, iat: int | None) -> None:
    claims: dict[str, Any] = {"exp": exp, "sub": "x"}
    if iat is not None:
        claims["iat"] = iat
    assert jwt_times(make_jwt(claims)) == JwtTimes(float(exp), None if iat is None else float(iat))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "opaque-token",
        "a.b",
        "a.b.c.d.e",  # JWE (encrypted): its claims are not readable
        make_jwt({"sub": "no exp"}),
        make_jwt({"exp": "1700000000"}),
        make_jwt({"exp": True}),
        make_jwt({"exp": None}),
        make_jwt({"exp": [1]}),
        make_jwt({"exp": 1}, header=[1]),
        make_jwt({"exp": 1}).replace(".", "..", 1),
        "e30.e30=.sig",  # padding is not base64url
        "eyJhbGciOiJIUzI1NiJ9." + b64url(b"[" * 100_000) + ".sig",  # too deep to parse
        "eyJhbGciOiJIUzI1NiJ9." + b64url(b'{"exp": Infinity}') + ".sig",
        "eyJhbGciOiJIUzI1NiJ9." + b64url(b'{"exp": ' + b"9" * 5000 + b"}") + ".sig",
        "eyJhbGciOiJIUzI1NiJ9." + b64url(b"\xff\xfe{") + ".sig",
    ],
)
def test_not_a_jwt_with_exp(token: str) -> None:
    assert jwt_times(token) is None


def test_real_jwt_shape() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDAsImlhdCI6MTY5OTk5NjQwMH0.c2ln"
    assert jwt_times(token) == JwtTimes(1_700_000_000.0, 1_699_996_400.0)


def test_margin_fits_long_and_short_tokens() -> None:
    assert refresh_margin(3600) == MAX_REFRESH_MARGIN == 30.0
    assert refresh_margin(60) == 15.0
    assert refresh_margin(2) == 0.5
    assert refresh_margin(-5) == 0.0


# --------------------------------------------------------------------------- flow helpers


def api_request(body: bytes = b"[]") -> httpx.Request:
    return httpx.Request(
        "POST",
        f"{BASE}/v1/time-series",
        content=body,
        extensions={"timeout": {"connect": 1.0, "read": 2.0, "write": 2.0, "pool": 1.0}},
    )


def answer(status: int, body: Any, request: httpx.Request | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, request=request)


def pair(access: str, refresh: str | None = None, expires_in: int = 3600) -> dict[str, Any]:
    body: dict[str, Any] = {"accessToken": access, "tokenType": "Bearer", "expiresIn": expires_in}
    if refresh is not None:
        body["refreshToken"] = refresh
    return body


def bearer(request: httpx.Request) -> str:
    return request.headers["Authorization"].removeprefix("Bearer ")


def is_refresh(request: httpx.Request) -> bool:
    return request.url.path.endswith("/v1/auth/refresh")


Flow = Generator[httpx.Request, httpx.Response, None]


def finish(flow: Flow, response: httpx.Response) -> None:
    with pytest.raises(StopIteration):
        flow.send(response)


# --------------------------------------------------------------------------- flows


def test_bearer_on_every_request_and_no_refresh_for_opaque_tokens() -> None:
    auth = TokenAuth("opaque", "r1")
    flow = auth.sync_auth_flow(api_request())
    sent = next(flow)
    assert bearer(sent) == "opaque"
    finish(flow, answer(201, {}))
    assert auth.generation == 0


def test_expired_jwt_is_renewed_before_sending() -> None:
    expired = make_jwt({"exp": 1_000, "iat": 400})
    auth = TokenAuth(expired, "r1", base_url=BASE)
    original = api_request()
    flow = auth.sync_auth_flow(original)
    refresh = next(flow)
    assert is_refresh(refresh)
    assert refresh.method == "POST"
    assert json.loads(refresh.content) == {"refreshToken": "r1"}
    assert "Authorization" not in refresh.headers  # the refresh never goes through the auth
    assert refresh.extensions["timeout"] == original.extensions["timeout"]
    sent = flow.send(answer(200, pair("new-access", "r2"), refresh))
    assert sent is original
    assert bearer(sent) == "new-access"
    finish(flow, answer(201, {}))
    assert auth.generation == 1


def test_valid_jwt_is_used_as_is() -> None:
    fresh = make_jwt({"exp": 4_000_000_000, "iat": 3_999_996_400})
    auth = TokenAuth(fresh, "r1")
    flow = auth.sync_auth_flow(api_request())
    assert bearer(next(flow)) == fresh


def test_refresh_url_keeps_the_base_path() -> None:
    auth = TokenAuth(None, "r1", base_url="https://gw.test/genomcore/")
    flow = auth.sync_auth_flow(httpx.Request("GET", "https://gw.test/genomcore/v1/time-series"))
    assert str(next(flow).url) == "https://gw.test/genomcore/v1/auth/refresh"


def test_refresh_url_defaults_to_the_request_origin() -> None:
    auth = TokenAuth(None, "r1")
    flow = auth.sync_auth_flow(httpx.Request("GET", "http://h.test:8080/v1/time-series?x=1"))
    assert str(next(flow).url) == "http://h.test:8080/v1/auth/refresh"


def test_401_refreshes_once_and_replays_with_the_same_body() -> None:
    auth = TokenAuth("old", "r1")
    original = api_request(b'[{"a": 1}]')
    flow = auth.sync_auth_flow(original)
    assert bearer(next(flow)) == "old"
    refresh = flow.send(answer(401, {"code": "unauthorized", "message": "expired"}))
    assert is_refresh(refresh)
    replay = flow.send(answer(200, pair("new"), refresh))
    assert replay is original
    assert bearer(replay) == "new"
    assert replay.content == b'[{"a": 1}]'
    # a second 401 is the answer: no loop
    finish(flow, answer(401, {"code": "unauthorized", "message": "still"}))
    assert auth.generation == 1


def test_401_after_another_request_refreshed_reuses_the_new_token() -> None:
    auth = TokenAuth("old", "r1")
    flow_a = auth.sync_auth_flow(api_request())
    flow_b = auth.sync_auth_flow(api_request())
    assert bearer(next(flow_a)) == "old"
    assert bearer(next(flow_b)) == "old"
    refresh = flow_b.send(answer(401, {"code": "unauthorized", "message": "expired"}))
    assert is_refresh(refresh)
    assert bearer(flow_b.send(answer(200, pair("new", "r2"), refresh))) == "new"
    # A's 401 (sent with the old token) arrives after B's refresh: no second refresh
    replay = flow_a.send(answer(401, {"code": "unauthorized", "message": "expired"}))
    assert not is_refresh(replay)
    assert bearer(replay) == "new"
    assert auth.generation == 1


def test_a_request_waits_for_a_refresh_in_flight_instead_of_starting_one() -> None:
    import threading

    auth = TokenAuth(None, "r1")
    leader = auth.sync_auth_flow(api_request())
    refresh = next(leader)
    assert is_refresh(refresh)
    follower_sent: list[httpx.Request] = []

    def follower() -> None:
        follower_sent.append(next(auth.sync_auth_flow(api_request())))

    thread = threading.Thread(target=follower)
    thread.start()
    thread.join(timeout=0.2)
    assert thread.is_alive(), "the follower must wait for the refresh in flight"
    assert not follower_sent
    leader.send(answer(200, pair("new", "r2"), refresh))
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert [bearer(r) for r in follower_sent] == ["new"]
    assert not is_refresh(follower_sent[0])


def test_abandoned_refresh_lets_the_next_request_lead() -> None:
    auth = TokenAuth(None, "r1")
    first = auth.sync_auth_flow(api_request())
    assert is_refresh(next(first))
    first.close()  # what httpx does when sending the refresh raised (e.g. connection refused)
    second = auth.sync_auth_flow(api_request())
    refresh = next(second)
    assert is_refresh(refresh)
    assert json.loads(refresh.content) == {"refreshToken": "r1"}


def test_rotation_drops_the_old_refresh_token_and_calls_back() -> None:
    seen: list[RefreshedTokens] = []
    auth = TokenAuth("old", "r1", on_tokens_refreshed=seen.append)
    for expected_refresh, new_pair in (("r1", pair("a2", "r2")), ("r2", pair("a3"))):
        flow = auth.sync_auth_flow(api_request())
        next(flow)
        refresh = flow.send(answer(401, {"code": "unauthorized", "message": "expired"}))
        assert json.loads(refresh.content) == {"refreshToken": expected_refresh}
        flow.send(answer(200, new_pair, refresh))
    assert [(t.access_token, t.refresh_token, t.rotated) for t in seen] == [
        ("a2", "r2", True),
        ("a3", "r2", False),  # not rotated: the pair keeps the refresh token in use
    ]
    assert "a2" not in repr(seen[0]) and "r2" not in repr(seen[0])
    assert repr(seen[0]) == "RefreshedTokens(rotated=True, expires_in=3600)"


def test_callback_failure_is_logged_without_tokens(caplog: pytest.LogCaptureFixture) -> None:
    def broken(tokens: RefreshedTokens) -> None:
        raise OSError(f"disk full while saving {tokens.access_token} / {tokens.refresh_token}")

    auth = TokenAuth("old-access", "old-refresh", on_tokens_refreshed=broken)
    caplog.set_level(logging.DEBUG)
    flow = auth.sync_auth_flow(api_request())
    next(flow)
    refresh = flow.send(answer(401, {"code": "unauthorized", "message": "expired"}))
    replay = flow.send(answer(200, pair("new-access", "new-refresh"), refresh))
    assert bearer(replay) == "new-access"  # the request goes on
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "on_tokens_refreshed raised OSError: disk full" in errors[0].getMessage()
    for secret in ("old-access", "old-refresh", "new-access", "new-refresh"):
        assert secret not in caplog.text


def test_refused_refresh_raises_authentication_error_once_and_for_all() -> None:
    auth = TokenAuth("old", "secret-refresh")
    flow = auth.sync_auth_flow(api_request())
    next(flow)
    refresh = flow.send(answer(401, {"code": "unauthorized", "message": "expired"}))
    refused = answer(
        401,
        {"code": "invalid_refresh_token", "message": "bad token secret-refresh", "requestId": "q1"},
        refresh,
    )
    with pytest.raises(AuthenticationError) as caught:
        flow.send(refused)
    error = caught.value
    assert error.status_code == 401
    assert error.code == "invalid_refresh_token"
    assert error.request_id == "q1"
    assert "Get new credentials" in str(error)
    assert "secret-refresh" not in str(error) + repr(error) + error.message + error.body
    assert error.__context__ is None and error.__cause__ is None
    # later requests fail the same way without asking the server again
    again = auth.sync_auth_flow(api_request())
    assert bearer(next(again)) == "old"
    with pytest.raises(AuthenticationError, match="Get new credentials"):
        again.send(answer(401, {"code": "unauthorized", "message": "expired"}))


@pytest.mark.parametrize(
    ("status", "kind"), [(503, ServerError), (500, ServerError), (404, ApiError)]
)
def test_failed_refresh_is_not_a_credentials_problem(status: int, kind: type[ApiError]) -> None:
    auth = TokenAuth(None, "r1")
    flow = auth.sync_auth_flow(api_request())
    refresh = next(flow)
    with pytest.raises(kind) as caught:
        flow.send(answer(status, {"code": "x", "message": "down"}, refresh))
    assert not isinstance(caught.value, AuthenticationError)
    assert "Refreshing the access token failed" in str(caught.value)
    # the refresh token is kept: the next request tries again
    retry = auth.sync_auth_flow(api_request())
    assert json.loads(next(retry).content) == {"refreshToken": "r1"}


def test_malformed_refresh_answer() -> None:
    auth = TokenAuth(None, "r1")
    flow = auth.sync_auth_flow(api_request())
    refresh = next(flow)
    with pytest.raises(ApiError, match="not a token pair"):
        flow.send(answer(200, {"token": "x"}, refresh))


def test_no_refresh_token_lets_the_401_through() -> None:
    auth = TokenAuth("only-access")
    flow = auth.sync_auth_flow(api_request())
    next(flow)
    finish(flow, answer(401, {"code": "unauthorized", "message": "expired"}))


def test_no_credentials_at_all() -> None:
    with pytest.raises(ConfigurationError, match="TOKEN environment variable"):
        TokenAuth(None, None)
    with pytest.raises(ConfigurationError):
        TokenAuth("", "")


def test_reprs_hide_tokens() -> None:
    auth = TokenAuth("access-secret", "refresh-secret")
    for text in (repr(auth), str(auth)):
        assert "secret" not in text


def test_fresh_token_that_already_looks_expired_does_not_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The server's clock is far behind ours: every token it issues looks expired here.
    stale = make_jwt({"exp": 1_000, "iat": 400})
    auth = TokenAuth(stale, "r1")
    flow = auth.sync_auth_flow(api_request())
    refresh = next(flow)
    assert is_refresh(refresh)
    sent = flow.send(answer(200, pair(make_jwt({"exp": 2_000, "iat": 1_400}), "r2"), refresh))
    assert not is_refresh(sent)
    assert "system clock" in caplog.text
    # the next request does not refresh ahead again (it waits for a 401)
    assert not is_refresh(next(auth.sync_auth_flow(api_request())))


def test_with_an_httpx_client_and_mock_transport() -> None:
    """Narrow check that httpx runs the flow: refresh answer read, replay sent."""
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("authorization")))
        if is_refresh(request):
            return httpx.Response(200, json=pair("new"))
        if request.headers["authorization"] != "Bearer new":
            return httpx.Response(401, json={"code": "unauthorized", "message": "expired"})
        return httpx.Response(200, json={"ok": True})

    auth = TokenAuth("old", "r1")
    with httpx.Client(transport=httpx.MockTransport(handler), base_url=BASE, auth=auth) as http:
        assert http.get("/v1/x").json() == {"ok": True}
        assert http.get("/v1/x").json() == {"ok": True}
    assert seen == [
        ("/v1/x", "Bearer old"),
        ("/v1/auth/refresh", None),
        ("/v1/x", "Bearer new"),
        ("/v1/x", "Bearer new"),
    ]


async def _async_roundtrip() -> list[tuple[str, str | None]]:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("authorization")))
        if is_refresh(request):
            return httpx.Response(200, json=pair("new"))
        return httpx.Response(200, json={"ok": True})

    auth = TokenAuth(make_jwt({"exp": 10}), "r1")
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url=BASE, auth=auth
    ) as http:
        assert (await http.get("/v1/x")).json() == {"ok": True}
    return seen


def test_async_flow_with_mock_transport() -> None:
    import asyncio

    assert asyncio.run(_async_roundtrip()) == [
        ("/v1/auth/refresh", None),
        ("/v1/x", "Bearer new"),
    ]
