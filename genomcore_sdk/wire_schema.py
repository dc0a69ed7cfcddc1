"""The observation's wire schema, learned from the generated attrs models.

Nothing here names a field of the API. The fields of ``Observation`` (and of
the models it nests, ``ObservationMeta`` and ``ObservationPoint``) are read
from the generated classes with ``attrs.fields`` and
``typing.get_type_hints``; their JSON names are learned by building
instances with placeholder values and reading the keys of ``to_dict()``.
So when ``openapi.yaml`` gains an optional field and the client is
regenerated (``make generate``), validation, the CSV reader and the failed
rows writer accept it with no change to this package.

Examples:
    >>> from genomcore_sdk.wire_schema import observation_schema
    >>> schema = observation_schema()
    >>> schema.columns()[:2]
    ('meta.userId', 'meta.source')
    >>> schema.leaf("point.value").kind
    <Kind.INT: 'int'>
"""

from __future__ import annotations

import datetime
import enum
import functools
import sys
import types
import typing
from collections.abc import Iterator
from typing import Any

import attrs
from genomcore_ts_api import models as generated_models
from genomcore_ts_api.types import Unset

__all__ = ["Field", "Kind", "ObjectSchema", "SchemaError", "observation_schema", "schema_of"]


class SchemaError(RuntimeError):
    """A generated model uses a construct this module cannot learn (a bug to report)."""


class Kind(enum.Enum):
    """The JSON type family of a field, as far as validation cares."""

    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STR = "str"
    DATETIME = "datetime"
    DATE = "date"
    ENUM = "enum"
    OBJECT = "object"
    ANY = "any"


@attrs.frozen
class Field:
    """One field of a generated model.

    Attributes:
        path: dotted JSON path from the observation, e.g. ``point.value``; also the CSV column.
        json_name: the key in the JSON object, e.g. ``userId``.
        attr: the Python attribute of the generated model, e.g. ``user_id``.
        kind: the type family (:class:`Kind`).
        required: whether the API requires the field (optional ones may be absent).
        nullable: whether JSON ``null`` is a valid value.
        choices: the allowed values of an ``ENUM`` field.
        schema: the nested schema of an ``OBJECT`` field.
    """

    path: str
    json_name: str
    attr: str
    kind: Kind
    required: bool
    nullable: bool = False
    choices: tuple[Any, ...] = ()
    schema: ObjectSchema | None = None


@attrs.frozen
class ObjectSchema:
    """The fields of one generated model, in ``to_dict()`` order.

    Attributes:
        model: the generated class.
        path: dotted path of this object from the observation ("" for the observation).
        fields: its fields, in the order ``to_dict()`` emits them.
    """

    model: type
    path: str
    fields: tuple[Field, ...]

    @functools.cached_property
    def by_json_name(self) -> dict[str, Field]:
        """The fields keyed by JSON name."""
        return {f.json_name: f for f in self.fields}

    def leaves(self) -> Iterator[Field]:
        """Every non-object field, depth first, in ``to_dict()`` order."""
        for field in self.fields:
            if field.schema is not None:
                yield from field.schema.leaves()
            else:
                yield field

    def columns(self) -> tuple[str, ...]:
        """The flattened CSV columns (``meta.userId``, ..., ``point.value``)."""
        return tuple(f.path for f in self.leaves())

    def leaf(self, path: str) -> Field:
        """The leaf field at a dotted path (KeyError if none)."""
        for field in self.leaves():
            if field.path == path:
                return field
        raise KeyError(path)


def _type_hints(model: type) -> dict[str, Any]:
    module = sys.modules[model.__module__]
    localns = dict(vars(generated_models))
    return typing.get_type_hints(model, globalns=vars(module), localns=localns)


