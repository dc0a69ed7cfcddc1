r"""Column-at-a-time checking and encoding of CSV row batches: the bulk path of a CSV upload.

A CSV upload checks every row before anything is sent, then sends the
encoded chunks (see :mod:`genomcore_sdk.prepare`). Row by row,
:class:`~genomcore_sdk.validation.CsvRowEncoder` costs a few microseconds per
row in Python bytecode. This module does the same work a whole batch (one
chunk) at a time, with loops that run in C:

* integer and text columns are taken as sets of distinct values (a batch
  usually holds one user, one batch, one metric), each set checked joined into
  one string, by a regular expression or ``str.isprintable``;
* a date-time column is checked, joined, for one shape (``str.translate``
  reading every digit as 0) and parsed with ``map(datetime.fromisoformat, ...)``;
* ``end`` is compared with ``start`` by ``map(operator.lt, ...)`` on the text
  when the batch has one UTC offset (else on parsed date-times);
* rows are written by interleaving the template's pieces with the cells
  (``zip``, ``itertools.chain``, ``str.join``).

It vouches only for batches in the usual form, where every row:

* has exactly the header's width, and the header holds required columns only;
* has non-empty text cells with nothing JSON must escape (no ``"``, ``\``,
  control characters or undecodable bytes);
* has integers written as canonical decimal digits (``0``, ``12``, ``-12``)
  within int64;
* has date-times written exactly as ``YYYY-MM-DDTHH:MM:SS`` plus ``Z`` or
  ``+HH:MM``/``-HH:MM`` (what ``isoformat()`` writes), valid ones, in years
  2 to 9998 (where no offset can take them out of range in UTC), with ``end``
  not before ``start``.

For any other batch it answers "not mine" (``False`` / ``None``) and the
caller goes row by row, which accepts more forms and names the row, field,
value and fix of each problem. So this module never decides that a row is
invalid, and what it accepts it encodes byte for byte as the row encoder would
(a property-based test checks both on random batches).

Examples:
    >>> from genomcore_sdk.validation import ObservationEncoder
    >>> header = ["meta.userId", "meta.source", "meta.metric", "meta.externalId",
    ...           "meta.batch", "point.start", "point.end", "point.value"]
    >>> codec = CsvBatchCodec.for_rows(ObservationEncoder().csv_row_encoder(header))
    >>> row = ["1", "watch", "steps", "W-1", "b1",
    ...        "2024-04-01T00:00:00Z", "2024-04-01T00:01:00Z", "12"]
    >>> codec.encode([row])
    b'[{"meta":{"userId":1,"source":"watch","metric":"steps","externalId":"W-1","batch":"b1"},"point":{"start":"2024-04-01T00:00:00Z","end":"2024-04-01T00:01:00Z","value":12}}]'
    >>> codec.check([row[:7] + ["12.5"]])  # not the usual form: the row encoder will say why
    False
"""

from __future__ import annotations

import datetime
import itertools
import operator
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import overload

import orjson

from .validation import INT64_MAX, INT64_MIN, INTERVAL_RULES, CsvRowEncoder
from .wire_schema import Kind, ObjectSchema

__all__ = ["CellBlock", "CsvBatchCodec"]

_INT = rb"(?:0|-?[1-9][0-9]{0,18})"  # then 19-digit ones are checked against int64
_INT_COLUMN = re.compile(_INT + rb"(?:\n" + _INT + rb")*")
# The shapes (the text with every digit read as 0) of the date-time forms the row encoder
# sends as written: YYYY-MM-DDTHH:MM:SS with +HH:MM, -HH:MM or Z.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_SHAPES = frozenset(
    {b"0000-00-00T00:00:00+00:00", b"0000-00-00T00:00:00-00:00", b"0000-00-00T00:00:00Z"}
)
_fromisoformat = datetime.datetime.fromisoformat
_CELL = "\x00"  # where a cell goes in a row's JSON template (JSON escapes a real NUL)

Batch = Sequence[Sequence[str]]


