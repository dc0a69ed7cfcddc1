"""``genomcore emulator``: run the local emulator of the API."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLE = """example:
  genomcore emulator --port 8080 --db ts.sqlite3 --token dev-token --refresh-token dev-refresh
  export GENOMCORE_BASE_URL=http://127.0.0.1:8080 TOKEN=dev-token REFRESH_TOKEN=dev-refresh
"""


def register(commands: Any) -> None:
    """Add the ``emulator`` command to ``commands`` (an argparse subparsers object)."""
    parser = commands.add_parser(
        "emulator",
        help="run a local emulator of the API (needs the 'emulator' extra)",
        description="Serve the Time Series API on loopback, storing in SQLite.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    try:
        from ..emulator.server import add_arguments
    except ImportError:
        parser.set_defaults(handler=_missing_extra)
        return
    add_arguments(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from ..emulator.server import run_from_arguments

    return run_from_arguments(args)


def _missing_extra(args: argparse.Namespace) -> int:
    import sys

    print(
        "genomcore emulator needs the emulator extra: pip install 'genomcore-sdk[emulator]'",
        file=sys.stderr,
    )
    return 2
