"""The main job end to end on the real sample, against a local emulator.

Starts the emulator on a free port, uploads the CSV file (the SDK reads,
validates and streams it), queries one day back,
prints counts per metric, deletes the batch, shows nothing is left, stops.

    python examples/demo.py examples/data/actigraphy_week.csv
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path

from genomcore_sdk import GenomcoreApiClient
from genomcore_sdk.emulator import Emulator


def describe(path: Path) -> tuple[int, list[int], list[str], list[str]]:
    """Rows, users, batches and metrics of a CSV in the vendor layout (for the delete step)."""
    users: set[int] = set()
    batches: set[str] = set()
    metrics: set[str] = set()
    count = 0
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            users.add(int(row["meta.userId"]))
            batches.add(row["meta.batch"])
            metrics.add(row["meta.metric"])
            count += 1
    return count, sorted(users), sorted(batches), sorted(metrics)


def main(csv_path: str) -> int:
    path = Path(csv_path)
    rows, users, batches, metrics = describe(path)
    print(f"{path}: {rows:,} observations")
    print(f"  users {users}, batches {batches}, metrics {metrics}")

    with Emulator(token="demo-token", refresh_token="demo-refresh", in_process=False) as emu:
        print(f"Emulator running at {emu.base_url}")
        api = GenomcoreApiClient(
            token="demo-token", refresh_token="demo-refresh", base_url=emu.base_url
        )

        # the SDK reads, validates and streams the CSV itself
        report = api.time_series.create_time_series(path, chunksize=1000, max_retries=3)
        print(
            f"Uploaded: {report.stored:,} stored of {report.sent:,} sent in {report.chunks} chunks "
            f"({report.duration:.1f} s, {report.stored / report.duration:,.0f} observations/s, "
            f"{report.retries} retries)"
        )

        day = {"beforeDate": "2015-07-05", "afterDate": "2015-07-06"}
        per_metric: Counter[str] = Counter()
        page_number = 0
        while True:
            page = api.time_series.query_time_series(
                page=page_number,
                pageSize=5000,
                body={"filter": {"meta.batch": {"$in": batches}}, **day},
            )
            per_metric.update(obs.meta.metric for obs in page.data)
            if not page.has_more:
                break
            page_number += 1
        print(
            f"Queried one day [{day['beforeDate']}, {day['afterDate']}): {sum(per_metric.values()):,}"
        )
        for metric, count in sorted(per_metric.items()):
            print(f"  {metric}: {count:,}")

        deleted = 0
        for user in users:
            for batch in batches:
                for metric in metrics:
                    result = api.time_series.delete_time_series(
                        body={"userId": user, "batch": batch, "metric": metric}
                    )
                    print(
                        f"Deleted {result.deleted:,} {metric} observations of user {user}, batch {batch}"
                    )
                    deleted += result.deleted
        left = api.time_series.query_time_series(
            page=0, pageSize=1, body={"filter": {"meta.batch": {"$in": batches}}}
        ).total
        print(f"Deleted in all: {deleted:,}; left in the batch: {left}")
        api.close()
    print("Emulator stopped.")
    return 0 if left == 0 and report.stored == rows else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "examples/data/actigraphy_week.csv"))
