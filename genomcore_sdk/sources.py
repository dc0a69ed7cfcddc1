"""Input readers for the upload, and the writer of the vendor's flattened CSV layout.

``create_time_series`` takes observations in any of these forms:

* a list (or any sequence) of dicts ``{"meta": {...}, "point": {...}}`` as in the
  vendor docs, or of generated ``genomcore_ts_api.models.Observation`` models;
* any iterable or generator of those, consumed once and lazily;
* a CSV file path (``str`` or ``os.PathLike``) in the vendor's flattened layout
  (``meta.userId``, ..., ``point.value``), read as spreadsheets save it: UTF-8
  with or without BOM (UTF-16, Excel's "Unicode text", or UTF-32 with a BOM
  too), ``,`` ``;`` or tab delimiters (found from the header), CRLF or LF line ends, quoted
  fields (with delimiters or line breaks inside). Blank lines are skipped;
* a pandas ``DataFrame`` with the same columns (``pip install 'genomcore-sdk[pandas]'``).

Each reader gives its raw rows (``payloads``), knows how to encode one (through
:class:`~genomcore_sdk.validation.ObservationEncoder`), its file line number
when asked, and how to show it as CSV cells in the rejects file.
"""

from __future__ import annotations

import abc
import codecs
import collections
import copy
import csv
import datetime
import io
import itertools
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import IO, Any, Self

import orjson
from genomcore_ts_api.models import Observation

from .csv_batch import CellBlock, CsvBatchCodec
from .errors import InputFormatError
from .validation import ObservationEncoder, RowProblem
from .wire_schema import Kind, ObjectSchema, observation_schema

__all__ = [
    "READ_ONCE_FILE_BYTES",
    "CsvFileSource",
    "CsvSyntaxError",
    "DataFrameSource",
    "LayoutCsvWriter",
    "LineFeedCsvWriter",
    "ObjectSource",
    "ObservationSource",
    "Reading",
    "open_source",
    "to_cells",
]

DELIMITERS = (",", ";", "\t")
"""The delimiters a CSV header is sniffed for."""


