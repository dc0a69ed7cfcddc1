"""The token lifecycle against the real emulator over loopback sockets.

Short-lived JWT access tokens, many threads and asyncio tasks sharing one
token, rotation of refresh tokens, refusal, and secrets kept out of logs.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from genomcore_ts_api import Client as GeneratedClient
from genomcore_ts_api.api.auth import refresh_token as refresh_op
from genomcore_ts_api.api.time_series import query_time_series as query_op
from genomcore_ts_api.models import Error, QueryRequest, RefreshRequest, TokenPair

from genomcore_sdk import (
    AuthenticationError,
    ConfigurationError,
    GenomcoreApiClient,
    GenomcoreError,
)
from genomcore_sdk.auth import RefreshedTokens, TokenAuth
from genomcore_sdk.emulator import Emulator
from genomcore_sdk.time_series import TimeSeries
from tests.helpers import observation, read_vendor_csv

FIXED_TOKEN = "fixed-access-token"
FIRST_REFRESH = "first-refresh-token"
BATCH = "actiwatch-2015-07-04"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(token=FIXED_TOKEN, refresh_token=FIRST_REFRESH) as emulator:
        yield emulator


def short_lived_emulator(ttl: float) -> Emulator:
    return Emulator(token=FIXED_TOKEN, refresh_token=FIRST_REFRESH, token_ttl=ttl)


def query_body() -> QueryRequest:
    return QueryRequest.from_dict({"filter": {"meta.batch": "none"}})


class TokenLog:
    """Every token the client held, from the start and from on_tokens_refreshed."""

    def __init__(self, *initial: str) -> None:
        self.pairs: list[RefreshedTokens] = []
        self.initial = list(initial)

    def __call__(self, tokens: RefreshedTokens) -> None:
        self.pairs.append(tokens)

    def secrets(self) -> list[str]:
        found = list(self.initial)
        for pair in self.pairs:
            found += [pair.access_token, pair.refresh_token]
        return found


def assert_no_secret(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text, "a token leaked"


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    return caplog.text + "\n".join(
        record.getMessage() + str(record.args) + (record.exc_text or "")
        for record in caplog.records
    )


# --------------------------------------------------------------------------- long uploads


def check_full_week_stored(emulator: Emulator) -> None:
    store = emulator.state.store
    assert store.count() == 40_316
    for metric, count in {"activity_counts": 20_160, "sleep_wake": 20_156}.items():
        page = GenomcoreApiClient(token=FIXED_TOKEN, base_url=emulator.base_url)
        result = page.time_series.query_time_series(
            page=0, pageSize=1, body={"filter": {"meta.batch": BATCH, "meta.metric": metric}}
        )
        assert result.total == count


def check_token_bookkeeping(emulator: Emulator, tokens: TokenLog, minimum_refreshes: int) -> None:
    counters = emulator.tokens.counters()
    assert counters["refresh_refused"] == 0, counters  # no refresh token was used twice
    assert counters["unreplayed_401s"] == 0, counters  # every 401 was replayed successfully
    assert counters["replayed_401s"] == counters["unauthorized"], counters
    assert counters["refresh_calls"] >= minimum_refreshes, counters
    assert len(tokens.pairs) == counters["refresh_calls"]
    assert all(pair.rotated for pair in tokens.pairs)
    assert len({pair.refresh_token for pair in tokens.pairs}) == len(tokens.pairs)


def test_real_week_8_threads_one_client_2_second_tokens(
    sample_csv: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """8 threads share one client; tokens live 2 s; each thread uploads a slice.

    Each thread sends 21 chunks one after the other and the emulator holds
    every request 200 ms, so each thread runs at least 4.2 s: more than two
    token lifetimes, so at least 2 refreshes must happen, all single-flight.
    The log capture at DEBUG (root, so httpx and httpcore too) must not
    contain any token.
    """
    rows = read_vendor_csv(sample_csv)
    assert len(rows) == 40_316
    caplog.set_level(logging.DEBUG)
    with short_lived_emulator(2.0) as emulator:
        emulator.set_faults(delay_ms=200)
        first_access = emulator.mint_access_token()
        tokens = TokenLog(first_access, FIRST_REFRESH, FIXED_TOKEN)
        client = GenomcoreApiClient(
            token=first_access,
            refresh_token=FIRST_REFRESH,
            base_url=emulator.base_url,
            on_tokens_refreshed=tokens,
        )
        slice_size = 5_040  # 8 slices; 21 chunks of 240 each
        failures: list[BaseException] = []
        stored: list[int] = []

        def upload(start: int) -> None:
            try:
                report = client.time_series.create_time_series(
                    body=rows[start : start + slice_size],
                    chunksize=240,
                    max_retries=0,
                    max_concurrency=1,  # one chunk after the other per thread
                )
                stored.append(report.stored)
            except BaseException as exc:  # reported below
                failures.append(exc)

        threads = [threading.Thread(target=upload, args=(i * slice_size,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert sum(stored) == 40_316
        check_full_week_stored(emulator)
        check_token_bookkeeping(emulator, tokens, minimum_refreshes=2)
        assert_no_secret(log_text(caplog), tokens.secrets())
        assert any(r.name.startswith("httpcore") for r in caplog.records)  # DEBUG was on
        assert any("access token renewed" in r.getMessage() for r in caplog.records)
        for text in (repr(client), str(client), repr(client.auth), str(client.auth)):
            assert_no_secret(text, tokens.secrets())
        assert repr(client) == f"GenomcoreApiClient(base_url={emulator.base_url!r})"


@pytest.mark.skipif(
    "max_concurrency" not in inspect.signature(TimeSeries.create_time_series).parameters,
    reason="create_time_series(max_concurrency=...) is not on this branch yet",
)
def test_real_week_max_concurrency_8_with_2_second_tokens(
    sample_csv: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = read_vendor_csv(sample_csv)
    caplog.set_level(logging.DEBUG)
    with short_lived_emulator(2.0) as emulator:
        emulator.set_faults(delay_ms=200)
        first_access = emulator.mint_access_token()
        tokens = TokenLog(first_access, FIRST_REFRESH, FIXED_TOKEN)
        client = GenomcoreApiClient(
            token=first_access,
            refresh_token=FIRST_REFRESH,
            base_url=emulator.base_url,
            on_tokens_refreshed=tokens,
        )
        create: Callable[..., Any] = client.time_series.create_time_series
        # 168 chunks of 240, 8 at a time, 200 ms each: at least 21 rounds, 4.2 s
        report = create(body=rows, chunksize=240, max_retries=0, max_concurrency=8)
        assert report.stored == 40_316
        check_full_week_stored(emulator)
        check_token_bookkeeping(emulator, tokens, minimum_refreshes=2)
        assert_no_secret(log_text(caplog), tokens.secrets())


# --------------------------------------------------------------------------- single flight


def run_threads(count: int, work: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work()
        except BaseException as exc:  # collected for the assertion
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_32_threads_on_an_expired_jwt_make_one_refresh(emu: Emulator) -> None:
    emu.set_faults(delay_ms=100)  # the refresh takes a while: everyone piles up behind it
    client = GenomcoreApiClient(
        token=emu.mint_access_token(ttl=-5), refresh_token=FIRST_REFRESH, base_url=emu.base_url
    )
    results = run_threads(32, lambda: client.time_series.query_time_series(body={}).total)
    assert results == [0] * 32
    assert emu.tokens.refresh_calls == 1
    assert emu.tokens.unauthorized == 0  # renewed before sending: the JWT said it had expired
    assert client.auth.generation == 1


def test_32_threads_refused_with_401_make_one_refresh(emu: Emulator) -> None:
    """An opaque token the server no longer accepts: the 401 path, single flight."""
    emu.set_faults(delay_ms=100)
    client = GenomcoreApiClient(
        token="opaque-revoked-token", refresh_token=FIRST_REFRESH, base_url=emu.base_url
    )
    results = run_threads(32, lambda: client.time_series.query_time_series(body={}).total)
    assert results == [0] * 32
    counters = emu.tokens.counters()
    assert counters["refresh_calls"] == 1, counters
    assert counters["refresh_refused"] == 0, counters
    assert 1 <= counters["unauthorized"] <= 32, counters
    assert counters["unreplayed_401s"] == 0, counters


async def query_with_tasks(base_url: str, auth: TokenAuth, count: int) -> list[int]:
    async with httpx.AsyncClient(auth=auth, base_url=base_url) as http:
        generated = GeneratedClient(base_url=base_url).set_async_httpx_client(http)

        async def one() -> int:
            response = await query_op.asyncio_detailed(
                client=generated, body=query_body(), page=0, page_size=10
            )
            return int(response.status_code)

        return list(await asyncio.gather(*(one() for _ in range(count))))


def test_32_asyncio_tasks_on_an_expired_jwt_make_one_refresh(emu: Emulator) -> None:
    emu.set_faults(delay_ms=100)
    auth = TokenAuth(emu.mint_access_token(ttl=-5), FIRST_REFRESH, base_url=emu.base_url)
    assert asyncio.run(query_with_tasks(emu.base_url, auth, 32)) == [200] * 32
    assert emu.tokens.refresh_calls == 1
    assert emu.tokens.unauthorized == 0
    assert auth.generation == 1


def test_32_asyncio_tasks_refused_with_401_make_one_refresh(emu: Emulator) -> None:
    emu.set_faults(delay_ms=100)
    auth = TokenAuth("opaque-revoked-token", FIRST_REFRESH, base_url=emu.base_url)
    assert asyncio.run(query_with_tasks(emu.base_url, auth, 32)) == [200] * 32
    counters = emu.tokens.counters()
    assert counters["refresh_calls"] == 1, counters
    assert counters["unreplayed_401s"] == 0, counters
    assert counters["unauthorized"] >= 1, counters


def test_threads_and_tasks_share_one_refresh(emu: Emulator) -> None:
    """The client's auth handed to an AsyncClient too: one token, one flight for both."""
    emu.set_faults(delay_ms=150)
    client = GenomcoreApiClient(
        token=emu.mint_access_token(ttl=-5), refresh_token=FIRST_REFRESH, base_url=emu.base_url
    )
    thread_results: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda: thread_results.append(
                client.time_series.query_time_series(body={}).total
            )
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    task_results = asyncio.run(query_with_tasks(emu.base_url, client.auth, 8))
    for thread in threads:
        thread.join()
    assert thread_results == [0] * 8
    assert task_results == [200] * 8
    assert emu.tokens.refresh_calls == 1


