"""The observation schema the emulator validates, derived from the generated models.

When the API team adds a field to ``ObservationMeta`` or ``ObservationPoint`` in
``openapi.yaml`` and the client is regenerated (``make generate``), the emulator
accepts, stores and answers the new field with no edit here: the schema is read
from the generated attrs models ``genomcore_ts_api.models.ObservationMeta`` and
``ObservationPoint`` when the emulator starts.

What is derived, per field:

* the JSON name: an instance is built with a distinct marker in each field and
  ``to_dict()`` tells which key each marker lands under;
* the type, from ``typing.get_type_hints``: ``int`` (int64), ``float`` (any JSON
  number), ``bool``, ``str``, ``datetime.datetime`` (RFC 3339 with a UTC offset),
  ``datetime.date``, ``Literal[...]`` (enums); any other type (lists, nested
  objects) is accepted as any JSON value;
* required or optional (an optional field is typed ``... | Unset`` with default
  ``UNSET``) and nullable (``... | None``);
* ``additionalProperties``: false unless the model carries the
  ``additional_properties`` attribute the generator adds when extra keys are allowed.

The generated models do not carry ``minLength`` or ``format: int64``, nor the
rule that ``end`` is not before ``start``; those come from :data:`CONSTRAINTS`
(checked against ``openapi.yaml`` by the test suite). Every integer is an int64.

Examples:
    >>> schema = observation_schema()
    >>> [f.name for f in schema.meta.fields]
    ['userId', 'source', 'metric', 'externalId', 'batch']
    >>> schema.point.field("value").kind
    'int'
"""

from __future__ import annotations

import datetime
import functools
import sys
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

import attrs

__all__ = [
    "CONSTRAINTS",
    "CORE_META",
    "CORE_POINT",
    "FieldKind",
    "FieldSpec",
    "ObjectSpec",
    "ObservationSchema",
    "SchemaError",
    "derive_object",
    "derive_schema",
    "observation_schema",
]

FieldKind = Literal["int", "number", "bool", "string", "date-time", "date", "enum", "any"]

CORE_META: tuple[str, ...] = ("userId", "source", "metric", "externalId", "batch")
"""Meta fields the emulator keeps in typed, indexed columns (all must be required)."""

CORE_POINT: tuple[str, ...] = ("start", "end", "value")
"""Point fields the emulator keeps in typed, indexed columns (all must be required)."""

_CORE_KINDS: dict[str, FieldKind] = {
    "meta.userId": "int",
    "meta.source": "string",
    "meta.metric": "string",
    "meta.externalId": "string",
    "meta.batch": "string",
    "point.start": "date-time",
    "point.end": "date-time",
    "point.value": "int",
}

CONSTRAINTS: Mapping[str, Mapping[str, Any]] = {
    "meta.source": {"minLength": 1},
    "meta.metric": {"minLength": 1},
    "meta.externalId": {"minLength": 1},
    "meta.batch": {"minLength": 1},
}
"""Constraints of ``openapi.yaml`` that the generated models cannot express, by dotted path."""


class SchemaError(RuntimeError):
    """The generated models cannot be served by this emulator (e.g. a core field was removed)."""


@attrs.frozen
class FieldSpec:
    """One field of an observation object, as the emulator validates it.

    Attributes:
        name: the JSON name (``externalId``).
        attribute: the generated model's attribute name (``external_id``).
        kind: the JSON type: ``int``, ``number``, ``bool``, ``string``,
            ``date-time``, ``date``, ``enum`` or ``any``.
        required: whether the field must be present.
        nullable: whether ``null`` is allowed.
        choices: the allowed values of an ``enum``.
        min_length: the least length of a string.
    """

    name: str
    attribute: str
    kind: FieldKind
    required: bool
    nullable: bool = False
    choices: tuple[Any, ...] = ()
    min_length: int = 0


