"""``genomcore ts query``: page through matching observations and stream them out."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from ..client import GenomcoreApiClient
from ..errors import ConfigurationError, GenomcoreError, QueryValidationError
from .credentials import add_credential_arguments
from .query_output import make_writer
from .session import DEFAULT_CLI_RETRIES, open_client

EXAMPLE = """examples:
  genomcore ts query --user-id 1 --batch actiwatch-2015-07-04 --metric activity_counts --format table
  genomcore ts query --batch actiwatch-2015-07-04 --start 2015-07-05 --end 2015-07-06 --format csv --out day.csv
  genomcore ts query --metric sleep_wake --sort desc --format jsonl | head

--start is inclusive and --end exclusive (on the observation's start time); a bare date means 00:00 UTC.
The csv format is the upload layout: `genomcore ts upload day.csv` stores the rows again.
"""


def register(commands: Any) -> None:
    """Add ``query`` to the ``ts`` subcommands."""
    parser = commands.add_parser(
        "query",
        help="read observations out (table, csv or jsonl)",
        description="Page through every observation that matches and stream it out.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--user-id", type=int, action="append", metavar="N", help="user id (repeatable)"
    )
    parser.add_argument("--batch", action="append", metavar="B", help="batch (repeatable)")
    parser.add_argument("--metric", action="append", metavar="M", help="metric (repeatable)")
    parser.add_argument("--source", action="append", metavar="S", help="source (repeatable)")
    parser.add_argument(
        "--external-id", action="append", metavar="X", help="external id (repeatable)"
    )
    parser.add_argument("--start", metavar="ISO", help="from this date or date-time (inclusive)")
    parser.add_argument("--end", metavar="ISO", help="up to this date or date-time (exclusive)")
    parser.add_argument(
        "--sort", choices=("asc", "desc"), default="asc", help="by timestamp (default asc)"
    )
    parser.add_argument(
        "--format",
        choices=("table", "csv", "jsonl"),
        default="table",
        help="output format (default table)",
    )
    parser.add_argument("--out", metavar="PATH", help="write to this file instead of stdout")
    parser.add_argument(
        "--page-size",
        type=int,
        default=5000,
        help="observations per request (1-5000, default 5000)",
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=DEFAULT_CLI_RETRIES,
        metavar="N",
        help="retries per page for connection errors, timeouts, 408, 429 and 5xx "
        f"(default {DEFAULT_CLI_RETRIES})",
    )
    add_credential_arguments(parser)
    parser.set_defaults(handler=run)


def iter_observations(
    client: GenomcoreApiClient, args: argparse.Namespace
) -> Iterator[dict[str, Any]]:
    """Every observation the flags select, as dicts, fetching pages lazily.

    The criteria are checked (``QueryValidationError``) before the first request.
    """
    observations = client.time_series.iter_time_series(
        user_ids=args.user_id,
        batches=args.batch,
        metrics=args.metric,
        sources=args.source,
        external_ids=args.external_id,
        start=args.start,
        end=args.end,
        sort=args.sort,
        page_size=args.page_size,
        max_retries=args.max_retries,
    )
    for observation in observations:
        yield observation.to_dict()


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    """Standard output, or a file written beside ``path`` and renamed onto it at the end.

    Only a block that ends normally renames: a failed query never leaves a file
    that looks like a complete (or empty) result.
    """
    if path is None:
        yield sys.stdout
        return
    partial = f"{path}.partial"
    with open(partial, "w", newline="", encoding="utf-8") as out:
        try:
            yield out
        except BaseException:
            out.close()
            os.unlink(partial)
            raise
    try:
        os.replace(partial, path)
    except OSError:
        os.unlink(partial)
        raise


def run(args: argparse.Namespace) -> int:
    """Run the query; return the exit status."""
    if not 1 <= args.page_size <= 5000:
        print("genomcore ts query: --page-size must be from 1 to 5000", file=sys.stderr)
        return 2
    if args.max_retries < 0:
        print("genomcore ts query: --max-retries must be 0 or more", file=sys.stderr)
        return 2
    if args.out and os.path.isdir(args.out):
        print(
            f"genomcore ts query: --out {args.out} is a directory; give a file path",
            file=sys.stderr,
        )
        return 2
    count = 0
    try:
        with _output(args.out) as out, open_client(args) as client:
            writer = make_writer(args.format, out)
            for observation in iter_observations(client, args):
                writer.write(observation)
                count += 1
            writer.close()
    except (ConfigurationError, QueryValidationError) as exc:
        print(f"genomcore ts query: {exc}", file=sys.stderr)
        return 2
    except GenomcoreError as exc:
        print(f"genomcore ts query: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `| head`
        return 0
    except OSError as exc:  # --out cannot be written
        print(f"genomcore ts query: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.out:
        print(f"Wrote {count:,} observations to {args.out}.", file=sys.stderr)
    return 0
