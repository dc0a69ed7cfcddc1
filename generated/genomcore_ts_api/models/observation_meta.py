from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="ObservationMeta")


@_attrs_define
class ObservationMeta:
    """What was measured, for whom, by which device, in which upload batch.

    Attributes:
        user_id (int): The platform's numeric id of the person measured.
        source (str): The device or system that produced the value (e.g. `actiwatch-spectrum`).
        metric (str): What was measured (e.g. `activity_counts`, `sleep_wake`, `steps`).
        external_id (str): The person's or device's id in the source system.
        batch (str): The upload batch; observations are deleted by userId, batch and metric.
    """

    user_id: int
    source: str
    metric: str
    external_id: str
    batch: str

    def to_dict(self) -> dict[str, Any]:
        user_id = self.user_id

        source = self.source

        metric = self.metric

        external_id = self.external_id

        batch = self.batch

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "userId": user_id,
                "source": source,
                "metric": metric,
                "externalId": external_id,
                "batch": batch,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        user_id = d.pop("userId")

        source = d.pop("source")

        metric = d.pop("metric")

        external_id = d.pop("externalId")

        batch = d.pop("batch")

        observation_meta = cls(
            user_id=user_id,
            source=source,
            metric=metric,
            external_id=external_id,
            batch=batch,
        )

        return observation_meta
