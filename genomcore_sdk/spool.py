r"""Pass one of an upload: read, validate and encode every row into a spool file.

Nothing is sent before the whole input has been read and checked, so that in
``on_invalid="stop"`` mode an invalid row anywhere (even the last row of a
10-million-row file or generator) means nothing at all was sent. Valid rows
are encoded once, to JSON bytes, into a temporary spool (in memory up to
:data:`SPOOL_MEMORY_BYTES`, then on disk: about 200 bytes per observation), so
memory stays flat whatever the input size and pass two only reads bytes back.
The same pass cuts the chunks and hashes each chunk's request body, which the
resume journal checks before anything is sent.

Spool layout, one record per chunk::

    #<first>-<last>\n           (input row numbers, when consecutive)
    #<r1>,<r2>,...\n            (otherwise: rows were skipped as invalid)
    <observation JSON>\n        (one line per observation)

A chunk's request body is ``b"[" + b",".join(lines) + b"]"`` (JSON allows the
newline after each element), so it is built from the spool without re-encoding.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import tempfile
from collections.abc import Iterator, Sequence

import attrs

from .errors import InvalidObservation, ObservationValidationError
from .sources import LayoutCsvWriter, ObservationSource
from .validation import ObservationEncoder, RowProblem

__all__ = [
    "REJECT_COLUMNS",
    "SPOOL_MEMORY_BYTES",
    "PlannedChunk",
    "SpooledInput",
    "chunk_body",
    "content_hash",
    "spool_input",
]

SPOOL_MEMORY_BYTES = 8 * 1024 * 1024
"""Spools up to this size stay in memory; larger ones go to a temporary file."""

REJECT_COLUMNS = ("row", "line", "field", "reason")
"""The columns the rejects file adds after the original row's cells."""


def chunk_body(lines: Sequence[bytes]) -> bytes:
    """The request body (a JSON array) of spooled observation lines."""
    return b"[" + b",".join(lines) + b"]"


def content_hash(body: bytes) -> str:
    """The hash of a request body that keys the journal and the idempotency key."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


@attrs.frozen
class PlannedChunk:
    """One chunk as planned by pass one.

    Attributes:
        index: the chunk's number, from 0.
        lines: its observations' JSON, one per line (newline included).
        rows: the input row number (0-based) of each observation.
        content_hash: :func:`content_hash` of its request body.
    """

    index: int
    lines: list[bytes]
    rows: Sequence[int]
    content_hash: str


class SpooledInput:
    """The validated, encoded input: what pass two sends.

    Attributes:
        rows: how many valid observations it holds.
        rejected: how many rows were skipped as invalid (``on_invalid="skip"``).
        rejects_path: the rejects file, when rows were rejected or a path was given.
        chunk_hashes: the content hash of each chunk, in order.
        chunksize: observations per chunk.
    """

    def __init__(self, chunksize: int) -> None:
        self.chunksize = chunksize
        self.file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by close()
            max_size=SPOOL_MEMORY_BYTES, prefix="genomcore-spool-"
        )
        self.rows = 0
        self.rejected = 0
        self.rejects_path: str | None = None
        self.chunk_hashes: list[str] = []

    def __repr__(self) -> str:
        return f"SpooledInput(rows={self.rows}, chunks={len(self.chunk_hashes)})"

    def _add_chunk(self, encoded: Sequence[bytes], rows: Sequence[int]) -> None:
        first, last = rows[0], rows[-1]
        if last - first + 1 == len(rows):
            header = b"#%d-%d\n" % (first, last)
        else:
            header = b"#" + ",".join(map(str, rows)).encode() + b"\n"
        self.file.write(header)
        self.file.write(b"\n".join(encoded))
        self.file.write(b"\n")
        # the body pass two builds: b"[" + b",".join(lines with their newline) + b"]"
        self.chunk_hashes.append(content_hash(b"[" + b"\n,".join(encoded) + b"\n]"))
        self.rows += len(encoded)

    def chunks(self) -> Iterator[PlannedChunk]:
        """Read the chunks back, one at a time, in order."""
        handle = self.file
        handle.seek(0)
        lines_of = iter(handle)
        for index, digest in enumerate(self.chunk_hashes):
            header = next(lines_of)
            spec = header[1:-1]
            rows: Sequence[int]
            if b"-" in spec:
                first, _, last = spec.partition(b"-")
                rows = range(int(first), int(last) + 1)
            else:
                rows = [int(r) for r in spec.split(b",")]
            lines = list(itertools.islice(lines_of, len(rows)))
            yield PlannedChunk(index, lines, rows, digest)

    def close(self) -> None:
        """Delete the spool."""
        self.file.close()


def spool_input(
    source: ObservationSource,
    encoder: ObservationEncoder,
    *,
    chunksize: int,
    on_invalid: str = "stop",
    rejects_path: str | os.PathLike[str] | None = None,
) -> SpooledInput:
    """Read, validate and encode every row of ``source`` into a :class:`SpooledInput`.

    Raises:
        ObservationValidationError: ``on_invalid="stop"`` and a row is invalid
            (the first one found; nothing was sent).
        InputFormatError: the input cannot be read.
    """
    spooled = SpooledInput(chunksize)
    skip = on_invalid == "skip"
    rejects: LayoutCsvWriter | None = None
    try:
        with source.open(encoder) as reading:
            if skip:
                rejects = LayoutCsvWriter(
                    rejects_path,
                    [*reading.reject_columns, *REJECT_COLUMNS],
                    "genomcore-rejects-",
                )
                if rejects_path is not None:
                    rejects.touch()
            encode = reading.encode
            payloads = reading.payloads
            pending: list[bytes] = []  # valid rows not yet cut into a chunk
            pending_rows: list[int] = []
            index = 0  # input row number of the next row
            while True:
                mark = reading.mark()
                batch = list(itertools.islice(payloads, chunksize))
                if not batch:
                    break
                try:
                    # the fast path: a whole batch of valid rows, no per-row bookkeeping
                    encoded = [encode(payload) for payload in batch]
                except RowProblem:
                    encoded = []
                    rows: list[int] = []
                    lines = reading.line_numbers(batch, mark)
                    for payload, line in zip(batch, lines, strict=True):
                        if reading.is_blank(payload):
                            continue
                        try:
                            encoded.append(encode(payload))
                            rows.append(index)
                        except RowProblem as problem:
                            if rejects is None:
                                raise ObservationValidationError(
                                    [
                                        InvalidObservation(
                                            index,
                                            problem.field,
                                            problem.value,
                                            problem.message,
                                            line,
                                        )
                                    ]
                                ) from None
                            rejects.write(
                                [
                                    *reading.cells(payload),
                                    index,
                                    "" if line is None else line,
                                    problem.field,
                                    problem.message,
                                ]
                            )
                            spooled.rejected += 1
                        index += 1
                    pending_rows.extend(rows)
                else:
                    pending_rows.extend(range(index, index + len(batch)))
                    index += len(batch)
                pending.extend(encoded)
                while len(pending) >= chunksize:
                    spooled._add_chunk(pending[:chunksize], pending_rows[:chunksize])
                    del pending[:chunksize], pending_rows[:chunksize]
            if pending:
                spooled._add_chunk(pending, pending_rows)
        spooled.file.flush()
    except BaseException:
        spooled.close()
        raise
    finally:
        if rejects is not None:
            rejects.close()
            spooled.rejects_path = rejects.path
    return spooled
