"""What a query filter may say: the filterable fields, the operators, and the check of both sides.

This module is the single definition of the ``QueryFilter`` subset documented
in ``openapi.yaml``. The client checks a filter with it before sending
(:func:`parse_filter` with ``strict=True``), and the emulator parses with it
(``strict=False``) before compiling to SQL, so both refuse exactly the same
operators, fields and shapes. It needs only the standard library.

Parsing turns a filter into a small tree of :class:`Node` objects whose
meaning is MongoDB's for documents in which every field exists and holds one
scalar (every stored observation has every field):

* a field compared to a value of another type never matches (so ``$ne`` and
  ``$nin`` then match), as MongoDB's type bracketing does; integers and
  floats compare as numbers; booleans are not numbers;
* ``null`` never equals a stored field (``{"$ne": None}`` matches everything);
* ``$exists: true`` on a filterable field matches everything, ``false`` nothing;
* ``$not`` matches what its operator object does not match; ``$nor`` what
  none of its filters match;
* date-time fields (``timestamp``, ``point.start``, ``point.end``) compare as
  instants with RFC 3339 strings carrying an offset (fractions beyond
  microseconds are truncated).

Deliberate differences from MongoDB, refused with :class:`FilterSpecError`
(the API answers 400) instead of silently matching nothing: an unknown field
(even under ``$exists``), an unknown operator, an object or array where a
single value is compared (use ``$in`` for several values), an object or array
inside ``$in``/``$nin`` (so no regular expressions there: use ``$or`` of
``$regex``), a date-time field
compared with a string that is not RFC 3339, a ``$not`` that is not an
operator object, a ``$regex`` that is not a valid pattern, ``$options`` with
letters other than ``imsx``. Regular expressions use Python's ``re``
dialect (the same as PCRE for common patterns) and search anywhere in the
value, as ``$regex`` does.

With ``strict=True`` (the client's check) a comparison that can never match
because of its type (``{"meta.userId": "1"}``, ``null``, a boolean, ``$regex``
on a number) is refused too, naming the field, the value and the type the
field holds, since such a query is almost always a mistake.

Examples:
    >>> parse_filter({"meta.metric": {"$in": ["steps"]}, "point.value": {"$gte": 10}})
    AllOf(children=(In(field='meta.metric', values=('steps',), negate=False), \
Compare(field='point.value', op='$gte', value=10)))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, Literal

import attrs

__all__ = [
    "COMPARISON_OPERATORS",
    "FIELD_OPERATORS",
    "FILTER_FIELDS",
    "LOGICAL_OPERATORS",
    "QUERY_BODY_FIELDS",
    "REGEX_OPTIONS",
    "SORT_FIELDS",
    "AllOf",
    "AnyOf",
    "Compare",
    "Const",
    "FieldKind",
    "FilterSpecError",
    "In",
    "Node",
    "NoneOf",
    "Not",
    "Regex",
    "check_sort",
    "parse_filter",
    "parse_instant",
    "parse_window_bound",
    "regex_flags",
]

FieldKind = Literal["int", "str", "datetime"]

FILTER_FIELDS: Final[Mapping[str, FieldKind]] = MappingProxyType(
    {
        "meta.userId": "int",
        "meta.source": "str",
        "meta.metric": "str",
        "meta.externalId": "str",
        "meta.batch": "str",
        "point.start": "datetime",
        "point.end": "datetime",
        "point.value": "int",
        "timestamp": "datetime",
    }
)
"""Every field a filter may name, with the kind of value it holds."""

SORT_FIELDS: Final[frozenset[str]] = frozenset({*FILTER_FIELDS, "id"})
"""Fields a sort may name (the filterable fields and the tie-breaker ``id``)."""

QUERY_BODY_FIELDS: Final[frozenset[str]] = frozenset({"filter", "sort", "beforeDate", "afterDate"})
"""The keys of a query body."""

COMPARISON_OPERATORS: Final[tuple[str, ...]] = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
FIELD_OPERATORS: Final[tuple[str, ...]] = (
    *COMPARISON_OPERATORS,
    "$in",
    "$nin",
    "$exists",
    "$regex",
    "$options",
    "$not",
)
"""Operators allowed inside a field's condition (``$options`` only beside ``$regex``)."""

LOGICAL_OPERATORS: Final[tuple[str, ...]] = ("$and", "$or", "$nor")
"""Operators allowed where a filter is expected; each takes a non-empty list of filters."""

REGEX_OPTIONS: Final[str] = "imsx"
"""The letters ``$options`` may use."""

_KIND_TEXT: Final[Mapping[FieldKind, str]] = MappingProxyType(
    {"int": "integers", "str": "strings", "datetime": "RFC 3339 date-times"}
)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$"
)


