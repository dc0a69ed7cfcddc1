"""Client-side validation of observations, encoding each straight to JSON bytes.

The upload's bulk path never builds the generated models (about 12 µs per
observation); it checks plain values and encodes them with orjson (a few µs
per observation). A property-based test proves that for every observation
this module accepts, the JSON it produces means exactly what
``Observation.from_dict(obs).to_dict()`` would send: same fields, same
values, same instants and offsets.

The fields, their JSON names, types and whether they are required come from
:mod:`genomcore_sdk.wire_schema`, i.e. from the generated models. What is
checked:

* missing, ``None`` or unknown fields (with a hint when a misspelling is likely);
* integers (``userId``, ``value``): a Python ``int`` (not ``bool``, not
  ``12.0``, not ``"12"``) within int64; from a CSV cell, only canonical
  integer text (``12``, ``-12``) converts. Nothing is ever rounded or truncated;
* required strings (``source``, ``metric``, ``externalId``, ``batch``) must be non-empty;
* date-times: ISO 8601 / RFC 3339 text (or an aware ``datetime``) with a UTC
  offset. A date-time without an offset is refused unless ``assume_timezone``
  names the zone it was recorded in; a local time that does not exist in that
  zone (the clock jumped forward) or happens twice (the clock went back) is
  refused, since guessing would shift or duplicate data. More than microsecond
  precision, offsets with seconds and bare dates are refused too. Date-times
  are sent as RFC 3339 with their offset, e.g. ``2015-07-04T09:45:00+01:00``;
* ``end`` not before ``start``.

Examples:
    >>> encoder = ObservationEncoder()
    >>> encoder.encode({"meta": {"userId": 1, "source": "watch", "metric": "steps",
    ...                          "externalId": "W-1", "batch": "b1"},
    ...                 "point": {"start": "2024-04-01T00:00:00Z",
    ...                           "end": "2024-04-01T00:01:00Z", "value": 12}})
    b'{"meta":{"userId":1,"source":"watch","metric":"steps","externalId":"W-1","batch":"b1"},"point":{"start":"2024-04-01T00:00:00Z","end":"2024-04-01T00:01:00Z","value":12}}'

    A date-time that already carries an offset is sent as written (``Z`` or
    ``+01:00``); one without an offset gets the offset of ``assume_timezone``.
"""

from __future__ import annotations

import datetime
import difflib
import enum
import itertools
import math
import operator
import re
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from genomcore_ts_api.models import Observation

from .errors import ConfigurationError, InputFormatError
from .wire_schema import Field, Kind, ObjectSchema, observation_schema

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "REJECT_COLUMNS",
    "CsvRowEncoder",
    "ObservationEncoder",
    "RowProblem",
]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

REJECT_COLUMNS = ("row", "line", "field", "reason", "extra_cells")
"""The columns the rejects file adds after the original row's cells.

``extra_cells`` holds, as a JSON list, the cells of a CSV row beyond the
header's width (empty for other rows), so that no cell of a rejected row is lost.
A header with these columns is named as a rejects file when refused.
"""

EDGE_YEARS = (1, 9999)
"""Years in which a date-time with an offset may fall outside 0001-9999 once in UTC."""

# Pairs of date-time fields of one object where the second must not be before the first.
INTERVAL_RULES: tuple[tuple[str, str], ...] = (("start", "end"),)

_MISSING: Any = object()
_FRACTION = re.compile(r"[.,](\d+)")
_fromisoformat = datetime.datetime.fromisoformat
_EXAMPLE_DT = "2015-07-04T09:45:00+01:00"


class RowProblem(Exception):
    """What is wrong with one row: the field, the value and the fix (internal to the upload)."""

    def __init__(self, field: str, value: Any, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.message = message


def resolve_timezone(name: str | datetime.tzinfo | None) -> datetime.tzinfo | None:
    """The ``tzinfo`` for ``assume_timezone`` (an IANA name such as ``Europe/Madrid``)."""
    if name is None or isinstance(name, datetime.tzinfo):
        return name
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"assume_timezone={name!r} is not a known IANA time zone name "
            "(e.g. 'Europe/Madrid', 'UTC'); on Windows, `pip install tzdata` provides them."
        ) from exc


def _is_canonical_int(text: str) -> bool:
    try:
        return str(int(text)) == text
    except ValueError:
        return False


