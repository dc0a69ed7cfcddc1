"""Parsing of create requests: a JSON body in, rows to store (or every problem) out.

Two passes, one meaning:

* the **fast pass** decodes and type-checks the body in C with msgspec, into
  Structs built (``msgspec.defstruct``) from the schema derived from the
  generated models (:mod:`.schema`), then builds the columns with C-level
  operations (``map``, slices, list comparisons) rather than a Python loop per
  observation: each meta is kept as its raw JSON text, and only the distinct
  texts (bodies come in runs of one series) are decoded and checked;
  date-times become integer microseconds through a cache (timestamps repeat:
  one observation's ``end`` is often the next one's ``start``, and many series
  share times);
* the **precise pass** runs only when the fast pass refuses the body; it walks
  the plain JSON and lists every problem, per item and field, for the 422
  answer's ``details`` (or answers 400 for malformed JSON, 413 for too many items).

Both passes accept exactly the same bodies and build the same rows; the test
suite checks this with Hypothesis.

Examples:
    >>> parser = ObservationParser()
    >>> parsed = parser.parse(b'[{"meta": {"userId": 1, "source": "watch", "metric": "steps",'
    ...     b' "externalId": "W-1", "batch": "b1"}, "point": {"start": "2024-04-01T00:00:00Z",'
    ...     b' "end": "2024-04-01T01:01:00+01:00", "value": 12}}]')
    >>> parsed.series
    [(1, 'watch', 'steps', 'W-1', 'b1', '')]
    >>> parsed.points
    [(0, 1711929600000000, 1711929660000000, 12, None)]
"""

from __future__ import annotations

import datetime
import functools
import operator
import re
from collections.abc import Callable, Iterable
from itertools import compress, repeat
from typing import Annotated, Any, Literal, TypeAlias, Union

import attrs
import msgspec

from .schema import CORE_META, CORE_POINT, FieldSpec, ObjectSpec, ObservationSchema
from .schema import observation_schema as default_schema

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DETAILS",
    "BodyRejected",
    "ObservationParser",
    "ParsedObservations",
    "PointRow",
    "SeriesKey",
    "parse_instant",
    "parse_observations",
]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DETAILS = 100
"""At most this many problems are listed in a 422 answer's ``details``."""

SeriesKey: TypeAlias = tuple[int, str, str, str, str, str]
"""(userId, source, metric, externalId, batch, other meta fields as JSON or "")."""

PointRow: TypeAlias = tuple[int, int, int, int, str | None]
"""(index into ``series``, start µs, end µs, value, other point fields as JSON or None)."""

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MICRO = datetime.timedelta(microseconds=1)
_MIN_MICROS = (datetime.datetime.min.replace(tzinfo=datetime.UTC) - _EPOCH) // _MICRO
_MAX_MICROS = (datetime.datetime.max.replace(tzinfo=datetime.UTC) - _EPOCH) // _MICRO
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_INSTANT_CACHE_LIMIT = 1 << 18
_MAX_RUN_SHARE = 4  # more runs of equal metas than one per this many observations: no sharing


