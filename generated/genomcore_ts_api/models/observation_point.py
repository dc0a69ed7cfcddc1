from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="ObservationPoint")


@_attrs_define
class ObservationPoint:
    """The measured interval and its value.

    Attributes:
        start (datetime.datetime): Start of the interval, RFC 3339 with a UTC offset. This is the observation's
            `timestamp`.
        end (datetime.datetime): End of the interval, RFC 3339 with a UTC offset; not before `start`.
        value (int): The measured value, an integer.
    """

    start: datetime.datetime
    end: datetime.datetime
    value: int

    def to_dict(self) -> dict[str, Any]:
        start = self.start.isoformat()

        end = self.end.isoformat()

        value = self.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "start": start,
                "end": end,
                "value": value,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        start = datetime.datetime.fromisoformat(d.pop("start"))

        end = datetime.datetime.fromisoformat(d.pop("end"))

        value = d.pop("value")

        observation_point = cls(
            start=start,
            end=end,
            value=value,
        )

        return observation_point
