r"""Pass one of an upload (read and validate everything), and the chunks pass two sends.

Nothing is sent before the whole input has been read and checked, so that with
``on_invalid="stop"`` an invalid row anywhere (even the last of a
10-million-row file or generator) means nothing at all was sent, and with
``"skip"`` the rejects file is complete before the first chunk goes out.
Memory stays flat whatever the input size:

* **Inputs read once** (iterators, generators, and CSV files up to
  :data:`~genomcore_sdk.sources.READ_ONCE_FILE_BYTES`): pass one encodes every
  valid row into a temporary spool (in memory up to :data:`SPOOL_MEMORY_BYTES`,
  then on disk, about 200 bytes per observation), which pass two reads back.
  Parsing a CSV file costs far more than reading its encoded chunks back, so
  a file that fits is parsed once.
* **Inputs read twice** (lists and other sequences, DataFrames, larger CSV
  files): pass one only validates (no encoding, no copy); pass two reads the
  input again and encodes it chunk by chunk while earlier chunks are on the
  wire. With a ``journal``, pass one also encodes and hashes each chunk, so
  the journal is checked before anything is sent. If the input changes
  between the passes (see :class:`ReplayedInput`), the upload stops with
  :class:`~genomcore_sdk.errors.InputFormatError` before the chunk that shows it.

A large UTF-8 CSV file (on Linux) is read by several processes at once, a
part each, with exactly the result one process gives (see
:mod:`genomcore_sdk.prepare_workers`).

Rows are pulled in batches of one chunk. A whole batch is checked in one
tight loop, or encoded with ``BytesIO.writelines`` over the rows' JSON items
(a C-level loop in which no row's bytes outlive the write: keeping a thousand
small ``bytes`` alive per chunk costs more in page faults than encoding them).
Only a batch holding an invalid (or blank) row is walked row by row, for its
row and line numbers.

A chunk's request body is the JSON array of its observations
(:func:`chunk_body`); its :func:`content_hash` keys the journal and the
idempotency key.

Spool layout, one record per chunk::

    #<rows> <body bytes> <first bytes> <last bytes>\n
    <body><first observation><last observation>\n

where ``<rows>`` is ``<first>-<last>`` (input row numbers, when consecutive) or
``<r1>,<r2>,...`` (when rows were skipped as invalid).
"""

from __future__ import annotations

import abc
import hashlib
import io
import itertools
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

import attrs

from .errors import InputFormatError, InvalidObservation, ObservationValidationError
from .sources import CsvSyntaxError, LayoutCsvWriter, ObservationSource, Reading
from .validation import REJECT_COLUMNS, ObservationEncoder, RowProblem

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


def chunk_body(rows: Sequence[bytes]) -> bytes:
    """The request body (a JSON array) of encoded observations."""
    return b"[" + b",".join(rows) + b"]"


def content_hash(body: bytes) -> str:
    """The hash of a request body that keys the journal and the idempotency key.

    The first 128 bits of its SHA-256 (hardware-accelerated on most CPUs), in hex.
    """
    return hashlib.sha256(body).hexdigest()[:32]


@attrs.frozen
class PlannedChunk:
    """One chunk of the upload.

    Attributes:
        index: the chunk's number, from 0.
        body: its request body, the JSON array of its observations.
        rows: the input row number (0-based) of each observation.
        content_hash: ``content_hash()`` of the body.
        first_json: its first observation's JSON.
        last_json: its last observation's JSON.
    """

    index: int
    body: bytes = attrs.field(repr=False)
    rows: Sequence[int] = attrs.field(repr=False)
    content_hash: str
    first_json: bytes = attrs.field(repr=False)
    last_json: bytes = attrs.field(repr=False)

    @property
    def size(self) -> int:
        """How many observations it holds."""
        return len(self.rows)


ProblemHandler = Callable[[int, "int | None", Any, RowProblem], None]
Assembled = tuple[bytes, Sequence[int], bytes, bytes]  # body, rows, first, last