class FilterSpecError(ValueError):
    """A filter, sort or window the API refuses.

    Attributes:
        path: where in the body the problem is, e.g. ``filter.$or[1].meta.userId``.
    """

    def __init__(self, message: str, *, path: str = "filter") -> None:
        self.path = path
        super().__init__(message)


# --------------------------------------------------------------------------- date-times


def parse_instant(text: str, *, allow_date: bool = False) -> datetime:
    """Parse an RFC 3339 date-time with an offset (or, with ``allow_date``, a bare date).

    A bare date means 00:00 UTC that day. Fractions beyond microseconds are
    truncated. Returns an aware datetime in UTC.

    Raises:
        FilterSpecError: ``text`` is neither.

    Examples:
        >>> parse_instant("2015-07-05T01:00:00+01:00")
        datetime.datetime(2015, 7, 5, 0, 0, tzinfo=datetime.timezone.utc)
    """
    if allow_date and _DATE_ONLY.match(text):
        try:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError as exc:
            raise FilterSpecError(f"{text!r} is not a valid date: {exc}") from None
    if not _RFC3339.match(text):
        expected = "a date (2024-04-01) or " if allow_date else ""
        raise FilterSpecError(
            f"{text!r} is not {expected}an RFC 3339 date-time with a UTC offset "
            "(e.g. 2024-04-01T00:00:00Z)"
        )
    try:
        return datetime.fromisoformat(_trim_fraction(text)).astimezone(UTC)
    except ValueError as exc:
        raise FilterSpecError(f"{text!r} is not a valid date-time: {exc}") from None
    except OverflowError:
        raise FilterSpecError(
            f"{text!r} is out of range: in UTC it must fall in the years 0001 to 9999"
        ) from None


def parse_window_bound(text: Any, name: str) -> datetime:
    """Parse ``beforeDate`` or ``afterDate``: a date (00:00 UTC) or an RFC 3339 date-time."""
    if not isinstance(text, str):
        raise FilterSpecError(
            f"{name} must be a date (2024-04-01) or an RFC 3339 date-time string, got {text!r}",
            path=name,
        )
    try:
        return parse_instant(text, allow_date=True)
    except FilterSpecError as exc:
        raise FilterSpecError(f"{name}: {exc}", path=name) from None


def _trim_fraction(text: str) -> str:
    """Cut fractional seconds beyond microseconds, which datetime cannot hold."""
    dot = text.find(".")
    if dot < 0:
        return text
    end = dot + 1
    while end < len(text) and text[end].isdigit():
        end += 1
    if end - dot - 1 <= 6:
        return text
    return text[: dot + 7] + text[end:]


# --------------------------------------------------------------------------- the tree


@attrs.frozen
class Const:
    """Matches every observation (``True``) or none (``False``)."""

    value: bool


@attrs.frozen
class Compare:
    """``field <op> value``; ``value`` is an int or float, a str, or an aware datetime."""

    field: str
    op: str
    value: int | float | str | datetime


@attrs.frozen
class In:
    """``field`` is (or, with ``negate``, is not) one of ``values`` (all of the field's type)."""

    field: str
    values: tuple[int | float | str | datetime, ...]
    negate: bool


@attrs.frozen
class Regex:
    """``field`` (a string field) contains a match of ``pattern`` with ``options`` (``imsx``)."""

    field: str
    pattern: str
    options: str


@attrs.frozen
class Not:
    """Matches what ``child`` does not."""

    child: Node


@attrs.frozen
class AllOf:
    """Matches what every child matches."""

    children: tuple[Node, ...]


@attrs.frozen
class AnyOf:
    """Matches what at least one child matches."""

    children: tuple[Node, ...]


@attrs.frozen
class NoneOf:
    """Matches what no child matches (``$nor``)."""

    children: tuple[Node, ...]


Node = Const | Compare | In | Regex | Not | AllOf | AnyOf | NoneOf
"""A parsed filter."""


def _conjunction(parts: list[Node]) -> Node:
    if not parts:
        return Const(True)
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


# --------------------------------------------------------------------------- parsing


def parse_filter(spec: Any, *, strict: bool = False) -> Node:
    """Check a filter and return its parsed form.

    Args:
        spec: the filter (a JSON object); ``None`` means no filter.
        strict: also refuse comparisons that can never match because of the
            value's type (the client's check); otherwise they match nothing,
            as in MongoDB (the emulator).

    Raises:
        FilterSpecError: naming the operator, field or value and what is supported.

    Examples:
        >>> parse_filter({"meta.userId": "1"})
        Const(value=False)
        >>> parse_filter({"meta.userId": "1"}, strict=True)
        Traceback (most recent call last):
        ...
        genomcore_sdk.filter_spec.FilterSpecError: filter.meta.userId: meta.userId holds integers, ...
    """
    if spec is None:
        return Const(True)
    return _Parser(strict).document(spec, "filter")


