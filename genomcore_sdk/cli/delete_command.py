"""``genomcore ts delete``: delete one user's observations of one batch and metric."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import ConfigurationError, GenomcoreError, QueryValidationError
from .credentials import add_credential_arguments
from .session import open_client

EXAMPLE = """examples:
  genomcore ts delete --user-id 1 --batch actiwatch-2015-07-04 --metric sleep_wake
  genomcore ts delete --user-id 1 --batch actiwatch-2015-07-04 --metric sleep_wake --yes   # no question

Without --yes it asks for confirmation on a terminal, and refuses when there is no terminal to ask.
"""


def register(commands: Any) -> None:
    """Add ``delete`` to the ``ts`` subcommands."""
    parser = commands.add_parser(
        "delete",
        help="delete the observations of one user, batch and metric",
        description="Delete every observation of one user, batch and metric, then verify.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--user-id", type=int, required=True, metavar="N")
    parser.add_argument("--batch", required=True, metavar="B")
    parser.add_argument("--metric", required=True, metavar="M")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    add_credential_arguments(parser)
    parser.set_defaults(handler=run)


def _confirmed(args: argparse.Namespace) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        print(
            "genomcore ts delete: no terminal to confirm on; pass --yes to delete.", file=sys.stderr
        )
        return False
    answer = input(
        f"Delete all '{args.metric}' observations of user {args.user_id} in batch '{args.batch}'? [y/N] "
    )
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    """Delete, print the count and the verification; return the exit status."""
    if not _confirmed(args):
        print("Nothing deleted.", file=sys.stderr)
        return 2
    body = {"userId": args.user_id, "batch": args.batch, "metric": args.metric}
    try:
        with open_client(args) as client:
            result = client.time_series.delete_time_series(body=body)
            remaining = client.time_series.query_time_series(
                page=0,
                pageSize=1,
                body={
                    "filter": {
                        "meta.userId": args.user_id,
                        "meta.batch": args.batch,
                        "meta.metric": args.metric,
                    }
                },
            ).total
    except (ConfigurationError, QueryValidationError) as exc:
        print(f"genomcore ts delete: {exc}", file=sys.stderr)
        return 2
    except GenomcoreError as exc:
        print(f"genomcore ts delete: {exc}", file=sys.stderr)
        return 1
    deleted = getattr(result, "deleted", None)
    print(
        f"Deleted {deleted:,} observations."
        if isinstance(deleted, int)
        else "Deleted: count unknown (connection lost)."
    )
    if remaining == 0:
        print("Verified: no matching observations remain.")
        return 0
    print(f"Not verified: {remaining:,} matching observations remain.")
    return 1