def _count_valid(reading: Reading, batch_size: int, on_problem: ProblemHandler) -> int:
    """Check every row (no encoding); return how many are valid."""
    check = reading.check
    check_batch = reading.check_batch
    index = valid = 0
    while True:
        mark = reading.mark()
        batch = reading.take(batch_size)
        if not batch:
            return valid
        if check_batch is not None and check_batch(batch):  # the bulk path
            index += len(batch)
            valid += len(batch)
            continue
        try:
            for payload in batch:  # the fast path
                check(payload)
        except RowProblem:
            for payload, line in zip(batch, reading.line_numbers(batch, mark), strict=True):
                if reading.is_blank(payload):
                    continue
                try:
                    check(payload)
                    valid += 1
                except RowProblem as problem:
                    on_problem(index, line, payload, problem)
                index += 1
        else:
            index += len(batch)
            valid += len(batch)


def _assemble(
    reading: Reading, chunksize: int, on_problem: ProblemHandler, first_index: int = 0
) -> Iterator[Assembled]:
    """Encode the valid rows into chunk bodies of exactly ``chunksize`` rows (the last shorter).

    Row numbers start at ``first_index`` (a part of a file read by a worker process).
    """
    encode, encode_item = reading.encode, reading.encode_item
    encode_batch = reading.encode_batch
    pending: list[bytes] = []  # comma-terminated rows of a chunk being filled row by row
    pending_rows: list[int] = []
    index = first_index
    while True:
        mark = reading.mark()
        batch = reading.take(chunksize - len(pending))
        if not batch:
            break
        if not pending and encode_batch is not None:
            body = encode_batch(batch)  # the bulk path
            if body is not None:
                yield body, range(index, index + len(batch)), encode(batch[0]), encode(batch[-1])
                index += len(batch)
                continue
        if not pending:
            out = io.BytesIO()
            out.write(b"[")
            try:
                out.writelines(map(encode_item, batch))  # the fast path
            except RowProblem:
                pass
            else:
                out.seek(-1, io.SEEK_END)
                out.write(b"]")  # over the last comma
                yield (
                    out.getvalue(),
                    range(index, index + len(batch)),
                    encode(batch[0]),
                    encode(batch[-1]),
                )
                index += len(batch)
                continue
        for payload, line in zip(batch, reading.line_numbers(batch, mark), strict=True):
            if reading.is_blank(payload):
                continue
            try:
                pending.append(encode_item(payload))
                pending_rows.append(index)
            except RowProblem as problem:
                on_problem(index, line, payload, problem)
            index += 1
        if len(pending) == chunksize:
            yield _pending_chunk(pending, pending_rows)
            pending, pending_rows = [], []
    if pending:
        yield _pending_chunk(pending, pending_rows)


def _pending_chunk(items: list[bytes], rows: list[int]) -> Assembled:
    joined = b"".join(items)
    return b"[" + joined[:-1] + b"]", rows, items[0][:-1], items[-1][:-1]