class CsvBatchCodec:
    """Checks and encodes whole batches of CSV rows of one header (see the module docstring).

    Build it with :meth:`for_rows`, which answers None for a header this
    path does not cover (optional columns, or fields that are not integers,
    text or date-times).

    Attributes:
        width: the number of columns of the header.
    """

    def __init__(self, row_encoder: CsvRowEncoder) -> None:
        schema = row_encoder.encoder.schema
        positions = {name: index for index, name in enumerate(row_encoder.header)}
        leaves = {f.path: f for f in schema.leaves()}
        self.width = len(row_encoder.header)
        by_kind: dict[Kind, list[int]] = {Kind.INT: [], Kind.STR: [], Kind.DATETIME: []}
        for name, position in positions.items():
            by_kind[leaves[name].kind].append(position)
        self._int_positions = by_kind[Kind.INT]
        self._text_positions = by_kind[Kind.STR]
        self._moment_positions = by_kind[Kind.DATETIME]
        self._intervals: list[tuple[int, int]] = []
        order: list[int] = []
        # one row's JSON is pieces[0] cell pieces[1] cell ... cell pieces[-1]; rows are
        # separated by commas, so the last piece carries one (cut after the last row)
        pieces = self._object_template(schema, positions, order).encode().split(_CELL.encode())
        pieces[-1] += b","
        self._pieces = pieces
        self._order = order

    @classmethod
    def for_rows(cls, row_encoder: CsvRowEncoder) -> CsvBatchCodec | None:
        """The batch codec of ``row_encoder``'s header, or None when this path does not cover it."""
        leaves = {f.path: f for f in row_encoder.encoder.schema.leaves()}
        for name in row_encoder.header:
            field = leaves[name]
            if not field.required or field.kind not in (Kind.INT, Kind.STR, Kind.DATETIME):
                return None
        return cls(row_encoder)

    def _object_template(
        self, schema: ObjectSchema, positions: dict[str, int], order: list[int]
    ) -> str:
        """One object's JSON with :data:`_CELL` for each cell; appends the cells' positions to ``order``."""
        parts: list[str] = []
        for field in schema.fields:
            key = orjson.dumps(field.json_name).decode()  # a NUL in it is escaped
            if field.schema is not None:
                parts.append(f"{key}:{self._object_template(field.schema, positions, order)}")
                continue
            if field.path not in positions:
                continue  # an optional field this header leaves out
            order.append(positions[field.path])
            parts.append(f"{key}:{_CELL}" if field.kind is Kind.INT else f'{key}:"{_CELL}"')
        for first, second in INTERVAL_RULES:
            low, high = schema.by_json_name.get(first), schema.by_json_name.get(second)
            if low is not None and high is not None and {low.path, high.path} <= positions.keys():
                self._intervals.append((positions[low.path], positions[high.path]))
        return "{" + ",".join(parts) + "}"

    def _columns(self, rows: Batch) -> list[Sequence[bytes]] | None:
        """Each column of ``rows`` as UTF-8 bytes, or None when a row is not of the header's width."""
        if isinstance(rows, CellBlock):
            if rows.width != self.width or not rows.length:
                return None
            return [rows.column(position) for position in range(self.width)]
        if not rows or set(map(len, rows)) != {self.width}:
            return None
        columns: list[Sequence[bytes]] = []
        for column in zip(*rows, strict=True):  # the rows transposed
            joined = "\n".join(column)
            if joined.count("\n") != len(column) - 1:
                return None  # a cell with a line break: not the usual form
            try:
                columns.append(joined.encode("utf-8", "surrogateescape").split(b"\n"))
            except UnicodeEncodeError:  # a surrogate no file decoding gives
                return None
        return columns

    def check(self, rows: Batch) -> bool:
        """Whether every row of ``rows`` is valid in the usual form (False: go row by row)."""
        columns = self._columns(rows)
        return columns is not None and self._check(columns) is not None

    def _check(self, columns: list[Sequence[bytes]]) -> dict[int, bytes] | None:
        """None unless every row is valid in the usual form; else the columns of one value."""
        # integers and text repeat a lot within a batch (one user, one batch, one metric):
        # their distinct values are checked, each once
        constant: dict[int, bytes] = {}
        for position in self._int_positions:
            distinct = set(columns[position])
            if len(distinct) == 1:
                constant[position] = next(iter(distinct))
            joined = b"\n".join(distinct)
            if joined.count(b"\n") != len(distinct) - 1 or _INT_COLUMN.fullmatch(joined) is None:
                return None
            if max(map(len, distinct)) >= 19 and not all(
                INT64_MIN <= int(text) <= INT64_MAX for text in distinct if len(text) >= 19
            ):
                return None
        for position in self._text_positions:
            distinct = set(columns[position])
            if len(distinct) == 1:
                constant[position] = next(iter(distinct))
            # joined by spaces, so that no two cells' bytes make one UTF-8 character
            joined = b" ".join(distinct)
            # quotes and backslashes would need escaping; isprintable() is False for control
            # characters; bytes that are not UTF-8 do not decode
            if b"" in distinct or b'"' in joined or b"\\" in joined:
                return None
            try:
                if not joined.decode("utf-8").isprintable():
                    return None
            except UnicodeDecodeError:
                return None
        if not self._moment_positions:
            return constant
        # a row's end is often the next row's start: the distinct date-times are checked
        moments: set[bytes] = set()
        for position in self._moment_positions:
            moments.update(columns[position])
        # each in a form sent as written: its shape (the text with every digit read as 0) is
        # one of _SHAPES (any other byte stays itself, which makes it none); usually one
        # shape for all
        joined = b"\n".join(moments)
        shape = next(iter(moments)).translate(_DIGITS_AS_ZERO)
        shapes = joined.translate(_DIGITS_AS_ZERO)
        if shapes != b"\n".join(itertools.repeat(shape, len(moments))):
            if not set(shapes.split(b"\n")) <= _SHAPES:
                return None
            shape = b""  # several shapes, several offsets
        elif shape not in _SHAPES:
            return None
        if b"0001-" in joined or b"9999-" in joined:
            return None  # an offset may take it outside 0001-9999 in UTC: row by row
        try:
            # real dates and times, as the row encoder asks (the shapes are ASCII)
            list(map(_fromisoformat, joined.decode("ascii").split("\n")))
        except ValueError:
            return None
        # "Z", "+HH:MM" or "-HH:MM" ends each one; with one offset for all, the fixed-width
        # text orders as the instant does
        offset = next(iter(moments))[19:]
        one_offset = bool(shape) and joined.count(offset) == len(moments)
        for low, high in self._intervals:
            lows, highs = columns[low], columns[high]
            if one_offset:
                if any(map(operator.lt, highs, lows)):
                    return None
                continue
            try:
                if any(map(operator.lt, map(_instant, highs), map(_instant, lows))):
                    return None
            except OverflowError:  # pragma: no cover - offsets at datetime.min/max
                return None
        return constant

    def encode(self, rows: Batch) -> bytes | None:
        """The request body (JSON array) of ``rows``, or None when they are not all in the usual form."""
        columns = self._columns(rows)
        constant = None if columns is None else self._check(columns)
        if columns is None or constant is None:
            return None
        # The pieces and the cells interleaved by zip, flattened and joined, all in C. A
        # column of one value (one user, one batch, ...) goes into the pieces around it.
        streams: list[Iterable[bytes]] = []
        pieces = self._pieces
        piece = pieces[0]
        for position, after in zip(self._order, pieces[1:], strict=True):
            if position in constant:
                piece += constant[position] + after
            else:
                streams += (itertools.repeat(piece), columns[position])
                piece = after
        streams.append(itertools.repeat(piece))
        # the repeats are endless: the columns decide the length
        if len(streams) == 1:  # every column of one value: the same row again and again
            joined = piece * len(columns[0])
        else:
            joined = b"".join(itertools.chain.from_iterable(zip(*streams, strict=False)))
        return b"[" + joined[:-1] + b"]"


