"""The emulator's query engine: MongoDB-style filters and sorts compiled to SQLite SQL.

What a filter may say, and what it means, is defined once in
:mod:`genomcore_sdk.filter_spec` (shared with the client's pre-send check);
this module parses with it (``strict=False``: MongoDB's type bracketing, a
value of another type never matches) and turns the parsed tree into a SQL
boolean expression over the ``observations`` table of
:mod:`genomcore_sdk.emulator.store`.

Every column is ``NOT NULL`` and every parameter is a number or a string, so
the SQL is two-valued and ``NOT`` means "does not match". Integers beyond
64 bits, which SQLite cannot bind, are decided without SQL (no stored value
reaches them). SQLite compares integers with floats exactly, and strings by
their UTF-8 bytes (the order of code points, as MongoDB's binary comparison).

Anything the API refuses raises :class:`FilterError` (the API answers 400).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..filter_spec import (
    AllOf,
    AnyOf,
    Compare,
    Const,
    FilterSpecError,
    In,
    Node,
    NoneOf,
    Not,
    Regex,
    check_sort,
    parse_filter,
    regex_flags,
)
from ..filter_spec import parse_instant as _parse_instant

__all__ = [
    "COLUMNS",
    "FilterError",
    "compile_filter",
    "compile_node",
    "compile_sort",
    "parse_instant",
    "regexp_match",
    "to_micros",
]

FilterError = FilterSpecError
"""A filter or sort the API refuses (answered with 400)."""

COLUMNS: dict[str, str] = {
    "meta.userId": "user_id",
    "meta.source": "source",
    "meta.metric": "metric",
    "meta.externalId": "external_id",
    "meta.batch": "batch",
    "point.start": "ts",
    "point.end": "end_ts",
    "point.value": "value",
    "timestamp": "ts",
    "id": "id",
}
"""The SQL column behind each filterable or sortable field."""

_SQL_OPERATORS = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TRUE = "1"
_FALSE = "0"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_instant(text: str, *, allow_date: bool = False) -> int:
    """Parse an RFC 3339 date-time (or, with ``allow_date``, a bare date at 00:00 UTC).

    Returns microseconds since the Unix epoch. Raises :class:`FilterError`.
    """
    return to_micros(_parse_instant(text, allow_date=allow_date))


def _static_int_outcome(op: str, value: int) -> bool | None:
    """The result of ``column <op> value`` for every int64 column value, if ``value`` is beyond int64."""
    if _INT64_MIN <= value <= _INT64_MAX:
        return None
    above = value > _INT64_MAX  # every stored value is below it
    return {
        "$eq": False,
        "$ne": True,
        "$gt": not above,
        "$gte": not above,
        "$lt": above,
        "$lte": above,
    }[op]


def _param(value: int | float | str | datetime) -> int | float | str:
    return to_micros(value) if isinstance(value, datetime) else value


class _Compiler:
    def __init__(self) -> None:
        self.params: list[Any] = []

    def node(self, node: Node) -> str:
        if isinstance(node, Const):
            return _TRUE if node.value else _FALSE
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, In):
            return self.membership(node)
        if isinstance(node, Regex):
            self.params.extend([node.pattern, node.options])
            return f"regexp_match(?, ?, {COLUMNS[node.field]})"
        if isinstance(node, Not):
            return f"(NOT {self.node(node.child)})"
        joined = [self.node(child) for child in node.children]
        if isinstance(node, AllOf):
            return "(" + " AND ".join(joined) + ")"
        either = "(" + " OR ".join(joined) + ")"
        if isinstance(node, AnyOf):
            return either
        assert isinstance(node, NoneOf)
        return f"(NOT {either})"

    def compare(self, node: Compare) -> str:
        if isinstance(node.value, int):
            outcome = _static_int_outcome(node.op, node.value)
            if outcome is not None:
                return _TRUE if outcome else _FALSE
        self.params.append(_param(node.value))
        return f"{COLUMNS[node.field]} {_SQL_OPERATORS[node.op]} ?"

    def membership(self, node: In) -> str:
        values = [
            _param(v)
            for v in node.values
            if not (isinstance(v, int) and not _INT64_MIN <= v <= _INT64_MAX)
        ]
        if not values:
            return _TRUE if node.negate else _FALSE
        self.params.extend(values)
        marks = ",".join("?" * len(values))
        return f"{COLUMNS[node.field]} {'NOT IN' if node.negate else 'IN'} ({marks})"


def compile_node(node: Node) -> tuple[str, list[Any]]:
    """Compile a parsed filter to a SQL boolean expression and its parameters."""
    compiler = _Compiler()
    sql = compiler.node(node)
    return sql, compiler.params


def compile_filter(spec: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    """Check a filter and compile it to a SQL boolean expression and its parameters.

    >>> compile_filter({"meta.metric": "steps", "point.value": {"$gte": 10}})
    ('(metric = ? AND value >= ?)', ['steps', 10])
    """
    return compile_node(parse_filter(spec, strict=False))


def compile_sort(spec: Mapping[str, Any] | None) -> str:
    """Compile a sort object to an ORDER BY list that ends with the ``id`` tie-breaker.

    The tie-breaker runs in the direction of the first sort key, so a
    descending sort is exactly the reverse of the ascending one.

    >>> compile_sort({"timestamp": -1})
    'ts DESC, id DESC'
    """
    checked = check_sort(spec if spec is not None else {"timestamp": 1}) or {"timestamp": 1}
    terms = [f"{COLUMNS[name]} {'ASC' if d == 1 else 'DESC'}" for name, d in checked.items()]
    if "id" not in checked:
        terms.append(f"id {'ASC' if next(iter(checked.values())) == 1 else 'DESC'}")
    return ", ".join(terms)


_REGEX_CACHE: dict[tuple[str, str], re.Pattern[str]] = {}


def regexp_match(pattern: str, options: str, value: Any) -> int:
    """SQLite function behind ``$regex``: 1 when ``value`` contains a match, like MongoDB."""
    key = (pattern, options)
    compiled = _REGEX_CACHE.get(key)
    if compiled is None:
        if len(_REGEX_CACHE) > 1024:
            _REGEX_CACHE.clear()
        compiled = _REGEX_CACHE[key] = re.compile(pattern, regex_flags(options))
    return 1 if isinstance(value, str) and compiled.search(value) else 0
