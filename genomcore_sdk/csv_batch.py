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
from collections.abc import Iterable, Sequence

import orjson

from .validation import INT64_MAX, INT64_MIN, INTERVAL_RULES, CsvRowEncoder
from .wire_schema import Kind, ObjectSchema

__all__ = ["CsvBatchCodec"]

_INT = "(?:0|-?[1-9][0-9]{0,18})"  # then 19-digit ones are checked against int64
_INT_COLUMN = re.compile(f"{_INT}(?:\n{_INT})*")
# The shapes (the text with every digit read as 0) of the date-time forms the row encoder
# sends as written: YYYY-MM-DDTHH:MM:SS with +HH:MM, -HH:MM or Z.
_DIGITS_AS_ZERO = str.maketrans("123456789", "000000000")
_SHAPES = frozenset(
    {"0000-00-00T00:00:00+00:00", "0000-00-00T00:00:00-00:00", "0000-00-00T00:00:00Z"}
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
        self._int_getters = [operator.itemgetter(p) for p in by_kind[Kind.INT]]
        self._text_getters = [operator.itemgetter(p) for p in by_kind[Kind.STR]]
        self._moment_getters = [(p, operator.itemgetter(p)) for p in by_kind[Kind.DATETIME]]
        self._intervals: list[tuple[int, int]] = []
        order: list[int] = []
        # one row's JSON is pieces[0] cell pieces[1] cell ... cell pieces[-1]; rows are
        # separated by commas, so the last piece carries one (cut after the last row)
        pieces = self._object_template(schema, positions, order).split(_CELL)
        pieces[-1] += ","
        self._pieces = pieces
        self._cell_getters = [operator.itemgetter(p) for p in order]

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

    def check(self, rows: Batch) -> bool:
        """Whether every row of ``rows`` is valid in the usual form (False: go row by row)."""
        if not rows or set(map(len, rows)) != {self.width}:
            return False
        # integers and text repeat a lot within a batch (one user, one batch, one metric):
        # their distinct values are checked, each once
        for getter in self._int_getters:
            distinct = set(map(getter, rows))
            joined = "\n".join(distinct)
            if joined.count("\n") != len(distinct) - 1 or _INT_COLUMN.fullmatch(joined) is None:
                return False
            if max(map(len, distinct)) >= 19 and not all(
                INT64_MIN <= int(text) <= INT64_MAX for text in distinct if len(text) >= 19
            ):
                return False
        for getter in self._text_getters:
            distinct = set(map(getter, rows))
            joined = "".join(distinct)
            # isprintable() is False for control characters and lone surrogates (bytes that
            # were not UTF-8); quotes and backslashes would need escaping
            if "" in distinct or not joined.isprintable() or '"' in joined or "\\" in joined:
                return False
        moments: dict[int, tuple[list[str], str]] = {}
        count = len(rows)
        for position, getter in self._moment_getters:
            column = list(map(getter, rows))
            joined = "\n".join(column)
            # one shape (the text with every digit read as 0) on every line, a form sent as written
            shape = column[0].translate(_DIGITS_AS_ZERO)
            if shape not in _SHAPES or joined.translate(_DIGITS_AS_ZERO) != "\n".join(
                itertools.repeat(shape, count)
            ):
                return False
            if "0001-" in joined or "9999-" in joined:
                return False  # an offset may take it outside 0001-9999 in UTC: row by row
            try:
                list(map(_fromisoformat, column))  # a real date and time, as the row encoder asks
            except ValueError:
                return False
            moments[position] = (column, joined)
        for low, high in self._intervals:
            (lows, low_text), (highs, high_text) = moments[low], moments[high]
            offset = lows[0][19:]  # "Z", "+HH:MM" or "-HH:MM": the only place it can occur
            if low_text.count(offset) == count and high_text.count(offset) == count:
                # one offset, one fixed-width form: the text orders as the instant does
                if any(map(operator.lt, highs, lows)):
                    return False
                continue
            try:
                if any(map(operator.lt, map(_fromisoformat, highs), map(_fromisoformat, lows))):
                    return False
            except OverflowError:  # pragma: no cover - offsets at datetime.min/max
                return False
        return True

    def encode(self, rows: Batch) -> bytes | None:
        """The request body (JSON array) of ``rows``, or None when they are not all in the usual form."""
        if not self.check(rows):
            return None
        # the pieces and the cells interleaved by zip, flattened and joined, all in C
        streams: list[Iterable[str]] = []
        for piece, getter in zip(self._pieces, self._cell_getters, strict=False):
            streams += (itertools.repeat(piece), map(getter, rows))
        streams.append(itertools.repeat(self._pieces[-1]))
        # the repeats are endless: the rows decide the length
        joined = "".join(itertools.chain.from_iterable(zip(*streams, strict=False)))
        return ("[" + joined[:-1] + "]").encode()