class Reading(abc.ABC):
    """One pass over a source: its rows, how to encode them, how to show them as CSV cells.

    The upload pulls rows in batches straight from :attr:`payloads` (no per-row
    Python overhead) and asks for line numbers only when a batch holds an
    invalid or blank row.
    """

    reject_columns: list[str]
    """The columns of the rejects file (before ``row, line, field, reason, extra_cells``)."""

    payloads: Iterator[Any]
    """The raw rows, in input order (for a CSV file, blank lines included as ``[]``)."""

    encode: Callable[[Any], bytes]
    """The payload's JSON (raises :class:`~genomcore_sdk.validation.RowProblem`)."""

    check: Callable[[Any], object]
    """Validate the payload without encoding it (raises ``RowProblem``)."""

    encode_item: Callable[[Any], bytes]
    """The payload's JSON followed by a comma (an item of a JSON array body)."""

    check_batch: Callable[[Sequence[Any]], bool] | None = None
    """Whether a whole batch of payloads is valid, checked at once (False: check row by row).

    None when the reading has no batch path (see :mod:`genomcore_sdk.csv_batch`).
    """

    encode_batch: Callable[[Sequence[Any]], bytes | None] | None = None
    """The request body of a whole batch of valid payloads, or None (then row by row)."""

    def take(self, count: int) -> Sequence[Any]:
        """The next ``count`` payloads (fewer at the end, none when there are no more)."""
        return list(itertools.islice(self.payloads, count))

    def mark(self) -> int:
        """A position marker, taken before taking a batch (:meth:`take`)."""
        return 0

    def line_numbers(self, batch: Sequence[Any], mark: int) -> list[int | None]:
        """The 1-based file line of each payload of ``batch`` (pulled after ``mark``)."""
        return [None] * len(batch)

    def is_blank(self, payload: Any) -> bool:
        """Whether ``payload`` is a blank line, to skip."""
        return False

    def rows(self, batch_size: int = 1000) -> Iterator[tuple[int | None, Any]]:
        """``(line, payload)`` for every non-blank row (a convenience; the upload batches)."""
        while True:
            mark = self.mark()
            batch = self.take(batch_size)
            if not batch:
                return
            for line, payload in zip(self.line_numbers(batch, mark), batch, strict=True):
                if not self.is_blank(payload):
                    yield line, payload

    @abc.abstractmethod
    def cells(self, payload: Any) -> list[str]:
        """The payload as cells under :attr:`reject_columns` (for the rejects file)."""

    def extra_cells(self, payload: Any) -> str:
        """The payload's cells beyond :attr:`reject_columns`, as a JSON list ("" when none)."""
        return ""

    def close(self) -> None:  # noqa: B027 - most readings hold no file
        """Release the file, if any."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _with_comma(encode: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    return lambda payload: encode(payload) + b","


class ObservationSource(abc.ABC):
    """Where observations come from.

    Attributes:
        description: a short text naming the input, for messages.
        size_hint: how many rows, when known without reading (sequences, DataFrames).
        reiterable: whether :meth:`open` can be called again to read the same rows
            (files, sequences, DataFrames; not iterators or generators).
        read_once: whether the upload should read it once, keeping its encoded
            chunks in a temporary spool, rather than read it again to send it:
            inputs that cannot be read again, and CSV files up to
            :data:`READ_ONCE_FILE_BYTES` (parsing a file costs more than
            spooling its chunks).
    """

    description: str = "the input"
    size_hint: int | None = None
    reiterable: bool = False

    @property
    def read_once(self) -> bool:
        """See the class docstring."""
        return not self.reiterable

    @abc.abstractmethod
    def open(self, encoder: ObservationEncoder) -> Reading:
        """Start reading (raises :class:`~genomcore_sdk.errors.InputFormatError`)."""

    def fingerprint(self) -> object:
        """What changes when the input is modified, as far as can be told cheaply.

        A file's size, modification time and identity; a sequence's length.
        An input read twice is compared with it between and during the passes.
        """
        return self.size_hint


# ---------------------------------------------------------------------- Python objects


class ObjectSource(ObservationSource):
    """An iterable of dicts or generated ``Observation`` models (read once, lazily)."""

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items
        self.reiterable = isinstance(items, Sequence)
        self.size_hint = len(items) if isinstance(items, Sequence) else None
        self.description = (
            f"the list of {self.size_hint} observations"
            if self.size_hint is not None
            else f"the {type(items).__name__} of observations"
        )

    def open(self, encoder: ObservationEncoder) -> Reading:
        """Start reading."""
        return _ObjectReading(self.items, encoder)

    def fingerprint(self) -> object:
        """A sequence's length now."""
        return len(self.items) if isinstance(self.items, Sequence) else None


class _ObjectReading(Reading):
    def __init__(self, items: Iterable[Any], encoder: ObservationEncoder) -> None:
        self.items = items
        self.encode = encoder.encode
        self.check = encoder.check
        self.encode_item = encoder.encode_item
        self.schema = encoder.schema
        self.reject_columns = list(self.schema.columns())
        self.payloads = iter(items)

    def cells(self, payload: Any) -> list[str]:
        if isinstance(payload, Observation):
            try:
                payload = payload.to_dict()
            except Exception:
                return [""] * len(self.reject_columns)
        return to_cells(self.schema, payload)


# ---------------------------------------------------------------------- CSV files


READ_ONCE_FILE_BYTES = 128 * 1024 * 1024
"""CSV files up to this size are read once: their chunks, encoded, go to a temporary
spool (about twice the file's size, on disk past 8 MiB). Larger files are read twice
(validated, then read and encoded again while sending), which needs no disk space."""


_BLOCK_BYTES = 64 * 1024
"""How much of a CSV file is read at a time (a block of lines is then about this long:
under the csv module's default field size limit, which the reader then need not check)."""


class CsvFileSource(ObservationSource):
    """A CSV file in the vendor's flattened layout (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.description = f"the file {self.path}"
        self.reiterable = True

    @property
    def read_once(self) -> bool:
        """Whether the file is small enough to spool (:data:`READ_ONCE_FILE_BYTES`)."""
        try:
            return os.path.getsize(self.path) <= READ_ONCE_FILE_BYTES
        except OSError:
            return False  # open() names the problem

    def fingerprint(self) -> object:
        """The file's device, inode, size and modification time (None if it is gone)."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def open(self, encoder: ObservationEncoder) -> Reading:
        """Open the file, find its encoding and delimiter, and check its header."""
        try:
            raw = open(self.path, "rb")  # noqa: SIM115 - closed by the reading
        except OSError as exc:
            raise InputFormatError(
                f"Cannot read the CSV file {self.path!r}: {exc.strerror or exc}. Nothing was sent."
            ) from exc
        try:
            return _CsvReading(raw, self.path, encoder)
        except BaseException:
            raw.close()
            raise


