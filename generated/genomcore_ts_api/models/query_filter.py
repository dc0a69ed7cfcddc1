from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="QueryFilter")


@_attrs_define
class QueryFilter:
    """A MongoDB-style filter over `meta.userId`, `meta.source`, `meta.metric`,
    `meta.externalId`, `meta.batch`, `point.start`, `point.end`,
    `point.value` and `timestamp`. A field compared to a value means
    equality (`{"meta.metric": "steps"}`). Operators: `$eq $ne $gt $gte
    $lt $lte $in $nin $exists $regex $not` on fields and `$and $or $nor`
    on lists of filters. Date-time fields compare with RFC 3339 strings.
    Any other operator or field answers 400 naming it.

    """

    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        query_filter = cls()

        query_filter.additional_properties = d
        return query_filter

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
