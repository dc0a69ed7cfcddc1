from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.observation_meta import ObservationMeta
    from ..models.observation_point import ObservationPoint


T = TypeVar("T", bound="StoredObservation")


@_attrs_define
class StoredObservation:
    """An observation as stored, with its id and `timestamp` (equal to `point.start`, in UTC).

    Attributes:
        id (str): The server's id of the observation.
        timestamp (datetime.datetime): The observation's time, `point.start`, in UTC.
        meta (ObservationMeta): What was measured, for whom, by which device, in which upload batch.
        point (ObservationPoint): The measured interval and its value.
    """

    id: str
    timestamp: datetime.datetime
    meta: ObservationMeta
    point: ObservationPoint
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        timestamp = self.timestamp.isoformat()

        meta = self.meta.to_dict()

        point = self.point.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "timestamp": timestamp,
                "meta": meta,
                "point": point,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.observation_meta import ObservationMeta
        from ..models.observation_point import ObservationPoint

        d = dict(src_dict)
        id = d.pop("id")

        timestamp = datetime.datetime.fromisoformat(d.pop("timestamp"))

        meta = ObservationMeta.from_dict(d.pop("meta"))

        point = ObservationPoint.from_dict(d.pop("point"))

        stored_observation = cls(
            id=id,
            timestamp=timestamp,
            meta=meta,
            point=point,
        )

        stored_observation.additional_properties = d
        return stored_observation

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
