"""Tests of your own code, run against the emulator (docs/emulator.md)."""

from genomcore_sdk import GenomcoreApiClient
from genomcore_sdk.emulator import Emulator


# The code under test: in your project it lives in your package.
def store_daily_steps(api: GenomcoreApiClient, user_id: int, steps: dict[str, int]) -> int:
    """Store one observation per day (``{"2024-04-01": 8042, ...}``); answer how many."""
    rows = [
        {
            "meta": {
                "userId": user_id,
                "source": "phone",
                "metric": "daily_steps",
                "externalId": f"P-{user_id}",
                "batch": f"daily-{user_id}",
            },
            "point": {"start": f"{day}T00:00:00Z", "end": f"{day}T23:59:59Z", "value": count},
        }
        for day, count in steps.items()
    ]
    return api.time_series.create_time_series(body=rows, max_retries=5).stored


def test_stores_one_observation_per_day(api: GenomcoreApiClient, emulator: Emulator) -> None:
    assert store_daily_steps(api, 7, {"2024-04-01": 8042, "2024-04-02": 10311}) == 2
    page = api.time_series.query_time_series(body={"filter": {"meta.userId": 7}})
    assert [obs.point.value for obs in page.data] == [8042, 10311]
    assert emulator.state.store.count() == 2


def test_survives_a_flaky_server(api: GenomcoreApiClient, emulator: Emulator) -> None:
    # half the requests fail with a 5xx or drop the connection after storing
    emulator.set_faults(fail_rate=0.3, drop_rate=0.2, retry_after=0, seed=3)
    days = {f"2024-04-{day:02d}": 1000 * day for day in range(1, 11)}
    for day, count in days.items():
        assert store_daily_steps(api, 8, {day: count}) == 1
    assert emulator.state.faults.injected.total() > 0
    emulator.set_faults()  # no more faults
    stored = api.time_series.query_time_series(body={"filter": {"meta.userId": 8}})
    assert stored.total == 10  # nothing lost, nothing stored twice