_WIDE_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)
"""Byte-order marks of files read as text (UTF-32 LE's starts with UTF-16 LE's)."""


def _text_stream(raw: IO[bytes]) -> io.TextIOWrapper:
    head = raw.read(4)
    raw.seek(0)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16's FF FE
        encoding = "utf-32"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"  # reads UTF-8 with or without BOM
    # undecodable bytes survive as surrogates: the row holding them is refused by name
    return io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")


def sniff_delimiter(header_line: str, known: Iterable[str]) -> str:
    """The delimiter (``,`` ``;`` or tab) that splits ``header_line`` into the most known columns."""
    names = set(known)
    best, best_score = ",", -1
    for delimiter in DELIMITERS:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        score = sum(1 for c in cells if c.strip() in names)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class CsvSyntaxError(Exception):
    """The csv module cannot read a CSV file from a line on (the upload words it for its pass).

    Attributes:
        line: the file line (1-based) of the row that cannot be read.
        message: what is wrong and how to fix it.
    """

    def __init__(self, path: str, line: int, problem: str) -> None:
        where = f"The CSV file {path!r} cannot be read from line {line}"
        if "expected after" in problem:
            message = (
                f"{where}: a quoted cell is followed by more text before the next delimiter "
                f"(csv: {problem}). Quote the whole cell and write a quote inside it twice: "
                '"W-1""7" is the cell W-1"7.'
            )
        elif "field larger than field limit" in problem:
            message = (
                f"{where}: a cell runs past {csv.field_size_limit():,} characters, which means "
                "a quote opens there and never closes. Check the quotes of that line."
            )
        elif "unexpected end of data" in problem:
            message = (
                f"{where}: a quote opens there and the file ends before it closes. Check the "
                "quotes of that line."
            )
        else:
            message = f"{where} (csv: {problem}). Check the quotes and delimiters of that line."
        super().__init__(message)
        self.line = line
        self.message = message


class NotSplittable(Exception):
    """A part of a CSV file cannot be read on its own (it holds a quote or a lone CR)."""


class _FileRange(io.RawIOBase):
    """The bytes ``start`` to ``stop`` of a file, read as a file of their own."""

    def __init__(self, path: str, start: int, stop: int) -> None:
        super().__init__()
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._file.seek(start)
        self._left = stop - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._left)
        if size <= 0:
            return 0
        got = self._file.readinto(memoryview(buffer)[:size]) or 0
        self._left -= got
        return got

    def close(self) -> None:
        self._file.close()
        super().close()