# --------------------------------------------------------------------------- rotation


def test_rotation_and_renewal_ahead_of_expiry() -> None:
    with short_lived_emulator(1.0) as emulator:
        tokens = TokenLog()
        client = GenomcoreApiClient(
            token=emulator.mint_access_token(ttl=-1),
            refresh_token=FIRST_REFRESH,
            base_url=emulator.base_url,
            on_tokens_refreshed=tokens,
        )
        client.time_series.query_time_series(body={})
        assert emulator.tokens.refresh_calls == 1
        # the 1-second token is renewed 0.25 s before it expires: wait past that point
        threading.Event().wait(0.8)
        client.time_series.query_time_series(body={})
        counters = emulator.tokens.counters()
        assert counters["refresh_calls"] == 2, counters
        assert counters["refresh_refused"] == 0, counters
        assert counters["unauthorized"] == 0, counters
        first, second = tokens.pairs
        assert first.rotated and second.rotated
        assert len({FIRST_REFRESH, first.refresh_token, second.refresh_token}) == 3
        # the spent refresh tokens are dead, the newest one is alive
        with httpx.Client(base_url=emulator.base_url) as http:
            generated = GeneratedClient(base_url=emulator.base_url).set_httpx_client(http)
            for spent in (FIRST_REFRESH, first.refresh_token):
                refused = refresh_op.sync_detailed(
                    client=generated, body=RefreshRequest(refresh_token=spent)
                )
                assert refused.status_code == 401
            fresh = refresh_op.sync_detailed(
                client=generated, body=RefreshRequest(refresh_token=second.refresh_token)
            )
            assert fresh.status_code == 200


