from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.observation_meta import ObservationMeta
    from ..models.observation_point import ObservationPoint


T = TypeVar("T", bound="Observation")


@_attrs_define
class Observation:
    """One time-series observation as sent to the API.

    Attributes:
        meta (ObservationMeta): What was measured, for whom, by which device, in which upload batch.
        point (ObservationPoint): The measured interval and its value.
    """

    meta: ObservationMeta
    point: ObservationPoint

    def to_dict(self) -> dict[str, Any]:
        meta = self.meta.to_dict()

        point = self.point.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
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
        meta = ObservationMeta.from_dict(d.pop("meta"))

        point = ObservationPoint.from_dict(d.pop("point"))

        observation = cls(
            meta=meta,
            point=point,
        )

        return observation