class _CsvReading(Reading):
    def __init__(self, raw: IO[bytes], path: str, encoder: ObservationEncoder) -> None:
        self.raw = raw
        self.path = path
        self.text: io.TextIOWrapper | None = None  # the file as text, once the csv module reads
        self._buffer = b""  # read from the file, not yet split: part of a line
        head = raw.read(4)
        raw.seek(0)
        if head.startswith(_WIDE_BOMS):
            # UTF-16 (Excel's "Unicode text") or UTF-32: the csv module reads all of it
            self.text = _text_stream(raw)
            header_line = self.text.readline()
        else:
            if head.startswith(codecs.BOM_UTF8):
                raw.seek(len(codecs.BOM_UTF8))
            # undecodable bytes survive as surrogates: the row holding them is refused by name
            header_line = self._read_header_line().decode("utf-8", "surrogateescape")
        if not header_line.strip():
            raise InputFormatError(
                f"The CSV file {path!r} is empty or starts with a blank line; its first line "
                f"must be the header {list(encoder.schema.columns())}. Nothing was sent."
            )
        if "\x00" in header_line:
            raise InputFormatError(
                f"The CSV file {path!r} looks like UTF-16 or UTF-32 text without a byte-order "
                "mark (its header holds NUL characters); save it as UTF-8 (in Excel: 'CSV UTF-8 "
                "(Comma delimited)'). Nothing was sent."
            )
        delimiter = sniff_delimiter(header_line, encoder.schema.columns())
        header = next(csv.reader([header_line], delimiter=delimiter))
        self.row_encoder = encoder.csv_row_encoder(
            header, where=f"the CSV file {path!r}", delimiter=delimiter
        )
        self.encode = self.row_encoder.encode
        self.check = self.row_encoder.check
        self.encode_item = self.row_encoder.encode_item
        batch_codec = CsvBatchCodec.for_rows(self.row_encoder)
        if batch_codec is not None:
            self.check_batch = batch_codec.check
            self.encode_batch = batch_codec.encode
        self.reject_columns = list(self.row_encoder.header)
        self.delimiter = delimiter
        self.width = len(header)
        # The file is read as bytes, a block of whole lines at a time. A block without
        # quotes is split into cells by bytes.split (a CellBlock), which gives what the csv
        # module would; from the first quote (or lone CR) on, the csv module reads the rest
        # of the file as text (strict: text after a closing quote is an error, not silently
        # glued to the cell).
        self._separator = delimiter.encode()
        self.reader: Any = None  # the csv reader, once the csv module reads on
        self._syntax_error: CsvSyntaxError | None = None  # raised by the next take()
        self.in_range = False
        self.data_start: int | None = None  # where the rows start in the file (UTF-8 only)
        self._start_blocks(lines_before=1)  # the header's line
        if self.text is not None:
            self.reader = csv.reader(self.text, delimiter=delimiter, strict=True)
        else:
            self.data_start = raw.tell() - len(self._buffer)

    def _start_blocks(self, lines_before: int) -> None:
        self._eof = False
        self._segments: collections.deque[CellBlock | list[list[str]]] = collections.deque()
        self._head_taken = 0  # rows of the first segment already taken
        self._pending = 0  # rows in the segments not yet taken
        self._lines_taken = lines_before  # physical lines of the rows taken, and before them
        self.reader = None
        self.payloads = self._payloads()

    def range_reading(self, start: int, stop: int, lines_before: int) -> _CsvReading:
        """A reading of the file's bytes ``start`` to ``stop`` (whole lines) with this header.

        Line numbers count ``lines_before`` lines before ``start``. For a part of
        a UTF-8 file read by several processes at once (see
        :mod:`genomcore_sdk.prepare_workers`): a quote, a lone CR, a blank line or a
        row of another width in it raises :class:`NotSplittable` (the file is then
        read from its start by one process, which words the problem row by row).
        """
        if self.data_start is None or not self.data_start <= start <= stop:
            raise ValueError(f"no range {start}-{stop} in the rows of {self.path!r}")
        reading = copy.copy(self)  # the header's configuration; its own file and blocks
        reading.raw = io.BufferedReader(_FileRange(self.path, start, stop), _BLOCK_BYTES)
        reading.text = None
        reading._buffer = b""
        reading.in_range = True
        reading._start_blocks(lines_before)
        return reading

    def _read_header_line(self) -> bytes:
        """The first line, with its line end (LF, CRLF or a lone CR); what follows is buffered."""
        buffer = b""
        while True:
            more = self._read_block()
            buffer += more
            lf, cr = buffer.find(b"\n"), buffer.find(b"\r")
            if cr < 0 or (0 <= lf <= cr + 1):
                end = lf + 1 if lf >= 0 else -1  # LF or CRLF
            else:
                end = cr + 1 if cr + 1 < len(buffer) or not more else -1  # lone CR?
            if end < 0 and not more:
                end = len(buffer)
            if end >= 0:
                self._buffer = buffer[end:]
                return buffer[:end]

    def _read_block(self) -> bytes:
        """The next block of the file; never ending in the CR of a CRLF (it stays whole)."""
        more = self.raw.read(_BLOCK_BYTES)
        while more[-1:] == b"\r":
            extra = self.raw.read(1)
            if not extra:
                break
            more += extra
        return more

    def _payloads(self) -> Iterator[Any]:
        while batch := self.take(1000):
            yield from batch

    def take(self, count: int) -> Sequence[Any]:
        if self._syntax_error is not None:
            raise self._syntax_error
        try:
            while self._pending < count and self.reader is None and self._split_more():
                pass
        except csv.Error as exc:  # a line over the field size limit
            if not self._pending:
                raise CsvSyntaxError(self.path, self._first_unreadable_line(), str(exc)) from None
            self._syntax_error = CsvSyntaxError(self.path, self._first_unreadable_line(), str(exc))
            return self._take_split(self._pending)
        taken = self._take_split(count)
        if len(taken) == count or self.reader is None:
            return taken
        more: list[list[str]] = []
        try:
            for cells in itertools.islice(self.reader, count - len(taken)):
                more.append(cells)
        except csv.Error as exc:
            error = CsvSyntaxError(self.path, self._first_unreadable_line(), str(exc))
            if not taken and not more:
                raise error from None
            # the rows before it come first (an invalid one among them is the first problem)
            self._syntax_error = error
        return [*taken, *more] if taken else more

    def _take_split(self, count: int) -> Sequence[list[str]]:
        """Up to ``count`` rows from the split segments (a CellBlock when they all are)."""
        parts: list[Sequence[list[str]]] = []
        need = count
        while need and self._segments:
            head = self._segments[0]
            start = self._head_taken
            stop = min(len(head), start + need)
            parts.append(head if start == 0 and stop == len(head) else head[start:stop])
            need -= stop - start
            if stop == len(head):
                self._segments.popleft()
                self._head_taken = 0
            else:
                self._head_taken = stop
        taken = count - need
        self._pending -= taken
        self._lines_taken += taken  # without quotes and lone CRs, a row is one line
        if len(parts) <= 1:
            return parts[0] if parts else []
        blocks = [part for part in parts if isinstance(part, CellBlock)]
        if len(blocks) == len(parts):
            return CellBlock.concat(blocks)  # views of the blocks' cells, no copy
        return [list(row) for part in parts for row in part]

    def _split_more(self) -> bool:
        """Split the next block of lines into a segment; False when the split part is over."""
        data = self._read_lines()
        if not data:
            return False
        segment = None if b'"' in data else self._split(data)
        if segment is None and self.in_range:
            raise NotSplittable(f"{self.path!r} has quoted cells or lone CRs")
        if segment is None:  # quoted cells or lone CRs: the csv module reads on from here
            self.reader = self._csv_reader(data + self._buffer)
            self._buffer = b""
            return False
        self._segments.append(segment)
        self._pending += len(segment)
        return True

    def _read_lines(self) -> bytes:
        """The next whole lines of the file, each with its line end (b"" at the file's end)."""
        buffer = self._buffer
        while True:
            cut = buffer.rfind(b"\n") + 1
            if cut:
                self._buffer = buffer[cut:]
                return buffer[:cut]
            if b"\r" in buffer and (self._eof or buffer[-1:] != b"\r"):
                self._buffer = b""  # lines end with lone CRs: _split leaves them to csv
                return buffer
            if self._eof:
                break
            more = self._read_block()
            if not more:
                self._eof = True
            buffer += more
        self._buffer = b""
        # the last line, without a line end: with one it gives the same cells
        return buffer + b"\n" if buffer else b""

    def _split(self, data: bytes) -> CellBlock | list[list[str]] | None:
        """The rows of ``data`` (whole lines, no quotes); None when it holds lone CRs."""
        separator, width = self._separator, self.width
        lines = data.count(b"\n")
        # Each line end becomes a cell of its own between delimiters: when each line has
        # width cells, the line ends are exactly the cells at width, 2 * width + 1, ...
        carriage_returns = data.count(b"\r")
        if not carriage_returns:
            end = b"\n"
            cells = data.replace(b"\n", separator + b"\n" + separator).split(separator)
        elif carriage_returns == lines:  # CRLF line ends, if each CR is just before a LF
            end = b"\r\n"
            marked = data.replace(b"\r", separator + b"\r").replace(b"\n", b"\n" + separator)
            cells = marked.split(separator)
        else:
            cells = []
        if cells:
            cells.pop()  # b"" after the last line end
            if (
                len(cells) == lines * (width + 1)
                and cells[width :: width + 1].count(end) == lines
                # a cell's characters are at most its bytes
                and (
                    len(data) <= csv.field_size_limit()
                    or max(map(len, cells)) <= csv.field_size_limit()
                )
            ):
                return CellBlock(cells, width, width + 1)
        if carriage_returns and carriage_returns != data.count(b"\r\n"):
            return None
        if self.in_range:  # a part read on its own holds only rows of the header's width
            raise NotSplittable(f"{self.path!r} has blank lines or rows of another width")
        # blank lines, rows of another width: the csv module reads these lines alone as it
        # would read them in the file (no quotes, no lone CRs: one row per line)
        text = data.decode("utf-8", "surrogateescape")
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter))

    def _csv_reader(self, pending: bytes) -> Any:
        """A csv reader of ``pending`` (from a line start) and then the rest of the file."""
        decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        head = decoder.decode(pending)
        undecoded = decoder.getstate()[0]  # the start of a character cut at the block's end
        if undecoded:
            self.raw.seek(-len(undecoded), io.SEEK_CUR)
        self.text = io.TextIOWrapper(
            self.raw, encoding="utf-8", errors="surrogateescape", newline=""
        )
        if head and head[-1] not in "\r\n":
            head += self.text.readline()  # the rest of its last line: one line for csv
        lines = itertools.chain(io.StringIO(head, newline=""), self.text)
        return csv.reader(lines, delimiter=self.delimiter, strict=True)

    def _first_unreadable_line(self) -> int:
        """The line where the first row the csv module cannot read starts (reads the file again).

        Only after an error: the fast path keeps no per-row position.
        """
        done = 0  # physical lines of the rows read so far
        try:
            with open(self.path, "rb") as raw:
                text = _text_stream(raw)
                text.readline()  # the header
                reader = csv.reader(text, delimiter=self.delimiter, strict=True)
                try:
                    for _row in reader:
                        done = reader.line_num
                except csv.Error:
                    pass
        except OSError:  # the file went away meanwhile: where this reading stopped
            done = max(0, self.mark() - 2)
        return done + 2  # after the header and the rows read

    def mark(self) -> int:
        """Physical lines consumed so far, the header included."""
        return self._lines_taken + (0 if self.reader is None else self.reader.line_num)

    def line_numbers(self, batch: Sequence[Any], mark: int) -> list[int | None]:
        # csv counts physical lines; a quoted cell with line breaks spans several
        lines: list[int | None] = []
        line = mark + 1
        for cells in batch:
            lines.append(line)
            line += 1 + sum(c.count("\n") + c.count("\r") - c.count("\r\n") for c in cells)
        return lines

    def is_blank(self, payload: Any) -> bool:
        return not payload

    def cells(self, payload: Any) -> list[str]:
        cells = list(payload)
        width = len(self.reject_columns)
        return cells[:width] + [""] * (width - len(cells))

    def extra_cells(self, payload: Any) -> str:
        surplus = list(payload)[len(self.reject_columns) :]
        # json, not orjson: an undecodable byte (a surrogate here) goes back out as it came in
        return json.dumps(surplus, ensure_ascii=False) if surplus else ""

    def close(self) -> None:
        (self.raw if self.text is None else self.text).close()


