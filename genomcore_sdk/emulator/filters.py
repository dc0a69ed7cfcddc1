"""The emulator's query engine: MongoDB-style filters and sorts compiled to SQLite SQL.

The supported subset is the one ``openapi.yaml`` documents for ``QueryFilter``.
Semantics follow MongoDB for documents whose fields always exist (every stored
observation has every field):

* a field compared to a value of another type never matches (``$ne``/``$nin``
  then always match), as MongoDB's type bracketing does; numbers of any kind
  compare with numbers;
* date-time fields (``timestamp``, ``point.start``, ``point.end``) compare
  with RFC 3339 strings, which are parsed to instants;
* ``null`` matches nothing (no stored field is null); ``$exists: true`` on a
  known field matches everything.

Anything else raises :class:`FilterError`, which the API answers with 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["FIELDS", "FilterError", "compile_filter", "compile_sort", "parse_instant"]


class FilterError(ValueError):
    """A filter or sort the API refuses (answered with 400)."""


# field name -> (SQL column, kind)
FIELDS: dict[str, tuple[str, str]] = {
    "meta.userId": ("user_id", "int"),
    "meta.source": ("source", "str"),
    "meta.metric": ("metric", "str"),
    "meta.externalId": ("external_id", "str"),
    "meta.batch": ("batch", "str"),
    "point.start": ("ts", "datetime"),
    "point.end": ("end_ts", "datetime"),
    "point.value": ("value", "int"),
    "timestamp": ("ts", "datetime"),
    "id": ("id", "id"),
}

_COMPARISONS = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_FIELD_OPERATORS = frozenset(
    {*_COMPARISONS, "$in", "$nin", "$exists", "$regex", "$options", "$not"}
)
_LOGICAL = frozenset({"$and", "$or", "$nor"})
_TRUE = "1"
_FALSE = "0"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$"
)


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_instant(text: str, *, allow_date: bool = False) -> int:
    """Parse an RFC 3339 date-time (or, with ``allow_date``, a bare date at 00:00 UTC).

    Returns microseconds since the Unix epoch. Raises :class:`FilterError`.
    """
    if allow_date and _DATE_ONLY.match(text):
        try:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError as exc:
            raise FilterError(f"{text!r} is not a valid date: {exc}") from None
        return to_micros(day)
    if not _RFC3339.match(text):
        raise FilterError(
            f"{text!r} is not an RFC 3339 date-time with a UTC offset (e.g. 2024-04-01T00:00:00Z)"
        )
    try:
        moment = datetime.fromisoformat(_trim_fraction(text))
    except ValueError as exc:
        raise FilterError(f"{text!r} is not a valid date-time: {exc}") from None
    return to_micros(moment)


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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sql_value(field: str, kind: str, value: Any) -> Any | None:
    """The SQL parameter for ``value`` compared to ``field``; None if the types never match."""
    if kind in ("int", "id"):
        if not _is_number(value):
            return None
        if isinstance(value, float) and value != value:  # NaN matches nothing
            return None
        return value
    if kind == "str":
        return value if isinstance(value, str) else None
    # datetime
    if isinstance(value, str):
        try:
            return parse_instant(value)
        except FilterError as exc:
            raise FilterError(f"field {field!r}: {exc}") from None
    if isinstance(value, Mapping) and set(value) == {"$date"} and isinstance(value["$date"], str):
        return parse_instant(value["$date"])
    return None


class _Compiler:
    def __init__(self) -> None:
        self.params: list[Any] = []

    def document(self, spec: Any, path: str) -> str:
        if not isinstance(spec, Mapping):
            raise FilterError(f"{path} must be an object, got {type(spec).__name__}")
        parts = []
        for key, value in spec.items():
            if not isinstance(key, str):
                raise FilterError(f"{path} has a non-string key {key!r}")
            if key.startswith("$"):
                parts.append(self.logical(key, value, path))
            else:
                parts.append(self.field(key, value))
        if not parts:
            return _TRUE
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def logical(self, op: str, value: Any, path: str) -> str:
        if op not in _LOGICAL:
            raise FilterError(
                f"unsupported operator {op!r} at {path}; supported at this level: $and, $or, $nor"
            )
        if not isinstance(value, list) or not value:
            raise FilterError(f"{op} needs a non-empty list of filters")
        subs = [self.document(item, f"{op}[{i}]") for i, item in enumerate(value)]
        if op == "$and":
            return "(" + " AND ".join(subs) + ")"
        joined = "(" + " OR ".join(subs) + ")"
        return joined if op == "$or" else f"(NOT {joined})"

    def field(self, name: str, condition: Any) -> str:
        if name not in FIELDS:
            known = ", ".join(sorted(f for f in FIELDS if f != "id"))
            raise FilterError(f"unknown field {name!r}; filterable fields: {known}")
        column, kind = FIELDS[name]
        if isinstance(condition, Mapping) and any(
            isinstance(k, str) and k.startswith("$") for k in condition
        ):
            return self.operators(name, column, kind, condition)
        return self.compare(name, column, kind, "$eq", condition)

    def operators(self, name: str, column: str, kind: str, ops: Mapping[str, Any]) -> str:
        parts = []
        for op, operand in ops.items():
            if op not in _FIELD_OPERATORS:
                raise FilterError(
                    f"unsupported operator {op!r} on field {name!r}; supported: "
                    + ", ".join(sorted(_FIELD_OPERATORS - {"$options"}))
                )
            if op == "$options":
                if "$regex" not in ops:
                    raise FilterError(f"$options without $regex on field {name!r}")
                continue
            if op in _COMPARISONS:
                parts.append(self.compare(name, column, kind, op, operand))
            elif op in ("$in", "$nin"):
                parts.append(self.membership(name, column, kind, op, operand))
            elif op == "$exists":
                parts.append(_TRUE if bool(operand) else _FALSE)
            elif op == "$regex":
                parts.append(self.regex(name, column, kind, operand, ops.get("$options", "")))
            else:  # $not
                parts.append(self.negation(name, column, kind, operand))
        if not parts:
            return _TRUE
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def compare(self, name: str, column: str, kind: str, op: str, operand: Any) -> str:
        if isinstance(operand, Mapping) and kind != "datetime":
            raise FilterError(
                f"field {name!r}: {op} takes a value, not an object; "
                f"unsupported operator in {dict(operand)!r}?"
            )
        if isinstance(operand, list):
            # MongoDB compares a scalar field with an array by element equality only
            # for $eq/$ne on the array itself: a scalar never equals an array.
            return _TRUE if op == "$ne" else _FALSE
        if operand is None:
            return _TRUE if op == "$ne" else _FALSE
        value = _sql_value(name, kind, operand)
        if value is None:
            return _TRUE if op == "$ne" else _FALSE
        self.params.append(value)
        return f"{column} {_COMPARISONS[op]} ?"

    def membership(self, name: str, column: str, kind: str, op: str, operand: Any) -> str:
        if not isinstance(operand, list):
            raise FilterError(f"field {name!r}: {op} needs a list, got {operand!r}")
        values = []
        for item in operand:
            if isinstance(item, Mapping) and kind != "datetime":
                raise FilterError(f"field {name!r}: {op} items must be values, got {item!r}")
            if item is None or isinstance(item, list):
                continue
            value = _sql_value(name, kind, item)
            if value is not None:
                values.append(value)
        if not values:
            return _FALSE if op == "$in" else _TRUE
        self.params.extend(values)
        marks = ",".join("?" * len(values))
        return f"{column} {'IN' if op == '$in' else 'NOT IN'} ({marks})"

    def regex(self, name: str, column: str, kind: str, pattern: Any, options: Any) -> str:
        if not isinstance(pattern, str):
            raise FilterError(f"field {name!r}: $regex needs a string pattern, got {pattern!r}")
        if not isinstance(options, str) or set(options) - set("imsx"):
            raise FilterError(f"field {name!r}: $options must use only the letters i, m, s, x")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise FilterError(f"field {name!r}: invalid $regex {pattern!r}: {exc}") from None
        if kind != "str":
            return _FALSE
        self.params.extend([pattern, options])
        return f"regexp_match(?, ?, {column})"

    def negation(self, name: str, column: str, kind: str, operand: Any) -> str:
        if isinstance(operand, Mapping):
            if not operand or not all(isinstance(k, str) and k.startswith("$") for k in operand):
                raise FilterError(
                    f"field {name!r}: $not needs an operator object, e.g. {{'$gt': 5}}"
                )
            return f"(NOT {self.operators(name, column, kind, operand)})"
        if isinstance(operand, str):
            return f"(NOT {self.regex(name, column, kind, operand, '')})"
        raise FilterError(f"field {name!r}: $not needs an operator object or a regex")


def compile_filter(spec: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    """Compile a filter to a SQL boolean expression and its parameters.

    >>> compile_filter({"meta.metric": "steps", "point.value": {"$gte": 10}})
    ('(metric = ? AND value >= ?)', ['steps', 10])
    """
    compiler = _Compiler()
    sql = compiler.document(spec or {}, "filter")
    return sql, compiler.params


def compile_sort(spec: Mapping[str, Any] | None) -> str:
    """Compile a sort object to an ORDER BY list that always ends with the id tie-breaker.

    >>> compile_sort({"timestamp": -1})
    'ts DESC, id ASC'
    """
    terms = []
    for field, direction in (spec or {"timestamp": 1}).items():
        if field not in FIELDS:
            raise FilterError(f"cannot sort by unknown field {field!r}")
        if direction not in (1, -1) or isinstance(direction, bool):
            raise FilterError(f"sort direction for {field!r} must be 1 or -1, got {direction!r}")
        column = FIELDS[field][0]
        terms.append(f"{column} {'ASC' if direction == 1 else 'DESC'}")
    if not any(t.startswith("id ") for t in terms):
        terms.append("id ASC")
    return ", ".join(terms)


_REGEX_CACHE: dict[tuple[str, str], re.Pattern[str]] = {}


def regexp_match(pattern: str, options: str, value: Any) -> int:
    """SQLite function behind ``$regex``: 1 when ``value`` matches, like MongoDB's ``$regex``."""
    key = (pattern, options)
    compiled = _REGEX_CACHE.get(key)
    if compiled is None:
        flags = 0
        for letter, flag in (("i", re.I), ("m", re.M), ("s", re.S), ("x", re.X)):
            if letter in options:
                flags |= flag
        compiled = _REGEX_CACHE[key] = re.compile(pattern, flags)
    return 1 if isinstance(value, str) and compiled.search(value) else 0