class PreparedInput(abc.ABC):
    """The validated input: what pass two sends.

    Attributes:
        rows: how many valid observations it holds.
        rejected: how many rows were skipped as invalid (``on_invalid="skip"``).
        rejects_path: the rejects file, when rows were rejected (or an old file at the
            given path was emptied, so that no stale row stays).
        chunksize: observations per chunk.
        chunk_hashes: each chunk's content hash, when pass one computed them
            (``hash_chunks``: with a journal); else None.
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


def write_spool_record(
    file: IO[bytes], body: bytes, rows: Sequence[int], first: bytes, last: bytes
) -> None:
    """Append one chunk to a spool (the layout is in the module docstring)."""
    if rows[-1] - rows[0] + 1 == len(rows):
        spec = b"%d-%d" % (rows[0], rows[-1])
    else:
        spec = ",".join(map(str, rows)).encode()
    file.write(b"#%b %d %d %d\n" % (spec, len(body), len(first), len(last)))
    file.writelines((body, first, last, b"\n"))


def _read_spool_record(file: IO[bytes]) -> Assembled:
    spec, *sizes = file.readline()[1:-1].split(b" ")
    body_size, first_size, last_size = map(int, sizes)
    body = file.read(body_size)
    first = file.read(first_size)
    last = file.read(last_size)
    file.read(1)
    rows: Sequence[int]
    if b"-" in spec:
        low, _, high = spec.partition(b"-")
        rows = range(int(low), int(high) + 1)
    else:
        rows = [int(r) for r in spec.split(b",")]
    return body, rows, first, last


class SpooledInput(PreparedInput):
    """A one-shot input, encoded into a temporary spool by pass one.

    Each chunk's content hash is computed by pass one only when asked
    (``hash_chunks``, for the journal); otherwise pass two computes it as it
    reads the chunk back, while earlier chunks are on the wire.

    When worker processes read parts of a CSV file (see
    :mod:`genomcore_sdk.prepare_workers`), the chunks of each later part are in
    a spool of its own, appended with :meth:`add_spool`.
    """

    def __init__(self, chunksize: int, hash_chunks: bool = True) -> None:
        super().__init__(chunksize)
        self.chunk_hashes = [] if hash_chunks else None
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by close()
            max_size=SPOOL_MEMORY_BYTES, prefix="genomcore-spool-"
        )
        self._spools: list[tuple[IO[bytes], int]] = [(self.file, 0)]  # file, chunks in it

    def add(self, body: bytes, rows: Sequence[int], first: bytes, last: bytes) -> None:
        """Append one chunk (to the last spool)."""
        if len(self._spools) > 1:
            raise ValueError("chunks are added to the first spool only, before add_spool")
        write_spool_record(self.file, body, rows, first, last)
        if self.chunk_hashes is not None:
            self.chunk_hashes.append(content_hash(body))
        self._spools[0] = (self.file, self._spools[0][1] + 1)
        self.rows += len(rows)

    def add_spool(self, file: IO[bytes], chunks: int, rows: int, hashes: list[str] | None) -> None:
        """Append a spool of ``chunks`` chunks holding ``rows`` rows (closed by :meth:`close`).

        ``hashes`` are its chunks' content hashes (needed when this input keeps them).
        """
        self._spools.append((file, chunks))
        self.rows += rows
        if self.chunk_hashes is not None:
            if hashes is None or len(hashes) != chunks:
                raise ValueError(f"{chunks} chunk hashes are needed")
            self.chunk_hashes.extend(hashes)

    def chunks(self) -> Iterator[PlannedChunk]:
        """Read the chunks back from the spools."""
        hashes = self.chunk_hashes
        index = 0
        for handle, count in self._spools:
            handle.seek(0)
            for _ in range(count):
                body, rows, first, last = _read_spool_record(handle)
                digest = hashes[index] if hashes is not None else content_hash(body)
                yield PlannedChunk(index, body, rows, digest, first, last)
                index += 1

    def close(self) -> None:
        """Delete the spools."""
        for handle, _count in self._spools:
            handle.close()


def _readable(assembled: Iterator[Assembled], source: ObservationSource) -> Iterator[Assembled]:
    """Pass two's chunks; a file that became unreadable since pass one is said to have changed."""
    try:
        yield from assembled
    except CsvSyntaxError as exc:
        raise InputFormatError(
            f"{source.description} changed while it was being uploaded: {exc.message} "
            "Chunks before it were sent. Do not modify the input during an upload."
        ) from None