# ---------------------------------------------------------------------- pandas


class DataFrameSource(ObservationSource):
    """A pandas ``DataFrame`` with the vendor's flattened columns (``meta.userId``, ...).

    Missing values (``NaN``, ``None``, ``NaT``, ``pd.NA``) count as not given;
    numpy integers become ``int``; ``Timestamp`` s become ``datetime`` (a
    Timestamp with nanoseconds is refused rather than truncated); floats stay
    floats, so a float ``point.value`` column is refused, never rounded. pandas
    makes an integer column float as soon as one value is missing; the error
    then says so, names the rows with ``NaN`` and gives the fix
    (``df["point.value"].astype("Int64")``: whole values stay exact, and the
    missing ones are refused, or skipped, by their row).
    """

    def __init__(self, frame: Any) -> None:
        self.frame = frame
        self.reiterable = True
        self.size_hint = len(frame)
        self.description = f"the DataFrame of {self.size_hint} rows"

    def open(self, encoder: ObservationEncoder) -> Reading:
        """Check the columns and start reading the rows."""
        return _DataFrameReading(self.frame, encoder)

    def fingerprint(self) -> object:
        """The frame's length now."""
        return len(self.frame)


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - a DataFrame implies pandas
        raise InputFormatError(
            "Reading a DataFrame needs pandas: pip install 'genomcore-sdk[pandas]'"
        ) from exc
    return pandas


