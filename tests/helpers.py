"""Small builders shared by tests."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def observation(
    i: int = 0,
    *,
    user_id: int = 1,
    batch: str = "batch-1",
    metric: str = "steps",
    value: int | None = None,
) -> dict[str, Any]:
    """A valid observation; ``i`` moves it along by one minute."""
    minute = f"{i // 60 % 24:02d}:{i % 60:02d}"
    day = 1 + i // 1440
    return {
        "meta": {
            "userId": user_id,
            "source": "watch",
            "metric": metric,
            "externalId": "W-1",
            "batch": batch,
        },
        "point": {
            "start": f"2024-04-{day:02d}T{minute}:00Z",
            "end": f"2024-04-{day:02d}T{minute}:30Z",
            "value": i if value is None else value,
        },
    }


def read_vendor_csv(path: Path) -> list[dict[str, Any]]:
    """The vendor's documented CSV-to-dicts loop."""
    with path.open(newline="") as handle:
        return [
            {
                "meta": {
                    "userId": int(row["meta.userId"]),
                    "source": row["meta.source"],
                    "metric": row["meta.metric"],
                    "externalId": row["meta.externalId"],
                    "batch": row["meta.batch"],
                },
                "point": {
                    "start": row["point.start"],
                    "end": row["point.end"],
                    "value": int(row["point.value"]),
                },
            }
            for row in csv.DictReader(handle)
        ]