class ReplayedInput(PreparedInput):
    """A re-readable input, validated by pass one and read (and encoded) again by pass two.

    Pass two stops with :class:`~genomcore_sdk.errors.InputFormatError` before
    sending a chunk when the input has changed since pass one began: its
    :meth:`~genomcore_sdk.sources.ObservationSource.fingerprint` differs (a
    file's size or modification time, a sequence's length), a chunk's rows are
    not the valid rows pass one counted (rows added, removed, newly valid or
    invalid), or, with the journal's hashes, a chunk's content differs. (A
    file edited in place to the same size within the clock tick of pass one's
    start looks unchanged, unless a journal compares the chunks' contents.)

    Attributes:
        fingerprint: the source's fingerprint when pass one began.
        rejected_rows: the input rows pass one rejected (``on_invalid="skip"``), ascending.
    """

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
        self.fingerprint: object = None
        self.rejected_rows: list[int] = []

    def _valid_rows(self) -> Iterator[int]:
        """The row numbers pass one found valid, in order."""
        bounds = [-1, *self.rejected_rows, self.rows + self.rejected]
        return itertools.chain.from_iterable(
            range(low + 1, high) for low, high in itertools.pairwise(bounds)
        )

    def _changed_error(self, what: str, chunk: int | None = None) -> InputFormatError:
        sent = (
            "nothing was sent"
            if chunk == 0
            else "all chunks were sent"
            if chunk is None
            else "chunk 0 was sent"
            if chunk == 1
            else f"chunks 0 to {chunk - 1} were sent"
        )
        return InputFormatError(
            f"{self.source.description} changed while it was being uploaded ({what}); "
            f"{sent}. Do not modify the input during an upload."
        )

    def chunks(self) -> Iterator[PlannedChunk]:
        """Read the input again, encoding one chunk at a time."""
        hashes = self.chunk_hashes
        expected = self._valid_rows()
        with self.source.open(self.encoder) as reading:
            assembled = _assemble(reading, self.chunksize, self._changed)
            for index, (body, rows, first, last) in enumerate(_readable(assembled, self.source)):
                if self.source.fingerprint() != self.fingerprint:
                    raise self._changed_error("modified since it was validated", index)
                if list(itertools.islice(expected, len(rows))) != list(rows):
                    raise self._changed_error(
                        f"chunk {index} holds other rows than were validated: rows were "
                        "added, removed, or became valid or invalid",
                        index,
                    )
                digest = content_hash(body)
                if hashes is not None and (index >= len(hashes) or hashes[index] != digest):
                    raise self._changed_error(
                        f"chunk {index} differs from what was validated", index
                    )
                yield PlannedChunk(index, body, rows, digest, first, last)
        if next(expected, None) is not None:
            raise self._changed_error("rows validated at its end are gone")

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
    from .prepare_workers import prepare_in_processes  # it builds on this module

    def new_prepared() -> PreparedInput:
        if source.read_once:
            return SpooledInput(chunksize, hash_chunks)
        return ReplayedInput(source, encoder, chunksize, stop=not skip)

    prepared = new_prepared()

    def on_problem(index: int, line: int | None, payload: Any, problem: RowProblem) -> None:
        if rejects is None:
            raise ObservationValidationError(
                [InvalidObservation(index, problem.field, problem.value, problem.message, line)]
            )
        cells = reading.cells(payload)
        rejects.write(
            [
                *cells,
                index,
                "" if line is None else line,
                problem.field,
                problem.message,
                reading.extra_cells(payload),
            ]
        )
        prepared.rejected += 1
        if isinstance(prepared, ReplayedInput):
            prepared.rejected_rows.append(index)

    fingerprint = source.fingerprint()  # before reading: a change during pass one counts
    try:
        with source.open(encoder) as reading:
            if skip:
                rejects = LayoutCsvWriter(
                    rejects_path,
                    [*reading.reject_columns, *REJECT_COLUMNS],
                    "genomcore-rejects-",
                )
                rejects.clear_stale()  # an old rejects file must not be mistaken for this run's
            in_processes = prepare_in_processes(
                reading, chunksize=chunksize, hash_chunks=hash_chunks, make=new_prepared
            )
            if in_processes is not None:  # a large file, read by several processes
                prepared.close()
                prepared = in_processes
            elif isinstance(prepared, SpooledInput):
                for body, rows, first, last in _assemble(reading, chunksize, on_problem):
                    prepared.add(body, rows, first, last)
                prepared.file.flush()
            elif hash_chunks:
                hashes: list[str] = []
                for body, rows, _first, _last in _assemble(reading, chunksize, on_problem):
                    hashes.append(content_hash(body))
                    prepared.rows += len(rows)
                prepared.chunk_hashes = hashes
            else:
                prepared.rows = _count_valid(reading, chunksize, on_problem)
    except CsvSyntaxError as exc:
        prepared.close()
        raise InputFormatError(f"{exc.message} Nothing was sent.") from None
    except BaseException:
        prepared.close()
        raise
    finally:
        if rejects is not None:
            rejects.close()
            prepared.rejects_path = rejects.path if rejects.created else None
    if isinstance(prepared, ReplayedInput):
        prepared.fingerprint = fingerprint
    return prepared