class _DataFrameReading(Reading):
    def __init__(self, frame: Any, encoder: ObservationEncoder) -> None:
        pandas = _pandas()
        self.pandas = pandas
        self.frame = frame
        columns = [str(c) for c in frame.columns]
        # the same header check (and message) as a CSV file
        encoder.csv_row_encoder(columns, where="the DataFrame")
        self.columns = columns
        self.schema = encoder.schema
        self.reject_columns = list(columns)
        self.encoder = encoder
        self.encode = self._encode
        self.check = self._encode
        self.encode_item = _with_comma(self._encode)
        self.float_columns = self._float_integer_columns(frame, columns, encoder.schema)
        self.payloads = iter(frame.itertuples(index=False, name=None))

    @staticmethod
    def _float_integer_columns(
        frame: Any, columns: list[str], schema: ObjectSchema
    ) -> dict[str, str]:
        """For each integer field held in a float column, why the column is float and the fix."""
        integer_paths = {f.path for f in schema.leaves() if f.kind is Kind.INT}
        hints: dict[str, str] = {}
        for position, path in enumerate(columns):
            if path not in integer_paths:
                continue
            series = frame.iloc[:, position]
            if series.dtype.kind != "f":
                continue
            missing = [int(i) for i in series.isna().to_numpy().nonzero()[0][:6]]
            shown = ", ".join(str(i) for i in missing[:5]) + (", ..." if len(missing) > 5 else "")
            why = (
                f"pandas made the {path} column {series.dtype} because it has missing values "
                f"(NaN at row(s) {shown})"
                if missing
                else f"the DataFrame's {path} column is {series.dtype}"
            )
            hints[path] = (
                f"{why}; convert it with df[{path!r}] = df[{path!r}].astype('Int64') (whole "
                "values stay exact, a fractional one makes pandas refuse, and missing ones are "
                "then refused or skipped by their own row)"
            )
        return hints

    def _value(self, path: str, value: Any) -> Any:
        pandas = self.pandas
        if value is None or value is pandas.NaT or value is pandas.NA:
            return None
        if isinstance(value, float) and math.isnan(value):
            return None
        hint = self.float_columns.get(path)
        if hint is not None and isinstance(value, float):
            raise RowProblem(
                path, value, f"{path} must be an integer, got the float {value!r}: {hint}"
            )
        if isinstance(value, pandas.Timestamp):
            if value.nanosecond:
                raise RowProblem(
                    path,
                    str(value),
                    f"{path} has nanoseconds, which the API cannot store and the SDK will not "
                    "truncate; round the column to microseconds (Series.dt.round('us'))",
                )
            return value.to_pydatetime()
        if hasattr(value, "item") and type(value).__module__ == "numpy":
            item = value.item()
            if isinstance(item, float) and math.isnan(item):
                return None
            return item
        return value

    def _encode(self, payload: Any) -> bytes:
        nested: dict[str, Any] = {}
        for path, value in zip(self.columns, payload, strict=True):
            converted = self._value(path, value)
            if converted is None:
                continue
            *parents, leaf = path.split(".")
            target = nested
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = converted
        for field in self.schema.fields:  # an object whose cells are all empty is still present
            if field.schema is not None:
                nested.setdefault(field.json_name, {})
        return self.encoder.encode(nested)

    def cells(self, payload: Any) -> list[str]:
        return [_cell(self._safe(path, v)) for path, v in zip(self.columns, payload, strict=True)]

    def _safe(self, path: str, value: Any) -> Any:
        try:
            return self._value(path, value)
        except RowProblem:
            return str(value)