def parse_instant(text: str) -> int:
    """Microseconds since the Unix epoch of an RFC 3339 date-time with a UTC offset.

    Fractions beyond microseconds are cut (not rounded). Raises ValueError with
    a message that names the value and the expected form.

    Examples:
        >>> parse_instant("2015-07-04T09:45:00+01:00")
        1435999500000000
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(
            f"must be an RFC 3339 date-time with a UTC offset "
            f"(e.g. 2024-04-01T00:00:00Z), got {_show(text)}"
        )
    day, clock, fraction, offset = match.groups()
    iso = f"{day}T{clock}{(fraction or '')[:7]}{'+00:00' if offset in 'Zz' else offset}"
    try:
        moment = datetime.datetime.fromisoformat(iso)
    except ValueError as exc:
        raise ValueError(f"is not a valid date-time ({exc}), got {_show(text)}") from None
    micros = (moment - _EPOCH) // _MICRO
    if not _MIN_MICROS <= micros <= _MAX_MICROS:
        raise ValueError(f"is out of range once converted to UTC, got {_show(text)}")
    return micros


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class BodyRejected(Exception):
    """The body is refused: ``status`` (400, 413, 422), error ``code``, message, details."""

    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


@attrs.frozen
class ParsedObservations:
    """The observations of a valid create request, column by column, ready for the store.

    Attributes:
        series: the distinct metas of the request (each a :data:`SeriesKey`).
        series_index: per observation, the index of its meta in ``series``.
        starts: per observation, ``point.start`` in microseconds since the epoch.
        ends: per observation, ``point.end`` in microseconds since the epoch.
        values: per observation, ``point.value``.
        extras: per observation, its other point fields as JSON text (or None);
            None when no observation of the request has any.
    """

    series: list[SeriesKey]
    series_index: list[int]
    starts: list[int]
    ends: list[int]
    values: list[int]
    extras: list[str | None] | None = None

    def __len__(self) -> int:
        return len(self.values)

    @property
    def points(self) -> list[PointRow]:
        """One :data:`PointRow` per observation (for reading; the store uses the columns)."""
        extras = self.extras or [None] * len(self.values)
        return list(
            zip(self.series_index, self.starts, self.ends, self.values, extras, strict=True)
        )


class _Invalid(Exception):
    """A value the fast pass cannot accept; the precise pass will say why."""


_MISSING = object()
_META = operator.attrgetter("meta")
_POINT = operator.attrgetter("point")


def check_value(spec: FieldSpec, value: Any) -> Any:
    """The stored form of ``value`` for field ``spec``; ValueError (the message) when invalid.

    Examples:
        >>> from genomcore_sdk.emulator.schema import observation_schema
        >>> check_value(observation_schema().point.field("value"), 12.5)
        Traceback (most recent call last):
        ...
        ValueError: must be an integer from -9223372036854775808 to 9223372036854775807, got 12.5
    """
    if value is None:
        if spec.nullable:
            return None
        raise ValueError(f"must not be null{_expected(spec)}")
    kind = spec.kind
    if kind == "int":
        if type(value) is int and INT64_MIN <= value <= INT64_MAX:
            return value
        raise ValueError(f"must be an integer from {INT64_MIN} to {INT64_MAX}, got {_show(value)}")
    if kind == "string":
        if type(value) is str and len(value) >= spec.min_length:
            return value
        what = "a non-empty string" if spec.min_length == 1 else "a string"
        if spec.min_length > 1:
            what = f"a string of at least {spec.min_length} characters"
        raise ValueError(f"must be {what}, got {_show(value)}")
    if kind == "date-time":
        if type(value) is not str:
            raise ValueError(
                f"must be an RFC 3339 date-time string with a UTC offset, got {_show(value)}"
            )
        parse_instant(value)
        return value
    if kind == "number":
        if type(value) in (int, float):
            try:
                return float(value) + 0.0  # + 0.0: -0.0 is stored as 0.0
            except OverflowError:
                raise ValueError(f"is out of the range of a number, got {_show(value)}") from None
        raise ValueError(f"must be a number, got {_show(value)}")
    if kind == "bool":
        if type(value) is bool:
            return value
        raise ValueError(f"must be true or false, got {_show(value)}")
    if kind == "date":
        if type(value) is str and _DATE.fullmatch(value):
            try:
                datetime.date.fromisoformat(value)
            except ValueError:
                pass
            else:
                return value
        raise ValueError(f"must be a date like 2024-04-01, got {_show(value)}")
    if kind == "enum":
        if any(type(value) is type(c) and value == c for c in spec.choices):
            return value
        raise ValueError(f"must be one of {list(spec.choices)}, got {_show(value)}")
    return value  # "any"


def _expected(spec: FieldSpec) -> str:
    return f" (a {spec.kind})" if spec.kind != "any" else ""


def _msgspec_type(spec: FieldSpec) -> Any:
    """The msgspec type of a field for the fast pass.

    ``date-time`` and ``date`` are decoded as text and checked by
    :func:`check_value`, which is stricter than msgspec's own parsing (it
    rounds long fractions and takes a space for ``T``); ``any`` (and enums of
    mixed types) decode as ``Any`` and are checked by :func:`check_value` too.
    """
    base: Any
    kind = spec.kind
    if kind == "int":
        base = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
    elif kind == "string":
        base = Annotated[str, msgspec.Meta(min_length=spec.min_length)] if spec.min_length else str
    elif kind in ("date-time", "date"):
        base = str
    elif kind == "number":
        base = float
    elif kind == "bool":
        base = bool
    elif kind == "enum" and spec.choices and _same_type(spec.choices, (str, int)):
        base = Literal[spec.choices]
    else:
        return Any
    if spec.nullable:
        base = Union[base, None]  # noqa: UP007 (a runtime type expression)
    return base


def _same_type(values: tuple[Any, ...], types: tuple[type, ...]) -> bool:
    return any(all(type(v) is t for v in values) for t in types)


def _struct(spec: ObjectSpec) -> type[msgspec.Struct]:
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    rename = {}
    required = [f for f in spec.fields if f.required]
    optional = [f for f in spec.fields if not f.required]
    for f in required + optional:  # msgspec wants fields with defaults last
        kind = _msgspec_type(f)
        if f.required:
            fields.append((f.attribute, kind))
        else:
            fields.append((f.attribute, Union[kind, msgspec.UnsetType], msgspec.UNSET))  # noqa: UP007
        rename[f.attribute] = f.name
    return msgspec.defstruct(
        spec.model.__name__,
        fields,
        rename=rename,
        forbid_unknown_fields=True,
        gc=False,  # decoded JSON holds no reference cycles
    )


class ObservationParser:
    """Parses create-request bodies against an :class:`ObservationSchema`.

    Args:
        schema: the observation schema; the one derived from the installed
            generated models when None.
        max_items: more observations than this in one body answers 413.

    When an object of the schema allows additional properties, every body
    takes the precise pass (correct, slower).
    """

    def __init__(self, schema: ObservationSchema | None = None, *, max_items: int = 5000) -> None:
        self.schema = schema if schema is not None else default_schema()
        self.max_items = max_items
        self._instants: dict[str, int] = {}
        self._meta_extras = self.schema.meta_extras
        self._meta_extra_values = _tuple_getter(f.attribute for f in self._meta_extras)
        self._point_extra_values = _tuple_getter(f.attribute for f in self.schema.point_extras)
        self._all_unset = (msgspec.UNSET,) * len(self.schema.point_extras)
        self._meta_core = operator.attrgetter(
            *(self.schema.meta.field(name).attribute for name in CORE_META)
        )
        self._start, self._end, self._value = (
            operator.attrgetter(self.schema.point.field(name).attribute) for name in CORE_POINT
        )
        self._point_extras = self.schema.point_extras
        self._decoder: msgspec.json.Decoder[Any] | None = None
        self._metas_decoder: msgspec.json.Decoder[Any] | None = None
        if not (self.schema.meta.additional_properties or self.schema.point.additional_properties):
            # meta stays raw JSON text here; _fast_series decodes each distinct text once
            observation = msgspec.defstruct(
                "Observation",
                [("meta", msgspec.Raw), ("point", _struct(self.schema.point))],
                forbid_unknown_fields=True,
                gc=False,
            )
            self._decoder = msgspec.json.Decoder(
                Annotated[list[observation], msgspec.Meta(min_length=1, max_length=max_items)]  # type: ignore[valid-type]
            )
            self._metas_decoder = msgspec.json.Decoder(list[_struct(self.schema.meta)])  # type: ignore[misc]

    def parse(self, raw: bytes) -> ParsedObservations:
        """The rows of a create request body; :class:`BodyRejected` when it must be refused."""
        parsed = self.parse_fast(raw)
        return parsed if parsed is not None else self.parse_precise(raw)

    # -- fast pass -------------------------------------------------------------------------

    def parse_fast(self, raw: bytes) -> ParsedObservations | None:
        """The rows of a valid body, or None when the body has any problem (then parse_precise)."""
        if self._decoder is None:
            return None
        try:
            decoded = self._decoder.decode(raw)
        except msgspec.DecodeError:  # also ValidationError
            return None
        metas = list(map(_META, decoded))
        points = list(map(_POINT, decoded))
        del decoded
        try:
            found = self._fast_series(metas)
            if found is None:
                return None
            series, series_index = found
            starts, ends = self._fast_instants(
                list(map(self._start, points)), list(map(self._end, points))
            )
            if any(map(operator.lt, ends, starts)):
                return None
            values = list(map(self._value, points))
            extras = list(map(self._fast_point_extra, points)) if self._point_extras else []
        except _Invalid:
            return None
        return ParsedObservations(
            series, series_index, starts, ends, values, _extras_column(extras, len(values))
        )

    def _fast_series(self, metas: list[msgspec.Raw]) -> tuple[list[SeriesKey], list[int]] | None:
        """The distinct series of the raw metas and each one's index; None if a meta is invalid.

        Equal texts are equal metas, so the distinct texts are decoded and
        checked once (in one msgspec call, as one JSON array); different texts
        of one meta (spacing, key order) meet in ``seen``. Bodies usually come
        in runs of one series: then only the first meta of each run is looked
        at (neighbours compare as bytes, in C).
        """
        count = len(metas)
        heads = [0, *compress(range(1, count), map(operator.ne, metas, metas[1:]))]
        runs = len(heads) * _MAX_RUN_SHARE <= count
        if not (runs or self._meta_extras):  # no run to share: decode every meta, key in C
            keys = self._fast_meta_keys(metas)
            if keys is None:
                return None
            seen = dict.fromkeys(keys, 0)
            seen = dict(zip(seen, range(len(seen)), strict=True))
            return list(seen), list(map(seen.__getitem__, keys))
        texts = [bytes(metas[head]) for head in heads] if runs else list(map(bytes, metas))
        distinct = dict.fromkeys(texts, 0)
        keys = self._fast_meta_keys(list(distinct))
        if keys is None:
            return None
        seen = dict.fromkeys(keys, 0)
        seen = dict(zip(seen, range(len(seen)), strict=True))
        distinct = dict(zip(distinct, map(seen.__getitem__, keys), strict=True))
        if not runs:
            return list(seen), list(map(distinct.__getitem__, texts))
        series_index: list[int] = []
        for text, begin, end in zip(texts, heads, [*heads[1:], count], strict=True):
            series_index += [distinct[text]] * (end - begin)
        return list(seen), series_index

    def _fast_meta_keys(self, texts: list[Any]) -> list[SeriesKey] | None:
        """The series key of each meta text (bytes or Raw), decoded in one call; None if invalid."""
        try:
            decoded = self._metas_decoder.decode(b"[" + b",".join(texts) + b"]")  # type: ignore[union-attr]
        except msgspec.DecodeError:
            return None
        if self._meta_extras:
            return list(map(self._fast_meta_key, decoded))
        # (userId, source, metric, externalId, batch) + ("",), in C
        return list(map(operator.add, map(self._meta_core, decoded), repeat(("",))))

    def _fast_instants(self, starts: list[str], ends: list[str]) -> tuple[list[int], list[int]]:
        """The microseconds of the start and end texts (cached); _Invalid if one is invalid.

        When each observation starts where the previous one ended (regular
        samples), or ends where it starts (instant events), one column is
        looked up and the other copied from it.
        """
        cache = self._instants
        try:
            end_us = list(map(cache.__getitem__, ends))
            if starts[1:] == ends[:-1]:
                return [cache[starts[0]], *end_us[:-1]], end_us
            if starts == ends:
                return end_us.copy(), end_us
            return list(map(cache.__getitem__, starts)), end_us
        except KeyError:
            pass
        if len(cache) > _INSTANT_CACHE_LIMIT:
            cache.clear()
        instant = self._cached_instant
        for text in starts + ends:
            if text not in cache:
                instant(text)
        return list(map(cache.__getitem__, starts)), list(map(cache.__getitem__, ends))

    def _cached_instant(self, text: str) -> int:
        try:
            micros = parse_instant(text)
        except ValueError:
            raise _Invalid from None
        self._instants[text] = micros
        return micros

    def _fast_meta_key(self, meta: Any) -> SeriesKey:
        extra = ""
        if self._meta_extras:
            extra = _extras_json(self._meta_extras, self._meta_extra_values(meta))
        user_id, source, metric, external_id, batch = self._meta_core(meta)
        return (user_id, source, metric, external_id, batch, extra)

    def _fast_point_extra(self, point: Any) -> str | None:
        values = self._point_extra_values(point)
        if values == self._all_unset:
            return None
        return _extras_json(self._point_extras, values) or None

    # -- precise pass ----------------------------------------------------------------------

    def parse_precise(self, raw: bytes) -> ParsedObservations:
        """The rows of a valid body; raises :class:`BodyRejected` listing every problem."""
        try:
            items = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise BodyRejected(400, "invalid_json", f"The body is not valid JSON: {exc}") from None
        if not isinstance(items, list):
            raise BodyRejected(
                422,
                "validation_error",
                f"The body must be a JSON array of observations, got {type(items).__name__}.",
            )
        if not items:
            raise BodyRejected(
                422, "validation_error", "The array is empty; send at least one observation."
            )
        if len(items) > self.max_items:
            raise BodyRejected(
                413,
                "payload_too_large",
                f"{len(items)} observations in one request; the limit is {self.max_items}. "
                "Split it.",
            )
        problems: list[dict[str, Any]] = []
        series: list[SeriesKey] = []
        seen: dict[SeriesKey, int] = {}
        indexes: list[int] = []
        starts: list[int] = []
        ends: list[int] = []
        values: list[int] = []
        extras: list[str | None] = []
        for index, item in enumerate(items):
            row = self._check_item(index, item, problems)
            if row is None or problems:
                continue
            key, start, end, value, point_extra = row
            position = seen.get(key)
            if position is None:
                position = seen[key] = len(series)
                series.append(key)
            indexes.append(position)
            starts.append(start)
            ends.append(end)
            values.append(value)
            extras.append(point_extra)
        if problems:
            shown = problems[:MAX_DETAILS]
            more = f" The first {MAX_DETAILS} are listed." if len(problems) > MAX_DETAILS else ""
            raise BodyRejected(
                422,
                "validation_error",
                f"{len(problems)} problem(s) in the observations; nothing was stored.{more}",
                shown,
            )
        return ParsedObservations(
            series, indexes, starts, ends, values, _extras_column(extras, len(values))
        )

    def _check_item(
        self, index: int, item: Any, problems: list[dict[str, Any]]
    ) -> tuple[SeriesKey, int, int, int, str | None] | None:
        def problem(field: str, message: str) -> None:
            entry: dict[str, Any] = {"index": index, "field": field, "message": message}
            if not field:
                del entry["field"]  # the whole item
            problems.append(entry)

        if not isinstance(item, dict):
            problem("", f"must be an object with meta and point, got {_show(item)}")
            return None
        for name in item:
            if name not in ("meta", "point"):
                problem(name, "is not a field of an observation (allowed: meta, point)")
        meta = self._check_object(self.schema.meta, item.get("meta", _MISSING), problem)
        point = self._check_object(self.schema.point, item.get("point", _MISSING), problem)
        if meta is None or point is None:
            return None
        start, end = point.get("start"), point.get("end")
        if start is None or end is None:
            return None
        start_us, end_us = parse_instant(start), parse_instant(end)
        if end_us < start_us:
            problem("point.end", f"must not be before point.start ({start!r}), got {end!r}")
            return None
        extra_meta = {k: v for k, v in meta.items() if k not in CORE_META}
        extra_point = {k: v for k, v in point.items() if k not in CORE_POINT}
        key: SeriesKey = (
            meta["userId"],
            meta["source"],
            meta["metric"],
            meta["externalId"],
            meta["batch"],
            _dump(extra_meta),
        )
        return key, start_us, end_us, point["value"], _dump(extra_point) or None

    @staticmethod
    def _check_object(
        spec: ObjectSpec, value: Any, problem: Callable[[str, str], None]
    ) -> dict[str, Any] | None:
        """The checked fields of ``value`` (stored forms), or None after reporting problems."""
        if value is _MISSING:
            problem(spec.name, "is required")
            return None
        if not isinstance(value, dict):
            problem(spec.name, f"must be an object, got {_show(value)}")
            return None
        ok = True
        checked: dict[str, Any] = {}
        declared = spec.names
        for key, field_value in value.items():
            if key not in declared:
                if spec.additional_properties:
                    checked[key] = field_value
                    continue
                allowed = ", ".join(f.name for f in spec.fields)
                problem(
                    f"{spec.name}.{key}",
                    f"is not a field of {spec.name} (allowed: {allowed})",
                )
                ok = False
        for field in spec.fields:
            found = value.get(field.name, _MISSING)
            if found is _MISSING:
                if field.required:
                    problem(f"{spec.name}.{field.name}", "is required")
                    ok = False
                continue
            try:
                checked[field.name] = check_value(field, found)
            except ValueError as exc:
                problem(f"{spec.name}.{field.name}", str(exc))
                ok = False
        return checked if ok else None


def parse_observations(
    items: list[Any], parser: ObservationParser | None = None
) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]]]:
    """Check already-decoded observations as a create request would: (rows, problems).

    Each row is ``(userId, source, metric, externalId, batch, start µs, end µs,
    value)``; ``problems`` are the 422 (or 400/413) answer's details, empty when
    all is well. For tests that ask "would the server take this?".

    Examples:
        >>> rows, problems = parse_observations([{"meta": {"userId": 1}, "point": {}}])
        >>> rows, problems[0]
        ([], {'index': 0, 'field': 'meta.source', 'message': 'is required'})
    """
    parser = parser if parser is not None else _default_parser()
    try:
        parsed = parser.parse(msgspec.json.encode(items))
    except BodyRejected as exc:
        return [], exc.details or [{"message": exc.message}]
    rows = [(*parsed.series[i][:5], start, end, value) for i, start, end, value, _ in parsed.points]
    return rows, []


@functools.cache
def _default_parser() -> ObservationParser:
    return ObservationParser()


def _extras_column(extras: list[str | None], count: int) -> list[str | None] | None:
    """The extras column, or None when no observation has other point fields."""
    if len(extras) != count or not any(extras):
        return None
    return extras


def _tuple_getter(attributes: Iterable[str]) -> Callable[[Any], tuple[Any, ...]]:
    """A function reading these attributes of an object as a tuple (fast: attrgetter)."""
    names = tuple(attributes)
    if len(names) == 1:
        single = operator.attrgetter(names[0])
        return lambda obj: (single(obj),)
    if not names:
        return lambda obj: ()
    return operator.attrgetter(*names)


def _extras_json(fields: tuple[FieldSpec, ...], values: tuple[Any, ...]) -> str:
    extra = {}
    for f, value in zip(fields, values, strict=True):
        if value is msgspec.UNSET:
            continue
        try:
            extra[f.name] = check_value(f, value)
        except ValueError:
            raise _Invalid from None
    return _dump(extra)


def _dump(extra: dict[str, Any]) -> str:
    """Other-than-core fields as canonical JSON text ("" when there are none)."""
    if not extra:
        return ""
    return msgspec.json.encode(extra, order="sorted").decode()