def _unwrap(hint: Any) -> tuple[Any, bool, bool]:
    """(inner type, optional: may be UNSET, nullable: may be None)."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(hint)
        optional = any(a is Unset for a in args)
        nullable = any(a is type(None) for a in args)
        rest = [a for a in args if a is not Unset and a is not type(None)]
        inner = rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]  # noqa: UP007
        return inner, optional, nullable
    return hint, False, False


def _kind(inner: Any) -> tuple[Kind, tuple[Any, ...]]:
    if inner is bool:
        return Kind.BOOL, ()
    if inner is int:
        return Kind.INT, ()
    if inner is float:
        return Kind.FLOAT, ()
    if inner is str:
        return Kind.STR, ()
    if inner is datetime.datetime:
        return Kind.DATETIME, ()
    if inner is datetime.date:
        return Kind.DATE, ()
    if typing.get_origin(inner) is typing.Literal:
        return Kind.ENUM, typing.get_args(inner)
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        return Kind.ENUM, tuple(m.value for m in inner)
    if isinstance(inner, type) and attrs.has(inner):
        return Kind.OBJECT, ()
    return Kind.ANY, ()


_T0 = datetime.datetime(2001, 2, 3, 4, 5, 6, tzinfo=datetime.UTC)


def _placeholders(kind: Kind, choices: tuple[Any, ...], inner: Any) -> tuple[Any, Any]:
    """Two different valid Python values of a field, to tell its JSON key apart."""
    if kind is Kind.INT:
        return 1, 2
    if kind is Kind.FLOAT:
        return 1.5, 2.5
    if kind is Kind.BOOL:
        return False, True
    if kind is Kind.STR:
        return "a", "b"
    if kind is Kind.DATETIME:
        return _T0, _T0 + datetime.timedelta(seconds=1)
    if kind is Kind.DATE:
        return _T0.date(), _T0.date() + datetime.timedelta(days=1)
    if kind is Kind.ENUM:
        if isinstance(inner, type) and issubclass(inner, enum.Enum):
            members = list(inner)
            return members[0], members[-1]
        return choices[0], choices[-1]
    if kind is Kind.OBJECT:
        return _instance(inner, None), _instance(inner, 0)
    return "x1", "x2"


def _instance(model: type, changed: int | None) -> Any:
    """A ``model`` instance with placeholder values (field number ``changed`` set to its 2nd)."""
    hints = _type_hints(model)
    kwargs: dict[str, Any] = {}
    for number, attribute in enumerate(f for f in attrs.fields(model) if f.init):
        inner, _optional, _nullable = _unwrap(hints[attribute.name])
        kind, choices = _kind(inner)
        first, second = _placeholders(kind, choices, inner)
        kwargs[attribute.name] = second if number == changed else first
    return model(**kwargs)


def _learn(model: type, path: str) -> ObjectSchema:
    hints = _type_hints(model)
    init_fields = [f for f in attrs.fields(model) if f.init]
    try:
        baseline = _instance(model, None).to_dict()
    except Exception as exc:  # pragma: no cover - depends on the generator
        raise SchemaError(f"cannot build a placeholder {model.__name__}: {exc!r}") from exc
    order = list(baseline)
    found: dict[str, Field] = {}
    for number, attribute in enumerate(init_fields):
        inner, optional, nullable = _unwrap(hints[attribute.name])
        kind, choices = _kind(inner)
        changed = _instance(model, number).to_dict()
        keys = [k for k in order if baseline.get(k) != changed.get(k)]
        if len(keys) != 1:
            raise SchemaError(
                f"cannot tell the JSON name of {model.__name__}.{attribute.name} "
                f"(changing it changed {keys})"
            )
        json_name = keys[0]
        field_path = f"{path}.{json_name}" if path else json_name
        nested = _learn(inner, field_path) if kind is Kind.OBJECT else None
        required = not optional and attribute.default is attrs.NOTHING
        found[json_name] = Field(
            path=field_path,
            json_name=json_name,
            attr=attribute.name,
            kind=kind,
            required=required,
            nullable=nullable,
            choices=choices,
            schema=nested,
        )
    extra = [k for k in order if k not in found]
    if extra:
        raise SchemaError(f"{model.__name__}.to_dict() emits keys no field explains: {extra}")
    return ObjectSchema(model=model, path=path, fields=tuple(found[k] for k in order))


def schema_of(model: type) -> ObjectSchema:
    """Learn the schema of a generated attrs model (and of the models it nests).

    Examples:
        >>> from genomcore_ts_api.models import ObservationMeta
        >>> [f.json_name for f in schema_of(ObservationMeta).fields]
        ['userId', 'source', 'metric', 'externalId', 'batch']
    """
    return _learn(model, "")


@functools.cache
def observation_schema() -> ObjectSchema:
    """The schema of ``genomcore_ts_api.models.Observation`` (learned once, then cached)."""
    return schema_of(generated_models.Observation)