def check_sort(spec: Any) -> dict[str, int]:
    """Check a sort object (``{"timestamp": -1}``) and return it as a plain dict.

    Raises:
        FilterSpecError: not an object, an unknown field, or a direction other than 1 / -1.
    """
    if not isinstance(spec, Mapping):
        raise FilterSpecError(
            f'sort must be an object such as {{"timestamp": -1}}, got {spec!r}', path="sort"
        )
    checked: dict[str, int] = {}
    for name, direction in spec.items():
        if name not in SORT_FIELDS:
            raise FilterSpecError(
                f"cannot sort by unknown field {name!r}; sortable fields: "
                + ", ".join(sorted(SORT_FIELDS)),
                path=f"sort.{name}",
            )
        if isinstance(direction, bool) or direction not in (1, -1):
            raise FilterSpecError(
                f"sort direction for {name!r} must be 1 (ascending) or -1 (descending), "
                f"got {direction!r}",
                path=f"sort.{name}",
            )
        checked[name] = int(direction)
    return checked


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class _Parser:
    def __init__(self, strict: bool) -> None:
        self.strict = strict

    # filter level -------------------------------------------------------------------

    def document(self, spec: Any, path: str) -> Node:
        if not isinstance(spec, Mapping):
            raise FilterSpecError(
                f"{path} must be an object of conditions, got {_type_name(spec)} {spec!r}",
                path=path,
            )
        parts: list[Node] = []
        for key, value in spec.items():
            if not isinstance(key, str):
                raise FilterSpecError(f"{path} has a non-string key {key!r}", path=path)
            if key.startswith("$"):
                parts.append(self.logical(key, value, path))
            else:
                parts.append(self.field(key, value, f"{path}.{key}"))
        return _conjunction(parts)

    def logical(self, op: str, value: Any, path: str) -> Node:
        where = f"{path}.{op}"
        if op not in LOGICAL_OPERATORS:
            hint = (
                " ($not goes inside a field's condition: {field: {'$not': {...}}})"
                if op == "$not"
                else ""
            )
            raise FilterSpecError(
                f"unsupported operator {op!r} at {path}; supported here: "
                f"{', '.join(LOGICAL_OPERATORS)} and field names "
                f"({', '.join(FILTER_FIELDS)}){hint}",
                path=where,
            )
        if not isinstance(value, list) or not value:
            raise FilterSpecError(
                f"{where} needs a non-empty list of filters, got {value!r}", path=where
            )
        children = tuple(self.document(item, f"{where}[{i}]") for i, item in enumerate(value))
        if op == "$and":
            return AllOf(children)
        if op == "$or":
            return AnyOf(children)
        return NoneOf(children)

    # field level --------------------------------------------------------------------

    def field(self, name: str, condition: Any, path: str) -> Node:
        kind = FILTER_FIELDS.get(name)
        if kind is None:
            raise FilterSpecError(
                f"unknown field {name!r}; filterable fields: {', '.join(FILTER_FIELDS)}"
                + (" (use dotted names, e.g. 'meta.userId')" if name in ("meta", "point") else ""),
                path=path,
            )
        if isinstance(condition, Mapping) and any(
            isinstance(k, str) and k.startswith("$") for k in condition
        ):
            return self.operators(name, kind, condition, path)
        return self.compare(name, kind, "$eq", condition, path)

    def operators(self, name: str, kind: FieldKind, ops: Mapping[Any, Any], path: str) -> Node:
        parts: list[Node] = []
        for op, operand in ops.items():
            if op not in FIELD_OPERATORS:
                raise FilterSpecError(
                    f"unsupported operator {op!r} on field {name!r}; supported: "
                    + ", ".join(o for o in FIELD_OPERATORS if o != "$options")
                    + " (and $options beside $regex)",
                    path=f"{path}.{op}",
                )
            where = f"{path}.{op}"
            if op == "$options":
                if "$regex" not in ops:
                    raise FilterSpecError(f"$options without $regex on field {name!r}", path=where)
                continue
            if op in COMPARISON_OPERATORS:
                parts.append(self.compare(name, kind, op, operand, where))
            elif op in ("$in", "$nin"):
                parts.append(self.membership(name, kind, op, operand, where))
            elif op == "$exists":
                parts.append(self.exists(name, operand, where))
            elif op == "$regex":
                parts.append(self.regex(name, kind, operand, ops.get("$options", ""), where))
            else:
                parts.append(self.negation(name, kind, operand, where))
        return _conjunction(parts)

    def compare(self, name: str, kind: FieldKind, op: str, operand: Any, path: str) -> Node:
        if isinstance(operand, Mapping):
            raise FilterSpecError(
                f"{path}: {name} holds {_KIND_TEXT[kind]}, so it cannot equal an object "
                f"{dict(operand)!r}; for operators write {{'$gt': ...}} (supported: "
                + ", ".join(o for o in FIELD_OPERATORS if o != "$options")
                + ")",
                path=path,
            )
        if isinstance(operand, list | tuple):
            raise FilterSpecError(
                f"{path}: {name} holds a single value, so {op} with the list {list(operand)!r} "
                "can never match; to match any of several values use {'$in': [...]}",
                path=path,
            )
        value = self.value(name, kind, operand, path)
        if value is None:
            return Const(op == "$ne")
        return Compare(name, op, value)

    def membership(self, name: str, kind: FieldKind, op: str, operand: Any, path: str) -> Node:
        if not isinstance(operand, list | tuple):
            raise FilterSpecError(
                f"{path}: {op} needs a list of values, got {_type_name(operand)} {operand!r}",
                path=path,
            )
        values: list[int | float | str | datetime] = []
        for i, item in enumerate(operand):
            where = f"{path}[{i}]"
            if isinstance(item, Mapping | list | tuple):
                raise FilterSpecError(
                    f"{where}: {op} items must be single values ({_KIND_TEXT[kind]} for "
                    f"{name}), got {item!r}",
                    path=where,
                )
            value = self.value(name, kind, item, where)
            if value is not None:
                values.append(value)
        if not values:
            return Const(op == "$nin")
        return In(name, tuple(values), op == "$nin")

    def value(
        self, name: str, kind: FieldKind, operand: Any, path: str
    ) -> int | float | str | datetime | None:
        """``operand`` as a value of the field's kind; None when it can never be equal."""
        if kind == "int":
            if _is_number(operand) and operand == operand:  # NaN equals nothing
                return operand  # type: ignore[no-any-return]
        elif kind == "str":
            if isinstance(operand, str):
                return operand
        elif isinstance(operand, str):
            try:
                return parse_instant(operand)
            except FilterSpecError as exc:
                raise FilterSpecError(f"{path}: field {name!r}: {exc}", path=path) from None
        if self.strict:
            raise FilterSpecError(
                f"{path}: {name} holds {_KIND_TEXT[kind]}, so the {_type_name(operand)} "
                f"{operand!r} can never match; "
                + (
                    "fields are never null (to test presence use $exists)"
                    if operand is None
                    else f"give {_KIND_TEXT[kind]}"
                ),
                path=path,
            )
        return None

    def exists(self, name: str, operand: Any, path: str) -> Node:
        if isinstance(operand, bool) or (not self.strict and _is_number(operand)):
            return Const(bool(operand))
        raise FilterSpecError(f"{path}: $exists takes true or false, got {operand!r}", path=path)

    def regex(self, name: str, kind: FieldKind, pattern: Any, options: Any, path: str) -> Node:
        if not isinstance(pattern, str):
            raise FilterSpecError(
                f"{path}: $regex needs a string pattern, got {pattern!r}", path=path
            )
        if not isinstance(options, str) or set(options) - set(REGEX_OPTIONS):
            raise FilterSpecError(
                f"{path}: $options must use only the letters {', '.join(REGEX_OPTIONS)}, "
                f"got {options!r}",
                path=path,
            )
        try:
            re.compile(pattern, regex_flags(options))
        except re.error as exc:
            raise FilterSpecError(f"{path}: invalid $regex {pattern!r}: {exc}", path=path) from None
        if kind != "str":
            if self.strict:
                raise FilterSpecError(
                    f"{path}: $regex works on string fields; {name} holds {_KIND_TEXT[kind]}",
                    path=path,
                )
            return Const(False)
        return Regex(name, pattern, "".join(sorted(set(options))))

    def negation(self, name: str, kind: FieldKind, operand: Any, path: str) -> Node:
        if (
            not isinstance(operand, Mapping)
            or not operand
            or not all(isinstance(k, str) and k.startswith("$") for k in operand)
        ):
            raise FilterSpecError(
                f"{path}: $not needs an operator object, e.g. {{'$not': {{'$gt': 5}}}} or "
                f"{{'$not': {{'$regex': '^a'}}}}, got {operand!r}",
                path=path,
            )
        return Not(self.operators(name, kind, operand, path))


def regex_flags(options: str) -> int:
    """The ``re`` flags for ``$options`` letters."""
    flags = 0
    for letter, flag in (("i", re.I), ("m", re.M), ("s", re.S), ("x", re.X)):
        if letter in options:
            flags |= flag
    return flags
