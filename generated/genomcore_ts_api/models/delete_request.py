from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="DeleteRequest")


@_attrs_define
class DeleteRequest:
    """
    Attributes:
        user_id (int): Delete this user's observations...
        batch (str): ...in this batch...
        metric (str): ...of this metric.
    """

    user_id: int
    batch: str
    metric: str

    def to_dict(self) -> dict[str, Any]:
        user_id = self.user_id

        batch = self.batch

        metric = self.metric

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "userId": user_id,
                "batch": batch,
                "metric": metric,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        user_id = d.pop("userId")

        batch = d.pop("batch")

        metric = d.pop("metric")

        delete_request = cls(
            user_id=user_id,
            batch=batch,
            metric=metric,
        )

        return delete_request