def test_refresh_token_used_twice_is_refused(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.base_url) as http:
        generated = GeneratedClient(base_url=emu.base_url).set_httpx_client(http)
        first = refresh_op.sync_detailed(
            client=generated, body=RefreshRequest(refresh_token=FIRST_REFRESH)
        )
        assert first.status_code == 200
        assert isinstance(first.parsed, TokenPair)
        assert first.parsed.expires_in == 3600
        assert isinstance(first.parsed.refresh_token, str)
        assert first.parsed.refresh_token != FIRST_REFRESH
        assert emu.tokens.is_valid(first.parsed.access_token)
        again = refresh_op.sync_detailed(
            client=generated, body=RefreshRequest(refresh_token=FIRST_REFRESH)
        )
        assert again.status_code == 401
        assert isinstance(again.parsed, Error)
        assert again.parsed.code == "invalid_refresh_token"
    counters = emu.tokens.counters()
    assert (counters["refresh_calls"], counters["refresh_refused"], counters["refresh_reused"]) == (
        2,
        1,
        1,
    )


def test_issued_tokens_expire(emu: Emulator) -> None:
    assert emu.tokens.is_valid(FIXED_TOKEN)  # the fixed token never expires
    assert emu.tokens.is_valid(emu.mint_access_token(ttl=60))
    assert not emu.tokens.is_valid(emu.mint_access_token(ttl=-1))
    assert not emu.tokens.is_valid(emu.mint_access_token(ttl=60)[:-2] + "xx")  # bad signature
    assert not emu.tokens.is_valid("not-a-token")


