"""Wiring of the emulator: state, the uvicorn server, and the command-line entry."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

import uvicorn

from .app import EmulatorState, build_app
from .store import ObservationStore
from .tokens import TokenIssuer

__all__ = ["add_arguments", "make_server", "make_state", "run_from_arguments"]

logger = logging.getLogger("genomcore_sdk.emulator")


def make_state(
    *, db: str, token: str, refresh_token: str, token_ttl: float = 3600.0
) -> EmulatorState:
    """Open the store and token issuer the app serves from."""
    return EmulatorState(
        store=ObservationStore(db),
        tokens=TokenIssuer(token, refresh_token, token_ttl=token_ttl),
    )


def make_server(state: EmulatorState) -> uvicorn.Server:
    """A uvicorn server for the app over ``state`` (quiet: warnings only, no access log)."""
    config = uvicorn.Config(
        build_app(state),
        log_level="warning",
        access_log=False,
        lifespan="off",
        log_config=None,
    )
    return uvicorn.Server(config)


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
        default=os.environ.get("GENOMCORE_EMULATOR_REFRESH_TOKEN", "dev-refresh-token"),
        help="refresh token to accept (default: $GENOMCORE_EMULATOR_REFRESH_TOKEN or dev-refresh-token)",
    )
    parser.add_argument(
        "--token-ttl",
        type=float,
        default=3600.0,
        help="lifetime in seconds of refreshed access tokens",
    )


def run_from_arguments(args: argparse.Namespace) -> int:
    """Serve until interrupted, as ``genomcore emulator`` does."""
    state = make_state(
        db=args.db, token=args.token, refresh_token=args.refresh_token, token_ttl=args.token_ttl
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
