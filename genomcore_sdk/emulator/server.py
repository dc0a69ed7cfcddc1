"""Wiring of the emulator: state, the uvicorn server, and the command-line entry."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

import uvicorn

from .app import MAX_ITEMS, EmulatorState, build_app
from .faults import FaultConfig, FaultInjector
from .ingest import ObservationParser
from .schema import ObservationSchema
from .store import ObservationStore
from .tokens import TokenIssuer

__all__ = ["add_arguments", "make_server", "make_state", "run_from_arguments"]

logger = logging.getLogger("genomcore_sdk.emulator")


def make_state(
    *,
    db: str,
    token: str,
    refresh_token: str,
    token_ttl: float = 3600.0,
    faults: FaultConfig | None = None,
    schema: ObservationSchema | None = None,
) -> EmulatorState:
    """Open the store and token issuer the app serves from.

    ``schema`` is the observation schema to accept; None derives it from the
    installed generated models (``genomcore_ts_api.models``).
    """
    return EmulatorState(
        store=ObservationStore(db),
        tokens=TokenIssuer(token, refresh_token, token_ttl=token_ttl),
        faults=FaultInjector(faults),
        parser=ObservationParser(schema, max_items=MAX_ITEMS),
    )


def make_server(state: EmulatorState) -> uvicorn.Server:
    """A uvicorn server for the app over ``state`` (quiet: warnings only, no access log).

    HTTP is parsed by httptools (C), which the ``emulator`` extra installs.
    """
    config = uvicorn.Config(
        build_app(state),
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
        log_config=None,
    )
    server = uvicorn.Server(config)
    state.connections = server.server_state.connections
    return server


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to an argument parser."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="TCP port; 0 picks a free one (default 8080)"
    )
    parser.add_argument(
        "--db", default="genomcore-emulator.sqlite3", help="SQLite file; data survives restarts"
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("GENOMCORE_EMULATOR_TOKEN", "dev-token"),
        help="access token to accept (default: $GENOMCORE_EMULATOR_TOKEN or dev-token)",
    )
    parser.add_argument(
        "--refresh-token",
        default=os.environ.get("GENOMCORE_EMULATOR_REFRESH_TOKEN", "dev-refresh"),
        help="refresh token to accept (default: $GENOMCORE_EMULATOR_REFRESH_TOKEN or dev-refresh)",
    )
    parser.add_argument(
        "--token-ttl",
        type=float,
        default=3600.0,
        help="lifetime in seconds of the JWT access tokens the refresh operation issues "
        "(default 3600; the fixed --token never expires)",
    )
    faults = parser.add_argument_group("fault injection (each rate a share of requests, 0 to 1)")
    faults.add_argument(
        "--fail-rate", type=float, default=0.0, help="answer 500/503 without doing anything"
    )
    faults.add_argument(
        "--throttle-rate", type=float, default=0.0, help="answer 429 with Retry-After"
    )
    faults.add_argument(
        "--drop-rate",
        type=float,
        default=0.0,
        help="commit, then close the connection without answering",
    )
    faults.add_argument(
        "--drop-before-commit-rate",
        type=float,
        default=0.0,
        help="close the connection without doing anything",
    )
    faults.add_argument("--delay-ms", type=int, default=0, help="delay every response by N ms")
    faults.add_argument(
        "--retry-after", type=int, default=1, help="Retry-After seconds sent with 429"
    )
    faults.add_argument(
        "--fault-seed", type=int, default=None, help="random seed for repeatable faults"
    )


def fault_config_from_arguments(args: argparse.Namespace) -> FaultConfig:
    """The :class:`FaultConfig` the command-line options ask for."""
    return FaultConfig(
        fail_rate=args.fail_rate,
        throttle_rate=args.throttle_rate,
        drop_rate=args.drop_rate,
        drop_before_commit_rate=args.drop_before_commit_rate,
        delay_ms=args.delay_ms,
        retry_after=args.retry_after,
        seed=args.fault_seed,
    )


def run_from_arguments(args: argparse.Namespace) -> int:
    """Serve until interrupted, as ``genomcore emulator`` does."""
    try:
        faults = fault_config_from_arguments(args)
    except ValueError as exc:
        print(f"genomcore emulator: {exc}", file=sys.stderr)
        return 2
    state = make_state(
        db=args.db,
        token=args.token,
        refresh_token=args.refresh_token,
        token_ttl=args.token_ttl,
        faults=faults,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted sockets
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        print(
            f"genomcore emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 2
    host, port = sock.getsockname()[:2]
    print(f"Genomcore emulator listening on http://{host}:{port} (database {args.db})", flush=True)
    try:
        make_server(state).run(sockets=[sock])
    finally:
        state.store.close()
    return 0
