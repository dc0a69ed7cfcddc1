from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.query_filter import QueryFilter
    from ..models.query_sort import QuerySort


T = TypeVar("T", bound="QueryRequest")


@_attrs_define
class QueryRequest:
    """What to read. The time window is half-open on `timestamp`
    (`point.start`): `beforeDate` <= timestamp < `afterDate`. Each bound
    is optional and is either a date (`2024-04-01`, meaning 00:00 UTC that
    day) or an RFC 3339 date-time with offset. So `beforeDate: 2024-04-01,
    afterDate: 2024-04-08` selects the seven days from 1 April 00:00 UTC up
    to, not including, 8 April.

        Attributes:
            filter_ (QueryFilter | Unset): A MongoDB-style filter over `meta.userId`, `meta.source`, `meta.metric`,
                `meta.externalId`, `meta.batch`, `point.start`, `point.end`,
                `point.value` and `timestamp`. A field compared to a value means
                equality (`{"meta.metric": "steps"}`). Operators: `$eq $ne $gt $gte
                $lt $lte $in $nin $exists $regex $not` on fields and `$and $or $nor`
                on lists of filters. Date-time fields compare with RFC 3339 strings.
                Any other operator or field answers 400 naming it.
            sort (QuerySort | Unset): Fields to sort by, in order, each 1 (ascending) or -1 (descending),
                e.g. `{"timestamp": -1}`. Default `{"timestamp": 1}`. Ties are broken by `id`.
            before_date (str | Unset): Inclusive lower bound of the window on `timestamp` (date or RFC 3339 date-time).
            after_date (str | Unset): Exclusive upper bound of the window on `timestamp` (date or RFC 3339 date-time).
    """

    filter_: QueryFilter | Unset = UNSET
    sort: QuerySort | Unset = UNSET
    before_date: str | Unset = UNSET
    after_date: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        filter_: dict[str, Any] | Unset = UNSET
        if not isinstance(self.filter_, Unset):
            filter_ = self.filter_.to_dict()

        sort: dict[str, Any] | Unset = UNSET
        if not isinstance(self.sort, Unset):
            sort = self.sort.to_dict()

        before_date = self.before_date

        after_date = self.after_date

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if filter_ is not UNSET:
            field_dict["filter"] = filter_
        if sort is not UNSET:
            field_dict["sort"] = sort
        if before_date is not UNSET:
            field_dict["beforeDate"] = before_date
        if after_date is not UNSET:
            field_dict["afterDate"] = after_date

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.query_filter import QueryFilter
        from ..models.query_sort import QuerySort

        d = dict(src_dict)
        _filter_ = d.pop("filter", UNSET)
        filter_: QueryFilter | Unset
        if isinstance(_filter_, Unset):
            filter_ = UNSET
        else:
            filter_ = QueryFilter.from_dict(_filter_)

        _sort = d.pop("sort", UNSET)
        sort: QuerySort | Unset
        if isinstance(_sort, Unset):
            sort = UNSET
        else:
            sort = QuerySort.from_dict(_sort)

        before_date = d.pop("beforeDate", UNSET)

        after_date = d.pop("afterDate", UNSET)

        query_request = cls(
            filter_=filter_,
            sort=sort,
            before_date=before_date,
            after_date=after_date,
        )

        query_request.additional_properties = d
        return query_request

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