class ObservationEncoder:
    """Validate observations and encode each to the JSON bytes the API takes.

    Args:
        schema: the observation schema (default: learned from the generated models).
        assume_timezone: the zone (IANA name or ``tzinfo``) of date-times that
            have no UTC offset; None refuses them.

    Raises:
        ConfigurationError: ``assume_timezone`` is not a known zone.
    """

    def __init__(
        self,
        schema: ObjectSchema | None = None,
        *,
        assume_timezone: str | datetime.tzinfo | None = None,
    ) -> None:
        self.schema = schema or observation_schema()
        self.timezone = resolve_timezone(assume_timezone)
        self._tz_name = str(assume_timezone) if assume_timezone is not None else None
        self._object_plans: dict[str, list[tuple[Field, Callable[[Any], Any]]]] = {}
        self.encode: Callable[[Any], bytes] = self._fast_path(b"")
        """Validate one observation (dict or generated ``Observation``); return its JSON.

        Raises :class:`RowProblem` when it is invalid (field, value and fix).
        """
        self.encode_item: Callable[[Any], bytes] = self._fast_path(b",")
        """:attr:`encode` followed by a comma: an item of a JSON array body."""
        self.check: Callable[[Any], object] = self.encode
        """Validate one observation (raises :class:`RowProblem`)."""

    # ---------------------------------------------------------------- Python values

    def _fast_path(self, suffix: bytes) -> Callable[[Any], bytes]:
        """A generated encoder for the usual case, falling back to :meth:`encode_checked`.

        The usual case: a plain dict with exactly the required fields, ``int``
        integers, non-empty ``str`` strings and date-times already written as
        RFC 3339 (``2015-07-04T09:45:00+01:00`` or ``...Z``), in order. Such a
        dict *is* its wire form, so it is checked and dumped as it is. Anything
        else (another mapping type, a model, optional fields, other types,
        another date-time format, a problem) goes through the precise path,
        which converts it or names the problem.
        """
        slow = self.encode_checked
        if suffix:

            def slow_item(item: Any) -> bytes:
                return slow(item) + suffix

            fallback: Callable[[Any], bytes] = slow_item
        else:
            fallback = slow
        lines: list[str] = []
        counter = itertools.count()
        supported = {Kind.INT, Kind.STR, Kind.DATETIME, Kind.OBJECT}
        if any(f.kind not in supported for f in self.schema.leaves()):
            return fallback

        def emit(obj: ObjectSchema, var: str) -> None:
            required = [f for f in obj.fields if f.required]
            lines.append(
                f"if type({var}) is not dict or len({var}) != {len(required)}: return slow(item)"
            )
            moments: dict[str, str] = {}
            for field in required:
                name = f"x{next(counter)}"
                lines.append(f"{name} = {var}.get({field.json_name!r})")
                if field.kind is Kind.OBJECT:
                    assert field.schema is not None
                    emit(field.schema, name)
                elif field.kind is Kind.INT:
                    lines.append(
                        f"if type({name}) is not int or not {INT64_MIN} <= {name} <= {INT64_MAX}:"
                        " return slow(item)"
                    )
                elif field.kind is Kind.STR:
                    lines.append(f"if type({name}) is not str or not {name}: return slow(item)")
                else:  # DATETIME, already RFC 3339 as isoformat() writes it (or with Z)
                    lines.append(
                        f"if type({name}) is not str or not ((len({name}) == 25 and"
                        f" {name}[7:23:3] in RFC25) or (len({name}) == 20 and"
                        f" {name}[7:20:3] == '-T::Z')) or {name}[:4] in EDGE_YEAR_TEXT:"
                        " return slow(item)"
                    )
                    moments[field.json_name] = name
            for first, second in INTERVAL_RULES:
                if first in moments and second in moments:
                    low, high = moments[first], moments[second]
                    lines.extend(
                        [
                            "try:",
                            f"    if fromiso({high}) < fromiso({low}): return slow(item)",
                            "except ValueError:",
                            "    return slow(item)",
                        ]
                    )
            others = [
                m for name, m in moments.items() if not any(name in r for r in INTERVAL_RULES)
            ]
            for single in others:
                lines.extend(
                    [
                        "try:",
                        f"    fromiso({single})",
                        "except ValueError:",
                        "    return slow(item)",
                    ]
                )

        emit(self.schema, "item")
        body = "\n".join("    " + line for line in lines)
        tail = f" + {suffix!r}" if suffix else ""
        source = (
            "def encode_fast(item):\n"
            f"{body}\n"
            "    try:\n"
            f"        return dumps(item){tail}\n"
            "    except JSONEncodeError:\n"
            "        return slow(item)\n"
        )
        namespace: dict[str, Any] = {
            "slow": fallback,
            "fromiso": _fromisoformat,
            "RFC25": ("-T::+:", "-T::-:"),
            "EDGE_YEAR_TEXT": tuple(f"{year:04d}" for year in EDGE_YEARS),
            "dumps": orjson.dumps,
            "JSONEncodeError": orjson.JSONEncodeError,
        }
        exec(compile(source, f"<genomcore observation encoder {id(self):x}>", "exec"), namespace)
        function: Callable[[Any], bytes] = namespace["encode_fast"]
        return function

    def encode_checked(self, item: Any) -> bytes:
        """Validate and convert one observation the precise (slower) way; return its JSON.

        Takes anything :attr:`encode` takes; names the field, value and fix of
        the first problem.

        Raises:
            RowProblem: the observation is invalid (field, value and fix).
        """
        if isinstance(item, Observation):
            try:
                item = item.to_dict()
            except Exception as exc:
                raise RowProblem(
                    "",
                    item,
                    f"this Observation model cannot be encoded ({type(exc).__name__}: {exc}); "
                    "its date-times must be datetime objects",
                ) from None
        elif not isinstance(item, Mapping):
            raise RowProblem(
                "",
                item,
                f"each observation must be a dict like {{'meta': {{...}}, 'point': {{...}}}} "
                f"or a genomcore_ts_api.models.Observation, got {type(item).__name__}",
            )
        try:
            return orjson.dumps(self._object(self.schema, item))
        except orjson.JSONEncodeError as exc:  # e.g. a str holding a lone surrogate
            raise RowProblem(
                "", item, f"the observation cannot be encoded as JSON: {exc}"
            ) from None

    def _object(self, schema: ObjectSchema, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise RowProblem(
                schema.path,
                value,
                f"{schema.path} must be an object with the fields "
                f"{[f.json_name for f in schema.fields]}, got {type(value).__name__}",
            )
        plan = self._object_plans.get(schema.path)
        if plan is None:
            plan = self._object_plans[schema.path] = [
                (f, self._python_converter(f)) for f in schema.fields
            ]
        out: dict[str, Any] = {}
        seen = 0
        for field, convert in plan:
            raw = value.get(field.json_name, _MISSING)
            if raw is _MISSING:
                if field.required:
                    raise self._missing(schema, field, value)
                continue
            seen += 1
            if raw is None:
                if field.nullable:
                    out[field.json_name] = None
                elif field.required:
                    raise RowProblem(field.path, None, self._empty_message(field, "None"))
                continue  # None for an optional field means "not given"
            out[field.json_name] = convert(raw)
        if seen != len(value):
            unknown = [k for k in value if k not in schema.by_json_name]
            raise self._unknown(schema, unknown, value)
        self._check_rules(schema, out, value)
        return out

    def _python_converter(self, field: Field) -> Callable[[Any], Any]:
        kind = field.kind
        if kind is Kind.OBJECT:
            nested = field.schema
            assert nested is not None
            return lambda v: self._object(nested, v)
        if kind is Kind.INT:
            return lambda v: self._python_int(field, v)
        if kind is Kind.STR:
            return lambda v: self._python_str(field, v)
        if kind is Kind.DATETIME:
            return lambda v: self._python_datetime(field, v)
        if kind is Kind.FLOAT:
            return lambda v: self._python_float(field, v)
        if kind is Kind.BOOL:
            return lambda v: self._python_bool(field, v)
        if kind is Kind.DATE:
            return lambda v: self._python_date(field, v)
        if kind is Kind.ENUM:
            return lambda v: self._enum(field, v.value if isinstance(v, enum.Enum) else v)
        return lambda v: v

    def _python_int(self, field: Field, value: Any) -> int:
        if type(value) is int:
            if INT64_MIN <= value <= INT64_MAX:
                return value
            raise RowProblem(field.path, value, f"{field.path} is outside the 64-bit integer range")
        if isinstance(value, bool):
            raise RowProblem(field.path, value, f"{field.path} must be an integer, not a boolean")
        if isinstance(value, float):
            raise RowProblem(
                field.path,
                value,
                f"{field.path} must be an integer, got the float {value!r}; the API stores "
                "integers only and the SDK never rounds or truncates: convert it yourself "
                "(e.g. round it, or scale it to integer units)",
            )
        if isinstance(value, str):
            hint = f"int({value!r})" if _is_canonical_int(value) else "an int"
            raise RowProblem(
                field.path,
                value,
                f"{field.path} must be an integer, got the string {value!r}; pass {hint}",
            )
        if hasattr(value, "__index__"):  # numpy and other integer types
            return self._python_int(field, operator.index(value))
        raise RowProblem(
            field.path, value, f"{field.path} must be an integer, got {type(value).__name__}"
        )

    def _python_str(self, field: Field, value: Any) -> str:
        if isinstance(value, str):
            if value or not field.required:
                return value
            raise RowProblem(field.path, value, self._empty_message(field, "an empty string"))
        raise RowProblem(
            field.path,
            value,
            f"{field.path} must be a string, got {type(value).__name__}; pass str(value) "
            "if that is what you mean",
        )

    def _python_float(self, field: Field, value: Any) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value):
                return value
            raise RowProblem(field.path, value, f"{field.path} must be a finite number")
        raise RowProblem(
            field.path, value, f"{field.path} must be a number, got {type(value).__name__}"
        )

    def _python_bool(self, field: Field, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        raise RowProblem(
            field.path, value, f"{field.path} must be true or false, got {type(value).__name__}"
        )

    def _python_date(self, field: Field, value: Any) -> datetime.date:
        if isinstance(value, datetime.datetime):
            raise RowProblem(field.path, value, f"{field.path} must be a date, not a date-time")
        if isinstance(value, datetime.date):
            return value
        if isinstance(value, str):
            return self._text_date(field, value)
        raise RowProblem(
            field.path, value, f"{field.path} must be a date, got {type(value).__name__}"
        )

    def _python_datetime(self, field: Field, value: Any) -> datetime.datetime:
        if isinstance(value, str):
            return self._text_datetime(field, value)
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                return self._localize(field, value, value)
            self._check_offset(field, value, value)
            self._check_utc_range(field, value, value)
            return value
        raise RowProblem(
            field.path,
            value,
            f"{field.path} must be an RFC 3339 date-time string such as {_EXAMPLE_DT!r} "
            f"(or an aware datetime), got {type(value).__name__}",
        )

    # ---------------------------------------------------------------- text values

    def _text_int(self, field: Field, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is not None and str(value) == text:
            if INT64_MIN <= value <= INT64_MAX:
                return value
            raise RowProblem(field.path, text, f"{field.path} is outside the 64-bit integer range")
        if _looks_decimal(text):
            fix = (
                "the API stores integers only and the SDK never rounds or truncates: "
                "convert the column to whole numbers (e.g. round it, or scale it to integer units)"
            )
        else:
            fix = (
                "write it as plain digits with an optional leading minus and no plus sign, "
                "leading zeros or -0, e.g. 12 or -12"
            )
        raise RowProblem(field.path, text, f"{field.path} must be an integer, got {text!r}; {fix}")

    def _text_float(self, field: Field, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise RowProblem(
                field.path, text, f"{field.path} must be a number, got {text!r}"
            ) from None
        if not math.isfinite(value):
            raise RowProblem(field.path, text, f"{field.path} must be a finite number")
        return value

    def _text_bool(self, field: Field, text: str) -> bool:
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise RowProblem(field.path, text, f"{field.path} must be true or false, got {text!r}")

    def _text_date(self, field: Field, text: str) -> datetime.date:
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            raise RowProblem(
                field.path, text, f"{field.path} must be a date such as 2024-04-01, got {text!r}"
            ) from None

    def _text_datetime(self, field: Field, text: str) -> datetime.datetime:
        try:
            # RFC 3339 allows a lowercase z (Python 3.11 does not read it); sent as +00:00
            moment = _fromisoformat(text[:-1] + "Z" if text.endswith("z") else text)
        except ValueError:
            raise RowProblem(
                field.path,
                text,
                f"{field.path} is not a date-time: write it as RFC 3339 with a UTC offset, "
                f"e.g. {_EXAMPLE_DT!r} or '2015-07-04T08:45:00Z'",
            ) from None
        if len(text) <= 10:
            raise RowProblem(
                field.path,
                text,
                f"{field.path} is a date without a time; write the full date-time, "
                f"e.g. '{text}T00:00:00Z'",
            )
        if ("." in text or "," in text) and _sub_microsecond(text):
            raise RowProblem(
                field.path,
                text,
                f"{field.path} has more than microsecond precision, which the API cannot "
                "store and the SDK will not truncate; round it to at most 6 fractional digits",
            )
        if moment.tzinfo is None:
            return self._localize(field, moment, text)
        last = text[-1]
        if not (last in "Zz" or (text[-3] == ":" and text[-6] in "+-")):
            self._check_offset(field, moment, text)
        self._check_utc_range(field, moment, text)
        return moment

    # ---------------------------------------------------------------- shared checks

    def _check_offset(self, field: Field, moment: datetime.datetime, given: Any) -> None:
        offset = moment.utcoffset()
        if offset is not None and (offset.seconds % 60 or offset.microseconds):
            raise RowProblem(
                field.path,
                given,
                f"{field.path} has a UTC offset with seconds ({_offset_text(moment, seconds=True)}); "
                "RFC 3339 offsets are "
                "whole minutes: convert the date-time to UTC or to a whole-minute offset",
            )

    @staticmethod
    def _check_utc_range(field: Field, moment: datetime.datetime, given: Any) -> None:
        """Refuse an instant that has no UTC date-time (before year 1 or after 9999 in UTC)."""
        if moment.year in EDGE_YEARS:
            try:
                moment.astimezone(datetime.UTC)
            except OverflowError:
                raise RowProblem(
                    field.path,
                    given,
                    f"{field.path} ({_wire_text(given)}) falls outside the years 0001 to 9999 "
                    "once converted to UTC, which the API cannot store; fix the value",
                ) from None

    def _localize(self, field: Field, naive: datetime.datetime, given: Any) -> datetime.datetime:
        zone = self.timezone
        if zone is None:
            raise RowProblem(
                field.path,
                given,
                f"{field.path} has no UTC offset, so the instant it means is unknown; add the "
                f"offset (e.g. {_EXAMPLE_DT!r}) or pass assume_timezone='Europe/Madrid' "
                "(--assume-timezone Europe/Madrid on the command line), the zone the device "
                "recorded in",
            )
        aware = naive.replace(tzinfo=zone, fold=0)
        if aware.utcoffset() != aware.replace(fold=1).utcoffset():
            round_trip = aware.astimezone(datetime.UTC).astimezone(zone).replace(tzinfo=None)
            if round_trip != naive.replace(tzinfo=None, fold=0):
                raise RowProblem(
                    field.path,
                    given,
                    f"{field.path} is a local time that does not exist in {self._tz_name} "
                    "(the clocks jumped forward over it); fix the value or give it with an "
                    "explicit UTC offset",
                )
            raise RowProblem(
                field.path,
                given,
                f"{field.path} is an ambiguous local time in {self._tz_name} (it happens twice "
                "when the clocks go back); give it with an explicit UTC offset, e.g. "
                f"'{naive.isoformat()}{_offset_text(aware)}' or "
                f"'{naive.isoformat()}{_offset_text(aware.replace(fold=1))}'",
            )
        self._check_offset(field, aware, given)
        self._check_utc_range(field, aware, given)
        return aware

    def _enum(self, field: Field, value: Any) -> Any:
        if value in field.choices:
            return value
        raise RowProblem(
            field.path, value, f"{field.path} must be one of {list(field.choices)}, got {value!r}"
        )

    def _check_rules(
        self, schema: ObjectSchema, out: dict[str, Any], given: Mapping[str, Any]
    ) -> None:
        """Refuse an interval whose end is before its start.

        ``given`` holds the values as the caller wrote them (by JSON name): the
        problem shows those, not their parsed form.
        """
        for first, second in INTERVAL_RULES:
            low = out.get(first)
            high = out.get(second)
            if isinstance(low, datetime.datetime) and isinstance(high, datetime.datetime):
                try:
                    before = high < low
                except OverflowError:  # pragma: no cover - offsets at datetime.min/max
                    before = False
                if before:
                    path = schema.by_json_name[second].path
                    high_given = _wire_text(given.get(second, high))
                    low_given = _wire_text(given.get(first, low))
                    raise RowProblem(
                        path,
                        high_given,
                        f"{path} ({high_given}) is before "
                        f"{schema.by_json_name[first].path} ({low_given}); "
                        "swap them or fix the value",
                    )

    def _missing(self, schema: ObjectSchema, field: Field, value: Mapping[str, Any]) -> RowProblem:
        unknown = [k for k in value if k not in schema.by_json_name]
        message = f"{field.path} is missing"
        if field.json_name == "batch":
            message = self._empty_message(field, "missing")
        close = difflib.get_close_matches(field.json_name, [str(k) for k in unknown], n=1)
        if close:
            message += (
                f" (there is an unknown field {close[0]!r}: a misspelling of {field.json_name!r}?)"
            )
        elif field.json_name != "batch":
            message += f"; every observation needs {[f.json_name for f in schema.fields]}"
        return RowProblem(field.path, None, message)

    def _unknown(
        self, schema: ObjectSchema, unknown: Sequence[Any], value: Mapping[str, Any]
    ) -> RowProblem:
        name = unknown[0]
        where = f"{schema.path}.{name}" if schema.path else str(name)
        allowed = [f.json_name for f in schema.fields]
        close = difflib.get_close_matches(str(name), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return RowProblem(
            where,
            value[name],
            f"{where} is not a field of the API (allowed here: {allowed}){hint}; "
            "remove it or fix its name",
        )

    @staticmethod
    def _empty_message(field: Field, what: str) -> str:
        if field.json_name == "batch":
            return (
                f"{field.path} is {what}: batch must be a non-empty string naming this group "
                "of observations, e.g. 'actiwatch-2015-07-04'"
            )
        if field.kind is Kind.INT:
            return f"{field.path} is {what}; it must be an integer, e.g. 12"
        if field.kind is Kind.DATETIME:
            return f"{field.path} is {what}; it must be a date-time, e.g. {_EXAMPLE_DT!r}"
        if field.kind is Kind.STR:
            return f"{field.path} is {what}; it must be a non-empty string"
        return f"{field.path} is {what}; give a value"

    # ---------------------------------------------------------------- CSV rows

    def csv_row_encoder(
        self, header: Sequence[str], *, where: str = "the CSV", delimiter: str = ","
    ) -> CsvRowEncoder:
        """An encoder of CSV rows with this ``header`` (the vendor's flattened layout).

        ``delimiter`` is the file's, to recognise rows merged into one cell by a
        stray quote.

        Raises:
            InputFormatError: required columns are missing, or unknown or
                duplicate columns are present.
        """
        return CsvRowEncoder(self, header, where=where, delimiter=delimiter)

    def text_converter(self, field: Field) -> Callable[[str], Any]:
        """The converter of one non-empty CSV cell of ``field`` to its wire value."""
        kind = field.kind
        if kind is Kind.INT:
            return lambda t: self._text_int(field, t)
        if kind is Kind.STR:
            return lambda t: t
        if kind is Kind.DATETIME:
            return lambda t: self._text_datetime(field, t)
        if kind is Kind.FLOAT:
            return lambda t: self._text_float(field, t)
        if kind is Kind.BOOL:
            return lambda t: self._text_bool(field, t)
        if kind is Kind.DATE:
            return lambda t: self._text_date(field, t)
        if kind is Kind.ENUM:
            if all(isinstance(c, int) for c in field.choices):
                return lambda t: self._enum(field, self._text_int(field, t))
            return lambda t: self._enum(field, t)
        return lambda t: t


class CsvRowEncoder:
    """Encode rows of one CSV file (lists of cell strings) to JSON bytes.

    Built by :meth:`ObservationEncoder.csv_row_encoder`, which checks the
    header: every required column present, no unknown or repeated column.
    Optional columns may be absent; an empty optional cell means "not given".
    """

    def __init__(
        self,
        encoder: ObservationEncoder,
        header: Sequence[str],
        *,
        where: str = "the CSV",
        delimiter: str = ",",
    ) -> None:
        self.encoder = encoder
        self.delimiter = delimiter
        self.header = [h.strip() for h in header]
        schema = encoder.schema
        known = {f.path: f for f in schema.leaves()}
        positions: dict[str, int] = {}
        duplicates = []
        for index, name in enumerate(self.header):
            if name in positions:
                duplicates.append(name)
            positions[name] = index
        missing = [p for p, f in known.items() if f.required and p not in positions]
        unknown = [h for h in self.header if h not in known]
        if missing or unknown or duplicates:
            parts = []
            if missing:
                parts.append(f"missing column(s) {missing}")
            if unknown:
                parts.append(f"unknown column(s) {unknown}")
            if duplicates:
                parts.append(f"repeated column(s) {duplicates}")
            if "reason" in unknown and set(unknown) <= set(REJECT_COLUMNS):
                parts.append(
                    "this looks like a rejects file: once its rows are fixed, delete the "
                    f"columns {', '.join(REJECT_COLUMNS)} (extra_cells holds cells that did "
                    "not fit the header) and upload it"
                )
            raise InputFormatError(
                f"The header of {where} does not match the vendor's layout: "
                + "; ".join(parts)
                + f". Expected the columns {list(known)} (optional ones may be left out)."
                " Nothing was sent."
            )
        self.width = len(self.header)
        self.encode: Callable[[Sequence[str]], bytes] = self._compile(schema, positions, True)
        """Validate one CSV row (its cells) and return its JSON; raises :class:`RowProblem`.

        It is the generated function itself: no wrapper call per row.
        """
        self.check: Callable[[Sequence[str]], None] = self._compile(schema, positions, False)
        """Validate one CSV row without encoding it (the same checks, a little faster)."""
        self.encode_item: Callable[[Sequence[str]], bytes] = self._compile(
            schema, positions, True, b","
        )
        """:attr:`encode` followed by a comma: an item of a JSON array body."""

    def _compile(
        self, schema: ObjectSchema, positions: Mapping[str, int], build: bool, suffix: bytes = b""
    ) -> Any:
        """Generate the row encoder (or, ``build=False``, checker) for this header.

        ``suffix`` is appended to the JSON (a comma, to write array items without
        keeping each row's bytes alive: see :mod:`genomcore_sdk.prepare`).

        The generated function is what a careful hand-written loop would be for
        this exact column order: the cells are unpacked at once, required cells
        are checked for emptiness in one test, integers and date-times are
        parsed in one ``try`` each, and only a failing row goes through the
        per-field checks again to name its problem. Only integers (column
        positions, indexes into the constants) and JSON names as string
        literals (``repr``) end up in the source.
        """
        encoder = self.encoder
        consts: list[Any] = []

        def const(value: Any) -> str:
            consts.append(value)
            return f"K[{len(consts) - 1}]"

        leaves = [f for f in schema.leaves() if f.path in positions]
        cell = {f.path: f"c{positions[f.path]}" for f in leaves}
        required = [f for f in leaves if f.required]
        ints = [f for f in required if f.kind is Kind.INT]
        moments = [f for f in required if f.kind is Kind.DATETIME]
        lines: list[str] = []
        value: dict[str, str] = {}  # leaf path -> the expression of its wire value
        moment: dict[str, str] = {}  # date-time leaf path -> the variable of its datetime

        unpack = ", ".join(f"c{i}" for i in range(self.width))
        lines += ["try:", f"    {unpack}, = cells", "except ValueError:", "    bad_width(cells)"]
        if required:
            lines.append(
                f"if not ({' and '.join(cell[f.path] for f in required)}): empty_cell(cells)"
            )
        if ints:
            lines.append("try:")
            lines += [f"    i_{cell[f.path]} = int({cell[f.path]})" for f in ints]
            lines += ["except ValueError:", "    bad_ints(cells)"]
            tests = [
                f"str(i_{cell[f.path]}) != {cell[f.path]} or not "
                f"{INT64_MIN} <= i_{cell[f.path]} <= {INT64_MAX}"
                for f in ints
            ]
            lines.append(f"if {' or '.join(tests)}: bad_ints(cells)")
            value.update({f.path: f"i_{cell[f.path]}" for f in ints})
        if moments:
            lines.append("try:")
            lines += [f"    d_{cell[f.path]} = fromiso({cell[f.path]})" for f in moments]
            lines.append("except ValueError:")  # the precise path parses or names the problem
            lines += [
                f"    d_{cell[f.path]} = slow_dt({const(f)}, {cell[f.path]})" for f in moments
            ]
            for f in moments:
                c = cell[f.path]
                # already RFC 3339 as isoformat() writes it (or with Z), in a year where no
                # offset can take it out of range in UTC: send the text as is
                lines += [
                    f"if ((len({c}) == 25 and {c}[7:23:3] in RFC25) or"
                    f" (len({c}) == 20 and {c}[7:20:3] == '-T::Z')) and"
                    f" d_{c}.year not in EDGE_YEARS:",
                    f"    w_{c} = {c}",
                    "else:",
                    f"    w_{c} = d_{c} = slow_dt({const(f)}, {c})",
                ]
                value[f.path] = f"w_{c}"
                moment[f.path] = f"d_{c}"
        for f in required:
            c = cell[f.path]
            if f.kind is Kind.STR:
                value[f.path] = c
                # a line break and a whole row's delimiters in one cell: a quote opened in one
                # row and closed in the same column of a later one merged the rows between
                # into this cell (the row keeps its width), which would silently lose them
                lines.append(
                    f"if ('\\n' in {c} or '\\r' in {c}) and"
                    f" {c}.count(DELIMITER) >= {self.width - 1}: merged_rows({const(f)}, {c})"
                )
                if not build:  # dumps() finds text that is not UTF-8; without it, check
                    lines.append(f"if not {c}.isascii(): utf8({const(f)}, {c})")
            elif f.kind not in (Kind.INT, Kind.DATETIME):
                lines.append(f"x_{c} = {const(self.encoder.text_converter(f))}({c})")
                value[f.path] = f"x_{c}"
        optional = [f for f in leaves if not f.required]
        for f in optional:
            c = cell[f.path]
            lines.append(f"x_{c} = {const(self.encoder.text_converter(f))}({c}) if {c} else ABSENT")
            value[f.path] = f"x_{c}"
            if f.kind is Kind.DATETIME:
                moment[f.path] = f"(x_{c} if {c} else None)"

        counter = itertools.count()

        def emit_object(obj: ObjectSchema) -> str:
            items: list[str] = []
            optional_items: list[tuple[str, str]] = []
            for field in obj.fields:
                if field.schema is not None:
                    items.append(f"{field.json_name!r}: {emit_object(field.schema)}")
                elif field.path in value:
                    if field.required:
                        items.append(f"{field.json_name!r}: {value[field.path]}")
                    else:
                        optional_items.append((field.json_name, value[field.path]))
            for first, second in INTERVAL_RULES:
                low_field = obj.by_json_name.get(first)
                high_field = obj.by_json_name.get(second)
                if low_field is None or high_field is None:
                    continue
                low, high = moment.get(low_field.path), moment.get(high_field.path)
                if low is not None and high is not None:
                    guard = "" if low_field.required else f"{low} is not None and "
                    guard += "" if high_field.required else f"{high} is not None and "
                    lines.append(
                        f"if {guard}{high} < {low}: "
                        f"before({const(obj)}, {first!r}, {second!r}, {low}, {high}, "
                        f"{cell[low_field.path]}, {cell[high_field.path]})"
                    )
            name = f"o{next(counter)}"
            if build:
                lines.append(f"{name} = {{{', '.join(items)}}}")
                for json_name, expression in optional_items:
                    lines.append(
                        f"if {expression} is not ABSENT: {name}[{json_name!r}] = {expression}"
                    )
            return name

        root = emit_object(schema)
        body = "\n".join("    " + line for line in lines)
        if build:
            end = (
                "    try:\n"
                f"        return dumps({root}){f' + {suffix!r}' if suffix else ''}\n"
                "    except JSONEncodeError:\n"
                "        raise not_utf8(HEADER, cells) from None\n"
            )
        else:
            end = "    return None\n"
        source = f"def encode_row(cells):\n{body}\n{end}"
        width = self.width
        where = [(f, positions[f.path]) for f in leaves]

        header = self.header

        def bad_width(cells: Sequence[str]) -> None:
            # name the first column without a cell, or the last column when cells overflow it
            if len(cells) < width:
                field = header[len(cells)]
                detail = f"no cell for {field}" + (" onwards" if width - len(cells) > 1 else "")
            else:
                field = header[-1]
                detail = f"{len(cells) - width} more after {field}"
            raise RowProblem(
                field,
                list(cells),
                f"the row has {len(cells)} cells but the header has {width} columns ({detail}); "
                "check for a stray delimiter or a missing quote",
            )

        def empty_cell(cells: Sequence[str]) -> None:
            for f, position in where:
                if f.required and not cells[position]:
                    raise RowProblem(
                        f.path, cells[position], ObservationEncoder._empty_message(f, "empty")
                    )

        def bad_ints(cells: Sequence[str]) -> None:
            for f, position in where:
                if f in ints:
                    encoder._text_int(f, cells[position])  # raises for the bad one

        def slow_dt(field: Field, text: str) -> datetime.datetime:
            return encoder._text_datetime(field, text)

        def before(
            obj: ObjectSchema,
            first: str,
            second: str,
            low: Any,
            high: Any,
            low_text: str,
            high_text: str,
        ) -> None:
            encoder._check_rules(
                obj, {first: low, second: high}, {first: low_text, second: high_text}
            )

        def merged_rows(field: Field, text: str) -> None:
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise RowProblem(
                field.path,
                shown,
                f"{field.path} holds line breaks and a whole row's delimiters ({shown!r}): a "
                "quote opened in this row and closed in a later one, merging the rows between "
                "into this cell. Fix the quotes of this row and the next ones",
            )

        def utf8(field: Field, text: str) -> None:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise _not_utf8([field.path], [text]) from None

        namespace: dict[str, Any] = {
            "K": consts,
            "ABSENT": _MISSING,
            "fromiso": _fromisoformat,
            # the separators of YYYY-MM-DDTHH:MM:SS+HH:MM at positions 7, 10, ..., 22
            "RFC25": ("-T::+:", "-T::-:"),
            "dumps": orjson.dumps,
            "JSONEncodeError": orjson.JSONEncodeError,
            "HEADER": self.header,
            "not_utf8": _not_utf8,
            "bad_width": bad_width,
            "empty_cell": empty_cell,
            "bad_ints": bad_ints,
            "EDGE_YEARS": EDGE_YEARS,
            "slow_dt": slow_dt,
            "before": before,
            "utf8": utf8,
            "merged_rows": merged_rows,
            "DELIMITER": self.delimiter,
        }
        kind = "encoder" if build else "checker"
        exec(compile(source, f"<genomcore csv row {kind} {id(self):x}>", "exec"), namespace)
        if build and not suffix:
            self.source = source
        return namespace["encode_row"]


def _not_utf8(header: Sequence[str], cells: Sequence[str]) -> RowProblem:
    for name, cell in zip(header, cells, strict=False):
        try:
            cell.encode("utf-8")
        except UnicodeEncodeError:
            return RowProblem(
                name,
                cell.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
                f"{name} is not valid UTF-8 text; save the file as UTF-8 (in Excel: "
                "'CSV UTF-8 (Comma delimited)')",
            )
    return RowProblem("", list(cells), "the row cannot be encoded as JSON")


def _looks_decimal(text: str) -> bool:
    """Whether ``text`` is a number with a fraction or exponent (``12.5``, ``1e3``)."""
    if not any(c in text for c in ".eE"):
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _sub_microsecond(text: str) -> bool:
    match = _FRACTION.search(text)
    return match is not None and bool(match.group(1)[6:].strip("0"))


def _offset_text(moment: datetime.datetime, *, seconds: bool = False) -> str:
    """The UTC offset as +HH:MM (or +HH:MM:SS with ``seconds``, which RFC 3339 does not allow)."""
    offset = moment.utcoffset() or datetime.timedelta(0)
    sign = "-" if offset < datetime.timedelta(0) else "+"
    total = abs(offset.total_seconds())
    text = f"{sign}{int(total) // 3600:02d}:{int(total) % 3600 // 60:02d}"
    if seconds:
        text += f":{total % 60:09.6f}".rstrip("0").rstrip(".")
    return text


def _wire_text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime.datetime) else value