# ---------------------------------------------------------------------- dispatch


def open_source(body: Any) -> ObservationSource:
    """The reader for a ``create_time_series`` body (see the module docstring).

    Raises:
        InputFormatError: ``body`` is not a form the upload takes.
    """
    if isinstance(body, ObservationSource):
        return body
    if isinstance(body, str | os.PathLike):
        return CsvFileSource(body)
    if type(body).__name__ == "DataFrame" and type(body).__module__.startswith("pandas"):
        return DataFrameSource(body)
    if isinstance(body, Mapping | Observation):
        raise InputFormatError(
            "body must be a list of observations, got a single "
            f"{type(body).__name__}; wrap it in a list: body=[observation]. Nothing was sent."
        )
    if isinstance(body, bytes | bytearray):
        raise InputFormatError(
            "body must be a list of observations, a CSV path or a DataFrame, got bytes; "
            "pass the file path instead. Nothing was sent."
        )
    if isinstance(body, Iterable):
        return ObjectSource(body)
    raise InputFormatError(
        "body must be a list (or iterable) of observations, a CSV file path or a pandas "
        f"DataFrame, got {type(body).__name__}. Nothing was sent."
    )


# ---------------------------------------------------------------------- CSV layout out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


def to_cells(schema: ObjectSchema, observation: Any) -> list[str]:
    """An observation (a dict as sent, or as given) as cells under ``schema.columns()``.

    Values that are not where the schema expects them are left out (the rejects
    file's reason names the problem).

    Examples:
        >>> to_cells(observation_schema(), {"meta": {"userId": 1}, "point": {"value": 12}})
        ['1', '', '', '', '', '', '', '12']
    """
    cells: list[str] = []
    for field in schema.leaves():
        value: Any = observation
        for part in field.path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        cells.append(_cell(value))
    return cells