def _instant(text: bytes) -> datetime.datetime:
    return _fromisoformat(text.decode("ascii"))


class CellBlock(Sequence[list[str]]):
    r"""Rows of one width held as views of flat lists of cells: how a plain CSV block is read.

    A UTF-8 CSV file without quotes is read as bytes, a block of lines at a
    time, and split into cells in a few C calls (see
    :class:`~genomcore_sdk.sources.CsvFileSource`). :class:`CsvBatchCodec`
    takes its columns, still bytes, as slices; the rest of the upload sees an
    ordinary sequence of rows, lists of ``str`` cells decoded as the file is
    (UTF-8, undecodable bytes as surrogates).

    Slicing a block and joining blocks (:meth:`concat`) copy no cells: the
    result views the same lists, so a chunk cut from the blocks of a file
    costs a few slices per column, not a copy of every cell.

    Attributes:
        width: cells per row.
        stride: places per row in each list of cells (``width`` or more: the
            reader leaves a line end after the ``width`` cells of a row).
        length: the number of rows (``len(block)``).

    Examples:
        >>> block = CellBlock([b"1", b"a", b"2", "é".encode()], 2)
        >>> len(block), block[-1], block.column(1), list(block[1:])
        (2, ['2', 'é'], [b'a', b'\xc3\xa9'], [['2', 'é']])
        >>> list(CellBlock([b"1", b"a", b"\n", b"2", b"b", b"\n"], 2, stride=3))
        [['1', 'a'], ['2', 'b']]
        >>> CellBlock.concat([block[1:], block]).column(0)
        [b'2', b'1', b'2']
    """

    __slots__ = ("_parts", "length", "stride", "width")

    def __init__(self, cells: list[bytes], width: int, stride: int | None = None) -> None:
        stride = width if stride is None else stride
        if width < 1 or stride < width or len(cells) % stride:
            raise ValueError(f"{len(cells)} cells do not make rows of {width} in {stride} places")
        self.width = width
        self.stride = stride
        self.length = len(cells) // stride
        # (cells, first row, end row): the rows of the block, part after part
        self._parts: list[tuple[list[bytes], int, int]] = [(cells, 0, self.length)]

    @classmethod
    def _viewing(
        cls, parts: list[tuple[list[bytes], int, int]], width: int, stride: int
    ) -> CellBlock:
        block = cls.__new__(cls)
        block.width = width
        block.stride = stride
        block._parts = [part for part in parts if part[2] > part[1]]
        block.length = sum(end - first for _, first, end in block._parts)
        return block

    @classmethod
    def concat(cls, blocks: Sequence[CellBlock]) -> CellBlock:
        """The rows of ``blocks`` one after the other (all of one width and stride)."""
        width, stride = blocks[0].width, blocks[0].stride
        if any(block.width != width or block.stride != stride for block in blocks):
            raise ValueError("only blocks of one width and stride can be joined")
        return cls._viewing([part for block in blocks for part in block._parts], width, stride)

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, index: int) -> list[str]: ...

    @overload
    def __getitem__(self, index: slice) -> CellBlock: ...

    def __getitem__(self, index: int | slice) -> list[str] | CellBlock:
        if isinstance(index, slice):
            start, stop, step = index.indices(self.length)
            if step != 1:
                rows = (self._cells(i) for i in range(start, stop, step))
                return CellBlock(list(itertools.chain.from_iterable(rows)), self.width)
            parts = []
            offset = 0  # rows of the parts before this one
            for cells, first, end in self._parts:
                low = max(first, first + start - offset)
                high = min(end, first + stop - offset)
                if low < high:
                    parts.append((cells, low, high))
                offset += end - first
            return CellBlock._viewing(parts, self.width, self.stride)
        return [cell.decode("utf-8", "surrogateescape") for cell in self._cells(index)]

    def _cells(self, index: int) -> list[bytes]:
        """The cells of row ``index``, as bytes."""
        if index < 0:
            index += self.length
        if not 0 <= index < self.length:
            raise IndexError("CellBlock index out of range")
        for cells, first, end in self._parts:
            if index < end - first:
                at = (first + index) * self.stride
                return cells[at : at + self.width]
            index -= end - first
        raise AssertionError("unreachable")  # pragma: no cover - the length bounds the parts

    def __iter__(self) -> Iterator[list[str]]:
        width, stride = self.width, self.stride
        for cells, first, end in self._parts:
            for at in range(first * stride, end * stride, stride):
                yield [cell.decode("utf-8", "surrogateescape") for cell in cells[at : at + width]]

    def column(self, position: int) -> list[bytes]:
        """The cells of column ``position`` (from 0), one per row, as bytes."""
        stride = self.stride
        column: list[bytes] = []
        for cells, first, end in self._parts:
            column += cells[first * stride + position : end * stride : stride]
        return column

    def __repr__(self) -> str:
        return f"CellBlock(<{self.length} rows of {self.width} cells>)"
