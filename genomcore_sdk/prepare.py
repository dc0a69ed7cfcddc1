r"""Pass one of an upload (read and validate everything), and the chunks pass two sends.

Nothing is sent before the whole input has been read and checked, so that with
``on_invalid="stop"`` an invalid row anywhere (even the last of a
10-million-row file or generator) means nothing at all was sent, and with
``"skip"`` the rejects file is complete before the first chunk goes out.
Memory stays flat whatever the input size:

* **Re-readable inputs** (a CSV path, a list or other sequence, a DataFrame):
  pass one only validates (no encoding, no copy); pass two reads the input
  again and encodes it chunk by chunk while earlier chunks are on the wire.
  With a ``journal``, pass one also encodes and hashes each chunk, so the
  journal is checked before anything is sent. If the input changes between
  the passes (a chunk hashes differently, or a row became invalid), the
  upload stops with :class:`~genomcore_sdk.errors.InputFormatError`.
* **One-shot inputs** (iterators, generators): pass one encodes every valid
  row into a temporary spool (in memory up to :data:`SPOOL_MEMORY_BYTES`, then
  on disk, about 200 bytes per observation), which pass two reads back.

Rows are pulled in batches of ``chunksize`` and a whole batch is checked with
one list comprehension; only a batch holding an invalid (or blank) row is
walked row by row, for row and line numbers.

A chunk's request body is ``b"[" + b",".join(rows) + b"]"`` (:func:`chunk_body`)
and its :func:`content_hash` keys the journal and the idempotency key.

Spool layout, one record per chunk::

    #<first>-<last> <bytes>\n    (input row numbers, when consecutive)
    #<r1>,<r2>,... <bytes>\n     (otherwise: some rows were skipped as invalid)
    <row JSON>\n<row JSON>...\n   (<bytes> bytes, then a newline)
"""

from __future__ import annotations

import abc
import hashlib
import itertools
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

from .errors import InputFormatError, InvalidObservation, ObservationValidationError
from .sources import LayoutCsvWriter, ObservationSource, Reading
from .validation import ObservationEncoder, RowProblem

__all__ = [
    "REJECT_COLUMNS",
    "SPOOL_MEMORY_BYTES",
    "PlannedChunk",
    "PreparedInput",
    "ReplayedInput",
    "SpooledInput",
    "chunk_body",
    "content_hash",
    "prepare_input",
]

SPOOL_MEMORY_BYTES = 8 * 1024 * 1024
"""Spools up to this size stay in memory; larger ones go to a temporary file."""

REJECT_COLUMNS = ("row", "line", "field", "reason")
"""The columns the rejects file adds after the original row's cells."""


def chunk_body(rows: Sequence[bytes]) -> bytes:
    """The request body (a JSON array) of encoded observations."""
    return b"[" + b",".join(rows) + b"]"


