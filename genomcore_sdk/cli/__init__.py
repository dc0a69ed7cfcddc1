"""The ``genomcore`` command line.

Commands::

    genomcore ts upload FILE [--chunksize N] [--concurrency N] [--max-retries N] ...
    genomcore ts query [--user-id N] [--batch B] [--metric M] [--start ISO] [--end ISO] ...
    genomcore ts delete --user-id N --batch B --metric M [--yes]
    genomcore emulator --port 8080 --db ts.sqlite3 --token T --refresh-token R

Credentials and base URL come from flags, then the environment (``TOKEN``,
``REFRESH_TOKEN``, ``GENOMCORE_BASE_URL``), then ``./.env``.

Each command lives in its own module of this package and registers itself on
the parser in :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import delete_command, emulator_command, query_command, upload_command

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``genomcore`` argument parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="genomcore",
        description="Genomcore Time Series: upload, query and delete observations; run the emulator.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  genomcore emulator --port 8080 --token dev-token --refresh-token dev-refresh\n"
            "  export GENOMCORE_BASE_URL=http://127.0.0.1:8080 TOKEN=dev-token "
            "REFRESH_TOKEN=dev-refresh\n"
            "  genomcore ts upload week.csv\n"
            "  genomcore ts query --batch actiwatch-2015-07-04 --format csv --out week.csv\n"
            "\n"
            "Credentials and base URL: flags, then TOKEN, REFRESH_TOKEN and GENOMCORE_BASE_URL,\n"
            "then ./.env. `genomcore COMMAND --help` shows each command's options."
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    emulator_command.register(commands)
    ts = commands.add_parser(
        "ts",
        help="time-series observations: upload, query, delete",
        description="Upload, query and delete time-series observations.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  genomcore ts upload week.csv --concurrency 4 --max-retries 3\n"
            "  genomcore ts query --user-id 1 --metric steps --start 2024-04-01 --end 2024-04-08\n"
            "  genomcore ts delete --user-id 1 --batch b1 --metric steps --yes"
        ),
    )
    ts_commands = ts.add_subparsers(dest="ts_command", metavar="COMMAND")
    ts_commands.required = True
    upload_command.register(ts_commands)
    query_command.register(ts_commands)
    delete_command.register(ts_commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``genomcore``; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        name = " ".join(
            filter(None, ["genomcore", args.command, getattr(args, "ts_command", None)])
        )
        hint = ""
        if getattr(args, "ts_command", None) == "upload":
            # requests in flight were let end and recorded (in the journal, with --journal)
            hint = (
                " Chunks the server answered before are stored; with --journal, rerun the "
                "same command to send only the rest."
            )
        print(f"{name}: interrupted.{hint}", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