@attrs.frozen
class ObjectSpec:
    """An observation object (``meta`` or ``point``): its fields and whether others are allowed.

    Attributes:
        name: the key under which the object sits in an observation.
        model: the generated attrs model it was derived from.
        fields: the declared fields, in the model's order.
        additional_properties: whether keys other than the declared ones are allowed.
    """

    name: str
    model: type
    fields: tuple[FieldSpec, ...]
    additional_properties: bool = False

    @property
    def names(self) -> frozenset[str]:
        """The JSON names of the declared fields."""
        return frozenset(f.name for f in self.fields)

    @property
    def required(self) -> frozenset[str]:
        """The JSON names of the required fields."""
        return frozenset(f.name for f in self.fields if f.required)

    def field(self, name: str) -> FieldSpec:
        """The field called ``name`` (JSON name); KeyError when there is none."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def extras(self, core: tuple[str, ...]) -> tuple[FieldSpec, ...]:
        """The declared fields that are not in ``core`` (stored in a JSON column)."""
        return tuple(f for f in self.fields if f.name not in core)


@attrs.frozen
class ObservationSchema:
    """The schema of one observation: ``{"meta": {...}, "point": {...}}``.

    Attributes:
        meta: the ``meta`` object.
        point: the ``point`` object.
    """

    meta: ObjectSpec
    point: ObjectSpec

    @property
    def meta_extras(self) -> tuple[FieldSpec, ...]:
        """Declared meta fields beyond the core ones."""
        return self.meta.extras(CORE_META)

    @property
    def point_extras(self) -> tuple[FieldSpec, ...]:
        """Declared point fields beyond the core ones."""
        return self.point.extras(CORE_POINT)


class _Marker:
    """A stand-in field value whose place in ``to_dict()`` output reveals the JSON name."""

    def isoformat(self) -> _Marker:
        return self

    def to_dict(self) -> _Marker:
        return self

    def __iter__(self) -> typing.Iterator[Any]:
        return iter(())


def _is_unset(hint: Any) -> bool:
    return isinstance(hint, type) and hint.__name__ == "Unset"


def _classify(hint: Any) -> tuple[FieldKind, bool, bool, tuple[Any, ...]]:
    """(kind, optional, nullable, choices) of a type hint of a generated model."""
    args = typing.get_args(hint) if _is_union(hint) else (hint,)
    optional = any(_is_unset(a) for a in args)
    nullable = any(a is type(None) for a in args)
    rest = [a for a in args if not _is_unset(a) and a is not type(None)]
    if len(rest) != 1:
        return "any", optional, nullable, ()
    (base,) = rest
    if typing.get_origin(base) is Literal:
        return "enum", optional, nullable, tuple(typing.get_args(base))
    kind: FieldKind
    if base is bool:
        kind = "bool"
    elif base is int:
        kind = "int"
    elif base is float:
        kind = "number"
    elif base is str:
        kind = "string"
    elif base is datetime.datetime:
        kind = "date-time"
    elif base is datetime.date:
        kind = "date"
    else:
        kind = "any"
    return kind, optional, nullable, ()


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _type_hints(model: type) -> dict[str, Any]:
    """The model's resolved annotations; one that cannot be resolved counts as ``Any``.

    The generated models import nested models only for type checkers, so names
    are also looked up in the models package (e.g. ``genomcore_ts_api.models``).
    """
    package = sys.modules.get(model.__module__.rpartition(".")[0])
    namespace = dict(vars(package)) if package is not None else {}
    try:
        return typing.get_type_hints(model, localns=namespace)
    except Exception:
        hints: dict[str, Any] = {}
        module = vars(sys.modules[model.__module__])
        for attribute, annotation in getattr(model, "__annotations__", {}).items():
            try:
                hints[attribute] = (
                    eval(annotation, module, namespace)  # same as get_type_hints does
                    if isinstance(annotation, str)
                    else annotation
                )
            except Exception:
                hints[attribute] = Any
        return hints


def derive_object(model: type, name: str) -> ObjectSpec:
    """Derive the schema of one generated attrs model (e.g. ``ObservationMeta``).

    Examples:
        >>> from genomcore_ts_api.models import ObservationPoint
        >>> spec = derive_object(ObservationPoint, "point")
        >>> [(f.name, f.kind, f.required) for f in spec.fields]
        [('start', 'date-time', True), ('end', 'date-time', True), ('value', 'int', True)]
    """
    if not attrs.has(model):
        raise SchemaError(f"{model.__qualname__} is not an attrs model")
    hints = _type_hints(model)
    declared = [a for a in attrs.fields(model) if a.init]
    additional = any(a.name == "additional_properties" and not a.init for a in attrs.fields(model))
    markers = {a.name: _Marker() for a in declared}
    try:
        instance: Any = model(**markers)
        wire = instance.to_dict()
    except Exception as exc:
        raise SchemaError(f"cannot read the JSON names of {model.__qualname__}: {exc}") from exc
    by_marker = {id(value): key for key, value in wire.items() if isinstance(value, _Marker)}
    unmatched_keys = [k for k, v in wire.items() if not isinstance(v, _Marker)]
    unmatched = [a.name for a in declared if id(markers[a.name]) not in by_marker]
    if len(unmatched) != len(unmatched_keys) or len(unmatched) > 1:
        raise SchemaError(
            f"cannot tell the JSON names of {model.__qualname__} fields {unmatched} apart"
        )
    json_names = {a.name: by_marker.get(id(markers[a.name])) for a in declared}
    for attribute, key in zip(unmatched, unmatched_keys, strict=True):
        json_names[attribute] = key
    fields = []
    for a in declared:
        kind, optional, nullable, choices = _classify(hints[a.name])
        json_name = json_names[a.name]
        assert json_name is not None
        constraint = CONSTRAINTS.get(f"{name}.{json_name}", {})
        fields.append(
            FieldSpec(
                name=json_name,
                attribute=a.name,
                kind=kind,
                required=not optional and a.default is attrs.NOTHING,
                nullable=nullable,
                choices=choices,
                min_length=int(constraint.get("minLength", 0)),
            )
        )
    return ObjectSpec(name, model, tuple(fields), additional)


def derive_schema(meta_model: type, point_model: type) -> ObservationSchema:
    """Derive the observation schema from the meta and point models, and check it.

    Raises:
        SchemaError: a core field (:data:`CORE_META`, :data:`CORE_POINT`) is
            missing, optional or of another type: this emulator cannot store it.
    """
    schema = ObservationSchema(
        meta=derive_object(meta_model, "meta"), point=derive_object(point_model, "point")
    )
    for spec in (schema.meta, schema.point):
        core = CORE_META if spec.name == "meta" else CORE_POINT
        for name in core:
            path = f"{spec.name}.{name}"
            try:
                found = spec.field(name)
            except KeyError:
                raise SchemaError(
                    f"the emulator stores {path} in a typed column, but "
                    f"{spec.model.__qualname__} has no such field; update the emulator's store"
                ) from None
            if not found.required or found.nullable or found.kind != _CORE_KINDS[path]:
                raise SchemaError(
                    f"the emulator stores {path} as a required, non-null {_CORE_KINDS[path]}, "
                    f"but {spec.model.__qualname__} declares it {found}; update the emulator's store"
                )
    return schema


@functools.cache
def observation_schema() -> ObservationSchema:
    """The schema of the installed generated client (``genomcore_ts_api``), derived once."""
    from genomcore_ts_api.models import ObservationMeta, ObservationPoint

    return derive_schema(ObservationMeta, ObservationPoint)