def content_hash(body: bytes) -> str:
    """The hash of a request body that keys the journal and the idempotency key."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


@attrs.frozen
class PlannedChunk:
    """One chunk of the upload.

    Attributes:
        index: the chunk's number, from 0.
        lines: its observations' JSON, one per observation.
        rows: the input row number (0-based) of each observation.
        content_hash: :func:`content_hash` of its request body.
    """

    index: int
    lines: list[bytes]
    rows: Sequence[int]
    content_hash: str

    @property
    def body(self) -> bytes:
        """The request body."""
        return chunk_body(self.lines)


ProblemHandler = Callable[[int, "int | None", Any, RowProblem], None]


def _valid_batches(
    reading: Reading,
    function: Callable[[Any], Any],
    batch_size: int,
    on_problem: ProblemHandler,
) -> Iterator[tuple[list[Any], Sequence[int]]]:
    """``(results, row numbers)`` per batch: ``function`` applied to each valid row."""
    payloads = reading.payloads
    index = 0
    while True:
        mark = reading.mark()
        batch = list(itertools.islice(payloads, batch_size))
        if not batch:
            return
        try:
            results = [function(payload) for payload in batch]  # the fast path
        except RowProblem:
            results = []
            rows: list[int] = []
            lines = reading.line_numbers(batch, mark)
            for payload, line in zip(batch, lines, strict=True):
                if reading.is_blank(payload):
                    continue
                try:
                    results.append(function(payload))
                    rows.append(index)
                except RowProblem as problem:
                    on_problem(index, line, payload, problem)
                index += 1
            yield results, rows
        else:
            yield results, range(index, index + len(batch))
            index += len(batch)


def _chunks_of(
    batches: Iterator[tuple[list[bytes], Sequence[int]]], chunksize: int
) -> Iterator[tuple[list[bytes], Sequence[int]]]:
    """Regroup batches of encoded rows into chunks of exactly ``chunksize`` (the last shorter)."""
    pending: list[bytes] = []
    pending_rows: list[int] = []
    for encoded, rows in batches:
        if not pending and len(encoded) == chunksize:
            yield encoded, rows  # the usual case: a batch is a chunk
            continue
        pending.extend(encoded)
        pending_rows.extend(rows)
        while len(pending) >= chunksize:
            yield pending[:chunksize], pending_rows[:chunksize]
            del pending[:chunksize], pending_rows[:chunksize]
    if pending:
        yield pending, pending_rows


class PreparedInput(abc.ABC):
    """The validated input: what pass two sends.

    Attributes:
        rows: how many valid observations it holds.
        rejected: how many rows were skipped as invalid (``on_invalid="skip"``).
        rejects_path: the rejects file, when rows were rejected or a path was given.
        chunksize: observations per chunk.
        chunk_hashes: each chunk's content hash, when pass one computed them
            (one-shot inputs, or with a journal); else None.
    """

    def __init__(self, chunksize: int) -> None:
        self.chunksize = chunksize
        self.rows = 0
        self.rejected = 0
        self.rejects_path: str | None = None
        self.chunk_hashes: list[str] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rows={self.rows}, rejected={self.rejected})"

    @property
    def chunk_count(self) -> int:
        """How many chunks pass two will produce."""
        return -(-self.rows // self.chunksize)

    @abc.abstractmethod
    def chunks(self) -> Iterator[PlannedChunk]:
        """The chunks, one at a time, in order (each built only when asked for)."""

    def close(self) -> None:  # noqa: B027 - only the spool holds a resource
        """Release what pass one kept (the spool)."""


class SpooledInput(PreparedInput):
    """A one-shot input, encoded into a temporary spool by pass one."""

    def __init__(self, chunksize: int) -> None:
        super().__init__(chunksize)
        self.chunk_hashes = []
        self.file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by close()
            max_size=SPOOL_MEMORY_BYTES, prefix="genomcore-spool-"
        )

    def add(self, encoded: Sequence[bytes], rows: Sequence[int]) -> None:
        """Append one chunk."""
        assert self.chunk_hashes is not None
        first, last = rows[0], rows[-1]
        if last - first + 1 == len(rows):
            spec = b"%d-%d" % (first, last)
        else:
            spec = ",".join(map(str, rows)).encode()
        block = b"\n".join(encoded)
        self.file.write(b"#%b %d\n" % (spec, len(block)))
        self.file.write(block)
        self.file.write(b"\n")
        self.chunk_hashes.append(content_hash(chunk_body(encoded)))
        self.rows += len(encoded)

    def chunks(self) -> Iterator[PlannedChunk]:
        """Read the chunks back from the spool."""
        assert self.chunk_hashes is not None
        handle = self.file
        handle.seek(0)
        for index, digest in enumerate(self.chunk_hashes):
            spec, _, size = handle.readline()[1:-1].partition(b" ")
            block = handle.read(int(size) + 1)[:-1]
            rows: Sequence[int]
            if b"-" in spec:
                first, _, last = spec.partition(b"-")
                rows = range(int(first), int(last) + 1)
            else:
                rows = [int(r) for r in spec.split(b",")]
            yield PlannedChunk(index, block.split(b"\n"), rows, digest)

    def close(self) -> None:
        """Delete the spool."""
        self.file.close()


class ReplayedInput(PreparedInput):
    """A re-readable input, validated by pass one and read (and encoded) again by pass two."""

    def __init__(
        self,
        source: ObservationSource,
        encoder: ObservationEncoder,
        chunksize: int,
        stop: bool,
    ) -> None:
        super().__init__(chunksize)
        self.source = source
        self.encoder = encoder
        self.stop = stop

    def chunks(self) -> Iterator[PlannedChunk]:
        """Read the input again, encoding one chunk at a time."""
        hashes = self.chunk_hashes
        with self.source.open(self.encoder) as reading:
            batches = _valid_batches(reading, reading.encode, self.chunksize, self._changed)
            for index, (encoded, rows) in enumerate(_chunks_of(batches, self.chunksize)):
                digest = content_hash(chunk_body(encoded))
                if hashes is not None and (index >= len(hashes) or hashes[index] != digest):
                    raise InputFormatError(
                        f"{self.source.description} changed while it was being uploaded "
                        f"(chunk {index} differs from what was validated); chunks before it "
                        "were sent. Do not modify the input during an upload."
                    )
                yield PlannedChunk(index, encoded, rows, digest)

    def _changed(self, index: int, line: int | None, payload: Any, problem: RowProblem) -> None:
        if self.stop:
            raise InputFormatError(
                f"{self.source.description} changed while it was being uploaded: row {index} "
                f"was valid and now is not ({problem.message}). Do not modify the input "
                "during an upload."
            )


def prepare_input(
    source: ObservationSource,
    encoder: ObservationEncoder,
    *,
    chunksize: int,
    on_invalid: str = "stop",
    rejects_path: str | os.PathLike[str] | None = None,
    hash_chunks: bool = False,
) -> PreparedInput:
    """Pass one: read and validate all of ``source`` (see the module docstring).

    Args:
        source: where the rows come from.
        encoder: validates and encodes each row.
        chunksize: observations per chunk.
        on_invalid: ``"stop"`` raises at the first invalid row; ``"skip"`` writes
            invalid rows to the rejects file and leaves them out.
        rejects_path: the rejects file (``"skip"``); a temporary file when None.
        hash_chunks: compute every chunk's content hash now (for the journal).

    Raises:
        ObservationValidationError: ``on_invalid="stop"`` and a row is invalid
            (the first one found; nothing was sent).
        InputFormatError: the input cannot be read.
    """
    skip = on_invalid == "skip"
    rejects: LayoutCsvWriter | None = None
    prepared: PreparedInput
    if source.reiterable:
        prepared = ReplayedInput(source, encoder, chunksize, stop=not skip)
    else:
        prepared = SpooledInput(chunksize)

    def on_problem(index: int, line: int | None, payload: Any, problem: RowProblem) -> None:
        if rejects is None:
            raise ObservationValidationError(
                [InvalidObservation(index, problem.field, problem.value, problem.message, line)]
            )
        cells = reading.cells(payload)
        rejects.write([*cells, index, "" if line is None else line, problem.field, problem.message])
        prepared.rejected += 1

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
            if isinstance(prepared, SpooledInput):
                batches = _valid_batches(reading, reading.encode, chunksize, on_problem)
                for encoded, rows in _chunks_of(batches, chunksize):
                    prepared.add(encoded, rows)
                prepared.file.flush()
            elif hash_chunks:
                hashes: list[str] = []
                batches = _valid_batches(reading, reading.encode, chunksize, on_problem)
                for encoded, _rows in _chunks_of(batches, chunksize):
                    hashes.append(content_hash(chunk_body(encoded)))
                    prepared.rows += len(encoded)
                prepared.chunk_hashes = hashes
            else:
                for checked, _rows in _valid_batches(reading, reading.check, chunksize, on_problem):
                    prepared.rows += len(checked)
    except BaseException:
        prepared.close()
        raise
    finally:
        if rejects is not None:
            rejects.close()
            prepared.rejects_path = rejects.path
    return prepared
