from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.query_sort_additional_property import (
    QuerySortAdditionalProperty,
    check_query_sort_additional_property,
)

T = TypeVar("T", bound="QuerySort")


@_attrs_define
class QuerySort:
    """Fields to sort by, in order, each 1 (ascending) or -1 (descending),
    e.g. `{"timestamp": -1}`. Default `{"timestamp": 1}`. Ties are broken by `id`.

    """

    additional_properties: dict[str, QuerySortAdditionalProperty] = _attrs_field(
        init=False, factory=dict
    )

    def to_dict(self) -> dict[str, Any]:

        field_dict: dict[str, Any] = {}
        for prop_name, prop in self.additional_properties.items():
            field_dict[prop_name] = prop

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        query_sort = cls()

        additional_properties = {}
        for prop_name, prop_dict in d.items():
            additional_property = check_query_sort_additional_property(prop_dict)

            additional_properties[prop_name] = additional_property

        query_sort.additional_properties = additional_properties
        return query_sort

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> QuerySortAdditionalProperty:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: QuerySortAdditionalProperty) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