# --------------------------------------------------------------------------- failure


def test_revoked_refresh_token_fails_within_one_request(emu: Emulator) -> None:
    emu.tokens.revoke_refresh_tokens()
    expired = emu.mint_access_token(ttl=-5)
    client = GenomcoreApiClient(token=expired, refresh_token=FIRST_REFRESH, base_url=emu.base_url)
    with pytest.raises(AuthenticationError) as caught:
        client.time_series.query_time_series(body={})
    error = caught.value
    assert emu.tokens.refresh_calls == 1  # one refresh, no retry loop
    assert error.status_code == 401
    assert error.code == "invalid_refresh_token"
    assert "Get new credentials" in str(error)
    assert error.__cause__ is None and error.__context__ is None
    for text in (str(error), repr(error), error.message, error.body):
        assert_no_secret(text, [expired, FIRST_REFRESH, FIXED_TOKEN])
    # an upload with retries fails the same way, without asking the server again
    with pytest.raises(GenomcoreError, match="Get new credentials") as upload_failure:
        client.time_series.create_time_series(body=[observation()], chunksize=10, max_retries=5)
    assert_no_secret(str(upload_failure.value), [expired, FIRST_REFRESH, FIXED_TOKEN])
    assert emu.tokens.refresh_calls == 1
    assert emu.state.store.count() == 0


def test_stale_token_without_refresh_token_is_a_clear_401(emu: Emulator) -> None:
    client = GenomcoreApiClient(token="opaque-stale", base_url=emu.base_url)
    with pytest.raises(AuthenticationError) as caught:
        client.time_series.query_time_series(body={})
    assert caught.value.status_code == 401
    assert "opaque-stale" not in str(caught.value)
    assert emu.tokens.refresh_calls == 0


def test_no_token_at_all_fails_before_sending(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOKEN", raising=False)
    import os

    with pytest.raises(ConfigurationError, match="No access token"):
        GenomcoreApiClient(
            token=os.getenv("TOKEN"),
            refresh_token=os.getenv("REFRESH_TOKEN"),
            base_url=emu.base_url,
        )
    assert emu.state.status_counts == {}


def test_refresh_token_alone_gets_a_token_first(emu: Emulator) -> None:
    client = GenomcoreApiClient(refresh_token=FIRST_REFRESH, base_url=emu.base_url)
    assert client.time_series.query_time_series(body={}).total == 0
    assert emu.tokens.refresh_calls == 1
    assert emu.tokens.unauthorized == 0


def test_fixed_token_never_refreshes(emu: Emulator) -> None:
    client = GenomcoreApiClient(
        token=FIXED_TOKEN, refresh_token=FIRST_REFRESH, base_url=emu.base_url
    )
    client.time_series.create_time_series(body=[observation(i) for i in range(50)], chunksize=10)
    assert emu.tokens.refresh_calls == 0
    assert Counter(emu.state.status_counts) == Counter({201: 5})


def test_generated_operations_through_the_client_are_authenticated(emu: Emulator) -> None:
    client = GenomcoreApiClient(
        token=emu.mint_access_token(ttl=-5), refresh_token=FIRST_REFRESH, base_url=emu.base_url
    )
    response = query_op.sync_detailed(
        client=client.generated, body=query_body(), page=0, page_size=10
    )
    assert response.status_code == 200
    assert emu.tokens.refresh_calls == 1