class LineFeedCsvWriter:
    r"""``csv.writer`` with LF line ends that quotes a cell holding a lone CR too.

    Python 3.11's writer quotes a cell with a line break only when the break is
    in its line terminator, so with ``"\n"`` a cell ``"a\rb"`` would go out bare
    and read back as two rows. A row with a CR anywhere is written with every
    cell quoted (it reads back the same).

    Examples:
        >>> out = io.StringIO()
        >>> rows = LineFeedCsvWriter(out)
        >>> rows.writerow(["a", "b,c"])
        >>> rows.writerow(["a\rb", 1])
        >>> out.getvalue()
        'a,"b,c"\n"a\rb","1"\n'
    """

    def __init__(self, stream: IO[str]) -> None:
        self._plain = csv.writer(stream, lineterminator="\n")
        self._quoted = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, cells: Sequence[Any]) -> None:
        """Write one row."""
        if any(isinstance(cell, str) and "\r" in cell for cell in cells):
            self._quoted.writerow(cells)
        else:
            self._plain.writerow(cells)


class LayoutCsvWriter:
    """Writes rows to a CSV file (UTF-8, ``,``, LF), creating it on the first row.

    Used for the rejects file (the original row plus ``row, line, field, reason,
    extra_cells``) and the failed-rows file (the vendor layout, ready to re-upload).

    Args:
        path: the file to (over)write; None makes a temporary file on first use.
        header: the header row.
        prefix: the temporary file's name prefix.
    """

    def __init__(self, path: str | os.PathLike[str] | None, header: Sequence[str], prefix: str):
        self.path: str | None = os.fspath(path) if path is not None else None
        self.header = list(header)
        self.prefix = prefix
        self.rows = 0
        self._file: IO[str] | None = None
        self._writer: Any = None
        self.created = False
        """Whether this writer wrote the file (rows, or the header over an old file)."""

    def _open(self) -> None:
        if self.path is None:
            import tempfile

            fd, self.path = tempfile.mkstemp(prefix=self.prefix, suffix=".csv")
            self._file = open(  # noqa: SIM115 - closed by close()
                fd, "w", encoding="utf-8", errors="surrogateescape", newline=""
            )
        else:
            self._file = open(  # noqa: SIM115 - closed by close()
                self.path, "w", encoding="utf-8", errors="surrogateescape", newline=""
            )
        self.created = True
        self._writer = LineFeedCsvWriter(self._file)
        self._writer.writerow(self.header)

    def write(self, cells: Sequence[Any]) -> None:
        """Append one row."""
        if self._file is None:
            self._open()
        self._writer.writerow(cells)
        self.rows += 1

    def clear_stale(self) -> None:
        """Empty a file already at ``path`` (header only), so no stale row stays.

        A path where no file exists gets none until a row is written.
        """
        if self._file is None and self.path is not None and os.path.exists(self.path):
            self._open()

    def flush(self) -> None:
        """Push written rows to the file."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None


def failed_rows_writer(path: str | os.PathLike[str] | None) -> LayoutCsvWriter:
    """A writer of rows in the vendor's layout (re-uploadable with ``create_time_series``)."""
    return LayoutCsvWriter(path, observation_schema().columns(), "genomcore-failed-rows-")


def json_to_cells(schema: ObjectSchema) -> Callable[[bytes], list[str]]:
    """Turn one encoded observation (JSON bytes as sent) back into vendor-layout cells."""
    return lambda data: to_cells(schema, orjson.loads(data))
