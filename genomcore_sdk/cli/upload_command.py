"""``genomcore ts upload FILE``: upload a CSV file in the vendor's column layout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import (
    ConfigurationError,
    GenomcoreError,
    ObservationValidationError,
)
from .credentials import add_credential_arguments
from .progress import UploadProgressDisplay
from .session import DEFAULT_CLI_RETRIES, open_client

EXAMPLE = """examples:
  genomcore ts upload week.csv
  genomcore ts upload week.csv --chunksize 1000 --concurrency 4 --max-retries 5
  genomcore ts upload export.csv --assume-timezone Europe/Madrid --on-invalid skip --rejects bad.csv
  genomcore ts upload big.csv --journal big.journal   # rerun the same line to resume

exit status: 0 all stored, 1 chunks failed (their rows are written to a file), 2 invalid input or usage
"""


def register(commands: Any) -> None:
    """Add ``upload`` to the ``ts`` subcommands."""
    parser = commands.add_parser(
        "upload",
        help="upload a CSV file of observations",
        description="Validate and upload a CSV file in the vendor's flattened layout "
        "(meta.userId, meta.source, meta.metric, meta.externalId, meta.batch, "
        "point.start, point.end, point.value).",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="CSV file (UTF-8, with or without BOM; , ; or tab)")
    parser.add_argument(
        "--chunksize",
        type=int,
        default=1000,
        help="observations per request (1-5000, default 1000)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, help="requests in flight (default 4; 1 = sequential)"
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=DEFAULT_CLI_RETRIES,
        help=f"retries per chunk for connection errors, timeouts, 408, 429, 5xx (default {DEFAULT_CLI_RETRIES})",
    )
    parser.add_argument(
        "--assume-timezone",
        metavar="TZ",
        help="IANA zone for date-times without offset, e.g. Europe/Madrid",
    )
    parser.add_argument(
        "--on-invalid",
        choices=("stop", "skip"),
        default="stop",
        help="stop before sending anything (default) or skip invalid rows",
    )
    parser.add_argument(
        "--rejects",
        type=Path,
        metavar="PATH",
        help="with --on-invalid skip: CSV of the skipped rows and why",
    )
    parser.add_argument(
        "--journal",
        type=Path,
        metavar="PATH",
        help="resume file: a rerun skips the chunks already stored",
    )
    parser.add_argument(
        "--failed-rows",
        type=Path,
        metavar="PATH",
        help="where rows of chunks that still fail are written (default FILE.failed.csv)",
    )
    add_credential_arguments(parser)
    parser.set_defaults(handler=run)


def count_data_rows(path: Path) -> int | None:
    """Rows below the header (line ends counted fast), or None if unreadable."""
    try:
        with path.open("rb") as handle:
            lines = 0
            last = b"\n"
            while block := handle.read(1 << 20):
                lines += block.count(b"\n")
                last = block[-1:]
    except OSError:
        return None
    if last != b"\n":
        lines += 1
    return max(0, lines - 1)


def run(args: argparse.Namespace) -> int:
    """Upload ``args.file``; return the exit status."""
    path: Path = args.file
    if not path.is_file():
        print(f"genomcore ts upload: no such file: {path}", file=sys.stderr)
        return 2
    if args.rejects is not None and args.on_invalid != "skip":
        print("genomcore ts upload: --rejects goes with --on-invalid skip", file=sys.stderr)
        return 2
    failed_rows = args.failed_rows or path.with_name(path.name + ".failed.csv")
    display = UploadProgressDisplay(count_data_rows(path))
    try:
        with open_client(args) as client:
            report = client.time_series.create_time_series(
                body=path,
                chunksize=args.chunksize,
                max_retries=args.max_retries,
                max_concurrency=args.concurrency,
                assume_timezone=args.assume_timezone,
                on_invalid=args.on_invalid,
                rejects_path=args.rejects,
                journal=args.journal,
                failed_rows_path=failed_rows,
                progress=display,
            )
    except ObservationValidationError as exc:
        display.close()
        print(
            "genomcore ts upload: invalid input, nothing was sent "
            "(the check stops at the first invalid row):",
            file=sys.stderr,
        )
        for problem in exc.problems[:20]:
            print(f"  {problem.describe()}", file=sys.stderr)
        if len(exc.problems) > 20:
            print(f"  ... and {len(exc.problems) - 20} more", file=sys.stderr)
        print(
            "Fix the file, or pass --on-invalid skip --rejects PATH to upload the valid rows.",
            file=sys.stderr,
        )
        return 2
    except (ConfigurationError, ValueError, OSError) as exc:
        display.close()
        print(f"genomcore ts upload: {exc}", file=sys.stderr)
        return 2
    except GenomcoreError as exc:
        display.close()
        print(f"genomcore ts upload: {exc}", file=sys.stderr)
        failed_path = getattr(exc, "failed_rows_path", None)
        if failed_path:
            print(
                f"Rows of the failed chunks were written to {failed_path}; upload that file to finish.",
                file=sys.stderr,
            )
        return 1
    display.close()
    rejected = getattr(report, "rejected", 0)
    if rejected and not report.sent:
        print(
            f"No valid rows: all {rejected:,} were skipped as invalid, so nothing was sent; "
            f"see {report.rejects_path} for each row's reason."
        )
        return 0
    print(
        f"Stored {report.stored:,} of {report.sent:,} observations sent "
        f"in {report.chunks} chunks ({report.retries} retries, {report.duration:.1f} s)."
    )
    replayed = getattr(report, "replayed", 0)
    if replayed:
        print(
            f"{replayed} of these chunks had been stored by an earlier attempt whose answer was "
            "lost; the server confirmed them without storing them again."
        )
    if rejected:
        print(f"Skipped {rejected:,} invalid rows; see {report.rejects_path}.")
    skipped = getattr(report, "skipped_chunks", 0)
    if skipped:
        print(f"Resumed: {skipped} chunks were already stored according to the journal.")
    return 0
